"""Remediation on a host whose HTTP.sys diverges from IIS: the reports name each divergence, and the MFA
binding that a hidden HTTP.sys entry overrides is left alone with the reason (changing it could not fix
what phones get), so nothing changes."""

from __future__ import annotations

import json

from lab_harness import configuration, running_lab
from playbook_runs import compliance, remediate


def test_a_hidden_entry_is_reported_and_its_binding_left_alone(tmp_path):
    with running_lab(tmp_path / "lab", 1, "divergent") as lab:
        before = configuration(lab.state("mfa01"))
        judged = compliance(lab, tmp_path / "reports")
        assert judged.returncode != 0
        report = json.loads((tmp_path / "reports" / "mfa-tls-compliance.json").read_text())
        details = report["hosts"]["mfa01"]["details"]
        codes = {d["code"] for d in details["http_sys_divergence"]}
        assert codes == {
            "OVERRIDDEN_BY_HIDDEN_ENTRY",
            "FOREIGN_APP_ID",
            "NO_HTTP_SYS_ENTRY",
            "BINDING_UNREADABLE",
            "LEGACY_METADATA",
        }
        mfa = [e for e in details["endpoints"] if e["component"]]
        assert all("OVERRIDDEN_BY_HIDDEN_ENTRY" in e["codes"] for e in mfa)
        assert any("BINDING_UNREADABLE" in line for line in details["problems"])

        run = remediate(lab)
        assert run.returncode == 0, run.stdout[-3000:]
        output = run.stdout + run.stderr
        assert "Left as it is: binding '*:443:' of site 'Default Web Site'" in output
        assert "a hidden HTTP.sys entry with no IIS binding serves its connections" in output
        assert configuration(lab.state("mfa01")) == before
