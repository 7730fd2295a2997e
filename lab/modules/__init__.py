"""Emulated modules: the registry, and the Ansible.Basic behaviour every module shares.

A handler is `run(m: ModuleRun) -> None`; it reads `m.params`, `m.check_mode`, `m.diff`, changes the host
state through `m.host.state.change()` (unless in check mode) and fills `m.result`, or calls `m.fail()`.
"""

from __future__ import annotations

import json
import re
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab import argspec
from lab.state import count

if TYPE_CHECKING:
    from lab.executor import Host

NO_LOG_MASK = "********"
_SCRIPT = re.compile(
    r"^ansible_collections\.(?P<ns>\w+)\.(?P<coll>\w+)\.plugins\.modules\.(?P<name>\w+)\.ps1$"
)


class ModuleFailed(Exception):
    def __init__(self, msg: str, **extra):
        super().__init__(msg)
        self.msg, self.extra = msg, extra


@dataclass
class ModuleRun:
    host: Host
    name: str
    params: dict
    check_mode: bool
    diff: bool
    result: dict = field(default_factory=lambda: {"changed": False})

    def fail(self, msg: str, **extra) -> None:
        raise ModuleFailed(msg, **extra)


def _handlers() -> dict:
    from lab.modules import (
        acme_http_challenge,
        certificate_import,
        certificate_remove,
        host_tls_info,
        iis_binding_certificate,
        iis_tls_info,
        mfa_server_info,
        win_ping,
        windows_facts,
    )

    return {
        "ansible.windows.win_ping": (win_ping.run, win_ping.SPEC),
        "ansible.windows.setup": (windows_facts.run, windows_facts.SPEC),
        "mfa_server.tls.host_tls_info": (host_tls_info.run, None),
        "mfa_server.tls.iis_tls_info": (iis_tls_info.run, None),
        "mfa_server.tls.mfa_server_info": (mfa_server_info.run, None),
        "mfa_server.tls.certificate_import": (certificate_import.run, None),
        "mfa_server.tls.certificate_remove": (certificate_remove.run, None),
        "mfa_server.tls.iis_binding_certificate": (iis_binding_certificate.run, None),
        "mfa_server.tls.acme_http_challenge": (acme_http_challenge.run, None),
    }


def _mask(value, secrets: list[str]):
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, NO_LOG_MASK)
        return value
    if isinstance(value, dict):
        return {k: _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    return value


def _answer(result: dict, secrets: list[str], rc: int) -> tuple[bytes, bytes, int]:
    return json.dumps(_mask(result, secrets)).encode() + b"\r\n", b"", rc


def execute(host: Host, script_name: str, complex_args: dict) -> tuple[bytes, bytes, int]:
    from lab.executor import DropConnection

    match = _SCRIPT.match(script_name)
    fqcn = f"{match['ns']}.{match['coll']}.{match['name']}" if match else script_name
    handlers = _handlers()
    if fqcn not in handlers:
        msg = f"lab: module {fqcn} (script {script_name}) is not emulated on host {host.name}"
        return _answer({"failed": True, "changed": False, "msg": msg}, [], 1)
    handler, spec = handlers[fqcn]
    short = fqcn.rsplit(".", 1)[1]
    module_name = complex_args.get("_ansible_module_name") or short
    with host.state.change() as data:
        count(data, short)
        faults = dict(data.get("faults") or {})
    try:
        if spec is None:
            spec, _rest = argspec.load(short)
    except KeyError:
        msg = f"lab: module {fqcn} has no documentation sidecar, refusing to emulate it"
        return _answer({"failed": True, "changed": False, "msg": msg}, [], 1)
    check_mode = bool(argspec.convert("bool", complex_args.get("_ansible_check_mode", False)))
    diff = bool(argspec.convert("bool", complex_args.get("_ansible_diff", False)))
    raw_secrets = argspec.no_log_values(spec, complex_args)
    if check_mode and not spec.get("supports_check_mode"):
        result = {
            "changed": False,
            "skipped": True,
            "msg": f"remote module ({module_name}) does not support check mode",
        }
        return _answer(result, raw_secrets, 0)
    try:
        params = argspec.validate(module_name, spec, complex_args)
    except argspec.ArgumentError as exc:
        return _answer({"failed": True, "changed": False, "msg": str(exc)}, raw_secrets, 1)
    secrets = argspec.no_log_values(spec, params) + raw_secrets
    run = ModuleRun(host, short, params, check_mode, diff)
    try:
        handler(run)
        rc = 0
    except ModuleFailed as exc:
        run.result.update(exc.extra)
        run.result.update({"failed": True, "msg": exc.msg})
        rc = 1
    except Exception as exc:  # a bug in the emulation: say so, as Ansible.Basic would for an unhandled error
        run.result = {
            "failed": True,
            "changed": False,
            "msg": f"Unhandled exception while executing module: {exc}",
            "exception": traceback.format_exc(),
        }
        rc = 1
    drop = faults.get("drop_connection")
    if drop and (drop == "*" or drop == short):
        raise DropConnection(f"{host.name}: armed fault drop-connection during {short}")
    if diff and "diff" not in run.result:
        run.result.pop("diff", None)
    return _answer(run.result, secrets, rc)
