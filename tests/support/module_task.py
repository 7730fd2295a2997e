"""Runs one module as a task of the real `ansible-playbook` from the project root and returns its
registered result, failures and unreachable hosts included (no deprecated --tree, no screen scraping)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run_module(module: str, args: dict, *, check: bool = False, timeout: float = 300) -> dict:
    """One task on localhost; its registered result (failures included, as `failed: true`)."""
    return run_module_with_output(module, args, check=check, timeout=timeout)[0]


def run_module_with_output(
    module: str,
    args: dict,
    *,
    host: str = "localhost",
    inventory: Path | None = None,
    check: bool = False,
    diff: bool = False,
    no_log: bool = False,
    verbosity: int = 0,
    extra_args: list[str] | None = None,
    env: dict | None = None,
    timeout: float = 300,
) -> tuple[dict, str]:
    """As `run_module`, on any host of `inventory`, also returning everything ansible-playbook printed."""
    with tempfile.TemporaryDirectory() as folder:
        result_file = Path(folder, "result.json")
        task = {
            module: args,
            "register": "outcome",
            "ignore_errors": True,
            "ignore_unreachable": True,
            "check_mode": check,
            "diff": diff,
            "no_log": no_log,
        }
        save = {
            "ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(result_file)},
            "delegate_to": "localhost",
            "check_mode": False,
        }
        playbook_file = Path(folder, "playbook.yml")
        playbook_file.write_text(json.dumps([{"hosts": host, "gather_facts": False, "tasks": [task, save]}]))
        command = [str(BIN / "ansible-playbook"), str(playbook_file)]
        if inventory is not None:
            command += ["-i", str(inventory)]
        if verbosity:
            command.append("-" + "v" * verbosity)
        completed = subprocess.run(
            [*command, *(extra_args or [])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if not result_file.exists():
            raise AssertionError(f"ansible-playbook saved no result:\n{completed.stdout}\n{completed.stderr}")
        return json.loads(result_file.read_text()), completed.stdout + completed.stderr
