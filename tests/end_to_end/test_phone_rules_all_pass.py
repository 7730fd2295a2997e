"""A certificate and server correct under every phone rule at once show none of the phone findings: 397 days,
SCTs from 3 distinct logs, OCSP "good" from a loopback responder, TLS 1.2 and 1.3 only, ECDHE suites only;
judged through the real `ansible` command line with CT and revocation checks on. Beside it, the same server
with one thing wrong at a time, so that the clean verdict is known to come from checks that can fail."""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl

import pytest

from tests.support import pki
from tests.support.chains import HOST, LabPKI
from tests.support.module_task import run_module
from tests.support.revocation import Authority, RevocationServer
from tests.support.servers import HTTPSServer

PHONE_CODES = {
    "VALIDITY_TOO_LONG",
    "CT_MISSING",
    "NO_FORWARD_SECRECY",
    "LEGACY_TLS_ENABLED",
    "REVOKED",
    "REVOCATION_UNKNOWN",
}


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    lab = LabPKI()
    authority = Authority(lab.public_ca)
    with contextlib.ExitStack() as stack:
        responder = stack.enter_context(RevocationServer({"public": authority}))
        start = pki.now() - dt.timedelta(days=1)

        def leaf(days: int = 397, logs: int = 3) -> pki.Issued:
            return lab.leaf(
                not_before=start,
                not_after=start + dt.timedelta(days=days),
                ct_logs=pki.LAB_CT_LOGS[:logs],
                ocsp_url=responder.ocsp_url,
                crl_url=responder.crl_url(),
            )

        revoked = leaf()
        authority.revoke(revoked.cert.serial_number)
        modern = {
            "ciphers": "ECDHE+AESGCM"
        }  # TLS 1.2 (ECDHE only) and 1.3: the servers' default minimum is 1.2
        cases = {
            "correct": (leaf(), modern),
            "too_long": (leaf(days=399), modern),
            "two_logs": (leaf(logs=2), modern),
            "revoked": (revoked, modern),
            "legacy": (leaf(), {"min_tls": ssl.TLSVersion.TLSv1}),  # TLS 1.0 to 1.3, default suites
        }
        served = {
            name: stack.enter_context(
                HTTPSServer([cert.pem(), lab.public_ca.pem()], cert.key_pem(), {"/": 200}, **options)
            )
            for name, (cert, options) in cases.items()
        }
        roots = tmp_path_factory.mktemp("trust") / "roots.pem"
        roots.write_bytes(lab.trust_pem())
        result = run_module(
            "mfa_server.tls.tls_probe",
            {
                "targets": [
                    {"url": f"https://{HOST}/", "address": server.address} for server in served.values()
                ],
                "trust_bundle": str(roots),
                "require_ct": True,
                "check_revocation": True,
            },
        )
        assert result.get("failed") is not True, result
        yield dict(zip(served, result["results"], strict=True))


def _codes(outcome: dict) -> set[str]:
    return {f["code"] for f in outcome["findings"]}


def test_a_correct_certificate_and_server_show_no_phone_finding(judged):
    correct = judged["correct"]
    assert _codes(correct) == set(), correct["findings"]
    assert correct["trusted"] is True and correct["compliant"] is True
    assert correct["protocols"] == ["TLSv1.2", "TLSv1.3"]
    assert correct["forward_secrecy"] is True
    assert correct["tls_version"] == "TLSv1.3" and correct["cipher"].startswith("TLS_")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("too_long", "VALIDITY_TOO_LONG"),
        ("two_logs", "CT_MISSING"),  # 397 days needs SCTs from 3 logs
        ("revoked", "REVOKED"),
        ("legacy", "LEGACY_TLS_ENABLED"),
    ],
)
def test_one_rule_broken_shows_exactly_its_code(judged, case, code):
    assert _codes(judged[case]) & PHONE_CODES == {code}, judged[case]["findings"]
