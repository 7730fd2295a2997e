"""50 emulated hosts come up quickly on 2 cores and answer a fleet-wide win_ping (figures printed)."""

from __future__ import annotations

import time

from tests.support.lab_harness import running_lab

HOSTS = 50


def test_fifty_hosts_up_and_fleet_win_ping(tmp_path, capsys):
    started = time.monotonic()
    with running_lab(tmp_path, HOSTS) as lab:
        up_seconds = time.monotonic() - started
        playbook = tmp_path / "ping.yml"
        playbook.write_text(
            "- hosts: mfa_servers\n  gather_facts: false\n  tasks:\n    - ansible.windows.win_ping:\n"
        )
        started = time.monotonic()
        out = lab.playbook(playbook, "--forks", "25")
        ping_seconds = time.monotonic() - started
        assert out.returncode == 0, out.stdout[-3000:]
        assert out.stdout.count("failed=0") == HOSTS and "unreachable=1" not in out.stdout
        with capsys.disabled():
            print(
                f"\nlab: {HOSTS} hosts up in {up_seconds:.1f}s; fleet win_ping (forks 25) in {ping_seconds:.1f}s"
            )
        assert up_seconds < 30
