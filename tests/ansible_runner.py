"""Runs a module through the real `ansible-playbook` from the project root and returns its result."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_module(module: str, args: dict, *, check: bool = False, timeout: float = 300) -> dict:
    """One task on localhost; its registered result (failures included, as `failed: true`)."""
    return run_module_with_output(module, args, check=check, timeout=timeout)[0]


def run_module_with_output(
    module: str,
    args: dict,
    *,
    check: bool = False,
    no_log: bool = False,
    verbosity: int = 0,
    timeout: float = 300,
) -> tuple[dict, str]:
    """As `run_module`, also returning everything ansible-playbook printed."""
    with tempfile.TemporaryDirectory() as folder:
        result_file = Path(folder, "result.json")
        task = {
            module: args,
            "register": "outcome",
            "ignore_errors": True,
            "check_mode": check,
            "no_log": no_log,
        }
        save = {"ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(result_file)}}
        playbook = [{"hosts": "localhost", "gather_facts": False, "tasks": [task, save]}]
        playbook_file = Path(folder, "playbook.yml")
        playbook_file.write_text(json.dumps(playbook))
        completed = subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                str(playbook_file),
                *(["-" + "v" * verbosity] if verbosity else []),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if not result_file.exists():
            raise AssertionError(f"ansible-playbook saved no result:\n{completed.stdout}\n{completed.stderr}")
        return json.loads(result_file.read_text()), completed.stdout + completed.stderr
