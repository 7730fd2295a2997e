"""Certificate chains that provoke every finding code, each with the verdict it must get.

The same scenarios drive the trust engine's unit tests (chains evaluated directly) and the end-to-end
test (the same chains served over real TLS and judged through `tls_probe`).
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes

from tests.support import pki

HOST = "mfa.contoso.test"
DAY = dt.timedelta(days=1)
# The leaves made here name no OCSP responder and no CRL: when revocation is checked (tls_probe's default), a
# chain anchored in the trust store gets this information-only finding. tests/unit/plugins/module_utils/
# test_revocation.py and tests/end_to_end/test_revocation.py serve real answers.
NO_REVOCATION_URL = "REVOCATION_UNKNOWN"


@dataclass
class Scenario:
    name: str
    serve: list[pki.Issued]  # leaf first, in the order the server sends them
    codes: set[str]  # every finding code expected, no more, no less
    trusted: bool
    host: str = HOST
    path: str = "/"
    max_tls: ssl.TLSVersion | None = None
    extra_intermediates: list[pki.Issued] = field(default_factory=list)

    @property
    def leaf(self) -> pki.Issued:
        return self.serve[0]

    @property
    def compliant(self) -> bool:
        return not self.codes - {"EXPIRING_SOON", "CHAIN_ORDER", "ROOT_SENT", NO_REVOCATION_URL}

    @property
    def chain_codes(self) -> set[str]:
        """What the trust engine alone must find (the rest comes from the connection)."""
        return self.codes - {"LEGACY_TLS_ONLY", "NO_FORWARD_SECRECY", "LEGACY_TLS_ENABLED", "HTTP_NOT_FOUND"}

    @property
    def chain_trusted(self) -> bool:
        """A good chain over legacy TLS is still a good chain; only the probe refuses the connection."""
        return self.trusted or self.max_tls is not None


class LabPKI:
    """A "public" hierarchy (the trust store of the tests) and a private one, as a company CA would be."""

    def __init__(self) -> None:
        self.public_root = pki.make_root("Test Public Root")
        self.public_ca = pki.make_intermediate(self.public_root, "Test Public Issuing CA")
        self.public_rsa_ca = pki.make_intermediate(
            self.public_root, "Test Public RSA CA", key=pki.new_key("rsa")
        )
        self.private_root = pki.make_root("Contoso Private Root")
        self.private_ca = pki.make_intermediate(self.private_root, "Contoso Issuing CA")
        # Reachable only through a leaf's AIA URL (served by the end-to-end test).
        self.aia_only_ca = pki.make_intermediate(self.public_root, "Test AIA-only CA")

    def trust_pem(self) -> bytes:
        return self.public_root.pem()

    def leaf(self, issuer: pki.Issued | None = None, names: list[str] | None = None, **kwargs) -> pki.Issued:
        return pki.make_leaf(issuer or self.public_ca, names if names is not None else [HOST], **kwargs)


def scenarios(lab: LabPKI, aia_base_url: str | None = None) -> list[Scenario]:
    """With `aia_base_url`, also the incomplete chain whose intermediate is fetched from that server
    (the caller serves `lab.aia_only_ca` at `<aia_base_url>/ca.cer`)."""
    now = pki.now()
    pub, priv = lab.public_ca, lab.private_ca
    expired_ca = pki.make_intermediate(
        lab.public_root, "Test Expired CA", not_before=now - 400 * DAY, not_after=now - DAY
    )
    middle_ca = pki.make_intermediate(lab.public_root, "Test Middle CA", path_length=None)
    lower_ca = pki.make_intermediate(middle_ca, "Test Lower CA")
    unsent_ca = pki.make_intermediate(lab.public_root, "Test Unsent CA")
    result = [
        Scenario("good", [lab.leaf(), pub], {NO_REVOCATION_URL}, True),
        Scenario("wildcard", [lab.leaf(names=["*.contoso.test"]), pub], {NO_REVOCATION_URL}, True),
        Scenario("private_ca", [lab.leaf(priv), priv], {"PRIVATE_CA"}, False),
        Scenario(
            "private_ca_root_sent",
            [lab.leaf(priv), priv, lab.private_root],
            {"PRIVATE_CA", "ROOT_SENT"},
            False,
        ),
        Scenario(
            "private_ca_expired",
            [lab.leaf(priv, not_after=now - DAY), priv],
            {"PRIVATE_CA", "EXPIRED"},
            False,
        ),
        Scenario("self_signed", [pki.make_leaf(None, [HOST])], {"SELF_SIGNED"}, False),
        Scenario(
            "incomplete_supplied",
            [lab.leaf(unsent_ca)],
            {"INCOMPLETE_CHAIN", NO_REVOCATION_URL},
            False,
            extra_intermediates=[unsent_ca],
        ),
        Scenario(
            "wrong_name",
            [lab.leaf(names=["portal.contoso.test"]), pub],
            {"HOSTNAME_MISMATCH", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "wildcard_too_deep",
            [lab.leaf(names=["*.test"]), pub],
            {"HOSTNAME_MISMATCH", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "common_name_only",
            [lab.leaf(common_name=HOST, include_san=False), pub],
            {"HOSTNAME_MISMATCH", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "expired",
            [lab.leaf(not_before=now - 390 * DAY, not_after=now - DAY), pub],
            {"EXPIRED", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "expired_intermediate",
            [lab.leaf(expired_ca, not_before=now - 10 * DAY, not_after=now - 2 * DAY), expired_ca],
            {"EXPIRED", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "not_yet_valid",
            [lab.leaf(not_before=now + 10 * DAY), pub],
            {"NOT_YET_VALID", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "expiring_soon",
            [lab.leaf(not_after=now + 10 * DAY), pub],
            {"EXPIRING_SOON", NO_REVOCATION_URL},
            True,
        ),
        Scenario(
            "sha1_signature",
            [lab.leaf(lab.public_rsa_ca, hash_alg=hashes.SHA1()), lab.public_rsa_ca],
            {"WEAK_SIGNATURE", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "rsa_1024", [lab.leaf(key=pki.new_key("rsa", 1024)), pub], {"WEAK_KEY", NO_REVOCATION_URL}, False
        ),
        Scenario(
            "client_auth_only",
            [lab.leaf(eku=[pki.CLIENT_AUTH]), pub],
            {"NO_SERVER_AUTH", NO_REVOCATION_URL},
            False,
        ),
        Scenario(
            "chain_out_of_order",
            [lab.leaf(lower_ca), middle_ca, lower_ca],
            {"CHAIN_ORDER", NO_REVOCATION_URL},
            True,
        ),
        Scenario(
            "public_root_sent", [lab.leaf(), pub, lab.public_root], {"ROOT_SENT", NO_REVOCATION_URL}, True
        ),
        # Only TLS 1.0/1.1: no TLS 1.2 handshake at all, so no forward-secret suite ATS accepts either.
        Scenario(
            "legacy_tls",
            [lab.leaf(), pub],
            {"LEGACY_TLS_ONLY", "NO_FORWARD_SECRECY", NO_REVOCATION_URL},
            False,
            max_tls=ssl.TLSVersion.TLSv1_1,
        ),
        Scenario(
            "not_found",
            [lab.leaf(), pub],
            {"HTTP_NOT_FOUND", NO_REVOCATION_URL},
            True,
            path="/MultiFactorAuthMobileAppWebService/missing",
        ),
    ]
    if aia_base_url:
        leaf = lab.leaf(lab.aia_only_ca, aia_url=f"{aia_base_url}/ca.cer")
        result.append(Scenario("incomplete_aia", [leaf], {"INCOMPLETE_CHAIN", NO_REVOCATION_URL}, False))
    return result
