"""The lab's public CA issues what public CAs issue and runs their revocation service: an OCSP responder and
a CRL on loopback, started by `lab up`, stopped by `lab down`, revoking with `lab revoke`."""

from __future__ import annotations

import base64
import json
import socket
import time

from cryptography import x509

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates
from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import (
    HttpClient,
    crl_problem,
    crl_urls,
    load_crl,
    ocsp_urls,
)
from lab.ca import LabCA
from tests.support import pki
from tests.support.lab_harness import lab_cli, running_lab

COMPLIANT_HOST = "mfa02"  # the traps scenario's host with a public certificate


def _responder(lab_dir) -> tuple[str, int]:
    address = json.loads((lab_dir / "ca" / "responder.json").read_text())
    return address["host"], address["port"]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _bound_leaf(lab, host: str) -> x509.Certificate:
    (entry,) = lab.raw_state(host)["stores"]["My"]
    return x509.load_der_x509_certificate(base64.b64decode(entry["der_b64"]))


def _revocation_codes(lab) -> list[str]:
    """The probe's revocation findings (the other codes of the endpoint are other tests' business)."""
    return [code for code in lab.probe_codes(COMPLIANT_HOST) if code in ("REVOKED", "REVOCATION_UNKNOWN")]


def test_public_leaves_are_what_public_cas_issue(traps_lab):
    leaf = _bound_leaf(traps_lab, COMPLIANT_HOST)
    host, port = _responder(traps_lab.dir)
    assert certificates.validity_days(leaf) == 397
    assert sorted(set(certificates.embedded_sct_log_ids(leaf))) == sorted(
        pki.ct_log_id(n) for n in pki.LAB_CT_LOGS
    )
    assert ocsp_urls(leaf) == [f"http://{host}:{port}/ocsp"]
    assert crl_urls(leaf) == [f"http://{host}:{port}/crl/public-issuing.crl"]
    issued = json.loads((traps_lab.dir / "ca" / "issued.json").read_text())["public-issuing"]
    assert issued[format(leaf.serial_number, "x")]["thumbprint"] == certificates.sha1_thumbprint(leaf)


def test_lab_revoke_is_seen_by_the_probe_at_once(traps_lab):
    assert _revocation_codes(traps_lab) == [], "the lab responder answers: good"
    thumbprint = certificates.sha1_thumbprint(_bound_leaf(traps_lab, COMPLIANT_HOST))
    revoked = lab_cli("revoke", "--dir", str(traps_lab.dir), thumbprint, "--reason", "superseded")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked"]["reason"] == "superseded"
    assert _revocation_codes(traps_lab) == ["REVOKED"]
    # The CRL lists it too, for clients that read the CRL.
    leaf = _bound_leaf(traps_lab, COMPLIANT_HOST)
    (url,) = crl_urls(leaf)
    crl = load_crl(HttpClient().fetch(url, time.monotonic() + 5, 5, 1 << 20))
    assert crl_problem(crl, LabCA(traps_lab.dir)["public-issuing"].cert, pki.now()) == ""
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None


def test_revoke_refuses_a_certificate_the_lab_did_not_issue(traps_lab):
    out = lab_cli("revoke", "--dir", str(traps_lab.dir), "AB" * 20)
    assert out.returncode == 1
    assert f"issued no certificate with the thumbprint {'AB' * 20}" in out.stderr


def test_a_taken_address_fails_clearly_up_starts_the_responder_and_down_stops_it(tmp_path):
    LabCA(tmp_path).ensure()  # the CA, and with it the address its certificates will name
    host, port = _responder(tmp_path)
    try:
        with socket.create_server((host, port)):
            out = lab_cli("up", "--hosts", "1", "--dir", str(tmp_path))
        assert out.returncode == 1
        assert f"the revocation responder's address {host}:{port} is taken" in out.stderr
        assert not (tmp_path / "daemon.pid").exists(), "nothing of the fleet started"
        with running_lab(tmp_path, 1) as lab:
            assert _answers(host, port)
            assert _responder(lab.dir) == (host, port), "the address the certificates name"
        assert not _answers(host, port), "lab down stops the responder"
        assert not (tmp_path / "revocation.pid").exists()
    finally:
        lab_cli("down", "--dir", str(tmp_path))
