"""The roles that import discover's task validate discover's variables themselves, with exactly discover's
definitions: one meaning per variable, and one validation task per run instead of one per role."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"


def options(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"][
        "main"
    ]["options"]


@pytest.mark.parametrize("role", ["compliance", "remediate"])
def test_roles_that_import_discover_validate_its_variables_as_discover_does(role: str) -> None:
    discover = options("discover")
    mine = options(role)
    assert {name: mine.get(name) for name in discover} == discover


@pytest.mark.parametrize("role", ["compliance", "remediate"])
def test_they_import_the_entry_point_that_validates_nothing(role: str) -> None:
    def walk(tasks: list[dict]):
        for task in tasks:
            yield task
            for section in ("block", "rescue", "always"):
                yield from walk(task.get(section) or [])

    # Every task file of the role: the remediate role discovers in plan.yml (preflight.yml imports it, main.yml includes it).
    files = sorted((ROLES / role / "tasks").glob("*.yml"))
    tasks = [task for path in files for task in walk(yaml.safe_load(path.read_text()))]
    imports = [t["ansible.builtin.import_role"] for t in tasks if "ansible.builtin.import_role" in t]
    assert imports == [{"name": "mfa_server.tls.discover", "tasks_from": "judge"}]
    specs = yaml.safe_load((ROLES / "discover" / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert "judge" not in specs, "an argument spec for judge would validate a second time"
    dependencies = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text())["dependencies"]
    assert dependencies == []
