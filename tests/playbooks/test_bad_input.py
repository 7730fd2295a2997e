"""Bad input fails before any change, with a message naming the cause; the lab's ground truth is unchanged
and no changing module ran on any host. Secrets appear nowhere in -vvv output or in reports."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.lab_harness import configuration, lab_cli
from tests.support.playbook_runs import PLAYBOOKS, compliance, remediate, replacement_password

CHANGING_MODULES = ("certificate_import", "iis_binding_certificate")


def _snapshot(lab) -> dict:
    states = {host: lab.state(host) for host in lab.hosts()}
    return {
        host: (configuration(state), {m: state["counters"]["modules"].get(m, 0) for m in CHANGING_MODULES})
        for host, state in states.items()
    }


def _issue(lab, kind: str, **names) -> tuple[str, str]:
    out = lab.dir / f"bad-{kind}.pfx"
    extra = ["--names", *names["names"]] if names else []
    issued = lab_cli("cert", "--dir", str(lab.dir), "--kind", kind, "--out", str(out), *extra)
    assert issued.returncode == 0, issued.stderr
    return str(out), (lab.dir / f"bad-{kind}.pfx.pass").read_text().strip()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("private", "PRIVATE_CA"),
        ("expired", "EXPIRED"),
        ("wrong-name", "HOSTNAME_MISMATCH"),
        ("no-key", "holds no private key"),
    ],
)
def test_an_unfit_certificate_changes_nothing(private_ca_lab, kind, message):
    before = _snapshot(private_ca_lab)
    pfx, password = _issue(private_ca_lab, kind)
    run = remediate(private_ca_lab, pfx=pfx, password=password)
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-3000:]
    assert _snapshot(private_ca_lab) == before


def test_a_wrong_password_changes_nothing_and_is_not_echoed(private_ca_lab):
    before = _snapshot(private_ca_lab)
    run = remediate(private_ca_lab, password="Not-The-Pfx-Password-42")
    assert run.returncode != 0
    assert "the password is wrong" in run.stdout
    assert _snapshot(private_ca_lab) == before


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"mfa_tls_bindings": [{"site": "Default Web Site", "binding_information": "*:8443:"}]},
            "No HTTPS binding '*:8443:'",
        ),
        ({"mfa_tls_sites": ["No Such Site"]}, "Site 'No Such Site' has no HTTPS binding"),
        ({"mfa_tls_store_name": "Personal"}, "mfa_tls_store_name"),
    ],
)
def test_bad_variables_fail_before_any_change(private_ca_lab, variables, message):
    before = _snapshot(private_ca_lab)
    run = remediate(private_ca_lab, "-e", json.dumps(variables))
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-3000:]
    assert _snapshot(private_ca_lab) == before


def test_the_main_entry_point_without_the_preflight_says_what_to_run(private_ca_lab, tmp_path):
    """The remediate role's main entry point needs the certificate its preflight entry point checked for every
    host; used alone it stops on every host before any change and says to run the preflight first."""
    before = _snapshot(private_ca_lab)
    playbook = tmp_path / "main-only.yml"
    playbook.write_text(
        "- hosts: mfa_servers\n  gather_facts: false\n  roles:\n    - role: mfa_server.tls.remediate\n"
    )
    run = private_ca_lab.playbook(playbook, "-e", json.dumps({"mfa_tls_thumbprint": "AB" * 20}))
    assert run.returncode != 0
    assert "Run it first, in a play of its own for every host" in run.stdout, run.stdout[-3000:]
    assert _snapshot(private_ca_lab) == before


def test_a_missing_certificate_source_is_named(private_ca_lab):
    before = _snapshot(private_ca_lab)
    run = private_ca_lab.playbook(PLAYBOOKS / "remediate.yml")
    assert run.returncode != 0
    assert "Give the new certificate either as mfa_tls_pfx_path" in run.stdout
    assert _snapshot(private_ca_lab) == before


def test_secrets_appear_nowhere(private_ca_lab, tmp_path):
    password = replacement_password(private_ca_lab)
    pfx = (private_ca_lab.dir / "certs" / "replacement.pfx").read_bytes()
    pfx_b64 = base64.b64encode(pfx).decode()
    web_config_secrets = {
        value
        for host in private_ca_lab.hosts()
        for component in private_ca_lab.raw_state(host)["mfa"]["components"]
        for key, value in component["web_config"]["settings"].items()
        if "AUTHENTICATION" in key
    }
    run = remediate(private_ca_lab, "-vvv")
    assert run.returncode == 0, run.stdout[-3000:]
    reports = compliance(private_ca_lab, tmp_path / "reports", "-vvv")
    written = "".join(p.read_text() for p in (tmp_path / "reports").rglob("*") if p.is_file())
    for text in (run.stdout + run.stderr, reports.stdout + reports.stderr, written):
        assert password not in text
        assert pfx_b64[:64] not in text and pfx_b64[-64:] not in text
        assert "PRIVATE KEY" not in text
        for secret in web_config_secrets:
            assert secret not in text
