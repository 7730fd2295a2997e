"""Run safety and the output people read, through the real playbooks against the lab (issue 11, items 4 and 5).

Everything that can be refused is refused before the first host changes: an explicit binding missing on the
second host, a run that matches no host, a wrong mfa_tls_serial, a missing password. A run prints one line per
changed binding and what it left alone, writes a change record whose undo works, does not count its plan as a
change, and a rolling change that stops names the hosts it never attempted.

Two labs for the module (private-ca and traps, three hosts each); each test leaves the HTTP.sys entries as it found them.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest
import yaml

from tests.support.lab_harness import ROOT, configuration, lab_cli, recap, served_certificates
from tests.support.playbook_runs import (
    PLAYBOOKS,
    compliance,
    remediate,
    replacement_password,
    replacement_thumbprint,
)

CHANGING_MODULES = ("certificate_import", "iis_binding_certificate")
PLAYBOOK_NAMES = ("compliance.yml", "facts.yml", "remediate.yml", "renew.yml")


def _ground_truth(lab) -> dict:
    """Every host's configuration and how often a changing module ran on it."""
    states = {host: lab.state(host) for host in lab.hosts()}
    return {
        host: (configuration(state), {m: state["counters"]["modules"].get(m, 0) for m in CHANGING_MODULES})
        for host, state in states.items()
    }


def _executions(lab) -> dict[str, int]:
    return {host: sum(lab.state(host)["counters"]["modules"].values()) for host in lab.hosts()}


def _records(folder) -> list:
    return sorted(folder.glob("mfa-tls-change-*.json")) if folder.exists() else []


def _output(run: subprocess.CompletedProcess) -> str:
    return run.stdout + run.stderr  # Ansible prints warnings on stderr


def _record_lines(run: subprocess.CompletedProcess, host: str) -> list[str]:
    """The lines the change record task printed for a host (the JSON strings of its `msg`)."""
    return [json.loads(line) for line in re.findall(rf'^\s+("{re.escape(host)}: .*"),?$', run.stdout, re.M)]


# ---------------------------------------------------------------------------------------------- refused early


@pytest.mark.parametrize(
    ("variables", "refusal"),
    [
        # The SNI binding of mfa01's public name exists on mfa01 only.
        (
            {"mfa_tls_bindings": [{"site": "Default Web Site", "binding_information": "*:443:{public}"}]},
            "No HTTPS binding '*:443:{public}' on site 'Default Web Site'",
        ),
        # As an AWX survey's text field gives it: one string, spaces around the names. Portal is mfa01's only.
        ({"mfa_tls_sites": " Default Web Site ,Portal "}, "Site 'Portal' has no HTTPS binding on this host"),
    ],
)
def test_a_binding_or_site_missing_on_the_second_host_is_refused_before_the_first_host_changes(
    traps_lab, variables, refusal
):
    """The plan of mfa02 (and mfa03) refuses it in the first play, for every host at once, so mfa01, first in
    the rolling change and whose own plan is fine, is not changed either."""
    lab = traps_lab
    before = _ground_truth(lab)
    public = lab.hostvars("mfa01")["mfa_tls_public_name"]
    run = remediate(lab, "-e", json.dumps(variables).replace("{public}", public))
    output = _output(run)
    assert run.returncode != 0
    assert refusal.replace("{public}", public) in output, run.stdout[-3000:]
    assert "fatal: [mfa02]" in output and "fatal: [mfa01]" not in output, "mfa01's own plan was fine"
    assert "PLAY [Replace the certificates, a few hosts at a time]" not in run.stdout
    assert _ground_truth(lab) == before, "a host changed before the bad input was refused"
    assert not _records(lab.dir / "reports")


