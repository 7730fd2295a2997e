"""A small checker of module results against a sidecar's RETURN documentation.

Checks every documented key's type, `elements`, `choices` and `contains` (recursively), that keys
`returned: always` (and `success` on success) are present, and that nothing undocumented is returned
beyond Ansible's common keys. `null` is accepted wherever the documentation allows V(null), which the
sidecars do per key in prose, so it is accepted for any key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

COMMON = {
    "changed",
    "failed",
    "msg",
    "diff",
    "invocation",
    "warnings",
    "deprecations",
    "skipped",
    "exception",
    "_ansible_no_log",
    "ansible_facts",
}
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "float": (float, int),
    "list": (list,),
    "dict": (dict,),
    "path": (str,),
}


def _check_value(value: Any, doc: dict, where: str, problems: list[str]) -> None:
    if value is None:
        return
    kind = doc.get("type", "str")
    if kind == "raw":
        return
    expected = _TYPES.get(kind)
    if expected is None:
        problems.append(f"{where}: documented type {kind!r} is not known to the checker")
        return
    if (isinstance(value, bool) and kind == "int") or not isinstance(value, expected):
        problems.append(f"{where}: expected {kind}, got {type(value).__name__} {value!r:.80}")
        return
    if doc.get("choices") and kind != "list" and value not in doc["choices"]:
        problems.append(f"{where}: {value!r} is not one of {doc['choices']}")
    if kind == "list":
        elements = doc.get("elements")
        for i, item in enumerate(value):
            if elements:
                _check_value(
                    item,
                    {"type": elements, "contains": doc.get("contains"), "choices": doc.get("choices")},
                    f"{where}[{i}]",
                    problems,
                )
    elif kind == "dict" and doc.get("contains"):
        _check_dict(value, doc["contains"], where, problems, nested=True)


def _check_dict(
    result: dict, spec: dict, where: str, problems: list[str], nested: bool = False, failed: bool = False
) -> None:
    for key, value in result.items():
        if key in spec:
            _check_value(value, spec[key], f"{where}.{key}" if where else key, problems)
        elif nested or key not in COMMON:
            problems.append(f"{where + '.' if where else ''}{key}: not documented in RETURN")
    for key, doc in spec.items():
        returned = str(doc.get("returned", "always" if nested else "")).strip()
        if key in result:
            continue
        if returned == "always" or (returned == "success" and not failed):
            problems.append(
                f"{where + '.' if where else ''}{key}: documented as returned {returned} but missing"
            )


def check(result: dict, return_doc: dict) -> list[str]:
    """Problems found (empty list when the result keeps the contract)."""
    problems: list[str] = []
    failed = bool(result.get("failed"))
    _check_dict(dict(result), return_doc or {}, "", problems, failed=failed)
    if failed:  # a failure returns what it had gathered; missing keys are allowed then
        problems = [p for p in problems if "but missing" not in p]
    return problems


def documented(module: str, result: dict) -> dict:
    """`result` when it matches the RETURN of plugins/modules/<module>.yml; fails the test naming what does not."""
    doc = yaml.safe_load((ROOT / "plugins" / "modules" / f"{module}.yml").read_text())["RETURN"]
    problems = check(result, doc)
    assert not problems, problems
    return result
