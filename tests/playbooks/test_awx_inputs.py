"""The remediation job as AWX launches it, against the lab, in one playbook run: the survey's answers as AWX
sends them (its defaults, and the sites typed as one comma-separated string with stray spaces), and the
'MFA TLS certificate' credential's injected extra_vars (the PFX as wrapped base64 and its password), each in a
file of its own passed with -e, every string tagged !unsafe as AWX writes them (ansible/awx,
awx/main/models/credential.py CredentialType.inject_credential, awx/main/utils/safe_yaml.py safe_dump).

The certificate reaches every host, no file on a Windows disk holds it, and neither the password nor the
PFX appears in the -vvv output."""

from __future__ import annotations

import base64
import json

import yaml

from tests.support.lab_harness import ROOT, recap, served_certificates
from tests.support.playbook_runs import PLAYBOOKS, replacement_password, replacement_thumbprint

SURVEY = ROOT / "awx" / "surveys" / "remediate.json"
CREDENTIAL = ROOT / "awx" / "credential_types" / "mfa_tls_certificate.yml"
# One site, typed as a person types into a survey text field: spaces, a repeat, a trailing comma.
SITES_AS_TYPED = " Default Web Site ,Default Web Site, "


class _UnsafeDumper(yaml.SafeDumper):
    """AWX's SafeStringDumper: every string of an extra_vars file is `!unsafe` (never templated)."""

    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def _awx_file(path, variables: dict) -> str:
    path.write_text(yaml.dump(variables, Dumper=_UnsafeDumper, default_flow_style=False))
    return f"@{path}"


def _survey_answers() -> dict:
    """What AWX sends when the survey is launched with its defaults and the sites typed in."""
    answers = {q["variable"]: q.get("default", "") for q in json.loads(SURVEY.read_text())["spec"]}
    return answers | {"mfa_tls_sites": SITES_AS_TYPED}


def _credential_extra_vars(pfx_b64: str, password: str) -> dict:
    """The credential type's injectors rendered as AWX renders them, for these inputs."""
    injectors = yaml.safe_load(CREDENTIAL.read_text())["injectors"]["extra_vars"]
    inputs = {"{{ pfx_base64 }}": pfx_b64, "{{ pfx_password }}": password}
    return {variable: inputs[template] for variable, template in injectors.items()}


def test_the_remediation_job_as_awx_launches_it(private_ca_lab, tmp_path):
    lab = private_ca_lab
    password = replacement_password(lab)
    pfx = (lab.dir / "certs" / "replacement.pfx").read_bytes()
    pfx_b64 = base64.b64encode(pfx).decode()
    # As `base64` prints it and a multi-line credential field keeps it: lines of 76 characters.
    wrapped = "\n".join(pfx_b64[i : i + 76] for i in range(0, len(pfx_b64), 76)) + "\n"

    run = lab.playbook(
        PLAYBOOKS / "remediate.yml",
        "-e",
        _awx_file(tmp_path / "extravars", _survey_answers()),
        "-e",
        _awx_file(tmp_path / "credential", _credential_extra_vars(wrapped, password)),
        "-vvv",
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, run.stdout[-4000:]

    new = replacement_thumbprint(lab)
    for host in lab.hosts():
        state = lab.raw_state(host)
        assert set(served_certificates(lab.state(host)).values()) == {new}, host
        # The PFX travelled inside the import module's arguments only: no file on the host holds it.
        for path, content in (state.get("files") or {}).items():
            assert pfx not in base64.b64decode(content), path
    assert all(counts["changed"] > 0 and counts["failed"] == 0 for counts in recap(run.stdout).values())

    assert password not in output
    full_lines = [line for line in wrapped.splitlines() if len(line) == 76]
    for line in full_lines[:3] + full_lines[-2:]:
        assert line not in output
    assert pfx_b64[:64] not in output
