"""Remediation on a host whose HTTP.sys diverges from IIS: the reports name each divergence, and the MFA
binding that a hidden HTTP.sys entry overrides is left alone with the reason (changing it could not fix
what phones get), so nothing changes."""

from __future__ import annotations

import json

from tests.support.lab_harness import configuration, running_lab
from tests.support.playbook_runs import compliance, remediate, replacement_thumbprint


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


def test_a_binding_served_by_the_wildcard_is_changed_with_it_not_behind_its_back(tmp_path):
    """A second site's binding for another address of the host has no HTTP.sys entry of its own, so HTTP.sys serves it with the
    wildcard entry of `*:443:` while IIS shows no certificate for it. The module refuses to change the
    wildcard alone; remediation changes both, and the binding gets an entry of its own."""
    scenario = tmp_path / "fallback.json"
    scenario.write_text(
        json.dumps(
            {
                "base": "private-ca",
                "append": {
                    "*": {
                        "sites": [
                            {
                                "id": 2,
                                "name": "Second",
                                "state": "Started",
                                "physical_path": "C:\\\\inetpub\\\\second",
                                "bindings": [
                                    {
                                        "protocol": "https",
                                        "binding_information": "10.20.0.99:443:",
                                        "ssl_flags": 0,
                                    }
                                ],
                            }
                        ]
                    }
                },
            }
        )
    )
    with running_lab(tmp_path / "lab", 1, str(scenario)) as lab:
        assert lab.state("mfa01")["host"]["ip"] == "10.20.0.2"
        old = lab.state("mfa01")["http_sys"][0]["certificate_hash"]
        judged = compliance(lab, tmp_path / "before")
        details = json.loads((tmp_path / "before" / "mfa-tls-compliance.json").read_text())["hosts"]["mfa01"]
        codes = {d["code"] for d in details["details"]["http_sys_divergence"]}
        assert judged.returncode != 0 and codes == {"SERVED_BY_FALLBACK_ENTRY"}
        second = next(e for e in details["details"]["endpoints"] if e["site"] == "Second")
        assert second["served_by"] == "ipport=0.0.0.0:443" and second["certificate"]["thumbprint"] == old

        mine = next(c for c in lab.state("mfa01")["stores"]["My"] if c["thumbprint"] == old)["thumbprint"]
        alone = lab.module(
            "mfa01",
            "mfa_server.tls.iis_binding_certificate",
            {"thumbprint": mine, "bindings": [{"site": "Default Web Site", "binding_information": "*:443:"}]},
        )
        assert alone["failed"] and "has no HTTP.sys entry of its own (ipport=10.20.0.99:443)" in alone["msg"]

        run = remediate(lab)
        assert run.returncode == 0, run.stdout[-3000:]
        new = replacement_thumbprint(lab)
        entries = {e["key"]: e for e in lab.state("mfa01")["http_sys"]}
        assert entries["ipport=0.0.0.0:443"]["certificate_hash"] == new
        assert entries["ipport=10.20.0.99:443"]["certificate_hash"] == new  # an entry of its own now