def test_a_change_prints_each_binding_it_changes_and_leaves_alone_and_records_an_undo_that_works(traps_lab):
    lab = traps_lab
    before = {host: lab.state(host)["http_sys"] for host in lab.hosts()}
    run = remediate(lab)
    output = _output(run)
    assert run.returncode == 0, run.stdout[-4000:]
    new = replacement_thumbprint(lab)

    lines = _record_lines(run, "mfa01")
    changed = [line for line in lines if " -> " in line]
    # The catch-all, the SNI binding and the IPv6 binding of Portal (tests/playbooks/test_traps.py).
    assert len(changed) == 3, lines
    for line in changed:
        assert re.search(rf"\([0-9A-F]{{40}}, expires \d{{4}}-\d\d-\d\d\) -> .*\({new}, expires ", line), line
        assert re.search(
            r"; HTTP\.sys (ipport|hostnameport)=\S+ updated \(app id \{[0-9a-f-]+\}, flags \d+\)$", line
        )
    [undo] = [line for line in lines if ": undo (" in line]
    # Each binding left alone is said once, with why (the plan's warning), without --diff.
    left = re.findall(r"Left as it is: binding '([^']+)' of site '([^']+)': (.+?)\.?$", output, re.M)
    assert ("10.20.0.2:8443:reports.corp.contoso.com", "Reports") in {(b, s) for b, s, _why in left}
    assert len(left) == len(set(left)), "a left-alone line was printed twice"
    assert all(why for _b, _s, why in left)

    [path] = _records(lab.dir / "reports")
    record = json.loads(path.read_text())
    assert record["summary"]["changed"] == ["mfa01"]
    assert record["summary"]["nothing to change"] == ["mfa02", "mfa03"]
    entry = record["hosts"]["mfa01"]
    assert len(entry["bindings"]) == 3
    for binding in entry["bindings"]:
        named = f"mfa01: binding '{binding['binding_information']}' of site '{binding['site']}': "
        assert [line for line in changed if line.startswith(named)], named
    assert entry["verification"]["verdict"] == "passed"
    assert record["run"]["who"]["controller_user"]
    assert path.with_suffix(".html").exists()
    assert replacement_password(lab) not in path.read_text()

    # The undo as printed, run as printed: every HTTP.sys entry is back exactly as before the change.
    command = undo.split("): ", 1)[1]
    undone = subprocess.run(
        ["bash", "-c", command.replace("ansible ", f"{shlex.quote(str(ROOT / '.venv/bin/ansible'))} ", 1)],
        cwd=ROOT,
        env=lab.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert lab.state("mfa01")["http_sys"] == before["mfa01"]


# ---------------------------------------------------------------------------------------------- the private-ca lab


def test_check_mode_shows_the_change_but_counts_only_what_would_change(private_ca_lab, tmp_path):
    lab = private_ca_lab
    before = {host: configuration(lab.state(host)) for host in lab.hosts()}
    run = remediate(lab, "--check", "--diff", "-e", f"mfa_tls_report_dir={tmp_path}")
    assert run.returncode == 0, run.stdout[-3000:]
    assert {host: configuration(lab.state(host)) for host in lab.hosts()} == before, (
        "check mode changed a host"
    )
    # The plan (the discovery task) changes nothing: ok, not changed.
    judged = run.stdout.split("Judge every HTTPS binding, server side and as a phone sees it", 1)[1].split(
        "TASK [", 1
    )[0]
    assert re.findall(r"^(ok|changed): \[", judged, re.M) == ["ok"] * len(lab.hosts()), judged
    # What would change: the import and the bind (stood in for, with the plan's diff), as a real run changes.
    assert all(counts["changed"] == 2 for counts in recap(run.stdout).values()), run.stdout[-2000:]
    assert len(re.findall(r"^-Default Web Site \*:443:: [0-9A-F]{40}$", run.stdout, re.M)) == len(lab.hosts())
    for host in lab.hosts():
        assert any(
            line.startswith(f"{host}: would change binding '*:443:'") for line in _record_lines(run, host)
        )
    assert not list(tmp_path.iterdir()), "check mode wrote a change record"


def test_an_unfit_certificate_is_one_line_naming_it_and_each_problem_once_without_pem(private_ca_lab):
    lab = private_ca_lab
    before = _ground_truth(lab)
    out = lab.dir / "private-for-output.pfx"
    assert lab_cli("cert", "--dir", str(lab.dir), "--kind", "private", "--out", str(out)).returncode == 0
    run = remediate(lab, pfx=out, password=(lab.dir / "private-for-output.pfx.pass").read_text().strip())
    output = _output(run)
    assert run.returncode != 0
    assert "BEGIN CERTIFICATE" not in output and "-----" not in output
    [header] = re.findall(r"^\[ERROR\]: Task failed: Action failed: (.*)$", output, re.M)
    assert header.startswith("The certificate CN=") and header.endswith(
        "PRIVATE_CA. Nothing was changed; each problem is listed under 'problems'."
    )
    assert output.count("PRIVATE_CA: The chain of") == 1, "a problem was printed more than once"
    assert _ground_truth(lab) == before


@pytest.mark.parametrize("password", ["", None])
def test_a_missing_password_says_the_variable_is_not_set(private_ca_lab, password):
    lab = private_ca_lab
    before = _ground_truth(lab)
    variables = {"mfa_tls_pfx_path": str(lab.dir / "certs" / "replacement.pfx")}
    if password is not None:
        variables["mfa_tls_pfx_password"] = password  # an AWX survey's password left blank
    run = lab.playbook(PLAYBOOKS / "remediate.yml", "-e", json.dumps(variables))
    assert run.returncode != 0
    assert "is protected by a password and mfa_tls_pfx_password is not set" in run.stdout, run.stdout[-3000:]
    assert "password is wrong" not in run.stdout
    assert _ground_truth(lab) == before


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("mfa_tls_serial", "abc", "mfa_tls_serial is 'abc': give the number of hosts to change at a time"),
        ("mfa_tls_serial", "0", "mfa_tls_serial is '0'"),
        (
            "mfa_tls_max_fail_percentage",
            "lots",
            "mfa_tls_max_fail_percentage is 'lots': give a number from 0 to 100",
        ),
    ],
)
def test_a_wrong_rolling_setting_is_a_clear_error_before_anything_runs(
    private_ca_lab, variable, value, message
):
    lab = private_ca_lab
    counted = _executions(lab)
    for playbook in ("remediate.yml", "renew.yml"):
        run = lab.playbook(PLAYBOOKS / playbook, "-e", f"{variable}={value}")
        assert run.returncode != 0
        assert message in _output(run), _output(run)[-3000:]
        assert "Traceback" not in _output(run)
    assert _executions(lab) == counted, "a module ran on a host"


