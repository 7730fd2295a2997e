# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finds intermediates a server failed to send: in supplied certificates, then at the AIA URL.

Only the diagnosis uses this (INCOMPLETE_CHAIN); the verdict never does, because phones do not fetch
missing intermediates.
"""

from __future__ import annotations

import threading
import urllib.error

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates

try:
    from cryptography import x509
except ImportError:  # reported by the module with missing_required_lib
    pass

MAX_AIA_BYTES = 1 << 20


class IssuerLookup:
    """Callable for `evaluate_chain(find_missing_issuer=...)`; caches AIA downloads, safe across threads."""

    def __init__(self, extra: list[x509.Certificate], fetch_aia: bool, timeout: float) -> None:
        self._extra = extra
        self._fetch_aia = fetch_aia
        self._timeout = timeout
        self._downloads: dict[str, list[x509.Certificate]] = {}
        self._lock = threading.Lock()
        self.errors: dict[str, str] = {}

    def __call__(self, cert: x509.Certificate) -> list[x509.Certificate]:
        candidates = [c for c in self._extra if c.subject == cert.issuer]
        if candidates or not self._fetch_aia:
            return candidates
        for url in certificates.aia_ca_issuer_urls(cert):
            candidates += self._download(url)
        return candidates

    def _download(self, url: str) -> list[x509.Certificate]:
        with self._lock:
            if url in self._downloads:
                return self._downloads[url]
        found: list[x509.Certificate] = []
        if not url.lower().startswith(("http://", "https://")):
            self.errors[url] = "only http and https AIA URLs are fetched"
        else:
            # Imported here, not at the top: it costs ~30 ms (email, http.client) in every worker process that
            # loads the trust engine, and most runs never follow an AIA URL.
            from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
            from ansible.module_utils.urls import open_url

            try:
                with open_url(url, timeout=self._timeout) as response:
                    found = certificates.load_certificates(response.read(MAX_AIA_BYTES))
            except (OSError, ValueError, urllib.error.URLError, UrlsConnectionError) as error:
                self.errors[url] = str(error)
        with self._lock:
            self._downloads[url] = found
        return found
