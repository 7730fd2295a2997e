"""Protocols, cipher suite and forward secrecy end to end: real chains on TLS servers on 127.0.0.1 that accept
what real servers accept, judged through the real `ansible` command line."""

from __future__ import annotations

import contextlib
import ssl

import pytest

from tests.support import pki
from tests.support.chains import HOST, LabPKI
from tests.support.module_task import run_module
from tests.support.servers import HTTPSServer

V = ssl.TLSVersion
# Revocation is judged by its own check; these test chains name no OCSP responder or CRL.
REVOCATION_CODES = {"REVOKED", "REVOCATION_UNKNOWN"}


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """Each server judged by one tls_probe task; yields {name: result}."""
    lab = LabPKI()
    ec_chain = [lab.leaf(), lab.public_ca]
    # RSA key exchange needs an RSA certificate.
    rsa_chain = [lab.leaf(lab.public_rsa_ca, key=pki.new_key("rsa")), lab.public_rsa_ca]
    servers = {
        # TLS 1.2 only, RSA key exchange only: what a hardened-by-hand SCHANNEL cipher order can leave.
        "no_forward_secrecy": (rsa_chain, {"max_tls": V.TLSv1_2, "ciphers": "AES128-GCM-SHA256"}),
        # TLS 1.0 to 1.3: Schannel on Server 2016/2019 without DisableLegacyTLS.
        "legacy_enabled": (ec_chain, {"min_tls": V.TLSv1}),
        # TLS 1.2 and 1.3, ECDHE only: what phones want.
        "modern": (ec_chain, {"ciphers": "ECDHE+AESGCM"}),
        # TLS 1.2 only with ECDHE-RSA: Server 2016/2019 with legacy TLS off (no TLS 1.3 before Server 2022).
        "tls12_ecdhe": (rsa_chain, {"max_tls": V.TLSv1_2, "ciphers": "ECDHE+AESGCM"}),
    }
    folder = tmp_path_factory.mktemp("trust")
    (folder / "roots.pem").write_bytes(lab.trust_pem())
    with contextlib.ExitStack() as stack:
        addresses = {
            name: stack.enter_context(
                HTTPSServer([i.pem() for i in chain], chain[0].key_pem(), **options)
            ).address
            for name, (chain, options) in servers.items()
        }
        result = run_module(
            "mfa_server.tls.tls_probe",
            {
                "targets": [
                    {"url": f"https://{HOST}/", "address": address} for address in addresses.values()
                ],
                "trust_bundle": str(folder / "roots.pem"),
            },
        )
    assert result.get("failed") is not True, result
    return dict(zip(addresses, result["results"], strict=True))


def _codes(outcome: dict) -> set[str]:
    return {f["code"] for f in outcome["findings"]} - REVOCATION_CODES


def test_rsa_key_exchange_over_tls12_only_has_no_forward_secrecy(judged):
    outcome = judged["no_forward_secrecy"]
    assert _codes(outcome) == {"NO_FORWARD_SECRECY"}
    assert outcome["compliant"] is False
    assert outcome["trusted"] is True, "the chain is fine; the connection is what phones refuse"
    assert (outcome["tls_version"], outcome["protocols"], outcome["forward_secrecy"]) == (
        "TLSv1.2",
        ["TLSv1.2"],
        False,
    )
    assert (outcome["cipher"], outcome["cipher_iana"]) == (
        "AES128-GCM-SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
    )
    (message,) = [f["message"] for f in outcome["findings"] if f["code"] == "NO_FORWARD_SECRECY"]
    assert message.startswith(f"https://{HOST}/ offers no forward-secret handshake")
    assert "TLS 1.2 negotiates TLS_RSA_WITH_AES_128_GCM_SHA256" in message


def test_a_server_still_accepting_tls10_and_11_is_warned_about(judged):
    outcome = judged["legacy_enabled"]
    assert _codes(outcome) == {"LEGACY_TLS_ENABLED"}
    assert outcome["compliant"] is True, "a warning: phones connect over TLS 1.3 all the same"
    assert outcome["protocols"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert (outcome["tls_version"], outcome["forward_secrecy"]) == ("TLSv1.3", True)
    (finding,) = [f for f in outcome["findings"] if f["code"] == "LEGACY_TLS_ENABLED"]
    assert finding["severity"] == "warning"
    assert finding["message"] == (
        f"https://{HOST}/ still accepts TLSv1 and TLSv1.1 besides TLSv1.2 and TLSv1.3; phones need only TLS 1.2 or 1.3."
    )


def test_tls12_and_13_with_ecdhe_only_gets_neither_finding(judged):
    outcome = judged["modern"]
    assert _codes(outcome) == set()
    assert outcome["compliant"] is True and outcome["trusted"] is True
    assert outcome["protocols"] == ["TLSv1.2", "TLSv1.3"]
    assert (outcome["tls_version"], outcome["forward_secrecy"]) == ("TLSv1.3", True)
    assert (outcome["cipher"], outcome["cipher_iana"]) == ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384")
    assert outcome["http_status"] == 200


def test_tls12_with_an_ats_suite_is_forward_secret_without_tls13(judged):
    outcome = judged["tls12_ecdhe"]
    assert _codes(outcome) == set()
    assert outcome["protocols"] == ["TLSv1.2"], "the phone offered TLS 1.3 and got 1.2: 1.3 is not accepted"
    assert (outcome["cipher"], outcome["cipher_iana"]) == (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    )
    assert outcome["forward_secrecy"] is True
