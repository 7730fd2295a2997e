# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One meaning per role variable. Role argument specs cannot use doc fragments, so these checks are what keeps
a variable one source: every role and entry point that declares it declares the same type, default and
choices; every defaults/main.yml says what the spec says; and a variable handed straight to a module option has
that option's type, choices and default (module_utils/option_specs.py for the probe options)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ansible_collections.mfa_server.tls.plugins.module_utils import option_specs
from tests.support import contract

ROOT = Path(__file__).resolve().parents[3]
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
PREFIX = "ansible_collections.mfa_server.tls.plugins"
COLLECTION = "mfa_server.tls."
# What makes a variable's meaning; descriptions may differ in wording between roles.
AGREEING_KEYS = ("type", "elements", "default", "choices", "required", "no_log")
# A module argument that is exactly one role variable, `"{{ mfa_tls_x }}"`.
PLAIN_REFERENCE = re.compile(r"^\{\{\s*(mfa_tls_\w+)\s*\}\}$")
# Every option defined once in module_utils, by name.
SHARED_OPTIONS = {
    **option_specs.TRUST,
    **option_specs.INTERMEDIATES,
    **option_specs.REVOCATION,
    **option_specs.PROBE,
    **option_specs.VERDICT,
}
# Ansible's default type of an option, in role specs and module specs alike.
DEFAULT_TYPE = "str"


def _entry_points(role: str) -> dict[str, dict]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]


def _declarations() -> Iterator[tuple[str, str, dict]]:
    """(where, variable, definition) for every variable of every entry point of every role."""
    for role in ROLES:
        for entry_point, spec in _entry_points(role).items():
            for name, definition in (spec.get("options") or {}).items():
                yield f"{role}:{entry_point}", name, definition


def _meaning(definition: dict) -> dict:
    meaning = {key: definition.get(key) for key in AGREEING_KEYS}
    meaning["type"] = meaning["type"] or DEFAULT_TYPE
    meaning["required"] = bool(meaning["required"])
    meaning["no_log"] = bool(meaning["no_log"])
    return meaning


def _defaults(role: str) -> dict:
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _tasks(role: str) -> Iterator[dict]:
    def walk(tasks: list[dict]) -> Iterator[dict]:
        for task in tasks or []:
            yield task
            for section in ("block", "rescue", "always"):
                yield from walk(task.get(section))

    for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        yield from walk(yaml.safe_load(path.read_text()))


def _imported_roles(role: str) -> list[str]:
    """The roles whose tasks this role imports: their defaults are this role's too."""
    names = []
    for task in _tasks(role):
        imported = task.get("ansible.builtin.import_role") or task.get("ansible.builtin.include_role")
        if imported:
            names.append(imported["name"].removeprefix(COLLECTION))
    return names


def _visible_defaults(role: str) -> dict:
    visible: dict = {}
    for source in [*_imported_roles(role), role]:
        visible |= _defaults(source)
    return visible


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def _module_spec(module: str) -> dict:
    """The argument spec a module call is validated against: the action plugin's, the Python module's, or the
    PowerShell module's `$spec`."""
    if (ROOT / "plugins" / "action" / f"{module}.py").exists():
        return importlib.import_module(f"{PREFIX}.action.{module}").ARGUMENT_SPEC
    if (ROOT / "plugins" / "modules" / f"{module}.ps1").exists():
        return contract.load_argspec(module)["options"]
    return importlib.import_module(f"{PREFIX}.modules.{module}").ARGUMENT_SPEC


def _passed_straight() -> list[tuple[str, str, str, str]]:
    """(role, variable, module, option) for every module argument of a role that is one role variable."""
    found = []
    for role in ROLES:
        for task in _tasks(role):
            for key, arguments in task.items():
                if not key.startswith(COLLECTION) or not isinstance(arguments, dict):
                    continue
                for option, value in arguments.items():
                    match = PLAIN_REFERENCE.match(value) if isinstance(value, str) else None
                    if match:
                        found.append((role, match.group(1), key.removeprefix(COLLECTION), option))
    return sorted(set(found))


