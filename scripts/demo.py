"""`make demo`: the Authenticator's "NotFound" reproduced on an emulated MFA Server fleet, then fixed.

1. starts the lab (emulated Windows MFA Servers reached over real WinRM, serving real HTTPS);
2. runs playbooks/compliance.yml: every host fails, PRIVATE_CA, as the Authenticator app would;
3. runs playbooks/remediate.yml with the lab's publicly trusted replacement certificate;
4. runs playbooks/compliance.yml again: every host passes;
5. prints where the reports and the full Ansible logs are, and stops the lab (its state stays).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(command: list[str], log: Path) -> int:
    with log.open("w") as stream:
        return subprocess.run(
            command, cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT, check=False
        ).returncode


def playbook(name: str, lab_dir: Path, log: Path, *extra: str) -> int:
    inventory = lab_dir / "inventory.yml"
    return run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / name), *extra], log
    )


def verdicts(report_dir: Path) -> None:
    report = json.loads((report_dir / "mfa-tls-compliance.json").read_text())
    for host, entry in sorted(report["hosts"].items()):
        verdict = "compliant" if entry["compliant"] else "NOT COMPLIANT"
        print(f"   {host}: {verdict}")
        for endpoint in entry["endpoints"]:
            codes = ", ".join(endpoint["codes"]) or "no finding"
            print(f"      {endpoint['url']}  {codes}")
        if not entry["compliant"]:
            details = entry["details"]["endpoints"][0]
            errors = [f for f in details["phone"]["findings"] if f["severity"] == "error"]
            for finding in errors[:1]:
                print(f"      why: {finding['message']}\n      fix: {finding['remediation']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=ROOT / "lab-state" / "demo")
    options = parser.parse_args()
    lab_dir = options.dir.resolve()
    logs = lab_dir / "logs"
    reports = lab_dir / "reports"

    subprocess.run(
        [sys.executable, "-m", "lab", "down", "--dir", str(lab_dir)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    shutil.rmtree(lab_dir, ignore_errors=True)
    print(
        f"== 1. Starting {options.hosts} emulated MFA Servers (private-ca scenario: MFA Server 7.3, private-CA certificate)"
    )
    up = subprocess.run(
        [sys.executable, "-m", "lab", "up", "--hosts", str(options.hosts), "--dir", str(lab_dir)],
        cwd=ROOT,
        check=False,
    )
    if up.returncode:
        sys.exit("The lab did not start; see the message above.")
    logs.mkdir(parents=True, exist_ok=True)
    try:
        print(
            "\n== 2. Compliance as a phone sees it (expected to fail: this is the Authenticator's 'NotFound')"
        )
        failed = playbook(
            "compliance.yml",
            lab_dir,
            logs / "1-compliance-before.log",
            "-e",
            f"mfa_tls_report_dir={reports / 'before'}",
        )
        verdicts(reports / "before")
        if failed == 0:
            sys.exit("Compliance passed before the fix: the demo's premise is broken.")

        print("\n== 3. Remediation with the lab's publicly trusted certificate (certs/replacement.pfx)")
        variables = {
            "mfa_tls_pfx_path": str(lab_dir / "certs" / "replacement.pfx"),
            "mfa_tls_pfx_password": (lab_dir / "certs" / "replacement.pass").read_text().strip(),
        }
        if playbook("remediate.yml", lab_dir, logs / "2-remediate.log", "-e", json.dumps(variables)):
            sys.exit(f"Remediation failed; see {logs / '2-remediate.log'}.")
        print(
            "   done: certificate imported, bindings changed, every changed endpoint verified as a phone would"
        )

        print("\n== 4. Compliance again")
        if playbook(
            "compliance.yml",
            lab_dir,
            logs / "3-compliance-after.log",
            "-e",
            f"mfa_tls_report_dir={reports / 'after'}",
        ):
            sys.exit(f"Compliance still fails; see {logs / '3-compliance-after.log'}.")
        verdicts(reports / "after")

        print(f"\n== 5. Reports: {reports / 'after' / 'mfa-tls-compliance.html'} (also .json, .csv, .xml),")
        print(f"   before the fix: {reports / 'before'}; Ansible logs: {logs}")
        print(
            f"   Explore the lab yourself: .venv/bin/python -m lab up --hosts {options.hosts} --dir {lab_dir}"
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "lab", "down", "--dir", str(lab_dir)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )


if __name__ == "__main__":
    main()
