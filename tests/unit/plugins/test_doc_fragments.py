# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One source per option: an option several modules share is defined once in module_utils (option_specs, the
plan options) and documented once in plugins/doc_fragments; every module takes both from there."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import pytest
import yaml

from ansible_collections.mfa_server.tls.plugins.module_utils import option_specs
from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import PLAN_OPTIONS
from tests.support import documentation

ROOT = Path(__file__).resolve().parents[3]
PREFIX = "ansible_collections.mfa_server.tls.plugins"
FRAGMENTS = ROOT / "plugins" / "doc_fragments"
# Each shared group of options and the fragment that documents it.
GROUPS = {
    "mfa_server.tls.trust": option_specs.TRUST,
    "mfa_server.tls.trust.intermediates": option_specs.INTERMEDIATES,
    "mfa_server.tls.trust.revocation": option_specs.REVOCATION,
    "mfa_server.tls.probe": option_specs.PROBE,
    "mfa_server.tls.probe.verdict": option_specs.VERDICT,
    "mfa_server.tls.plan": PLAN_OPTIONS,
}
# A group taken as the sub-options of one option: (fragment, option, group).
NESTED = [("mfa_server.tls.plan.suboptions", "plan", PLAN_OPTIONS)]
SPEC_KEYS = ("type", "elements", "default", "required", "choices")
PYTHON_MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
SIDECARS = sorted((ROOT / "plugins" / "modules").glob("*.yml"))


def _normalise(options: dict) -> dict:
    """Options (documented, or an argument spec) by the keys both say the same way."""
    result = {}
    for name, option in options.items():
        entry = {key: option[key] for key in SPEC_KEYS if option.get(key) not in (None, False)}
        entry.setdefault("type", "str")
        nested = option.get("suboptions") or option.get("options")
        if nested:
            entry["options"] = _normalise(nested)
        result[name] = entry
    return result


@functools.cache
def _fragment_options(name: str) -> dict:
    """The options one fragment documents, merged as ansible-doc merges them into a module."""
    merged = documentation.merged({"extends_documentation_fragment": [name]}, FRAGMENTS)
    return merged.get("options") or {}


def _python_module(name: str) -> tuple[dict, dict]:
    """(DOCUMENTATION as written, the argument spec: the action plugin's when there is one)."""
    module = importlib.import_module(f"{PREFIX}.modules.{name}")
    if (ROOT / "plugins" / "action" / f"{name}.py").exists():
        spec = importlib.import_module(f"{PREFIX}.action.{name}").ARGUMENT_SPEC
    else:
        spec = module.ARGUMENT_SPEC
    return yaml.safe_load(module.DOCUMENTATION), spec


@functools.cache
def _all_documentation() -> dict[str, dict]:
    """Every module's DOCUMENTATION as written, Python modules and PowerShell sidecars alike."""
    docs = {name: _python_module(name)[0] for name in PYTHON_MODULES}
    docs |= {path.stem: yaml.safe_load(path.read_text())["DOCUMENTATION"] for path in SIDECARS}
    return docs


def _defined_fragments() -> set[str]:
    """Every fragment plugins/doc_fragments defines, by the name a module extends it with."""
    names = set()
    for path in FRAGMENTS.glob("*.py"):
        fragment = importlib.import_module(f"{PREFIX}.doc_fragments.{path.stem}").ModuleDocFragment
        for attribute in dir(fragment):
            if attribute.isupper() and isinstance(getattr(fragment, attribute), str):
                suffix = "" if attribute == "DOCUMENTATION" else f".{attribute.lower()}"
                names.add(f"mfa_server.tls.{path.stem}{suffix}")
    return names


@pytest.mark.parametrize("fragment", sorted(GROUPS))
def test_each_shared_group_is_documented_by_its_fragment(fragment: str):
    assert _normalise(_fragment_options(fragment)) == _normalise(GROUPS[fragment])


@pytest.mark.parametrize(("fragment", "option", "group"), NESTED)
def test_a_nested_group_is_documented_by_its_fragment(fragment: str, option: str, group: dict):
    assert _normalise(_fragment_options(fragment)[option]["suboptions"]) == _normalise(group)


@pytest.mark.parametrize("name", PYTHON_MODULES)
def test_a_module_takes_a_shared_group_from_module_utils_and_its_fragment(name: str):
    doc, spec = _python_module(name)
    extended = documentation.fragment_names(doc)
    own = doc.get("options") or {}
    for fragment, group in GROUPS.items():
        # Taken from the group: the spec holds the group's own entries (names alone may mean other things).
        if not any(spec.get(option) is group[option] for option in group):
            continue
        partly = [option for option in group if spec.get(option) is not group[option]]
        assert not partly, f"{name} takes the group of {fragment} but not {partly}"
        assert fragment in extended, f"{name} takes the options of {fragment} without extending it"
        assert not set(group) & set(own), f"{name} documents {sorted(set(group) & set(own))} itself"
    for fragment, option, group in NESTED:
        if option in spec and spec[option].get("options") is group:
            assert fragment in extended, f"{name} takes {option}'s sub-options without extending {fragment}"
            assert "suboptions" not in own[option], f"{name} documents the sub-options of {option} itself"


@pytest.mark.parametrize("name", PYTHON_MODULES)
def test_an_option_of_option_specs_is_never_written_again(name: str):
    _doc, spec = _python_module(name)
    shared = {**option_specs.TRUST, **option_specs.INTERMEDIATES, **option_specs.REVOCATION}
    shared |= {**option_specs.PROBE, **option_specs.VERDICT}
    copies = [option for option in shared if option in spec and spec[option] is not shared[option]]
    assert not copies, (
        f"{name}'s argument spec writes {copies} again instead of taking them from option_specs"
    )


@pytest.mark.parametrize("name", sorted(_all_documentation()))
def test_a_module_does_not_document_again_what_its_fragments_document(name: str):
    """A module's own keys silently win over a fragment's: an option both document would have two texts."""
    doc = _all_documentation()[name]
    own = doc.get("options") or {}
    for fragment in documentation.fragment_names(doc):
        if not fragment.startswith("mfa_server.tls."):
            continue
        for option, documented in _fragment_options(fragment).items():
            if option in own:
                both = set(own[option]) & set(documented)
                assert not both, f"{name} and {fragment} both document {option}'s {sorted(both)}"


def test_every_fragment_is_used_and_every_fragment_used_exists():
    used = {
        fragment
        for doc in _all_documentation().values()
        for fragment in documentation.fragment_names(doc)
        if fragment.startswith("mfa_server.tls.")
    }
    assert used == _defined_fragments()
