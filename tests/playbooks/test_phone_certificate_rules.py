"""The remediate playbook refuses, in its preflight play and before any host changes, a certificate from the
lab's public CA that breaks Apple's rules: valid for 500 days (VALIDITY_TOO_LONG), or without embedded SCTs
when mfa_tls_require_ct is true (CT_MISSING). The lab's ground truth is unchanged and no changing module ran."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lab import folder
from lab.ca import LabCA
from tests.support import pki
from tests.support.lab_harness import Lab, configuration
from tests.support.playbook_runs import remediate

CHANGING_MODULES = ("certificate_import", "iis_binding_certificate")
DAY = dt.timedelta(days=1)


def _snapshot(lab: Lab) -> dict:
    states = {host: lab.state(host) for host in lab.hosts()}
    return {
        host: (configuration(state), {m: state["counters"]["modules"].get(m, 0) for m in CHANGING_MODULES})
        for host, state in states.items()
    }


def _public_pfx(lab: Lab, name: str, days: int) -> tuple[Path, str]:
    """A PFX from the lab's public CA for every host's public name, valid for `days` days, without SCTs."""
    ca = LabCA(lab.dir)
    names = folder.public_names(json.loads((lab.dir / "lab.json").read_text()))
    start = pki.now() - DAY
    leaf = ca.leaf(
        "public", names, not_before=start, not_after=start + days * DAY - dt.timedelta(seconds=1), ct_logs=()
    )
    path = lab.dir / f"{name}.pfx"
    return path, folder.write_pfx(path, leaf, ca.chain("public"))


@pytest.mark.parametrize(
    ("name", "days", "variables", "code"),
    [
        ("valid-500-days", 500, {}, "VALIDITY_TOO_LONG"),
        ("no-scts", 365, {"mfa_tls_require_ct": True}, "CT_MISSING"),
    ],
)
def test_a_certificate_phones_refuse_changes_nothing(private_ca_lab, name, days, variables, code):
    before = _snapshot(private_ca_lab)
    pfx, password = _public_pfx(private_ca_lab, name, days)
    run = remediate(private_ca_lab, "-e", json.dumps(variables), pfx=pfx, password=password)
    assert run.returncode != 0
    assert f"{code}: The certificate" in run.stdout, run.stdout[-3000:]
    assert "Check the new certificate on the controller" in run.stdout
    assert _snapshot(private_ca_lab) == before
