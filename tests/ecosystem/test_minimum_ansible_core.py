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


def _run(cmd: list[str], cwd: Path, timeout: float = 1200) -> subprocess.CompletedProcess:
    # ansible-test starts its tools (and pip, to build its sanity environments) from PATH: the second venv's.
    env = tool_env(PATH=os.pathsep.join([str(MIN_PYTHON.parent), os.environ.get("PATH", "")]))
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env)


def _tail(completed: subprocess.CompletedProcess) -> str:
    return (completed.stdout[-6000:] + "\n" + completed.stderr[-3000:]).strip()


@pytest.fixture(scope="module")
def minimum() -> dict:
    """The facts of the second venv; a failure, not a skip, when `make setup` has not built it."""
    if not MIN_PYTHON.exists():
        pytest.fail(f"{MIN_VENV.relative_to(ROOT)} is missing: run `make setup`")
    completed = subprocess.run(
        [str(MIN_PYTHON), "-c", FACTS_SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def artifact_copy(minimum, tmp_path_factory) -> Path:
    """The Galaxy artifact's files, what a user of the lowest ansible-core installs (as for the pinned one)."""
    place_offline_get_pip(Path(minimum["ansible_test_dir"]))
    artifact = build_artifact(tmp_path_factory.mktemp("galaxy-build-min"))
    return extract_artifact(artifact, tmp_path_factory.mktemp("ansible-test-min"))


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


def test_ansible_test_sanity_passes_on_the_minimum(minimum, artifact_copy):
    """Every sanity test (about two minutes on a fresh machine, most of it building the sanity venvs)."""
    ansible_test = MIN_PYTHON.parent / "ansible-test"
    completed = _run(
        [str(ansible_test), "sanity", "--python", minimum["python"], "--color", "no"], artifact_copy
    )
    assert completed.returncode == 0, _tail(completed)
    for test in ("validate-modules", "ansible-doc", "import", "pylint", "runtime-metadata"):
        assert f'Running sanity test "{test}"' in completed.stdout, f"{test} did not run:\n{_tail(completed)}"


def test_ansible_test_units_pass_on_the_minimum(minimum, artifact_copy):
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
    ansible_test = MIN_PYTHON.parent / "ansible-test"
    completed = _run(
        [str(ansible_test), "units", "--python", minimum["python"], "--color", "no"], artifact_copy
    )
    assert completed.returncode == 0, _tail(completed)
    summary = re.search(r"=+ (.*) in [\d.]+s", completed.stdout)
    assert summary and summary[1] == f"{expected} passed", _tail(completed)
