"""The collection as users get it: the Galaxy artifact installed into an empty collections path and run by
FQCN against the lab, the execution environment's build context, and a compliance job through
ansible-runner (what AWX runs) with its set_stats artifact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from ecosystem.collection_copy import ROOT, VENV_BIN, build_artifact, tool_env

from lab_harness import WINDOWS, Lab, recap

# What must never ship: lab state, virtual environments, reports, caches, tool output.
FORBIDDEN = (
    "lab-state/",
    ".venv/",
    ".cache/",
    "reports/",
    "artifacts/",
    "context/",
    "ee-collections/",
    "tests/output/",
    "__pycache__/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".git/",
)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    return build_artifact(tmp_path_factory.mktemp("galaxy-build"))


@pytest.fixture(scope="module")
def installed(artifact, tmp_path_factory) -> Path:
    """An empty collections path holding only the installed artifact and the collections galaxy.yml declares.

    The dependencies are put there first, as a Galaxy server would provide them: offline, ansible-galaxy then
    finds them installed instead of failing to fetch them."""
    path = tmp_path_factory.mktemp("installed-collections")
    declared = yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"]
    for name in sorted(declared):
        namespace, collection = name.split(".")
        shutil.copytree(
            WINDOWS.parents[1] / namespace / collection, path / "ansible_collections" / namespace / collection
        )
        manifest = json.loads(
            (path / "ansible_collections" / namespace / collection / "MANIFEST.json").read_text()
        )
        for required in manifest["collection_info"]["dependencies"]:  # community.general's own dependency
            ns, coll = required.split(".")
            shutil.copytree(
                WINDOWS.parents[1] / ns / coll, path / "ansible_collections" / ns / coll, dirs_exist_ok=True
            )
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "-p",
            str(path),
            str(artifact),
        ],
        cwd=path,
        capture_output=True,
        text=True,
        check=False,
        env=tool_env(),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for name in declared:
        assert f"'{name}:" in completed.stdout and "is already installed" in completed.stdout, (
            completed.stdout
        )
    return path


def test_artifact_holds_the_collection_and_nothing_else(artifact):
    with tarfile.open(artifact) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert (
        manifest["collection_info"]["namespace"] == "mfa_server"
        and manifest["collection_info"]["name"] == "tls"
    )
    for required in (
        "plugins/modules/tls_probe.py",
        "plugins/modules/iis_tls_info.ps1",
        "plugins/module_utils/HttpSysSsl.cs",
        "roles/compliance/meta/argument_specs.yml",
        "playbooks/compliance.yml",
        "meta/runtime.yml",
        "meta/execution-environment.yml",
        "meta/ee-requirements.txt",
        "meta/ee-bindep.txt",
        "CHANGELOG.md",
        "changelogs/changelog.yaml",
    ):
        assert required in names, f"{required} is missing from the artifact"
    for name in names:
        assert not any(f"/{name}/".find(f"/{bad}") >= 0 for bad in FORBIDDEN), f"{name} must not ship"
        assert not name.endswith((".pyc", ".tar.gz", ".log")), f"{name} must not ship"


def _run_installed(installed: Path, lab: Lab, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = tool_env(ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(lab.inventory), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )


def test_installed_artifact_runs_the_compliance_role_by_fqcn(installed, seed_lab, tmp_path):
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Compliance",
                    "hosts": "mfa_servers",
                    "gather_facts": False,
                    "roles": ["mfa_server.tls.compliance"],
                }
            ]
        )
    )
    reports = tmp_path / "reports"
    out = _run_installed(
        installed,
        seed_lab,
        tmp_path,
        str(playbook),
        "-e",
        f"mfa_tls_report_dir={reports}",
        "-e",
        "mfa_tls_fail_on_noncompliant=false",
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert str(installed) in _collection_location(installed, tmp_path)
    report = json.loads(next(reports.glob("*.json")).read_text())
    assert "PRIVATE_CA" in json.dumps(report)
    assert set(recap(out.stdout)) == set(seed_lab.hosts())


def test_installed_artifact_runs_the_collection_playbook_by_fqcn(installed, seed_lab, tmp_path):
    reports = tmp_path / "reports"
    out = _run_installed(
        installed, seed_lab, tmp_path, "mfa_server.tls.compliance", "-e", f"mfa_tls_report_dir={reports}"
    )
    # the seed fleet carries private-CA certificates: every host fails compliance, as phones would
    assert out.returncode == 2, out.stdout[-4000:] + out.stderr[-2000:]
    assert "PRIVATE_CA" in out.stdout
    assert all(counts["failed"] == 1 for counts in recap(out.stdout).values()), out.stdout[-3000:]
    assert list(reports.glob("*.html"))


def _collection_location(installed: Path, cwd: Path) -> str:
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "list", "mfa_server.tls"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=tool_env(ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"),
    )
    return completed.stdout


def test_ansible_builder_creates_the_execution_environment_context(artifact, tmp_path):
    project = tmp_path / "project"
    (project / "meta").mkdir(parents=True)
    shutil.copy2(ROOT / "execution-environment.yml", project)
    for name in ("execution-environment.yml", "ee-requirements.txt", "ee-bindep.txt"):
        shutil.copy2(ROOT / "meta" / name, project / "meta")
    (project / "ee-collections").mkdir()
    shutil.copy2(artifact, project / "ee-collections")
    context = tmp_path / "context"
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-builder"),
            "create",
            "--context",
            str(context),
            "-f",
            "execution-environment.yml",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=tool_env(),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (containerfile,) = [p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()]
    text = containerfile.read_text()
    assert "ansible-core==2.21.5" in text and "ansible-runner==" in text
    assert "ansible-galaxy collection install" in text and "install-from-bindep" in text
    build = context / "_build"
    python = (build / "requirements.txt").read_text()
    assert "pywinrm[kerberos]" in python and "cryptography" in python and "ansible-core" not in python
    assert "krb5" in (build / "bindep.txt").read_text()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())["collections"]
    names = {entry["name"] for entry in galaxy}
    assert "ansible.windows" in names
    assert f"/build/collections/{artifact.name}" in names, "the EE installs this collection's artifact"
    assert (build / "collections" / artifact.name).is_file()
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    for path in meta["dependencies"].values():
        assert (ROOT / path).is_file()


def test_ansible_runner_runs_the_compliance_job_with_its_set_stats(seed_lab, tmp_path):
    """What AWX does for a compliance job template: ansible-runner with a private data dir."""
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "inventory").mkdir()
    (private / "env").mkdir()
    shutil.copytree(ROOT / "playbooks", private / "project" / "playbooks")
    shutil.copy2(seed_lab.inventory, private / "inventory" / "hosts.yml")
    reports = tmp_path / "reports"
    (private / "env" / "extravars").write_text(
        yaml.safe_dump({"mfa_tls_report_dir": str(reports), "mfa_tls_fail_on_noncompliant": False})
    )
    # AWX puts the project's and the EE's collections on the path; here the working tree's link.
    (private / "env" / "envvars").write_text(
        yaml.safe_dump(
            {"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1"}
        )
    )
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-runner"),
            "run",
            str(private),
            "-p",
            "playbooks/compliance.yml",
            "--ident",
            "compliance",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=tool_env(),
    )
    artifacts = private / "artifacts" / "compliance"
    assert (artifacts / "status").read_text() == "successful", (
        completed.stdout[-4000:] + completed.stderr[-2000:]
    )
    assert (artifacts / "rc").read_text() == "0"
    events = [json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")]
    (stats,) = [e for e in events if e.get("event") == "playbook_on_stats"]
    custom = stats["event_data"]["artifact_data"]["mfa_tls_compliance"]
    assert set(custom) == set(seed_lab.hosts())
    for verdict in custom.values():
        assert verdict["compliant"] is False and "PRIVATE_CA" in verdict["codes"]
    assert os.path.isdir(reports) and list(reports.glob("*.xml"))
