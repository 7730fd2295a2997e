"""The collection as Galaxy, Automation Hub and AWX users check it: ansible-test sanity and units,
ansible-lint's production profile, documentation for every module, plugin and role, and the changelog."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from ecosystem import early_runs
from ecosystem.collection_copy import (
    ROOT,
    VENV_BIN,
    build_artifact,
    copy_collection,
    extract_artifact,
    place_offline_get_pip,
    tool_env,
)

ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
# plugin folders whose plugins document themselves (filter and test plugins included, when there are any)
PLUGIN_TYPES = {
    "modules": "module",
    "filter": "filter",
    "test": "test",
    "lookup": "lookup",
    "inventory": "inventory",
}


def _run(cmd: list[str], cwd: Path, timeout: float = 1800, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=tool_env(**env)
    )


def _tail(completed: subprocess.CompletedProcess) -> str:
    return (completed.stdout[-6000:] + "\n" + completed.stderr[-3000:]).strip()


@pytest.fixture(scope="module")
def collection_copy(tmp_path_factory) -> Path:
    place_offline_get_pip()
    return copy_collection(tmp_path_factory.mktemp("ansible-test"))


@early_runs.job("ansible-test")
def _ansible_test_on_the_artifact(folder: Path) -> dict:
    """ansible-test sanity, then units, on the Galaxy artifact's files alone, where ansible-test runs as a Galaxy
    or Automation Hub user would: {"copy": where, "sanity": ..., "units": ...} (completed processes)."""
    place_offline_get_pip()
    copy = extract_artifact(build_artifact(folder / "build"), folder / "copy")
    return {"copy": copy} | {
        command: early_runs.run(
            [str(VENV_BIN / "ansible-test"), command, "--python", "3.12", "--color", "no"],
            copy,
            tool_env(),
            timeout=1800,
        )
        for command in ("sanity", "units")
    }


@pytest.mark.early_run("ansible-test")
def test_ansible_test_sanity_passes():
    """Every sanity test on the artifact's files; the ignores are only those the missing pwsh forces
    (tests/sanity/ignore-2.21.txt). Started once collection ends, beside the tests before it (early_runs)."""
    completed = early_runs.result("ansible-test")["sanity"]
    assert completed.returncode == 0, _tail(completed)
    assert "validate-modules" in completed.stdout


def _supported_ansible_cores() -> list[str]:
    """Every ansible-core X.Y from requires_ansible (meta/runtime.yml) to the pin of requirements.txt."""
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    low = re.fullmatch(r">=(\d+)\.(\d+)\.0", runtime["requires_ansible"])
    high = re.search(r"^ansible-core==(\d+)\.(\d+)\.", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    return [f"{low[1]}.{minor}" for minor in range(int(low[2]), int(high[2]) + 1)] if low and high else []


SUPPORTED_ANSIBLE_CORES = _supported_ansible_cores()


def test_one_sanity_ignore_file_per_supported_ansible_core():
    """ansible-test reads tests/sanity/ignore-<its own X.Y>.txt only: a version without one fails sanity."""
    assert SUPPORTED_ANSIBLE_CORES, "requires_ansible is not >=X.Y.0, or no ansible-core pin"
    files = {p.name for p in (ROOT / "tests" / "sanity").glob("ignore-*.txt")}
    assert files == {f"ignore-{version}.txt" for version in SUPPORTED_ANSIBLE_CORES}


@pytest.mark.parametrize("version", SUPPORTED_ANSIBLE_CORES)
def test_sanity_ignores_are_only_the_ones_pwsh_forces(version):
    ignores = ROOT / "tests" / "sanity" / f"ignore-{version}.txt"
    lines = [line for line in ignores.read_text().splitlines() if line]
    powershell = {f"plugins/modules/{p.name}" for p in (ROOT / "plugins" / "modules").glob("*.ps1")}
    skipped = set()
    for line in lines:
        entry, _sep, reason = line.partition("#")
        path, test = entry.split()
        assert path in powershell and test == "validate-modules!skip", line
        assert "pwsh" in reason, f"no reason given: {line}"
        skipped.add(path)
    # validate-modules of every version needs pwsh to read a .ps1 module's argument spec, so each file skips
    # every PowerShell module (and the sanity runs on the lowest and the pinned version show nothing else).
    assert skipped == powershell, f"not skipped: {sorted(powershell - skipped)}"


@pytest.mark.early_run("ansible-test")
def test_ansible_test_units_runs_the_unit_tests():
    """Every unit test file of the working tree runs and passes from the artifact's files alone: the unit
    tests need neither the lab nor the tests that are left out of the artifact."""
    ran = early_runs.result("ansible-test")
    artifact_copy, completed = ran["copy"], ran["units"]
    assert not (artifact_copy / "lab").exists()
    expected, in_tree = _unit_test_files(artifact_copy), _unit_test_files(ROOT)
    assert expected == in_tree, f"left out of the artifact: {sorted(in_tree - expected)}"
    assert completed.returncode == 0, _tail(completed)
    passed = _files_with_a_passing_test(artifact_copy / "tests" / "output" / "junit")
    assert expected and passed == expected, f"no passing test from: {sorted(expected - passed)}"


def _unit_test_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / "tests" / "unit").rglob("test_*.py")}


def _files_with_a_passing_test(junit: Path) -> set[str]:
    """The test files of the JUnit reports ansible-test writes that have a test case neither failed, nor in
    error, nor skipped."""
    files = set()
    for report in junit.glob("*-units.xml"):
        for case in ElementTree.parse(report).iter("testcase"):
            if not any(case.find(outcome) is not None for outcome in ("failure", "error", "skipped")):
                files.add(case.get("file"))
    return files


def test_ansible_lint_production_profile_passes_offline():
    completed = _run(
        [str(VENV_BIN / "ansible-lint"), "--nocolor", "--profile", "production", "roles", "playbooks"], ROOT
    )
    assert completed.returncode == 0, _tail(completed)
    assert "Profile 'production' was required, and it passed" in completed.stdout + completed.stderr


def test_antsibull_docs_lint_collection_docs_passes():
    completed = _run([str(VENV_BIN / "antsibull-docs"), "lint-collection-docs", "--plugin-docs", "."], ROOT)
    assert completed.returncode == 0, _tail(completed)


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_renders_the_role(role):
    completed = _run([str(VENV_BIN / "ansible-doc"), "-t", "role", "--json", f"mfa_server.tls.{role}"], ROOT)
    assert completed.returncode == 0, _tail(completed)
    entry_points = json.loads(completed.stdout)[f"mfa_server.tls.{role}"]["entry_points"]
    assert "main" in entry_points
    for name, entry in entry_points.items():
        assert entry.get("short_description"), f"{role}:{name} has no short_description"
    rendered = _run([str(VENV_BIN / "ansible-doc"), "-t", "role", f"mfa_server.tls.{role}"], ROOT)
    assert rendered.returncode == 0 and "ENTRY POINT:" in rendered.stdout, _tail(rendered)


@pytest.mark.parametrize("folder", sorted(PLUGIN_TYPES))
def test_every_plugin_documents_itself(folder):
    names = {p.stem for p in (ROOT / "plugins" / folder).glob("*.py") if p.stem != "__init__"}
    names |= {p.stem for p in (ROOT / "plugins" / folder).glob("*.yml")}
    if not names:
        pytest.skip(f"no {folder} plugins")
    completed = _run(
        [str(VENV_BIN / "ansible-doc"), "-t", PLUGIN_TYPES[folder], "--list", "--json", "mfa_server.tls"],
        ROOT,
    )
    assert completed.returncode == 0, _tail(completed)
    listed = {name.rsplit(".", 1)[1] for name in json.loads(completed.stdout)}
    assert names <= listed, f"not documented: {sorted(names - listed)}"


def test_changelog_fragments_lint_and_generated_changelog_is_current(collection_copy):
    lint = _run([str(VENV_BIN / "antsibull-changelog"), "lint"], collection_copy)
    assert lint.returncode == 0 and not lint.stdout.strip(), _tail(lint)
    generate = _run([str(VENV_BIN / "antsibull-changelog"), "generate"], collection_copy)
    assert generate.returncode == 0, _tail(generate)
    for name in ("CHANGELOG.md", "CHANGELOG.rst"):
        assert (collection_copy / name).read_text() == (ROOT / name).read_text(), (
            f"{name} is not what antsibull-changelog generates: run `antsibull-changelog generate`"
        )


def _fragments(root: Path) -> dict[str, dict]:
    folder = root / "changelogs" / "fragments"
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yml"))}


def test_released_fragments_are_gone():
    """keep_fragments: false (as community.crypto and ansible.windows): a release deletes the fragments it
    takes, and one left behind would be released again with the next version."""
    config = yaml.safe_load((ROOT / "changelogs" / "config.yaml").read_text())
    assert config["keep_fragments"] is False
    releases = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]
    released = {name for release in releases.values() for name in release.get("fragments", [])}
    left = released & set(_fragments(ROOT))
    assert not left, f"released already, delete them: {sorted(left)}"


def test_a_release_takes_every_fragment_and_leaves_trivial_ones_out(tmp_path):
    """`antsibull-changelog release` on a copy: every fragment is consumed, every entry is in the release but
    the `trivial` ones (tooling and tests), which the changelog does not show."""
    copy = copy_collection(tmp_path)
    fragments = _fragments(copy)
    assert fragments, "no unreleased fragment to release"
    major, minor, _patch = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"].split(".")
    version = f"{major}.{int(minor) + 1}.0"
    release = _run([str(VENV_BIN / "antsibull-changelog"), "release", "--version", version], copy)
    assert release.returncode == 0, _tail(release)
    assert not _fragments(copy), "fragments left after the release"
    releases = yaml.safe_load((copy / "changelogs" / "changelog.yaml").read_text())["releases"]
    changes = releases[version]["changes"]
    rendered = (copy / "CHANGELOG.rst").read_text()
    for name, fragment in fragments.items():
        for section, entries in fragment.items():
            for entry in [entries] if isinstance(entries, str) else entries:
                if section == "trivial":
                    assert entry not in rendered, f"{name}: a trivial entry is in the changelog: {entry}"
                else:
                    listed = changes.get(section, [])
                    assert entry in listed or entry == listed, f"{name}: not released: {entry}"
