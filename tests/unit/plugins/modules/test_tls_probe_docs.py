"""tls_probe documents itself: ansible-doc renders it and its options match the argument spec."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.mfa_server.tls.plugins.module_utils.findings import CATALOGUE
from ansible_collections.mfa_server.tls.plugins.modules import tls_probe

ROOT = Path(__file__).resolve().parents[4]
SPEC_KEYS = ("type", "elements", "required", "default", "choices", "no_log")


def _normalise(spec: dict) -> dict:
    result = {}
    for name, option in spec.items():
        entry = {key: option[key] for key in SPEC_KEYS if option.get(key) not in (None, False)}
        entry.setdefault("type", "str")
        if "options" in option or "suboptions" in option:
            entry["options"] = _normalise(option.get("options") or option.get("suboptions"))
        result[name] = entry
    return result


def test_documented_options_are_the_argument_spec():
    documented = yaml.safe_load(tls_probe.DOCUMENTATION)["options"]
    assert _normalise(documented) == _normalise(tls_probe.ARGUMENT_SPEC)


def test_ansible_doc_renders_documentation_examples_and_return():
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", "mfa_server.tls.tls_probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    doc = json.loads(completed.stdout)["mfa_server.tls.tls_probe"]
    assert doc["doc"]["short_description"]
    assert set(doc["doc"]["options"]) == set(tls_probe.ARGUMENT_SPEC)
    assert "mfa_server.tls.tls_probe:" in doc["examples"]
    assert {"compliant", "results"} <= set(doc["return"])
    finding_fields = doc["return"]["results"]["contains"]["findings"]["contains"]
    assert set(finding_fields) == {"code", "severity", "message", "remediation"}


def test_every_finding_code_is_documented_with_its_severity():
    description = " ".join(yaml.safe_load(tls_probe.DOCUMENTATION)["description"])
    documented = {}
    for part in description.split("Finding codes:")[1].split(";"):
        (label,) = re.findall(r"\((errors|warning|info)\)", part)
        severity = {"errors": "error"}.get(label, label)
        documented.update(dict.fromkeys(re.findall(r"V\(([A-Z_]+)\)", part), severity))
    assert documented == {code: severity for code, (severity, _) in CATALOGUE.items()}
