"""Every armed lab fault ends with every binding serving a certificate, the previous HTTP.sys entries
restored exactly where the change failed, and a clear failure message; after the fault is cleared, a re-run
completes."""

from __future__ import annotations

import json

import pytest

from lab.state import HostState
from tests.support.lab_harness import lab_cli, recap, running_lab, served_certificates
from tests.support.playbook_runs import remediate, replacement_thumbprint


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    directory = tmp_path_factory.mktemp("faults-lab")
    with running_lab(directory, 4, "private-ca") as lab:
        yield lab


def _https_hashes(state: dict) -> set[str]:
    return set(served_certificates(state).values())


@pytest.mark.parametrize(
    ("host", "fault", "message"),
    [
        ("mfa01", ["import-fails"], "importing the PFX failed"),
        (
            "mfa02",
            ["set-fails-after", "0"],
            "HTTP.sys change of ipport=0.0.0.0:443 failed: HttpUpdateServiceConfiguration returned Access denied",
        ),
        ("mfa03", ["no-intermediates"], "INCOMPLETE_CHAIN"),
        ("mfa04", ["drop-connection", "iis_binding_certificate"], "Connection aborted"),
    ],
)
def test_a_fault_rolls_back_and_a_rerun_completes(lab, host, fault, message):
    previous = _https_hashes(lab.state(host))
    previous_entries = lab.state(host)["http_sys"]
    armed = lab_cli("fault", "--dir", str(lab.dir), "--host", host, *fault)
    assert armed.returncode == 0, armed.stderr

    failed = remediate(lab, "--limit", host)
    assert failed.returncode != 0
    assert recap(failed.stdout)[host]["failed"] == 1
    assert message in failed.stdout, failed.stdout[-4000:]
    state = lab.state(host)
    assert _https_hashes(state) == previous, "the previous certificate is not back"
    assert state["http_sys"] == previous_entries, "the HTTP.sys entries are not exactly as before"
    assert all(served_certificates(state).values())
    assert "was rolled back" in failed.stdout and "(verified)" in failed.stdout

    lab_cli("fault", "--dir", str(lab.dir), "--host", host, "clear")
    rerun = remediate(lab, "--limit", host)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert _https_hashes(lab.state(host)) == {replacement_thumbprint(lab)}


def test_rollback_restores_a_hand_renewal_exactly(tmp_path):
    """An administrator renewed the wildcard entry by hand (new certificate, `netsh http update sslcert`) and
    set a client-certificate check mode on it; a change that fails verification must put back exactly that
    entry: the hand-renewed certificate, not whatever IIS configuration might suggest, and every setting."""
    with running_lab(tmp_path / "lab", 1, "private-ca") as lab:
        renewed = lab_cli(
            "renew-by-hand", "--dir", str(lab.dir), "--host", "mfa01", "--key", "ipport=0.0.0.0:443"
        )
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
        hand = json.loads(renewed.stdout)["thumbprint"]
        with HostState(lab.dir, "mfa01").change() as data:
            data["http_sys"][0]["cert_check_mode"] = 4
            data["http_sys"][0]["revocation_freshness_time"] = 3600
        before = lab.state("mfa01")["http_sys"]
        assert lab_cli("fault", "--dir", str(lab.dir), "--host", "mfa01", "no-intermediates").returncode == 0

        failed = remediate(lab)
        assert failed.returncode != 0 and "INCOMPLETE_CHAIN" in failed.stdout, failed.stdout[-3000:]
        assert "(verified)" in failed.stdout
        assert lab.state("mfa01")["http_sys"] == before
        served = lab.module(
            "localhost",
            "mfa_server.tls.tls_probe",
            {
                "targets": [
                    {
                        "url": f"https://{lab.hostvars('mfa01')['mfa_tls_public_name']}/",
                        "address": lab.hostvars("mfa01")["mfa_tls_probe_address"],
                        "check_http_status": False,
                    }
                ],
                "fetch_aia": False,
            },
        )
        assert served["results"][0]["presented_chain"][0]["sha1"] == hand
