# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roots a phone trusts: Mozilla's (from certifi) by default, or a PEM bundle."""

from __future__ import annotations

import functools

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates

try:
    from cryptography import x509
    from cryptography.x509.verification import Store
except ImportError:  # reported by the module with missing_required_lib
    pass


class TrustStoreError(ValueError):
    pass


class TrustStore:
    def __init__(self, roots: list[x509.Certificate], source: str) -> None:
        if not roots:
            raise TrustStoreError(
                f"The trust bundle {source} holds no certificates; give a PEM file of root CAs."
            )
        self.roots = roots
        self.source = source
        self.store = Store(roots)
        self._by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for root in roots:
            self._by_subject.setdefault(root.subject, []).append(root)
        # Certificates hash and compare by their DER: membership is the identity a fingerprint gives, without
        # hashing every certificate asked about with SHA-256.
        self._roots = frozenset(roots)

    @classmethod
    def from_file(cls, path: str, source: str | None = None) -> TrustStore:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise TrustStoreError(f"Cannot read the trust bundle {path}: {error.strerror}.") from error
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise TrustStoreError(
                f"The trust bundle {path} holds no certificates; give a PEM file of root CAs."
            )
        try:
            roots = certificates.load_pem_bundle(data)
        except ValueError as error:
            raise TrustStoreError(
                f"The trust bundle {path} is not a PEM file of certificates: {error}."
            ) from error
        return cls(roots, source or path)

    @classmethod
    def mozilla(cls) -> TrustStore:
        return _mozilla()

    def holds(self, cert: x509.Certificate) -> bool:
        return cert in self._roots

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return [root for root in self._by_subject.get(cert.issuer, []) if certificates.signed_by(cert, root)]


@functools.cache
def _mozilla() -> TrustStore:
    import certifi

    return TrustStore.from_file(certifi.where(), source="Mozilla roots from certifi")


def load(path: str | None) -> TrustStore:
    """The store for a `trust_bundle` option: the given PEM file, or Mozilla's roots."""
    return TrustStore.from_file(path) if path else TrustStore.mozilla()
