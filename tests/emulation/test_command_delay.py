"""`lab up --command-delay`: every WinRM command execution answers no sooner than the delay, as a Windows
host's powershell.exe start-up would (docs/windows-model.md 8.6). A lower bound only: what it costs a fleet
is measured by `make bench`, not here."""

from __future__ import annotations

import json
import time

from tests.support.lab_harness import Lab, lab_cli, start_lab

# Longer than a whole module run through ansible takes without it (about 1.5 to 3 s here), so that the bound
# below cannot hold unless the lab really waits.
DELAY = 6.0


def test_each_command_waits_the_delay(tmp_path):
    lab: Lab = start_lab(tmp_path / "lab", 1, "private-ca", command_delay=DELAY)
    try:
        assert json.loads((lab.dir / "lab.json").read_text())["command_delay"] == DELAY
        before = lab.state("mfa01")["counters"]["winrm_commands"]
        started = time.monotonic()
        pong = lab.module("mfa01", "ansible.windows.win_ping")
        elapsed = time.monotonic() - started
        assert not pong["failed"]
        assert lab.state("mfa01")["counters"]["winrm_commands"] - before == 1
        assert elapsed >= DELAY, (
            f"the command answered after {elapsed:.2f} s, sooner than the {DELAY} s delay"
        )
    finally:
        lab_cli("down", "--dir", str(lab.dir))
