"""Every armed lab fault ends with every binding serving a certificate, the previous one restored where
the change failed, and a clear failure message; after the fault is cleared, a re-run completes."""

from __future__ import annotations

import pytest

from lab_harness import lab_cli, recap, running_lab
from playbook_runs import remediate, replacement_thumbprint


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    directory = tmp_path_factory.mktemp("faults-lab")
    with running_lab(directory, 4, "seed") as lab:
        yield lab


def _https_hashes(state: dict) -> set[str]:
    return {b["certificate_hash"] for s in state["sites"] for b in s["bindings"] if b["protocol"] == "https"}


@pytest.mark.parametrize(
    ("host", "fault", "message"),
    [
        ("mfa01", ["import-fails"], "importing the PFX failed"),
        ("mfa02", ["commit-fails-after", "0"], "IIS refused the new configuration"),
        ("mfa03", ["no-intermediates"], "INCOMPLETE_CHAIN"),
        ("mfa04", ["drop-connection", "iis_binding_certificate"], "Connection aborted"),
    ],
)
def test_a_fault_rolls_back_and_a_rerun_completes(lab, host, fault, message):
    previous = _https_hashes(lab.state(host))
    armed = lab_cli("fault", "--dir", str(lab.dir), "--host", host, *fault)
    assert armed.returncode == 0, armed.stderr

    failed = remediate(lab, "--limit", host)
    assert failed.returncode != 0
    assert recap(failed.stdout)[host]["failed"] == 1
    assert message in failed.stdout, failed.stdout[-4000:]
    state = lab.state(host)
    assert _https_hashes(state) == previous, "the previous certificate is not back"
    assert all(
        b["certificate_hash"] for s in state["sites"] for b in s["bindings"] if b["protocol"] == "https"
    )
    assert "was rolled back" in failed.stdout and "(verified)" in failed.stdout

    lab_cli("fault", "--dir", str(lab.dir), "--host", host, "clear")
    rerun = remediate(lab, "--limit", host)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert _https_hashes(lab.state(host)) == {replacement_thumbprint(lab)}
