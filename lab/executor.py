"""What `powershell.exe` does on an emulated host: decode the command, run the emulated action.

ansible-core sends `powershell ... -EncodedCommand <bootstrap_wrapper.ps1>` and streams on stdin
`json(bootstrap) + "\\n\\0\\0\\0\\0\\n" + json(exec manifest)` (+ another separator and input for put_file).
The manifest's actions are found by name: `module_wrapper.ps1` (a module: `Script` names it, `Variables`
carry `complex_args`), `winrm_put_file.ps1`, `winrm_fetch_file.ps1`, `powershell_mkdtemp.ps1`,
`powershell_expand_user.ps1`. Anything else fails loudly, naming what was not emulated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from lab import modules
from lab.state import HostState

SEPARATOR = b"\n\0\0\0\0\n"


class DropConnection(Exception):
    """An armed fault: the WinRM connection dies before the answer is sent."""


@dataclass
class Host:
    name: str
    lab_dir: Path
    # Seconds every WinRM command execution costs before it answers (lab up --command-delay): on Windows each
    # is a new powershell.exe with the exec wrapper and the C# compiled again (docs/windows-model.md 8).
    command_delay: float = 0.0

    @property
    def state(self) -> HostState:
        return HostState(self.lab_dir, self.name)


def decode_command(cmdline: str) -> str | None:
    """The script of a `powershell ... -EncodedCommand <b64>` command line, None if there is none."""
    try:
        parts = shlex.split(cmdline)
    except ValueError:
        parts = cmdline.split()
    for i, part in enumerate(parts[:-1]):
        if part.lower() in ("-encodedcommand", "-enc", "-e"):
            return base64.b64decode(parts[i + 1]).decode("utf-16-le")
    return None


def run(host: Host, cmdline: str, stdin: bytes) -> tuple[bytes, bytes, int]:
    script = decode_command(cmdline)
    if SEPARATOR in stdin:
        chunks = stdin.split(SEPARATOR, 2)
        bootstrap = json.loads(chunks[0])
        if bootstrap.get("name") != "exec_wrapper":
            return _unknown(host, f"bootstrap {bootstrap.get('name')!r}")
        manifest = json.loads(chunks[1])
        extra = chunks[2] if len(chunks) > 2 else b""
        return _run_manifest(host, manifest, extra)
    if script is None:
        return _unknown(host, f"command line {cmdline[:200]!r}")
    return _run_script(host, script)


def _json(data: dict) -> bytes:
    return json.dumps(data).encode() + b"\r\n"


def _unknown(host: Host, what: str) -> tuple[bytes, bytes, int]:
    msg = f"lab: {what} is not emulated on host {host.name}"
    return _json({"failed": True, "msg": msg}), msg.encode(), 1


def _run_manifest(host: Host, manifest: dict, extra: bytes) -> tuple[bytes, bytes, int]:
    actions = {a["name"]: a for a in manifest.get("actions", [])}
    for unsupported in ("become_wrapper.ps1", "async_wrapper.ps1", "coverage_wrapper.ps1"):
        if unsupported in actions:
            return _unknown(host, f"exec wrapper action {unsupported}")
    if "module_wrapper.ps1" in actions:
        params = actions["module_wrapper.ps1"]["params"]
        script_name = params.get("Script", "")
        complex_args = {}
        for variable in params.get("Variables") or []:
            if variable.get("Name") == "complex_args":
                complex_args = variable.get("Value") or {}
        return modules.execute(host, script_name, complex_args)
    if "winrm_put_file.ps1" in actions:
        return _put_file(host, actions["winrm_put_file.ps1"]["params"]["Path"], extra)
    if "winrm_fetch_file.ps1" in actions:
        return _fetch_file(host, actions["winrm_fetch_file.ps1"]["params"])
    if "powershell_mkdtemp.ps1" in actions:
        params = actions["powershell_mkdtemp.ps1"]["params"]
        base = params["Directory"].replace("%TEMP%", r"C:\Users\labadmin\AppData\Local\Temp")
        path = f"{base.rstrip(chr(92))}\\{params['Name']}"
        with host.state.change() as data:
            data.setdefault("dirs", []).append(path)
        return path.encode() + b"\r\n", b"", 0
    if "powershell_expand_user.ps1" in actions:
        path = actions["powershell_expand_user.ps1"]["params"]["Path"]
        home = r"C:\Users\labadmin"
        if path == "~":
            path = home
        elif path.startswith("~\\"):
            path = home + path[1:]
        return path.encode() + b"\r\n", b"", 0
    return _unknown(host, f"exec manifest actions {sorted(actions)}")


def _put_file(host: Host, path: str, extra: bytes) -> tuple[bytes, bytes, int]:
    data = b"".join(base64.b64decode(line) for line in extra.split(b"\r\n") if line.strip())
    with host.state.change() as state:
        state.setdefault("files", {})[path.lower()] = base64.b64encode(data).decode()
    return _json({"sha1": hashlib.sha1(data).hexdigest()}), b"", 0


def _fetch_file(host: Host, params: dict) -> tuple[bytes, bytes, int]:
    files = host.state.read().get("files", {})
    content = files.get(params["Path"].lower())
    if content is None:
        msg = f"Could not find file '{params['Path']}'"
        return b"", msg.encode(), 1
    data = base64.b64decode(content)
    offset, size = int(params.get("Offset", 0)), int(params.get("BufferSize", 524288))
    return base64.b64encode(data[offset : offset + size]) + b"\r\n", b"", 0


_REMOVE = re.compile(r"^Remove-Item\s+'?(?P<path>[^']+?)'?\s+-Force(\s+-Recurse)?\s*$", re.I)
_EXISTS = re.compile(r"^exit -not \(Test-Path -LiteralPath '?(?P<path>[^']+?)'?\)\s*$", re.I)
_ECHO = re.compile(r"^(echo|Write-Output|Write-Host)\s+(?P<text>.*)$", re.I)


def _run_script(host: Host, script: str) -> tuple[bytes, bytes, int]:
    """The few plain scripts Ansible runs itself (tmp cleanup, exists) and the `raw` commands of the demo."""
    text = script.strip().replace("\r\n", "\n")
    line = text.splitlines()[-1].strip() if text else ""
    if m := _REMOVE.match(line):
        with host.state.change() as data:
            data.setdefault("files", {}).pop(m["path"].lower(), None)
            data["dirs"] = [d for d in data.get("dirs", []) if d.lower() != m["path"].lower()]
        return b"", b"", 0
    if m := _EXISTS.match(line):
        data = host.state.read()
        present = m["path"].lower() in data.get("files", {}) or m["path"] in data.get("dirs", [])
        return b"", b"", 0 if present else 1
    lowered = line.lower()
    if lowered in ("hostname", "hostname.exe", "$env:computername"):
        return host.state.read()["host"]["computer_name"].encode() + b"\r\n", b"", 0
    if lowered in ("whoami", "whoami.exe"):
        computer = host.state.read()["host"]["computer_name"].lower()
        return f"{computer}\\labadmin\r\n".encode(), b"", 0
    if m := _ECHO.match(line):
        return m["text"].strip("'\"").encode() + b"\r\n", b"", 0
    if m := re.match(r"^exit\s+(\d+)$", lowered):
        return b"", b"", int(m[1])
    msg = f"lab: the PowerShell script {line[:200]!r} is not emulated on host {host.name}"
    return b"", msg.encode() + b"\r\n", 1
