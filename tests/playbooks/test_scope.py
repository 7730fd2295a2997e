"""One scope for compliance and remediation, against the lab through the real playbooks.

`traps` (mfa01 every trap, mfa02 compliant, mfa03 IIS without MFA Server): after remediate.yml, compliance.yml
passes in the default scope (mfa), because what it counts is what remediation changes; with mfa_tls_scope=all
it names the intranet endpoints that remediation leaves alone until waivers cover them; a waiver past its date
fails naming its reason; a bad waiver stops the run before any host is asked; mfa03 is "not applicable", and a
failure with mfa_tls_fail_when_not_applicable. `mobile-app-without-https`: an MFA 7.3 host whose every HTTPS
endpoint passes but whose Mobile App Web Service has no HTTPS binding fails with MFA_COMPONENT_WITHOUT_HTTPS.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.lab_harness import recap, running_lab
from tests.support.playbook_runs import compliance, remediate

# What remediation leaves on mfa01 (test_traps.py says why): the Portal's IP binding shares its HTTP.sys entry
# with the reports site, whose name the new certificate does not cover; the intranet site is on the Central
# Certificate Store.
LEFT_ON_MFA01 = {
    ("Portal", "10.20.0.2:8443:"),
    ("Intranet", "*:443:intranet.corp.contoso.com"),
    ("Reports", "10.20.0.2:8443:reports.corp.contoso.com"),
}
NOT_INSTALLED = "not applicable: MFA Server is not installed"
REASON = "the intranet sites move behind the new reverse proxy; tracked in CHG-1042"


def _report(directory) -> dict:
    return json.loads((directory / "mfa-tls-compliance.json").read_text())


def _statuses(report: dict, host: str) -> dict[tuple[str, str], set[str]]:
    result: dict[tuple[str, str], set[str]] = {}
    for endpoint in report["hosts"][host]["endpoints"]:
        result.setdefault((endpoint["site"], endpoint["binding_information"]), set()).add(endpoint["status"])
    return result


def _waivers(until: dt.date, reason: str = REASON) -> list[dict]:
    return [
        {"site": site, "binding": binding, "reason": reason, "until": until.isoformat()}
        for site, binding in LEFT_ON_MFA01
    ]


def _vars(**variables) -> tuple[str, str]:
    return "-e", json.dumps(variables)


@pytest.fixture(scope="module")
def remediation(traps_lab):
    """The lab after remediate.yml, and that run's output (warnings go to stderr)."""
    run = remediate(traps_lab)
    assert run.returncode == 0, run.stdout[-4000:]
    return traps_lab, run.stdout + run.stderr


@pytest.fixture
def remediated(remediation):
    return remediation[0]


def test_after_remediation_compliance_passes_in_the_default_scope(remediated, tmp_path):
    run = compliance(remediated, tmp_path)
    assert run.returncode == 0, run.stdout[-4000:]
    report = _report(tmp_path)
    assert report["summary"]["compliant"] is True
    assert report["summary"]["scope"].startswith("mfa (")
    statuses = _statuses(report, "mfa01")
    # What remediation left alone is reported, marked out of scope; everything else in scope passes.
    assert {key for key, found in statuses.items() if found == {"out of scope"}} == LEFT_ON_MFA01
    assert all(found <= {"passing", "warning"} for key, found in statuses.items() if key not in LEFT_ON_MFA01)


def test_scope_all_names_the_intranet_endpoints_until_waivers_cover_them(remediated, tmp_path):
    failing = compliance(remediated, tmp_path / "all", *_vars(mfa_tls_scope="all"))
    assert failing.returncode != 0
    assert recap(failing.stdout)["mfa01"]["failed"] == 1 and recap(failing.stdout)["mfa02"]["failed"] == 0
    for site, binding in LEFT_ON_MFA01:
        assert f"({site} {binding})" in failing.stdout, (site, binding)
    # One readable line per problem, printed once; the review itself (chains, findings, PEM) is not printed.
    lines = failing.stdout.splitlines()
    problems = [line for line in lines if "): " in line and line.strip().startswith('"https://')]
    assert len(problems) == len(LEFT_ON_MFA01), failing.stdout[-4000:]
    assert all(lines.count(line) == 1 for line in problems)
    assert (
        f"mfa01 is not compliant: {len(LEFT_ON_MFA01)} problems, one per line in 'problems'" in failing.stdout
    )
    assert "presented_chain" not in failing.stdout and "BEGIN CERTIFICATE" not in failing.stdout
    assert {
        k for k, s in _statuses(_report(tmp_path / "all"), "mfa01").items() if s == {"failing"}
    } == LEFT_ON_MFA01

    until = dt.date.today() + dt.timedelta(days=90)
    waived = compliance(
        remediated, tmp_path / "waived", *_vars(mfa_tls_scope="all", mfa_tls_waivers=_waivers(until))
    )
    assert waived.returncode == 0, waived.stdout[-4000:]
    report = _report(tmp_path / "waived")
    assert report["summary"]["compliant"] is True and report["summary"]["waived"] == len(LEFT_ON_MFA01)
    assert {k for k, s in _statuses(report, "mfa01").items() if s == {"waived"}} == LEFT_ON_MFA01
    html = (tmp_path / "waived" / "mfa-tls-compliance.html").read_text()
    assert f"waived until {until.isoformat()}: {REASON}" in html


