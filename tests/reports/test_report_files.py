"""The JUnit XML as a JUnit consumer reads it (junitparser), and the CSV, for the traps fleet's real reviews
plus the waived, out-of-scope, not-applicable and unreachable states (tests/reports/conftest.py)."""

from __future__ import annotations

import csv
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped


def _read(path: str) -> dict:
    """Per suite: its declared counts, and the counts of what its cases hold."""
    result = {}
    for suite in JUnitXml.fromfile(path):
        cases = list(suite)
        kinds = [type(r) for case in cases for r in case.result]
        result[suite.name] = {
            "declared": (suite.tests, suite.failures, suite.errors, suite.skipped),
            "found": (len(cases), kinds.count(Failure), kinds.count(Error), kinds.count(Skipped)),
            "cases": cases,
        }
    return result


def _in_scope(review: dict) -> list[dict]:
    return [e for e in review["endpoints"] if e.get("scope") != "out"]


def _endpoint_results(suite: dict) -> list[list]:
    """The results of each endpoint case (named by binding and URL), in order."""
    return [list(case.result) for case in suite["cases"] if " https://" in case.name]


def test_junit_has_a_case_per_in_scope_endpoint_and_says_skipped_and_error(fleet_report):
    suites = _read(fleet_report.paths["xml"])
    for name, suite in suites.items():
        assert suite["declared"] == suite["found"], f"{name}: the counts a reader shows are the cases'"
    states = fleet_report.states

    # mfa01, real: a case per in-scope endpoint, each failing (a private CA everywhere); out of scope, none.
    results = _endpoint_results(suites["mfa01"])
    assert len(results) == len(_in_scope(states["mfa01"])) < len(states["mfa01"]["endpoints"])
    assert all([type(r) for r in result] == [Failure] for result in results)
    # mfa02, real: compliant, with warnings: nothing fails.
    assert suites["mfa02"]["found"][1:] == (0, 0, 0)
    # mfa04: the waived endpoint is skipped with its waiver's words; the one whose waiver expired fails with them.
    results = _endpoint_results(suites["mfa04"])
    assert len(results) == len(_in_scope(states["mfa04"]))
    kinds = [type(r) for result in results for r in result]
    assert (kinds.count(Skipped), kinds.count(Failure)) == (1, len(results) - 1)
    (skipped,) = [r for result in results for r in result if isinstance(r, Skipped)]
    assert skipped.message.startswith("waived until ") and skipped.message.endswith(
        fleet_report.waiver_reason
    )
    expired = [r for result in results for r in result if fleet_report.expired_reason in (r.message or "")]
    assert len(expired) == 1 and isinstance(expired[0], Failure)
    # Not applicable, one skipped case with the reason (mfa03 is real: IIS without MFA Server); unreachable,
    # one case in error.
    hosts_without_mfa = ["mfa05"] + (["mfa03"] if states["mfa03"].get("not_applicable") else [])
    for host in hosts_without_mfa:
        assert suites[host]["found"] == (1, 0, 0, 1), host
        assert suites[host]["cases"][0].result[0].message == fleet_report.absent
    assert suites["mfa06"]["found"] == (1, 0, 1, 0)
    assert suites["mfa06"]["cases"][0].result[0].message.startswith("unreachable: ntlm:")


def test_the_csv_carries_url_why_fix_thumbprint_and_days_left(fleet_report):
    rows = list(csv.DictReader(Path(fleet_report.paths["csv"]).read_text().splitlines()))
    real = [r for r in rows if r["host"] == "mfa01" and r["url"]]
    assert len(real) == len(fleet_report.states["mfa01"]["endpoints"]), "out of scope too: a row each"
    for row in real:
        assert row["url"].startswith("https://") and "PRIVATE_CA: " in row["why"]
        assert "publicly trusted CA" in row["fix"]
        assert len(row["thumbprint"]) == 40 and row["thumbprint"] == row["thumbprint"].upper()
        assert int(row["days_left"]) > 0
    verdicts = {(r["host"], r["binding"]): r["verdict"] for r in rows}
    assert verdicts[("mfa04", "10.20.0.2:8443:")].startswith("waived until ")
    assert verdicts[("mfa04", "*:443:intranet.corp.contoso.com")].startswith("out of scope")
    (reports_site,) = [e for e in fleet_report.states["mfa04"]["endpoints"] if e["site"] == "Reports"]
    assert verdicts[("mfa04", "10.20.0.2:8443:reports.corp.contoso.com")] == (
        f"NOT COMPLIANT: waiver expired on {reports_site['waiver']['until']}: {fleet_report.expired_reason}"
    )
    assert ("mfa05", "") in verdicts and verdicts[("mfa05", "")] == fleet_report.absent
    assert verdicts[("mfa06", "")].startswith("unreachable: ")
