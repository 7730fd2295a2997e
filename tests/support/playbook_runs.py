"""The playbooks as users run them, against a lab."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.lab_harness import ROOT, Lab

PLAYBOOKS = ROOT / "playbooks"


def replacement_password(lab: Lab) -> str:
    return (lab.dir / "certs" / "replacement.pass").read_text().strip()


def remediate(
    lab: Lab, *extra: str, pfx: Path | None = None, password: str | None = None
) -> subprocess.CompletedProcess:
    """remediate.yml with the lab's replacement certificate, or the PFX and password given."""
    pfx = pfx or lab.dir / "certs" / "replacement.pfx"
    password = password if password is not None else replacement_password(lab)
    variables = {
        "mfa_tls_pfx_path": str(pfx),
        "mfa_tls_pfx_password": password,
        # The change record goes into the lab's folder, not the working tree's reports/ (a later -e wins).
        "mfa_tls_report_dir": str(lab.dir / "reports"),
    }
    return lab.playbook(PLAYBOOKS / "remediate.yml", "-e", json.dumps(variables), *extra)


def compliance(lab: Lab, report_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return lab.playbook(PLAYBOOKS / "compliance.yml", "-e", f"mfa_tls_report_dir={report_dir}", *extra)


def replacement_thumbprint(lab: Lab) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = (lab.dir / "certs" / "replacement.pfx").read_bytes()
    bundle = pkcs12.load_pkcs12(data, replacement_password(lab).encode())
    return bundle.cert.certificate.fingerprint(hashes.SHA1()).hex().upper()
