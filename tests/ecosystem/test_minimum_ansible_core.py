"""The lowest ansible-core the collection claims (meta/runtime.yml `requires_ansible`) is tested: ansible-test
sanity and units pass on it, in the second virtual environment `make setup` builds from requirements-min.txt
(.cache/venv-min, on the lowest controller Python of that ansible-core). The same runs on the pinned
ansible-core of requirements.txt are in test_collection_tools.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ecosystem import early_runs
from ecosystem.collection_copy import ROOT, build_artifact, extract_artifact, place_offline_get_pip, tool_env

MIN_VENV = ROOT / ".cache" / "venv-min"
MIN_PYTHON = MIN_VENV / "bin" / "python"
# What the interpreter of the second venv says of itself and of its ansible-core and ansible-test.
FACTS_SCRIPT = """
import json, sys
from pathlib import Path
import ansible, ansible_test
from ansible_test._util.target.common.constants import CONTROLLER_PYTHON_VERSIONS
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "ansible_core": ansible.__version__,
    "ansible_test_dir": str(Path(ansible_test.__file__).parent),
    "controller_pythons": list(CONTROLLER_PYTHON_VERSIONS),
}))
"""


def _pinned_minimum() -> str:
    """The ansible-core version requirements-min.txt pins."""
    text = (ROOT / "requirements-min.txt").read_text()
    return re.search(r"^ansible-core==(\S+)$", text, re.MULTILINE)[1]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _env() -> dict[str, str]:
    # ansible-test starts its tools (and pip, to build its sanity environments) from PATH: the second venv's.
    return tool_env(PATH=os.pathsep.join([str(MIN_PYTHON.parent), os.environ.get("PATH", "")]))


def _facts() -> dict:
    completed = subprocess.run(
        [str(MIN_PYTHON), "-c", FACTS_SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(completed.stdout)


def _tail(completed: subprocess.CompletedProcess) -> str:
    return (completed.stdout[-6000:] + "\n" + completed.stderr[-3000:]).strip()


@pytest.fixture(scope="module")
def minimum() -> dict:
    """The facts of the second venv; a failure, not a skip, when `make setup` has not built it."""
    if not MIN_PYTHON.exists():
        pytest.fail(f"{MIN_VENV.relative_to(ROOT)} is missing: run `make setup`")
    return _facts()


def test_requires_ansible_is_the_version_the_second_venv_tests(minimum):
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    claimed = re.fullmatch(r">=(\d+\.\d+)\.0", runtime["requires_ansible"])
    assert claimed, f"requires_ansible is not a plain lower bound: {runtime['requires_ansible']!r}"
    assert minimum["ansible_core"] == _pinned_minimum(), (
        "the second venv is not what requirements-min.txt pins"
    )
    assert _minor(minimum["ansible_core"]) == _minor(claimed[1]), (
        f"requires_ansible {runtime['requires_ansible']} is not the tested {minimum['ansible_core']}"
    )


@pytest.mark.parametrize(
    "role", sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/main.yml"))
)
def test_roles_state_the_same_minimum(role):
    """Galaxy shows a role's min_ansible_version: it is the collection's requires_ansible, not another claim."""
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
    assert f">={meta['galaxy_info']['min_ansible_version']}.0" == runtime["requires_ansible"]


def test_second_venv_runs_the_lowest_python_of_that_ansible_core(minimum):
    """The collection's own floor (datetime.UTC, Python 3.11) is tested where ansible-core's floor is."""
    assert minimum["python"] == minimum["controller_pythons"][0], minimum


@early_runs.job("ansible-test-minimum")
def _ansible_test_on_the_artifact(folder: Path) -> dict:
    """ansible-test sanity, then units, of the lowest ansible-core on the Galaxy artifact's files, what a user
    of it installs: {"sanity": ..., "units": ...} (completed processes)."""
    if not MIN_PYTHON.exists():
        missing = subprocess.CompletedProcess(
            [], 1, "", f"{MIN_VENV.relative_to(ROOT)} is missing: run `make setup`"
        )
        return {"sanity": missing, "units": missing}
    facts = _facts()
    place_offline_get_pip(Path(facts["ansible_test_dir"]))
    copy = extract_artifact(build_artifact(folder / "build"), folder / "copy")
    ansible_test = str(MIN_PYTHON.parent / "ansible-test")
    return {
        command: early_runs.run(
            [ansible_test, command, "--python", facts["python"], "--color", "no"], copy, _env(), 1800
        )
        for command in ("sanity", "units")
    }


@pytest.mark.early_run("ansible-test-minimum")
def test_ansible_test_sanity_passes_on_the_minimum(minimum):
    """Every sanity test (about two minutes on a fresh machine, most of it building the sanity venvs). Started
    once collection ends, beside the tests before it (early_runs)."""
    completed = early_runs.result("ansible-test-minimum")["sanity"]
    assert completed.returncode == 0, _tail(completed)
    for test in ("validate-modules", "ansible-doc", "import", "pylint", "runtime-metadata"):
        assert f'Running sanity test "{test}"' in completed.stdout, f"{test} did not run:\n{_tail(completed)}"


@pytest.mark.early_run("ansible-test-minimum")
def test_ansible_test_units_pass_on_the_minimum(minimum):
    """Every unit test runs and passes: as many as pytest collects from tests/unit with the pinned ansible-core."""
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    expected = int(re.search(r"^(\d+) tests? collected", collected.stdout, re.MULTILINE)[1])
    completed = early_runs.result("ansible-test-minimum")["units"]
    assert completed.returncode == 0, _tail(completed)
    summary = re.search(r"=+ (.*) in [\d.]+s", completed.stdout)
    assert summary and summary[1] == f"{expected} passed", _tail(completed)