def _shared_option_arguments() -> list[tuple[str, str, str, str]]:
    """Those of _passed_straight whose option is one of option_specs' groups (the module's spec holds the
    group's own entry, not a copy)."""
    return [
        (role, variable, module, option)
        for role, variable, module, option in _passed_straight()
        if any(_module_spec(module).get(option) is entry for entry in SHARED_OPTIONS.values())
    ]


def _with_default_type(definition: dict, key: str) -> object:
    return definition.get(key) or (DEFAULT_TYPE if key == "type" else None)


def _role_definition(role: str, variable: str) -> dict | None:
    """The variable's definition in the role's argument specs (every entry point agrees, tested below)."""
    for spec in _entry_points(role).values():
        if variable in (spec.get("options") or {}):
            return spec["options"][variable]
    return None


def test_a_variable_means_the_same_in_every_role_and_entry_point():
    seen: dict[str, tuple[str, dict]] = {}
    disagreements = []
    for where, name, definition in _declarations():
        meaning = _meaning(definition)
        first = seen.setdefault(name, (where, meaning))
        if first[1] != meaning:
            disagreements.append(f"{name}: {first[0]} says {first[1]}, {where} says {meaning}")
    assert not disagreements, "\n".join(disagreements)
    assert any(len({w for w, n, _d in _declarations() if n == name}) > 1 for name in seen), (
        "nothing is shared"
    )


def test_a_variable_has_the_same_default_in_every_defaults_file():
    values: dict[str, dict[str, object]] = {}
    for role in ROLES:
        for name, value in _defaults(role).items():
            values.setdefault(name, {})[role] = value
    differing = {
        name: by_role for name, by_role in values.items() if len({repr(v) for v in by_role.values()}) > 1
    }
    assert not differing


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_a_documented_variable_with_that_default(role: str):
    declared = {name: d for where, name, d in _declarations() if where.startswith(f"{role}:")}
    problems = []
    for name, value in _defaults(role).items():
        if name not in declared:
            problems.append(f"{name} is set in defaults/main.yml but not in meta/argument_specs.yml")
        elif "default" in declared[name]:
            if declared[name]["default"] != value:
                problems.append(
                    f"{name}: the spec says {declared[name]['default']!r}, defaults/main.yml {value!r}"
                )
        elif value is not None and not _is_template(value):
            # A default computed from other variables is described in words; any other value belongs in the spec.
            problems.append(f"{name}: defaults/main.yml sets {value!r}, the spec documents no default")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_every_documented_default_is_set(role: str):
    """Role argument specs document defaults; Ansible sets none of them, defaults/main.yml must."""
    visible = _visible_defaults(role)
    missing = [
        f"{name} ({where})"
        for where, name, definition in _declarations()
        if where.startswith(f"{role}:") and "default" in definition and name not in visible
    ]
    assert not missing


def test_some_role_variables_are_handed_straight_to_module_options():
    modules = {module for _role, _variable, module, _option in _passed_straight()}
    assert {"tls_facts", "tls_probe", "certificate_preflight"} <= modules


@pytest.mark.parametrize(("role", "variable", "module", "option"), _passed_straight())
def test_a_variable_handed_to_a_module_option_has_its_type_and_choices(role, variable, module, option):
    definition = _role_definition(role, variable)
    if definition is None:  # an internal variable of the role's tasks, not one a user sets
        assert variable not in _visible_defaults(role)
        return
    spec = _module_spec(module)[option]
    for key in ("type", "elements", "choices"):
        assert _with_default_type(definition, key) == _with_default_type(spec, key), (
            f"{role}'s {variable} and {module}'s {option} differ in {key}"
        )


@pytest.mark.parametrize(("role", "variable", "module", "option"), _shared_option_arguments())
def test_a_variable_handed_to_a_shared_probe_option_has_its_default(role, variable, module, option):
    """A role may choose its own default for a module option (a report title); not for the probe's and the
    trust options, whose defaults are defined once, in module_utils/option_specs.py."""
    expected = _module_spec(module)[option].get("default")
    definition = _role_definition(role, variable)
    assert definition is not None, f"{variable} is not in {role}'s argument spec"
    assert definition.get("default") == expected, (
        f"{role}'s spec defaults {variable} to {definition.get('default')!r}, option_specs {option} to {expected!r}"
    )
    assert _visible_defaults(role).get(variable) == expected, (
        f"{role}'s defaults/main.yml differs for {variable}"
    )
