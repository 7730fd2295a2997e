"""The Python modules document themselves: ansible-doc renders them and their options match the argument
spec, which lives in the module or, for a module that is an action plugin, in the action plugin."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.mfa_server.tls.plugins.module_utils.findings import CATALOGUE
from ansible_collections.mfa_server.tls.plugins.modules import tls_probe
from tests.support import documentation
from tests.support.collection_paths import ansible_env

ROOT = Path(__file__).resolve().parents[4]
# no_log is not a documentation key for Python modules; secrets are checked on their own below.
SPEC_KEYS = ("type", "elements", "required", "default", "choices")
SECRET_WORDS = ("password", "passphrase", "secret", "content")
PREFIX = "ansible_collections.mfa_server.tls.plugins"
MODULE_NAMES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))


def _documentation(name: str) -> dict:
    """The module's DOCUMENTATION with its doc fragments merged in, as ansible-doc shows it."""
    module = importlib.import_module(f"{PREFIX}.modules.{name}")
    return documentation.merged(yaml.safe_load(module.DOCUMENTATION), module.__file__)


def _argument_spec(name: str) -> dict:
    if (ROOT / "plugins" / "action" / f"{name}.py").exists():
        return importlib.import_module(f"{PREFIX}.action.{name}").ARGUMENT_SPEC
    return importlib.import_module(f"{PREFIX}.modules.{name}").ARGUMENT_SPEC


def _normalise(spec: dict) -> dict:
    result = {}
    for name, option in spec.items():
        entry = {key: option[key] for key in SPEC_KEYS if option.get(key) not in (None, False)}
        entry.setdefault("type", "str")
        if "options" in option or "suboptions" in option:
            entry["options"] = _normalise(option.get("options") or option.get("suboptions"))
        result[name] = entry
    return result


def test_every_action_plugin_has_its_documentation():
    actions = {p.stem for p in (ROOT / "plugins" / "action").glob("*.py")}
    assert actions <= set(MODULE_NAMES)


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_documented_options_are_the_argument_spec(name):
    documented = _documentation(name)["options"]
    assert _normalise(documented) == _normalise(_argument_spec(name))


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_secret_options_are_no_log(name):
    for option_name, option in _argument_spec(name).items():
        if any(word in option_name for word in SECRET_WORDS) and option["type"] == "str":
            assert option.get("no_log") is True, option_name


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_ansible_doc_renders_documentation_examples_and_return(name):
    fqcn = f"mfa_server.tls.{name}"
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", fqcn],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(completed.stdout)[fqcn]
    assert doc["doc"]["short_description"]
    assert set(doc["doc"]["options"]) == set(_argument_spec(name))
    assert f"{fqcn}:" in doc["examples"]
    assert doc["return"]


def test_probe_findings_are_documented_in_full():
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", "mfa_server.tls.tls_probe"],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    returned = json.loads(completed.stdout)["mfa_server.tls.tls_probe"]["return"]
    assert {"compliant", "results"} <= set(returned)
    finding_fields = returned["results"]["contains"]["findings"]["contains"]
    assert set(finding_fields) == {"code", "severity", "message", "remediation"}


def test_every_finding_code_is_documented_with_its_severity():
    description = " ".join(yaml.safe_load(tls_probe.DOCUMENTATION)["description"])
    documented = {}
    for part in description.split("Finding codes:")[1].split(";"):
        (label,) = re.findall(r"\((errors|warning|info)\)", part)
        severity = {"errors": "error"}.get(label, label)
        documented.update(dict.fromkeys(re.findall(r"V\(([A-Z_]+)\)", part), severity))
    assert documented == {code: severity for code, (severity, _description) in CATALOGUE.items()}
