"""The private-CA story end to end against the lab, through the real playbooks: compliance fails naming
PRIVATE_CA, check mode changes nothing and shows the diff, remediate fixes it (ground truth and a real
handshake agree), a second run changes nothing, compliance passes."""

from __future__ import annotations

import json
import re

from tests.support.lab_harness import configuration, recap, served_certificates
from tests.support.playbook_runs import compliance, remediate, replacement_thumbprint


def _executions(lab) -> dict[str, int]:
    """Module executions per host so far, from the lab's counters (each costs seconds on real Windows)."""
    return {h: sum(lab.state(h)["counters"]["modules"].values()) for h in lab.hosts()}


def _spent(lab, before: dict[str, int]) -> set[int]:
    return {count - before[host] for host, count in _executions(lab).items()}


def test_the_private_ca_story(private_ca_lab, tmp_path):
    lab = private_ca_lab
    hosts = lab.hosts()
    before = {h: configuration(lab.state(h)) for h in hosts}

    counted = _executions(lab)
    failing = compliance(lab, tmp_path / "before")
    assert _spent(lab, counted) == {1}, "judging a host needs one module execution"
    assert failing.returncode != 0, failing.stdout
    report = json.loads((tmp_path / "before" / "mfa-tls-compliance.json").read_text())
    for host in hosts:
        entry = report["hosts"][host]
        assert entry["compliant"] is False
        assert all("PRIVATE_CA" in e["codes"] for e in entry["endpoints"])
        assert "mobile_app_web_service" in {e["component"] for e in entry["endpoints"]}
    junit = (tmp_path / "before" / "mfa-tls-compliance.xml").read_text()
    # Three endpoints per host, the User Portal, the Mobile App Web Service and the Web Service SDK on *:443:, all
    # failing; and the MFA Server's own checks, which pass but for the retirement warning.
    assert junit.count("<testcase") == 4 * len(hosts)
    assert junit.count("<failure") == 3 * len(hosts)
    assert junit.count("MFA_SERVER_RETIRED: ") == len(hosts)

    checked = remediate(lab, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert {h: configuration(lab.state(h)) for h in hosts} == before, "check mode changed a host"
    assert len(re.findall(r"^-Default Web Site \*:443:: [0-9A-F]{40}$", checked.stdout, re.M)) == len(hosts)
    assert len(re.findall(r"^\+Default Web Site \*:443:: [0-9A-F]{40}$", checked.stdout, re.M)) == len(hosts)

    counted = _executions(lab)
    fixed = remediate(lab)
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert _spent(lab, counted) == {3}, (
        "a host that changes needs three module executions: read, import, bind"
    )
    new = replacement_thumbprint(lab)
    for host in hosts:
        state = lab.state(host)
        assert set(served_certificates(state).values()) == {new}
        assert {e["certificate_hash"] for e in state["http_sys"]} == {new}
        # IIS configuration is not touched: the certificate lives only in HTTP.sys
        assert state["sites"] == before[host]["sites"]
        assert any(c["thumbprint"] == new and c["has_private_key"] for c in state["stores"]["My"])
        kept = {c["thumbprint"] for c in state["stores"]["My"]}
        assert {c["thumbprint"] for c in before[host]["stores"]["My"]} <= kept, "the old certificate is kept"

    counted = _executions(lab)
    again = remediate(lab)
    assert again.returncode == 0
    assert _spent(lab, counted) == {1}, "a host that needs nothing needs one module execution"
    assert all(counts["changed"] == 0 for counts in recap(again.stdout).values()), again.stdout[-2000:]

    passing = compliance(lab, tmp_path / "after")
    assert passing.returncode == 0, passing.stdout[-3000:]
    after = json.loads((tmp_path / "after" / "mfa-tls-compliance.json").read_text())
    assert after["summary"]["compliant"] is True
    for host in hosts:
        for endpoint in after["hosts"][host]["details"]["endpoints"]:
            assert endpoint["phone"]["trusted"] is True
            assert endpoint["phone"]["presented_chain"][0]["sha1"] == new
            assert endpoint["phone"]["http_status"] == 200