def _renamed_inventory(lab, tmp_path) -> str:
    """The lab's inventory with its group named mfa_prod instead of mfa_servers, and a host of another group
    that no test may reach."""
    inventory = yaml.safe_load(lab.inventory.read_text())
    children = inventory["all"]["children"]
    children["mfa_prod"] = children.pop("mfa_servers")
    children["web"] = {"hosts": {"web01": {"ansible_host": "127.0.0.1", "ansible_port": 1}}}
    path = tmp_path / "renamed.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def test_a_run_that_matches_no_host_fails_naming_the_group_and_mfa_tls_hosts_names_another(
    private_ca_lab, tmp_path
):
    lab = private_ca_lab
    inventory = _renamed_inventory(lab, tmp_path)
    counted = _executions(lab)

    def run(playbook: str, *extra: str) -> subprocess.CompletedProcess:
        command = [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            inventory,
            str(PLAYBOOKS / playbook),
        ]
        return subprocess.run(
            [*command, "-e", f"mfa_tls_report_dir={tmp_path / 'reports'}", *extra],
            cwd=ROOT,
            env=lab.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    for playbook in PLAYBOOK_NAMES:
        refused = run(playbook)
        assert refused.returncode != 0, playbook
        assert "the host pattern 'mfa_servers' (mfa_tls_hosts) matches no host of the inventory" in _output(
            refused
        )
        assert "(its groups: mfa_prod, web; hosts: 4)" in _output(refused), playbook
    limited = run("compliance.yml", "-e", "mfa_tls_hosts=mfa_prod", "--limit", "web01")
    assert limited.returncode != 0
    assert "matches mfa01, mfa02, mfa03, but the limit 'web01'" in _output(limited), _output(limited)[-2000:]
    assert _executions(lab) == counted, "a refused run reached a host"
    assert not (tmp_path / "reports").exists()

    judged = run("compliance.yml", "-e", "mfa_tls_hosts=mfa_prod")
    assert set(recap(judged.stdout)) == set(lab.hosts()), judged.stdout[-2000:]
    report = json.loads((tmp_path / "reports" / "mfa-tls-compliance.json").read_text())
    assert set(report["hosts"]) == set(lab.hosts())


def test_a_rollout_that_stops_names_the_hosts_it_never_attempted(private_ca_lab):
    lab = private_ca_lab
    before = _ground_truth(lab)
    counted = _executions(lab)
    assert lab_cli("fault", "--dir", str(lab.dir), "--host", "mfa01", "set-fails-after", "0").returncode == 0
    try:
        run = remediate(lab)
    finally:
        lab_cli("fault", "--dir", str(lab.dir), "--host", "mfa01", "clear")
    assert run.returncode != 0
    lines = _record_lines(run, "mfa01")
    assert "mfa01: the change failed; rolled back." in lines, lines
    assert any(
        "the rolling change stops with this batch (1 of 1 host(s) failed, max_fail_percentage 0%); "
        "not attempted: mfa02, mfa03." in line
        for line in lines
    ), lines
    after = _ground_truth(lab)
    # mfa01: the HTTP.sys entries and IIS as before (the imported certificate stays in the store, unused).
    assert lab.state("mfa01")["http_sys"] == before["mfa01"][0]["http_sys"]
    assert after["mfa01"][0]["sites"] == before["mfa01"][0]["sites"]
    assert after["mfa02"] == before["mfa02"] and after["mfa03"] == before["mfa03"], (
        "a host not attempted changed"
    )
    spent = {host: count - counted[host] for host, count in _executions(lab).items()}
    assert spent["mfa02"] == spent["mfa03"] == 1, "a host not attempted was only discovered, once"
    [path] = _records(lab.dir / "reports")
    record = json.loads(path.read_text())
    assert record["summary"]["rolled back"] == ["mfa01"]
    assert record["summary"]["not attempted"] == ["mfa02", "mfa03"]
    assert record["hosts"]["mfa01"]["rollback"]["verified"] is True
    path.unlink()
    path.with_suffix(".html").unlink()


def test_a_changing_run_costs_three_module_executions_and_counts_two_changes_per_host(private_ca_lab):
    """The discovery moved into the first play: the rolling play uses its plan, so a host that changes still
    needs three module executions (discover, import, bind) and the recap counts the import and the bind."""
    lab = private_ca_lab
    new = replacement_thumbprint(lab)
    counted = _executions(lab)
    before = {host: lab.state(host)["http_sys"] for host in lab.hosts()}
    # A host that holds the certificate already (mfa01, after the stopped rollout) imports nothing.
    imports = {
        host: int(new not in {c["thumbprint"] for c in lab.state(host)["stores"]["My"]})
        for host in lab.hosts()
    }
    run = remediate(lab)
    assert run.returncode == 0, run.stdout[-3000:]
    assert {count - counted[host] for host, count in _executions(lab).items()} == {3}
    # The import (when it imports) and the bind: the plan is no change.
    assert {h: c["changed"] for h, c in recap(run.stdout).items()} == {h: 1 + n for h, n in imports.items()}
    for host in lab.hosts():
        assert set(served_certificates(lab.state(host)).values()) == {new}
        [line] = [line for line in _record_lines(run, host) if " -> " in line]
        assert (
            "-> CN=" in line and f"({new}, expires " in line and "HTTP.sys ipport=0.0.0.0:443 updated" in line
        )
    [path] = _records(lab.dir / "reports")
    record = json.loads(path.read_text())
    assert record["summary"]["changed"] == lab.hosts()
    # The lab as the other tests found it: every host's undo, from the record, puts the entries back.
    for host in lab.hosts():
        undo = lab.module(host, "mfa_server.tls.iis_binding_certificate", record["hosts"][host]["undo"])
        assert not undo["failed"], undo
        assert lab.state(host)["http_sys"] == before[host]
    assert compliance(lab, lab.dir / "after-undo").returncode != 0, (
        "the undo did not bring back the old certificate"
    )
