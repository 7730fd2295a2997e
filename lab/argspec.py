"""Module argument validation as Ansible.Basic does it, from our modules' documented contract.

The spec comes from the module's `.ps1` (`$spec`) when the file exists, else from its `.yml` sidecar
DOCUMENTATION (tests.support.contract). Messages copy Ansible.Basic.cs (CheckUnsupportedArguments,
CheckRequiredArguments, the type converters, choices, mutually_exclusive, required_one_of ...).
"""

from __future__ import annotations

from typing import Any

from tests.support import contract

BOOLEANS_TRUE = ["y", "yes", "on", "1", "true", "t", "1.0"]
BOOLEANS_FALSE = ["n", "no", "off", "0", "false", "f", "0.0"]
_DOTNET_TYPES = {
    str: "System.String",
    bool: "System.Boolean",
    int: "System.Int32",
    float: "System.Decimal",
    dict: "System.Collections.Generic.Dictionary`2[System.String,System.Object]",
    list: "System.Collections.ArrayList",
}


class ArgumentError(Exception):
    """Ansible.Basic's FailJson during argument parsing."""


def load(name: str) -> tuple[dict, dict]:
    """(argument spec, sidecar) of one of our modules; KeyError when it has no sidecar."""
    return contract.module_contract(name)


def no_log_values(spec: dict, params: dict) -> list[str]:
    values = []
    for key, option in (spec.get("options") or {}).items():
        value = params.get(key)
        if option.get("no_log") and value not in (None, ""):
            values.append(str(value))
        if isinstance(value, dict) and option.get("options"):
            values.extend(no_log_values(option, value))
        if isinstance(value, list) and option.get("options"):
            for item in value:
                if isinstance(item, dict):
                    values.extend(no_log_values(option, item))
    return values


def validate(module_name: str, spec: dict, params: dict, context: list[str] | None = None) -> dict:
    """Returns the parameters with defaults and types applied, or raises ArgumentError."""
    context = context or []
    params = dict(params)
    options: dict[str, Any] = spec.get("options") or {}
    legal = list(options)
    for option in options.values():
        legal.extend(option.get("aliases") or [])
    lower = {k.lower(): k for k in legal}
    unsupported = []
    for key in list(params):
        if key.startswith("_ansible_") and not context:
            params.pop(key)
        elif key not in legal:
            if key.lower() in lower:
                params[lower[key.lower()]] = params.pop(key)
            else:
                unsupported.append(key)
    if unsupported:
        msg = f"Unsupported parameters for ({module_name}) module: {', '.join(sorted(unsupported))}"
        raise ArgumentError(f"{_ctx(msg, context)}. Supported parameters include: {', '.join(sorted(legal))}")
    for name, option in options.items():
        for alias in option.get("aliases") or []:
            if alias in params:
                params[name] = params.pop(alias)
    _groups(
        spec.get("mutually_exclusive"), params, context, "parameters are mutually exclusive", lambda n: n > 1
    )
    missing = []
    for name, option in options.items():
        if option.get("default") is not None and name not in params:
            params[name] = option["default"]
        if option.get("required") and name not in params:
            missing.append(name)
    if missing:
        raise ArgumentError(_ctx(f"missing required arguments: {', '.join(missing)}", context))
    for name, option in options.items():
        value = params.get(name)
        if value is None:
            continue
        kind = option.get("type", "str")
        try:
            value = convert(kind, value)
        except (ValueError, TypeError) as exc:
            raise ArgumentError(
                _ctx(
                    f"argument for {name} is of type {_DOTNET_TYPES.get(type(value), 'System.Object')} and we "
                    f"were unable to convert to {kind}: {exc}",
                    context,
                )
            ) from exc
        choices = [str(c) for c in option.get("choices") or []]
        if choices:
            values = [str(v) for v in value] if kind == "list" else [str(value)]
            wrong = [v for v in values if v.lower() not in (c.lower() for c in choices)]
            if wrong:
                how = "one or more of" if kind == "list" else "one of"
                msg = f"value of {name} must be {how}: {', '.join(choices)}. Got no match for: {', '.join(wrong)}"
                raise ArgumentError(_ctx(msg, context))
        if kind == "list" and option.get("elements"):
            if option["elements"] == "dict" and option.get("options"):
                value = [validate(module_name, option, convert("dict", v), [*context, name]) for v in value]
            else:
                try:
                    value = [convert(option["elements"], v) for v in value]
                except (ValueError, TypeError) as exc:
                    raise ArgumentError(
                        _ctx(
                            f"argument for list entry {name} is of type System.String and we were unable to "
                            f"convert to {option['elements']}: {exc}",
                            context,
                        )
                    ) from exc
        elif kind == "dict" and option.get("options"):
            value = validate(module_name, option, value, [*context, name])
        params[name] = value
    for name in options:
        params.setdefault(name, None)
    _groups(
        spec.get("required_together"),
        params,
        context,
        "parameters are required together",
        lambda n, total=0: 0 < n < total,
        together=True,
    )
    _groups(
        spec.get("required_one_of"), params, context, "one of the following is required", lambda n: n == 0
    )
    return params


def _groups(groups, params, context, text, failing, together=False) -> None:
    for group in groups or []:
        present = sum(1 for k in group if params.get(k) is not None)
        bad = (0 < present < len(group)) if together else failing(present)
        if bad:
            raise ArgumentError(_ctx(f"{text}: {', '.join(group)}", context))


def _ctx(msg: str, context: list[str]) -> str:
    return f"{msg} found in {' -> '.join(context)}" if context else msg


def convert(kind: str, value: Any) -> Any:
    if kind in ("str", "path"):
        if isinstance(value, dict | list):
            raise TypeError(f"{_DOTNET_TYPES[type(value)]} cannot be converted to a string")
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).lower().strip()
        if text in BOOLEANS_TRUE:
            return True
        if text in BOOLEANS_FALSE:
            return False
        raise ValueError(
            f"The value '{text}' is not a valid boolean. Valid booleans include: "
            f"{', '.join(BOOLEANS_TRUE + BOOLEANS_FALSE)}"
        )
    if kind == "int":
        if isinstance(value, bool | dict | list):
            raise ValueError("Input string was not in a correct format.")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError as exc:
            raise ValueError("Input string was not in a correct format.") from exc
    if kind == "list":
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [s.strip() for s in value.split(",")]
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        raise TypeError(f"{_DOTNET_TYPES.get(type(value), 'System.Object')} cannot be converted to a list")
    if kind == "dict":
        if isinstance(value, dict):
            return value
        raise TypeError(f"{_DOTNET_TYPES.get(type(value), 'System.Object')} cannot be converted to a dict")
    if kind == "raw":
        return value
    raise ValueError(f"type {kind} is not emulated by the lab")
