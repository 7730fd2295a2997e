"""`make demo-acme`: the fleet gets its certificate from an ACME CA, and renews it only when it is due.

1. starts the lab with `--acme`: emulated MFA Servers, and beside them Pebble (a real ACME CA, validating for
   real, 90-day certificates) and BIND (the hosts' public names; RFC 2136);
2. runs playbooks/compliance.yml: every host fails, PRIVATE_CA;
3. runs playbooks/renew.yml with the `acme` source: every host is due (it serves a private-CA certificate), so
   one certificate is ordered for all public names, HTTP-01 answered through IIS on every host, and distributed;
4. runs playbooks/compliance.yml again: every host passes, against a trust store where Pebble's root is public;
5. runs renew.yml again: nothing is due, nothing changes, and each host says when it will renew;
6. prints the times and where the logs are, and stops the lab (Pebble and BIND with it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from demo import ROOT, playbook, verdicts


def _lab(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, check=False, **kwargs)


def _decisions(log: Path) -> list[str]:
    """The renewal decision renew.yml printed for each host."""
    return re.findall(r'"msg": "(mfa\d+: (?:not )?due[^"]*)"', log.read_text())


def _changed(log: Path) -> int:
    return sum(int(n) for n in re.findall(r"^\S+\s+: .*changed=(\d+)", log.read_text(), re.M))


def _renew(lab_dir: Path, log: Path) -> float:
    started = time.monotonic()
    if playbook("renew.yml", lab_dir, log, "-e", "mfa_tls_certificate_source=acme"):
        sys.exit(f"renew.yml failed; see {log}.")
    seconds = time.monotonic() - started
    for decision in _decisions(log):
        print(f"   {decision}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=ROOT / "lab-state" / "demo-acme")
    options = parser.parse_args()
    lab_dir = options.dir.resolve()
    logs, reports = lab_dir / "logs", lab_dir / "reports"

    _lab("down", "--dir", str(lab_dir), capture_output=True)
    shutil.rmtree(lab_dir, ignore_errors=True)
    print(f"== 1. Starting {options.hosts} emulated MFA Servers, Pebble (ACME) and BIND beside them")
    if _lab("up", "--hosts", str(options.hosts), "--dir", str(lab_dir), "--acme").returncode:
        sys.exit(
            "The lab did not start; see the message above (Pebble and BIND come from Debian's pebble, bind9)."
        )
    logs.mkdir(parents=True, exist_ok=True)
    try:
        print("\n== 2. Compliance as a phone sees it (expected to fail: a private CA)")
        before = playbook(
            "compliance.yml",
            lab_dir,
            logs / "1-compliance-before.log",
            "-e",
            f"mfa_tls_report_dir={reports / 'before'}",
        )
        verdicts(reports / "before")
        if before == 0:
            sys.exit("Compliance passed before the renewal: the demo's premise is broken.")

        print("\n== 3. renew.yml with the acme source: every host is due, one order for the whole fleet")
        first = _renew(lab_dir, logs / "2-renew.log")
        print(
            f"   done in {first:.1f} s: ordered, HTTP-01 through IIS on every host, imported, bound, verified"
        )

        print("\n== 4. Compliance again (Pebble's root is public in this lab)")
        if playbook(
            "compliance.yml",
            lab_dir,
            logs / "3-compliance-after.log",
            "-e",
            f"mfa_tls_report_dir={reports / 'after'}",
        ):
            sys.exit(f"Compliance still fails; see {logs / '3-compliance-after.log'}.")
        verdicts(reports / "after")

        print("\n== 5. renew.yml again, as tomorrow's scheduled run: nothing is due")
        second = _renew(lab_dir, logs / "4-renew-again.log")
        changed = _changed(logs / "4-renew-again.log")
        print(f"   {changed} changes, {second:.1f} s")
        if changed:
            sys.exit(f"The second renewal changed something; see {logs / '4-renew-again.log'}.")

        print(f"\n== 6. Ansible logs: {logs}; reports: {reports / 'after'}")
        print(
            f"   Explore the lab yourself: .venv/bin/python -m lab up --acme --hosts {options.hosts} --dir {lab_dir}"
        )
    finally:
        _lab("down", "--dir", str(lab_dir), capture_output=True)


if __name__ == "__main__":
    main()
