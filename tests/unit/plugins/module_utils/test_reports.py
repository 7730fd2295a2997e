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
