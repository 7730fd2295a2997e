"""Revocation: OCSP first, else the CRL, every answer verified, against real responders on 127.0.0.1
(tests/support/revocation.py), and how the trust engine and the probe use it."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from ansible_collections.mfa_server.tls.plugins.module_utils import revocation, tls_client
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import evaluate_chain
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import probe_one, settings_from
from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import (
    GOOD,
    REVOKED,
    UNKNOWN,
    RevocationChecker,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore
from tests.support import pki
from tests.support.chains import HOST, LabPKI
from tests.support.revocation import Authority, Faults, RevocationServer, delegated_responder
from tests.support.servers import HTTPSServer

LAB = LabPKI()
STORE = TrustStore([LAB.public_root.cert], "test roots")
ISSUER = LAB.public_ca


@pytest.fixture
def responder():
    """(authority, server) for the public issuing CA, fresh for each test."""
    authority = Authority(ISSUER)
    with RevocationServer({"public": authority}) as server:
        yield authority, server


def _ocsp_leaf(server: RevocationServer, *, crl: bool = True) -> x509.Certificate:
    crl_url = server.crl_url() if crl else None
    return LAB.leaf(ocsp_url=server.ocsp_url, crl_url=crl_url).cert


def _crl_leaf(server: RevocationServer) -> x509.Certificate:
    return LAB.leaf(crl_url=server.crl_url()).cert


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ocsp_good(responder):
    _authority, server = responder
    leaf = _ocsp_leaf(server)
    status = RevocationChecker(5).check(leaf, ISSUER.cert)
    assert (status.state, status.source, status.url) == (GOOD, "OCSP", server.ocsp_url)
    assert server.requests == {"ocsp": 1}, "OCSP first: the CRL is not fetched when a responder answers"


def test_ocsp_revoked_gives_time_and_reason(responder):
    authority, server = responder
    leaf = _ocsp_leaf(server)
    at = pki.now() - dt.timedelta(hours=3)
    authority.revoke(leaf.serial_number, at=at, reason=x509.ReasonFlags.superseded)
    status = RevocationChecker(5).check(leaf, ISSUER.cert)
    assert (status.state, status.source, status.revoked_at, status.reason) == (
        REVOKED,
        "OCSP",
        at,
        "superseded",
    )
    (found,) = revocation.revocation_findings(RevocationChecker(5), leaf, ISSUER.cert)
    assert found.code == "REVOKED" and found.severity == "error"
    assert f"revoked on {at:%Y-%m-%d %H:%M} UTC (reason: superseded)" in found.message
    assert f"OCSP responder {server.ocsp_url}" in found.message


def test_a_serial_the_ca_never_issued_is_unknown_to_its_responder():
    authority = Authority(ISSUER, known=set())
    with RevocationServer({"public": authority}) as server:
        status = RevocationChecker(5).check(_ocsp_leaf(server), ISSUER.cert)
    assert status.state == UNKNOWN
    assert status.why.endswith("the responder does not know the certificate (status unknown)")


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ocsp.OCSPResponseStatus.TRY_LATER, "try_later"),
        (ocsp.OCSPResponseStatus.UNAUTHORIZED, "unauthorized"),
    ],
)
def test_an_error_status_is_unknown_and_no_crl_is_tried(responder, error, said):
    authority, server = responder
    leaf = _ocsp_leaf(server)
    authority.revoke(leaf.serial_number)  # the CRL would say so: it is not asked when a responder is named
    authority.faults = Faults(ocsp_error=error)
    status = RevocationChecker(5).check(leaf, ISSUER.cert)
    assert status.state == UNKNOWN
    assert (
        status.why
        == f"the OCSP responder {server.ocsp_url}: the responder answered with the error status {said}"
    )
    assert server.requests == {"ocsp": 1}


def test_a_responder_for_another_ca_is_unauthorized():
    other = Authority(LAB.private_ca)
    with RevocationServer({"private": other}) as server:
        status = RevocationChecker(5).check(_ocsp_leaf(server), ISSUER.cert)
    assert "error status unauthorized" in status.why


def test_ocsp_bad_signature_is_unknown(responder):
    authority, server = responder
    authority.faults = Faults(bad_signature=True)
    status = RevocationChecker(5).check(_ocsp_leaf(server), ISSUER.cert)
    assert status.state == UNKNOWN
    assert "the response's signature does not verify with the key of 'Test Public Issuing CA'" in status.why


def test_ocsp_stale_answer_is_unknown(responder):
    authority, server = responder
    authority.faults = Faults(stale=True)
    status = RevocationChecker(5).check(_ocsp_leaf(server), ISSUER.cert)
    due = (pki.now() - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert status.state == UNKNOWN
    assert f"the response is stale: its next update was due on {due}" in status.why


def test_freshness_allows_clock_skew_and_refuses_the_future():
    now = pki.now()
    assert revocation.freshness_problem(now + dt.timedelta(minutes=4), now + dt.timedelta(days=1), now) == ""
    assert revocation.freshness_problem(now + dt.timedelta(minutes=6), None, now).startswith(
        "dated in the future"
    )
    assert revocation.freshness_problem(now - dt.timedelta(days=9), None, now) == ""
    assert revocation.freshness_problem(now - dt.timedelta(days=11), None, now).startswith(
        "stale: it was produced"
    )


def test_a_delegated_responder_with_the_ocsp_signing_eku_is_believed():
    authority = Authority(ISSUER, responder=delegated_responder(ISSUER))
    with RevocationServer({"public": authority}) as server:
        leaf = _ocsp_leaf(server)
        authority.revoke(leaf.serial_number)
        status = RevocationChecker(5).check(leaf, ISSUER.cert)
    assert (status.state, status.source) == (REVOKED, "OCSP")


@pytest.mark.parametrize(
    ("responder_cert", "why"),
    [
        (delegated_responder(ISSUER, eku=[pki.SERVER_AUTH]), "is not allowed to sign OCSP responses (EKU)"),
        (delegated_responder(LAB.public_rsa_ca), "is not issued by the certificate's issuer"),
        (
            delegated_responder(ISSUER, not_after=pki.now() - dt.timedelta(days=1)),
            "is not valid now",
        ),
    ],
    ids=["no_ocsp_signing_eku", "issued_by_another_ca", "expired"],
)
def test_a_delegated_responder_the_issuer_did_not_authorise_is_not_believed(responder_cert, why):
    authority = Authority(ISSUER, responder=responder_cert)
    with RevocationServer({"public": authority}) as server:
        status = RevocationChecker(5).check(_ocsp_leaf(server), ISSUER.cert)
    assert status.state == UNKNOWN
    assert why in status.why


def test_crl_only_good_and_revoked(responder):
    authority, server = responder
    good, revoked = _crl_leaf(server), _crl_leaf(server)
    authority.revoke(revoked.serial_number, reason=x509.ReasonFlags.key_compromise)
    checker = RevocationChecker(5)
    assert checker.check(good, ISSUER.cert) == revocation.RevocationStatus(GOOD, "CRL", server.crl_url())
    status = checker.check(revoked, ISSUER.cert)
    assert (status.state, status.source, status.reason) == (REVOKED, "CRL", "key_compromise")
    assert server.requests == {"crl": 1}, "one CRL download for every certificate it covers"


def test_crl_in_pem_is_read(responder):
    authority, server = responder
    leaf = _crl_leaf(server)
    authority.revoke(leaf.serial_number)
    authority.faults = Faults(crl_pem=True)
    assert RevocationChecker(5).check(leaf, ISSUER.cert).state == REVOKED


@pytest.mark.parametrize(
    ("faults", "why"),
    [
        (
            Faults(bad_signature=True),
            "its signature does not verify with the key of 'Test Public Issuing CA'",
        ),
        (Faults(stale=True), "it is stale: its next update was due on"),
    ],
    ids=["bad_signature", "expired"],
)
def test_a_crl_that_cannot_be_relied_on_is_unknown(responder, faults, why):
    authority, server = responder
    leaf = _crl_leaf(server)
    authority.revoke(leaf.serial_number)
    authority.faults = faults
    status = RevocationChecker(5).check(leaf, ISSUER.cert)
    assert status.state == UNKNOWN
    assert status.why.startswith(f"the CRL {server.crl_url()}: {why}")


def test_a_crl_of_another_issuer_is_not_used():
    other = Authority(LAB.public_rsa_ca)
    with RevocationServer({"rsa": other}) as server:
        status = RevocationChecker(5).check(_crl_leaf(server), ISSUER.cert)
    assert "not by the certificate's issuer" in status.why


def test_no_url_in_the_certificate_is_unknown_without_a_request():
    status = RevocationChecker(5).check(LAB.leaf().cert, ISSUER.cert)
    assert status == revocation.RevocationStatus(
        UNKNOWN, why="the certificate names no OCSP responder and no CRL distribution point"
    )


def test_no_issuer_is_unknown():
    assert "issuer certificate is unknown" in RevocationChecker(5).check(LAB.leaf().cert, None).why


def test_an_unreachable_responder_is_unknown():
    url = f"http://127.0.0.1:{_closed_port()}/ocsp"
    status = RevocationChecker(5).check(LAB.leaf(ocsp_url=url).cert, ISSUER.cert)
    assert status.state == UNKNOWN
    assert status.why.startswith(f"the OCSP responder {url}: unreachable (")


def test_a_responder_that_never_answers_is_given_up_after_the_timeout(responder):
    authority, server = responder
    authority.faults = Faults(hang=True)
    started = time.monotonic()
    status = RevocationChecker(0.5).check(_ocsp_leaf(server), ISSUER.cert)
    elapsed = time.monotonic() - started
    assert (
        status.why
        == f"the OCSP responder {server.ocsp_url}: no answer within the revocation timeout of 0.5 s"
    )
    assert 0.45 <= elapsed < 1.5


@contextlib.contextmanager
def _scripted_server(answer):
    """A raw HTTP server on 127.0.0.1 whose connections `answer(connection)` handles; yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(65536)
                with contextlib.suppress(OSError):
                    answer(connection, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/ocsp"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _drip(connection: socket.socket, stop: threading.Event) -> None:
    """Headers, then one byte of a long body every 0.1 s: each read is quick, the whole never ends."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while not stop.wait(0.1):
        connection.sendall(b"x")


def test_the_timeout_bounds_the_whole_exchange_not_each_read():
    with _scripted_server(_drip) as url:
        started = time.monotonic()
        status = RevocationChecker(0.6).check(LAB.leaf(ocsp_url=url).cert, ISSUER.cert)
        elapsed = time.monotonic() - started
    assert status.why == f"the OCSP responder {url}: no answer within the revocation timeout of 0.6 s"
    assert elapsed < 1.5


def test_an_answer_larger_than_the_bound_is_refused():
    def huge(connection: socket.socket, _stop: threading.Event) -> None:
        connection.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Length: {revocation.MAX_OCSP_BYTES + 1}\r\n\r\n".encode()
        )

    with _scripted_server(huge) as url:
        status = RevocationChecker(5).check(LAB.leaf(ocsp_url=url).cert, ISSUER.cert)
    assert (
        status.why == f"the OCSP responder {url}: the answer is larger than {revocation.MAX_OCSP_BYTES} bytes"
    )


def test_concurrent_checks_of_one_certificate_make_one_request(responder):
    authority, server = responder
    authority.faults = Faults(delay=0.3)  # every check arrives while the first request is in flight
    leaf = _ocsp_leaf(server)
    checker = RevocationChecker(5)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _i: checker.check(leaf, ISSUER.cert), range(16)))
    assert {s.state for s in statuses} == {GOOD}
    assert server.requests == {"ocsp": 1}
    assert checker.check(leaf, ISSUER.cert) is statuses[0], "cached for the checker's life"
    assert server.requests == {"ocsp": 1}
    RevocationChecker(5).check(leaf, ISSUER.cert)
    assert server.requests == {"ocsp": 2}, "a new checker (a new run) asks again"


def test_many_certificates_share_a_kept_alive_connection(responder):
    _authority, server = responder
    checker = RevocationChecker(5)
    for _index in range(5):
        assert checker.check(_ocsp_leaf(server), ISSUER.cert).state == GOOD
    assert server.requests == {"ocsp": 5}
    assert server.connections == 1


def test_revoked_makes_the_chain_untrusted_and_not_compliant(responder):
    authority, server = responder
    leaf = LAB.leaf(ocsp_url=server.ocsp_url)
    authority.revoke(leaf.cert.serial_number)
    evaluation = evaluate_chain([leaf.cert, ISSUER.cert], HOST, STORE, revocation=RevocationChecker(5))
    assert evaluation.codes() == ["REVOKED"]
    assert evaluation.trusted is False and evaluation.compliant is False


def test_unknown_is_information_only():
    url = f"http://127.0.0.1:{_closed_port()}/ocsp"
    leaf = LAB.leaf(ocsp_url=url)
    evaluation = evaluate_chain([leaf.cert, ISSUER.cert], HOST, STORE, revocation=RevocationChecker(5))
    assert evaluation.codes() == ["REVOCATION_UNKNOWN"]
    assert evaluation.findings[0].severity == "info"
    assert evaluation.trusted is True and evaluation.compliant is True


def test_a_private_chain_is_not_checked():
    authority = Authority(LAB.private_ca)
    with RevocationServer({"private": authority}) as server:
        leaf = LAB.leaf(LAB.private_ca, ocsp_url=server.ocsp_url)
        authority.revoke(leaf.cert.serial_number)
        evaluation = evaluate_chain(
            [leaf.cert, LAB.private_ca.cert], HOST, STORE, revocation=RevocationChecker(5)
        )
        assert evaluation.codes() == ["PRIVATE_CA"]
        assert server.requests == {}


def test_without_a_checker_nothing_is_asked(responder):
    authority, server = responder
    leaf = LAB.leaf(ocsp_url=server.ocsp_url)
    authority.revoke(leaf.cert.serial_number)
    assert evaluate_chain([leaf.cert, ISSUER.cert], HOST, STORE).codes() == []
    assert server.requests == {}


@pytest.mark.parametrize("check", [True, False])
def test_check_revocation_option_of_the_probe(tmp_path, responder, check):
    authority, server = responder
    leaf = LAB.leaf(ocsp_url=server.ocsp_url)
    authority.revoke(leaf.cert.serial_number)
    roots = tmp_path / "roots.pem"
    roots.write_bytes(LAB.trust_pem())
    settings = settings_from({"trust_bundle": str(roots), "check_revocation": check, "revocation_timeout": 2})
    assert (settings.revocation is not None) is check
    with HTTPSServer([leaf.pem(), ISSUER.pem()], leaf.key_pem()) as https:
        result = probe_one(tls_client.parse_target(f"https://{HOST}/", https.address, True), settings)
    assert [f["code"] for f in result["findings"]] == (["REVOKED"] if check else [])
    assert result["trusted"] is not check
    assert server.requests == ({"ocsp": 1} if check else {})


def test_revocation_timeout_must_be_positive():
    with pytest.raises(ValueError, match="revocation timeout must be greater than 0"):
        RevocationChecker(0)