def test_remediation_in_scope_all_changes_nothing_the_new_certificate_does_not_name(remediated):
    """Scope `all` takes in every failing binding; the three left on mfa01 are not the new certificate's to take
    (another site's name, the Central Certificate Store, an HTTP.sys entry shared with that site), so the run
    changes nothing and says, for each, why it is left as it is."""
    run = remediate(remediated, *_vars(mfa_tls_scope="all"))
    assert run.returncode == 0, run.stdout[-4000:]
    assert all(counts["changed"] == 0 for counts in recap(run.stdout).values()), run.stdout[-4000:]
    output = " ".join((run.stdout + run.stderr).split())
    for site, binding in LEFT_ON_MFA01:
        assert f"Left as it is: binding '{binding}' of site '{site}':" in output, (site, binding)


def test_a_waiver_past_its_date_fails_with_its_reason(remediated, tmp_path):
    yesterday = dt.date.today() - dt.timedelta(days=1)
    reason = "legacy intranet, vendor contract ends in the summer"
    run = compliance(
        remediated, tmp_path, *_vars(mfa_tls_scope="all", mfa_tls_waivers=_waivers(yesterday, reason))
    )
    assert run.returncode != 0
    assert f"waiver expired on {yesterday.isoformat()}: {reason}" in run.stdout
    details = _report(tmp_path)["hosts"]["mfa01"]["details"]
    expired = [e for e in details["endpoints"] if "WAIVER_EXPIRED" in e["codes"]]
    assert {(e["site"], e["binding_information"]) for e in expired} == LEFT_ON_MFA01
    assert all(e["waiver"]["expired"] is True and e["waiver"]["reason"] == reason for e in expired)


def test_a_bad_waiver_stops_the_run_before_any_host_is_asked(remediated, tmp_path):
    counted = {h: sum(remediated.state(h)["counters"]["modules"].values()) for h in remediated.hosts()}
    bad = [{"site": "Intranet", "until": "2027-01-31"}]  # no reason
    run = compliance(remediated, tmp_path, *_vars(mfa_tls_waivers=bad))
    assert run.returncode != 0
    assert "mfa_tls_waivers entry 1 (site=Intranet, until=2027-01-31): 'reason' is required" in run.stdout
    assert {
        h: sum(remediated.state(h)["counters"]["modules"].values()) for h in remediated.hosts()
    } == counted


def test_a_host_without_mfa_server_is_not_applicable_unless_that_is_made_a_failure(remediation, tmp_path):
    remediated, output = remediation
    assert f"mfa03: {NOT_INSTALLED}; remediation changes nothing on it." in output
    run = compliance(remediated, tmp_path / "default")
    assert recap(run.stdout)["mfa03"]["failed"] == 0
    assert f"mfa03: {NOT_INSTALLED}; its bindings are reported" in run.stdout + run.stderr
    host = _report(tmp_path / "default")["hosts"]["mfa03"]
    assert (host["status"], host["note"]) == ("not applicable", NOT_INSTALLED)

    strict = compliance(remediated, tmp_path / "strict", *_vars(mfa_tls_fail_when_not_applicable=True))
    assert strict.returncode != 0 and recap(strict.stdout)["mfa03"]["failed"] == 1
    assert recap(strict.stdout)["mfa01"]["failed"] == 0
    assert f"mfa03 is not compliant: {NOT_INSTALLED}" in strict.stdout
    assert _report(tmp_path / "strict")["hosts"]["mfa03"]["status"] == "failing"


@pytest.fixture(scope="module")
def mobile_app_lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("mobile-app-lab"), 1, "mobile-app-without-https") as lab:
        yield lab


def test_an_mfa_7_3_mobile_app_web_service_without_https_fails_whatever_the_endpoints_say(
    mobile_app_lab, tmp_path
):
    # With the SDK test on (compliance's default): a service without HTTPS cannot be asked, and its one cause
    # is one finding, not also SDK_CONNECTION_FAILED.
    run = compliance(mobile_app_lab, tmp_path)
    assert run.returncode != 0
    assert "MFA Mobile App/MultiFactorAuthMobileAppWebService: MFA_COMPONENT_WITHOUT_HTTPS" in run.stdout
    assert "SDK_CONNECTION_FAILED" not in run.stdout
    details = _report(tmp_path)["hosts"]["mfa01"]["details"]
    assert details["endpoints"] and all(e["compliant"] for e in details["endpoints"]), (
        "every HTTPS endpoint passes"
    )
    (found,) = [f for f in details["mfa_findings"] if f["code"] == "MFA_COMPONENT_WITHOUT_HTTPS"]
    assert "7.3.0.3" in found["message"] and "*:8080:" in found["message"]
