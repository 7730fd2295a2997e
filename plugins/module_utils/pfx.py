# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reads a PFX (PKCS#12) file before any host sees it, and says plainly what is wrong with it.

A PFX that loads here holds a private key, an end-entity certificate that key belongs to, and its chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates

try:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12
except ImportError:  # reported by the module with missing_required_lib
    pass


class PfxError(ValueError):
    pass


@dataclass
class Pfx:
    leaf: x509.Certificate
    chain: list[x509.Certificate]  # every other certificate in the file, intermediates and roots

    @property
    def intermediates(self) -> list[x509.Certificate]:
        return [c for c in self.chain if not certificates.is_self_signed(c)]

    @property
    def roots(self) -> list[x509.Certificate]:
        return [c for c in self.chain if certificates.is_self_signed(c)]


def load_pfx(data: bytes, password: str | None, source: str) -> Pfx:
    """`source` names the file in messages; the password never appears in them."""
    secret = password.encode() if password else None
    try:
        parsed = pkcs12.load_pkcs12(data, secret)
    except ValueError as error:
        if "password" in str(error).lower() and not password:
            # No password is not a wrong one: say which variable to set, not that the file may be damaged.
            raise PfxError(
                f"Cannot open the PFX {source}: it is protected by a password and mfa_tls_pfx_password is not "
                "set. Set it to the password the PFX was exported with (a vault, or the 'MFA TLS certificate' "
                "credential in AWX)."
            ) from error
        if "password" in str(error).lower():
            raise PfxError(
                f"Cannot open the PFX {source}: the password is wrong (or the file is damaged). "
                "Give the password it was exported with."
            ) from error
        raise PfxError(
            f"{source} is not a PFX (PKCS#12) file: {error}. Export the certificate with its key as .pfx."
        ) from error
    others = [c.certificate for c in parsed.additional_certs]
    if parsed.key is None:
        raise PfxError(
            f"The PFX {source} holds no private key. Export the certificate again with "
            "'Yes, export the private key' so that IIS can use it."
        )
    leaf = parsed.cert.certificate if parsed.cert else None
    if leaf is None or certificates.is_ca(leaf):
        end_entities = [c for c in others if not certificates.is_ca(c)]
        if not end_entities:
            raise PfxError(
                f"The PFX {source} holds no end-entity (server) certificate, only CA certificates."
            )
        leaf = end_entities[0]
    if parsed.key.public_key() != leaf.public_key():
        raise PfxError(
            f"The private key in the PFX {source} does not belong to its certificate {certificates.label(leaf)}; "
            "export the certificate together with its own key."
        )
    return Pfx(leaf=leaf, chain=[c for c in others if c != leaf])
