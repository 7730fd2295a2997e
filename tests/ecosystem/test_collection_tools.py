"""The collection as Galaxy, Automation Hub and AWX users check it: ansible-test sanity and units,
ansible-lint's production profile, documentation for every module, plugin and role, and the changelog."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ecosystem.collection_copy import ROOT, VENV_BIN, copy_collection, seed_get_pip, tool_env

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
    seed_get_pip()
    return copy_collection(tmp_path_factory.mktemp("ansible-test"))


def test_ansible_test_sanity_passes(collection_copy):
    """Every sanity test; the ignores are only those the missing pwsh forces (tests/sanity/ignore-2.21.txt)."""
    completed = _run(
        [str(VENV_BIN / "ansible-test"), "sanity", "--python", "3.12", "--color", "no"], collection_copy
    )
    assert completed.returncode == 0, _tail(completed)
    assert "validate-modules" in completed.stdout


def test_sanity_ignores_are_only_the_ones_pwsh_forces():
    lines = [
        line for line in (ROOT / "tests" / "sanity" / "ignore-2.21.txt").read_text().splitlines() if line
    ]
    powershell = {f"plugins/modules/{p.name}" for p in (ROOT / "plugins" / "modules").glob("*.ps1")}
    for line in lines:
        entry, _sep, reason = line.partition("#")
        path, test = entry.split()
        assert path in powershell and test == "validate-modules!skip", line
        assert "pwsh" in reason, f"no reason given: {line}"


def test_ansible_test_units_runs_the_unit_tests(collection_copy):
    completed = _run(
        [str(VENV_BIN / "ansible-test"), "units", "--python", "3.12", "--color", "no"], collection_copy
    )
    assert completed.returncode == 0, _tail(completed)
    expected = len(list((ROOT / "tests" / "unit").rglob("test_*.py")))
    assert expected and " passed" in completed.stdout and " failed" not in completed.stdout, _tail(completed)


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
