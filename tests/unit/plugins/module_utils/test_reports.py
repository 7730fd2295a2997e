"""Reports: one row per host and endpoint, JUnit one case per in-scope endpoint, runs over parts of the fleet
(AWX job slices) that add up in a shared folder, and the states the scope, waivers and host checks give:
waived, out of scope, not applicable, unreachable."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import os
import stat
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import reports

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _review(compliant: bool, codes: list[str]) -> dict:
    finding = {
        "code": "PRIVATE_CA",
        "severity": "error",
        "message": "ends at <Contoso> root",
        "remediation": "Replace it.",
    }
    endpoint = {
        "site": "Default Web Site",
        "binding_information": "*:443:",
        "component": "mobile_app_web_service",
        "url": "https://mfa.contoso.com/MultiFactorAuthMobileAppWebService/PfPaWs.asmx",
        "public_name": "mfa.contoso.com",
        "certificate": {
            "issuer": "CN=Contoso Issuing CA",
            "not_after": "2027-01-01T00:00:00Z",
            "thumbprint": "ab12cd",
        },
        "server_side": {"findings": [] if compliant else [finding]},
        "phone": {
            "findings": [] if compliant else [finding],
            "protocols": ["TLSv1", "TLSv1.2"] if compliant else ["TLSv1.2", "TLSv1.3"],
            "cipher": "ECDHE-RSA-AES128-GCM-SHA256" if compliant else "TLS_AES_256_GCM_SHA384",
            "cipher_iana": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" if compliant else "TLS_AES_256_GCM_SHA384",
            "presented_chain": [
                {
                    "subject": "CN=mfa.contoso.com",
                    "issuer": "CN=Contoso Issuing CA",
                    "sha1": "AB12CD",
                    "not_after": "2027-01-01T00:00:00+00:00",
                }
            ],
        },
        "compliant": compliant,
        "codes": codes,
    }
    return {"compliant": compliant, "endpoints": [endpoint]}


def _run(hosts=("mfa01",)) -> reports.RunInfo:
    return reports.RunInfo(
        heading="TLS compliance of the MFA servers", scope="mfa", hosts=tuple(hosts), now=NOW
    )


def test_slices_sharing_a_folder_add_up(tmp_path):
    reports.write_host(str(tmp_path), "mfa01", _review(False, ["PRIVATE_CA"]))
    reports.write_host(str(tmp_path), "mfa02", _review(True, []))
    reports.write_fleet(str(tmp_path), "fleet")
    reports.write_host(str(tmp_path), "mfa03", reports.missing_review())  # another slice, later
    paths, summary = reports.write_fleet(str(tmp_path), "fleet")

    assert summary["hosts"] == 3 and summary["compliant_hosts"] == 1 and summary["compliant"] is False
    assert (summary["failing_hosts"], summary["unreachable_hosts"]) == (1, 1)
    document = json.loads(Path(paths["json"]).read_text())
    assert document["hosts"]["mfa01"]["endpoints"][0]["codes"] == ["PRIVATE_CA"]
    assert document["hosts"]["mfa01"]["endpoints"][0]["status"] == "failing"
    assert document["hosts"]["mfa02"]["compliant"] is True
    assert (
        document["hosts"]["mfa03"]["compliant"] is False and document["hosts"]["mfa03"]["status"] == "error"
    )

    rows = list(csv.DictReader(Path(paths["csv"]).read_text().splitlines()))
    assert [(r["host"], r["verdict"]) for r in rows] == [
        ("mfa01", "NOT COMPLIANT"),
        ("mfa02", "compliant"),
        ("mfa03", "no facts: the host was unreachable or failed before discovery"),
    ]
    assert rows[0]["issuer"] == "CN=Contoso Issuing CA" and rows[0]["component"] == "mobile_app_web_service"

    junit = ET.parse(paths["xml"]).getroot()
    cases = junit.findall("./testsuite/testcase")
    assert len(cases) == 3, "two endpoints and the host that gave no facts"
    failures = junit.findall("./testsuite/testcase/failure")
    assert len(failures) == 1 and failures[0].get("message") == "PRIVATE_CA"
    assert failures[0].text.count("PRIVATE_CA: ends at <Contoso> root") == 1, (
        "the two views' same finding is one"
    )
    (error,) = junit.findall("./testsuite/testcase/error")
    assert "no facts" in error.get("message")
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("3", "1", "1")

    page = Path(paths["html"]).read_text()
    assert "<Contoso>" not in page and "&lt;Contoso&gt;" in page
    assert "1 of 3 host(s) compliant" in page


def test_host_names_cannot_escape_the_folder(tmp_path):
    reports.write_host(str(tmp_path), "../evil", _review(True, []))
    assert [p.name for p in (tmp_path / "hosts").iterdir()] == [".._evil.json"]


def test_rows_show_the_protocols_accepted_and_the_suite_negotiated(tmp_path):
    reports.write_host(str(tmp_path), "mfa01", _review(False, ["PRIVATE_CA"]))
    reports.write_host(str(tmp_path), "mfa02", _review(True, []))
    older = _review(True, [])  # a host file written before the probe recorded protocols and suite
    for key in ("protocols", "cipher", "cipher_iana"):
        del older["endpoints"][0]["phone"][key]
    reports.write_host(str(tmp_path), "mfa03", older)
    reports.write_host(str(tmp_path), "mfa04", reports.missing_review())
    paths, _summary = reports.write_fleet(str(tmp_path), "fleet")

    lines = Path(paths["csv"]).read_text().splitlines()
    assert lines[0] == (
        "host,site,binding,component,public_name,issuer,not_after,verdict,codes,protocols,cipher,"
        "url,why,fix,thumbprint,days_left,called_by"
    ), "the existing columns keep their places; the new ones follow"
    rows = {r["host"]: r for r in csv.DictReader(lines)}
    assert (rows["mfa01"]["protocols"], rows["mfa01"]["cipher"]) == (
        "TLSv1.2 TLSv1.3",
        "TLS_AES_256_GCM_SHA384",
    )
    assert (rows["mfa02"]["protocols"], rows["mfa02"]["cipher"]) == (
        "TLSv1 TLSv1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ), "the IANA name, as Windows names the suite"
    assert (rows["mfa03"]["protocols"], rows["mfa03"]["cipher"]) == ("", "")
    assert (rows["mfa04"]["protocols"], rows["mfa04"]["cipher"]) == ("", "")

    page = Path(paths["html"]).read_text()
    assert (
        "<dt>Protocols</dt><dd>TLSv1 TLSv1.2</dd><dt>Cipher</dt><dd>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</dd>"
        in page
    )


def test_the_csv_says_where_why_what_to_do_and_how_long_is_left(tmp_path):
    reports.write_host(str(tmp_path), "mfa01", _review(False, ["PRIVATE_CA"]))
    paths, _summary = reports.write_fleet(str(tmp_path), "fleet", _run())
    (row,) = csv.DictReader(Path(paths["csv"]).read_text().splitlines())
    assert row["url"] == "https://mfa.contoso.com/MultiFactorAuthMobileAppWebService/PfPaWs.asmx"
    assert row["why"] == "PRIVATE_CA: ends at <Contoso> root"
    assert row["fix"] == "Replace it."
    assert row["thumbprint"] == "AB12CD", "upper case, as Windows shows thumbprints"
    assert row["days_left"] == str((dt.datetime(2027, 1, 1, tzinfo=dt.UTC) - NOW).days)


def test_an_unknown_suite_is_shown_by_its_openssl_name(tmp_path):
    review = _review(True, [])
    review["endpoints"][0]["phone"] |= {"cipher": "ARIA256-GCM-SHA384", "cipher_iana": None}
    assert reports.rows([{"host": "mfa01", **review}])[0]["cipher"] == "ARIA256-GCM-SHA384"


def test_mfa_server_findings_are_rows_and_a_junit_case_of_their_host(tmp_path):
    retired = {
        "code": "MFA_SERVER_RETIRED",
        "severity": "warning",
        "message": "MFA Server 8.0.1 no longer services MFA requests since 2024-09-30.",
        "remediation": "Plan the move.",
        "where": "MFA Server",
    }
    unsafe = {
        "code": "SDK_URL_UNSAFE",
        "severity": "error",
        "message": "The SDK URL http://localhost:4898/PfWsSdk.asmx lands on an HTTPS-only binding.",
        "remediation": "Set the SDK URL.",
        "where": "mobile_app_web_service",
    }
    reports.write_host(
        str(tmp_path), "mfa01", _review(True, []) | {"compliant": False, "mfa_findings": [retired, unsafe]}
    )
    reports.write_host(str(tmp_path), "mfa02", _review(True, []) | {"mfa_findings": [retired]})
    paths, _summary = reports.write_fleet(str(tmp_path), "fleet")

    table = list(csv.DictReader(Path(paths["csv"]).read_text().splitlines()))
    mfa_rows = [
        (r["host"], r["site"], r["verdict"], r["codes"]) for r in table if r["component"] == "MFA Server"
    ]
    assert mfa_rows == [
        ("mfa01", "MFA Server", "warning", "MFA_SERVER_RETIRED"),
        ("mfa01", "mobile_app_web_service", "NOT COMPLIANT", "SDK_URL_UNSAFE"),
        ("mfa02", "MFA Server", "warning", "MFA_SERVER_RETIRED"),
    ]
    suites = {s.get("name"): s for s in ET.parse(paths["xml"]).getroot()}
    assert (suites["mfa01"].get("tests"), suites["mfa01"].get("failures")) == ("2", "1")
    (failure,) = suites["mfa01"].iter("failure")
    assert failure.get("message") == "SDK_URL_UNSAFE" and "Set the SDK URL." in failure.text
    assert (suites["mfa02"].get("tests"), suites["mfa02"].get("failures")) == ("2", "0")
    assert "MFA_SERVER_RETIRED" in next(suites["mfa02"].iter("system-out")).text
    assert reports.host_summary({"compliant": False, "endpoints": [], "mfa_findings": [unsafe]})["codes"] == [
        "SDK_URL_UNSAFE"
    ]


def _statuses(review: dict, now: dt.datetime = NOW) -> tuple[str, list[tuple[str, str]]]:
    (view,) = reports.host_views([{"host": "mfa01", **review}], now)
    return view.status, [(item.status, item.verdict) for item in view.items]


def test_a_waiver_that_holds_waives_and_one_past_its_date_fails_with_its_reason():
    # The review counts a waived endpoint as no failure of the host; the report shows why.
    review = _review(False, ["PRIVATE_CA"]) | {"compliant": True}
    review["endpoints"][0]["waiver"] = {"reason": "vendor appliance, replaced in Q1", "until": "2026-12-31"}
    assert _statuses(review) == (
        "passing",
        [("waived", "waived until 2026-12-31: vendor appliance, replaced in Q1")],
    )
    late = NOW.replace(year=2027, month=1, day=1)
    assert _statuses(review, late) == (
        "failing",
        [("failing", "NOT COMPLIANT: waiver expired on 2026-12-31: vendor appliance, replaced in Q1")],
    )
    review["endpoints"][0]["waiver"]["expired"] = True  # the review's word wins over the date
    assert _statuses(review)[1][0][0] == "failing"


def test_a_waiver_for_some_codes_leaves_the_others_failing():
    review = _review(False, ["HOSTNAME_MISMATCH", "PRIVATE_CA"])
    review["endpoints"][0]["phone"]["findings"].append(
        {
            "code": "HOSTNAME_MISMATCH",
            "severity": "error",
            "message": "names other.",
            "remediation": "Rename.",
        }
    )
    review["endpoints"][0]["waiver"] = {
        "reason": "internal CA",
        "until": "2027-06-30",
        "codes": ["PRIVATE_CA"],
    }
    status, items = _statuses(review)
    assert status == "failing"
    assert items == [
        (
            "failing",
            "NOT COMPLIANT: the waiver until 2027-06-30 (internal CA) does not cover HOSTNAME_MISMATCH",
        )
    ]


def test_out_of_scope_endpoints_are_shown_and_never_fail_nor_are_junit_cases(tmp_path):
    review = _review(False, ["PRIVATE_CA"]) | {"compliant": True}
    review["endpoints"][0] |= {"scope": "out", "scope_reason": "no MFA component, no shared certificate"}
    assert _statuses(review) == (
        "passing",
        [("out of scope", "out of scope: no MFA component, no shared certificate")],
    )
    reports.write_host(str(tmp_path), "mfa01", review)
    paths, summary = reports.write_fleet(str(tmp_path), "fleet", _run())
    assert summary["compliant"] is True and summary["out_of_scope"] == 1
    suite = ET.parse(paths["xml"]).getroot().find("testsuite")
    assert [c.get("name") for c in suite.iter("testcase")] == [], "not a case, so not a failure"
    assert "out of scope: no MFA component" in Path(paths["html"]).read_text()


def test_a_host_without_mfa_server_has_its_own_verdict_and_can_be_made_a_failure(tmp_path):
    absent = "not applicable: MFA Server is not installed"
    review = {"compliant": True, "endpoints": [], "not_applicable": absent}
    assert _statuses(review) == ("not applicable", [("not applicable", absent)])
    reports.write_host(str(tmp_path), "mfa03", review)
    paths, summary = reports.write_fleet(str(tmp_path), "fleet", _run(["mfa03"]))
    assert summary["compliant"] is True and summary["not_applicable_hosts"] == 1
    (case,) = ET.parse(paths["xml"]).getroot().iter("testcase")
    assert case.find("skipped").get("message") == absent

    with_bindings = _review(False, ["PRIVATE_CA"]) | {"not_applicable": absent}
    assert _statuses(with_bindings)[0] == "failing", (
        "compliant: false means the administrator made it a failure"
    )
    with_bindings["compliant"] = True
    # IIS's endpoint, and the host's own verdict beside it (a row and a skipped JUnit case); one counted.
    assert _statuses(with_bindings) == ("not applicable", [("not applicable", absent)] * 2)
    (view,) = reports.host_views([{"host": "mfa03", **with_bindings}], NOW)
    assert view.counts["not_applicable"] == 1


def test_an_unreachable_host_is_an_error_in_junit_and_a_row(tmp_path):
    message = "Task failed: ntlm: HTTPSConnectionPool(host='10.0.0.5', port=5986): Max retries exceeded\nmore"
    review = reports.unreachable_review(message)
    assert (
        review["unreachable"] == "ntlm: HTTPSConnectionPool(host='10.0.0.5', port=5986): Max retries exceeded"
    )
    reports.write_host(str(tmp_path), "mfa09", review)
    paths, summary = reports.write_fleet(str(tmp_path), "fleet", _run(["mfa09"]))
    assert summary["compliant"] is False and summary["unreachable_hosts"] == 1
    (row,) = csv.DictReader(Path(paths["csv"]).read_text().splitlines())
    assert row["verdict"].startswith("unreachable: ntlm:")
    suite = ET.parse(paths["xml"]).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("1", "1", "0")
    assert suite.find("testcase/error").get("type") == "UNREACHABLE"


def test_a_review_that_says_not_compliant_is_never_shown_green():
    review = {"compliant": False, "endpoints": [], "problems": ["Portal 1.2.3.4:443:x: BINDING_UNREADABLE"]}
    status, items = _statuses(review)
    assert status == "failing" and items == [("failing", "NOT COMPLIANT")]


def test_divergences_no_endpoint_carries_are_host_checks():
    orphan = {
        "code": "ORPHANED_HTTP_SYS_ENTRY",
        "severity": "warning",
        "message": "The HTTP.sys entry ipport=0.0.0.0:4443 belongs to no IIS binding.",
        "remediation": "Check which program registered it.",
        "where": "ipport=0.0.0.0:4443",
    }
    review = _review(True, []) | {"http_sys_divergence": [orphan]}
    assert _statuses(review) == ("warning", [("passing", "compliant"), ("warning", "warning")])


def test_failures_come_first_by_severity_then_days_left():
    soon, later = _review(False, ["PRIVATE_CA"]), _review(False, ["PRIVATE_CA"])
    soon["endpoints"][0]["certificate"]["not_after"] = "2026-12-05T00:00:00Z"
    soon["endpoints"][0]["url"] = "https://soon.contoso.com/"
    fine = _review(True, [])
    views = reports.host_views(
        [
            {"host": "a", **fine},
            {"host": "b", **later},
            {"host": "c", **soon},
            {"host": "d", **reports.missing_review()},
        ],
        NOW,
    )
    assert [(i.host, i.status) for i in reports.ordered(views)] == [
        ("d", "error"),
        ("c", "failing"),
        ("b", "failing"),
        ("a", "passing"),
    ]


def test_the_page_has_a_title_the_scope_and_the_time_and_the_hosts_first():
    hosts = [{"host": "mfa01", **_review(False, ["PRIVATE_CA"])}]
    views = reports.host_views(hosts, NOW)
    page = reports.render_html(_run(), reports.summary(hosts, _run(), views), views)
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == "TLS compliance of the MFA servers: not compliant · scope mfa · 2026-12-01 12:00 UTC"
    assert "Scope: mfa (the endpoints that serve MFA web components" in page
    assert page.index('id="hosts"') < page.index('id="endpoints"')
    assert "<script" not in page and "http://" not in page.split("<main>", 1)[0], "no script, nothing fetched"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_get_the_mode_the_umask_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        reports.write_host(str(tmp_path), "mfa01", _review(True, []))
        paths, _summary = reports.write_fleet(str(tmp_path), "fleet")
    finally:
        os.umask(previous)
    for path in [*paths.values(), tmp_path / "hosts" / "mfa01.json"]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask, path
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file left"


def test_each_endpoint_says_who_calls_it_by_which_name(tmp_path):
    sdk_url = "https://mfa-sdk.corp.contoso.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
    review = _review(True, [])
    public = review["endpoints"][0]
    public["binding_information"] = "*:443:mfa.contoso.com"
    sdk = copy.deepcopy(public) | {"binding_information": "*:443:", "url": sdk_url}
    public["reached_by"] = [{"who": "phones", "name": "mfa.contoso.com", "url": None, "kind": "public"}]
    sdk["reached_by"] = [
        {"who": "the Mobile App Web Service", "name": "mfa-sdk.corp.contoso.com", "url": sdk_url},
        {"who": "the User Portal", "name": "mfa-sdk.corp.contoso.com", "url": sdk_url},
    ]
    unnamed = copy.deepcopy(public) | {"binding_information": "10.0.0.5:443:", "reached_by": []}
    review["endpoints"] += [sdk, unnamed]
    reports.write_host(str(tmp_path), "mfa01", review)
    paths, _summary = reports.write_fleet(str(tmp_path), "fleet")

    rows = {r["binding"]: r["called_by"] for r in csv.DictReader(Path(paths["csv"]).read_text().splitlines())}
    assert rows[public["binding_information"]] == "phones by mfa.contoso.com"
    assert rows["*:443:"] == f"the Mobile App Web Service as {sdk_url}; the User Portal as {sdk_url}"
    assert rows["10.0.0.5:443:"] == "no known name reaches it: clients by address"
    page = Path(paths["html"]).read_text()
    assert f"<dt>Called by</dt><dd>the Mobile App Web Service as {sdk_url}; the User Portal" in page
