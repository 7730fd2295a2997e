"""Revocation end to end: real TLS servers on 127.0.0.1 whose leaves name an OCSP responder and a CRL served
on 127.0.0.1 (tests/support/revocation.py), judged through the real `ansible-playbook` with tls_probe."""

from __future__ import annotations

import contextlib
import socket

import pytest
from cryptography import x509

from tests.support.chains import HOST, LabPKI
from tests.support.module_task import run_module
from tests.support.revocation import Authority, RevocationServer
from tests.support.servers import HTTPSServer

ROUTES = {"/": 200}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory):
    """{name: (leaf, server)} for: good per OCSP, revoked per OCSP, revoked per its CRL (no OCSP URL), a
    responder that is down; and the revocation server, the authority, the trust bundle."""
    lab = LabPKI()
    authority = Authority(lab.public_ca)
    with contextlib.ExitStack() as stack:
        revocation = stack.enter_context(RevocationServer({"public": authority}))
        down = f"http://127.0.0.1:{_closed_port()}/ocsp"
        leaves = {
            "ocsp_good": lab.leaf(ocsp_url=revocation.ocsp_url, crl_url=revocation.crl_url()),
            "ocsp_revoked": lab.leaf(ocsp_url=revocation.ocsp_url, crl_url=revocation.crl_url()),
            "crl_revoked": lab.leaf(crl_url=revocation.crl_url()),
            "responder_down": lab.leaf(ocsp_url=down),
        }
        authority.revoke(leaves["ocsp_revoked"].cert.serial_number, reason=x509.ReasonFlags.key_compromise)
        authority.revoke(leaves["crl_revoked"].cert.serial_number, reason=x509.ReasonFlags.superseded)
        served = {
            name: (
                leaf,
                stack.enter_context(HTTPSServer([leaf.pem(), lab.public_ca.pem()], leaf.key_pem(), ROUTES)),
            )
            for name, leaf in leaves.items()
        }
        roots = tmp_path_factory.mktemp("trust") / "roots.pem"
        roots.write_bytes(lab.trust_pem())
        yield served, revocation, down, str(roots)


def _probe(served: dict, roots: str, **options) -> dict:
    targets = [{"url": f"https://{HOST}/", "address": server.address} for _leaf, server in served.values()]
    result = run_module("mfa_server.tls.tls_probe", {"targets": targets, "trust_bundle": roots, **options})
    assert result.get("failed") is not True, result
    return dict(zip(served, result["results"], strict=True))


def _codes(outcome: dict) -> list[str]:
    return [f["code"] for f in outcome["findings"]]


def test_revocation_through_the_module(endpoints):
    served, revocation, down, roots = endpoints
    before = dict(revocation.requests)
    by_name = _probe(served, roots)

    assert _codes(by_name["ocsp_good"]) == []
    assert by_name["ocsp_good"]["trusted"] is True and by_name["ocsp_good"]["compliant"] is True

    (revoked,) = by_name["ocsp_revoked"]["findings"]
    assert (revoked["code"], revoked["severity"]) == ("REVOKED", "error")
    assert (
        f"(reason: key_compromise), according to its OCSP responder {revocation.ocsp_url}"
        in revoked["message"]
    )
    assert by_name["ocsp_revoked"]["trusted"] is False and by_name["ocsp_revoked"]["compliant"] is False

    (by_crl,) = by_name["crl_revoked"]["findings"]
    assert by_crl["code"] == "REVOKED"
    assert f"(reason: superseded), according to its CRL {revocation.crl_url()}" in by_crl["message"]
    assert by_name["crl_revoked"]["trusted"] is False

    (unknown,) = by_name["responder_down"]["findings"]
    assert (unknown["code"], unknown["severity"]) == ("REVOCATION_UNKNOWN", "info")
    assert f"the OCSP responder {down}: unreachable" in unknown["message"]
    assert by_name["responder_down"]["trusted"] is True and by_name["responder_down"]["compliant"] is True

    # OCSP for the two leaves that name the live responder, the CRL once for the leaf that names only it.
    asked = {kind: revocation.requests[kind] - before.get(kind, 0) for kind in ("ocsp", "crl")}
    assert asked == {"ocsp": 2, "crl": 1}


def test_check_revocation_false_asks_nothing(endpoints):
    served, revocation, _down, roots = endpoints
    before = dict(revocation.requests)
    by_name = _probe(served, roots, check_revocation=False)
    assert {name: _codes(outcome) for name, outcome in by_name.items()} == {name: [] for name in served}
    assert dict(revocation.requests) == before


def test_a_revocation_timeout_that_is_not_positive_is_refused(endpoints):
    served, _revocation, _down, roots = endpoints
    targets = [{"url": f"https://{HOST}/", "address": served["ocsp_good"][1].address}]
    result = run_module(
        "mfa_server.tls.tls_probe", {"targets": targets, "trust_bundle": roots, "revocation_timeout": 0}
    )
    assert result["failed"] is True
    assert "revocation_timeout must be greater than 0" in result["msg"]
