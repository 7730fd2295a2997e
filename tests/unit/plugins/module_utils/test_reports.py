"""Reports: one row per host and endpoint, JUnit one case per endpoint, and runs over parts of the fleet
(AWX job slices) that add up in a shared folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from xml.etree import ElementTree as ET

from ansible_collections.mfa_server.tls.plugins.module_utils import reports


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
        "certificate": {"issuer": "CN=Contoso Issuing CA", "not_after": "2027-01-01T00:00:00Z"},
        "server_side": {"findings": [] if compliant else [finding]},
        "phone": {
            "findings": [] if compliant else [finding],
            "protocols": ["TLSv1", "TLSv1.2"] if compliant else ["TLSv1.2", "TLSv1.3"],
            "cipher": "ECDHE-RSA-AES128-GCM-SHA256" if compliant else "TLS_AES_256_GCM_SHA384",
            "cipher_iana": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" if compliant else "TLS_AES_256_GCM_SHA384",
        },
        "compliant": compliant,
        "codes": codes,
    }
    return {"compliant": compliant, "endpoints": [endpoint]}


def test_slices_sharing_a_folder_add_up(tmp_path):
    reports.write_host(str(tmp_path), "mfa01", _review(False, ["PRIVATE_CA"]))
    reports.write_host(str(tmp_path), "mfa02", _review(True, []))
    reports.write_fleet(str(tmp_path), "fleet")
    reports.write_host(str(tmp_path), "mfa03", reports.missing_review())  # another slice, later
    paths, summary = reports.write_fleet(str(tmp_path), "fleet")

    assert summary["hosts"] == 3 and summary["compliant_hosts"] == 1 and summary["compliant"] is False
    document = json.loads(Path(paths["json"]).read_text())
    assert document["hosts"]["mfa01"]["endpoints"][0]["codes"] == ["PRIVATE_CA"]
    assert document["hosts"]["mfa02"]["compliant"] is True
    assert document["hosts"]["mfa03"]["compliant"] is False

    rows = list(csv.DictReader(Path(paths["csv"]).read_text().splitlines()))
    assert [(r["host"], r["verdict"]) for r in rows] == [
        ("mfa01", "NOT COMPLIANT"),
        ("mfa02", "compliant"),
        ("mfa03", "no facts: the host was unreachable or failed before discovery"),
    ]
    assert rows[0]["issuer"] == "CN=Contoso Issuing CA" and rows[0]["component"] == "mobile_app_web_service"

    junit = ET.parse(paths["xml"]).getroot()
    cases = junit.findall("./testsuite/testcase")
    assert len(cases) == 2
    failures = junit.findall("./testsuite/testcase/failure")
    assert len(failures) == 1 and failures[0].get("message") == "PRIVATE_CA"
    assert failures[0].text.count("PRIVATE_CA: ends at <Contoso> root") == 1, (
        "the two views' same finding is one"
    )

    page = Path(paths["html"]).read_text()
    assert "<Contoso>" not in page
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
        "host,site,binding,component,public_name,issuer,not_after,verdict,codes,protocols,cipher"
    ), "the existing columns keep their places"
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
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "<th>protocols</th><th>cipher</th><th>fix</th>" in head
    assert "<td>TLSv1 TLSv1.2</td><td>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</td>" in page


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
