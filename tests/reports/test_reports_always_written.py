"""Reports are always written: when every host is unreachable, compliance.yml and facts.yml still replace the
previous reports, and every report names each host as unreachable (a row, a JUnit <error>, a card).

Before, Ansible ended the play once no host was left in it, the report task never ran, and yesterday's green
report stayed in place."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from junitparser import Error, JUnitXml

from tests.support.lab_harness import lab_cli, recap, running_lab
from tests.support.playbook_runs import PLAYBOOKS, compliance


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Two private-ca hosts (private CA): first reachable, then with the lab's listeners stopped."""
    with running_lab(Path(tmp_path_factory.mktemp("unreachable-lab")), 2, "private-ca") as lab:
        yield lab


def _facts(lab, report_dir: Path):
    return lab.playbook(PLAYBOOKS / "facts.yml", "-e", f"mfa_tls_report_dir={report_dir}")


def _files(report_dir: Path, title: str) -> dict[str, Path]:
    return {fmt: report_dir / f"{title}.{fmt}" for fmt in ("json", "csv", "html", "xml")}


def test_every_host_unreachable_replaces_the_reports_and_names_each_host(fleet, tmp_path):
    hosts = fleet.hosts()
    runs = {"mfa-tls-compliance": lambda d: compliance(fleet, d), "mfa-tls-facts": lambda d: _facts(fleet, d)}
    folder = tmp_path / "reports"
    before = {}
    for title, run in runs.items():
        first = run(folder)
        assert recap(first.stdout)[hosts[0]]["unreachable"] == 0, first.stdout[-3000:]
        before[title] = json.loads(_files(folder, title)["json"].read_text())
        assert all(before[title]["hosts"][h]["status"] == "failing" for h in hosts), (
            "PRIVATE_CA on every host"
        )

    inventory = yaml.safe_load(fleet.inventory.read_text())
    secret = inventory["all"]["children"]["mfa_servers"]["vars"]["ansible_password"]
    assert secret
    lab_cli("down", "--dir", str(fleet.dir))  # every listener stops: no host answers WinRM any more
    umask = os.umask(0)
    os.umask(umask)
    for title, run in runs.items():
        second = run(folder)
        output = second.stdout + second.stderr
        assert second.returncode != 0, output[-3000:]
        counts = recap(second.stdout)
        assert all(counts[h]["failed"] == 1 for h in hosts), second.stdout[-3000:]

        files = _files(folder, title)
        document = json.loads(files["json"].read_text())
        assert (
            document["summary"]["unreachable_hosts"] == len(hosts)
            and document["summary"]["compliant"] is False
        )
        assert {h: document["hosts"][h]["status"] for h in hosts} == dict.fromkeys(hosts, "unreachable")

        rows = list(csv.DictReader(files["csv"].read_text().splitlines()))
        assert [(r["host"], r["verdict"].split(":", 1)[0]) for r in rows] == [
            (h, "unreachable") for h in hosts
        ]
        suites = {suite.name: list(suite) for suite in JUnitXml.fromfile(str(files["xml"]))}
        assert set(suites) == set(hosts)
        for host, cases in suites.items():
            assert [type(r) for case in cases for r in case.result] == [Error], host
        page = files["html"].read_text()
        assert page.count('data-status="unreachable"') == len(hosts)

        for path in [*files.values(), *(folder / "hosts").glob("*.json")]:
            assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, f"{path} does not follow the umask"
        written = "".join(p.read_text() for p in files.values())
        assert secret not in written and secret not in output
