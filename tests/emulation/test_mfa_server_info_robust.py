"""mfa_server_info reports the host even when one IIS application cannot be read.

A scenario FILE gives the Mobile App Web Service an empty physical path (Join-Path refuses it: on Windows
the whole module died) and the Web Service SDK a web.config that does not parse. Both are reported with a
`skipped_reason` and a warning; the User Portal and the rest of the host are reported as usual. Order and
dates do not depend on the host's culture (static checks of the .ps1).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.lab_harness import ROOT, Lab, running_lab
from tests.support.return_schema import documented

MODULE = "mfa_server.tls.mfa_server_info"
# The body of mfa_server_info (and of host_tls_info) lives in this module util; the .ps1 only calls it.
PS1 = ROOT / "plugins" / "module_utils" / "_MfaServerReport.psm1"
PARSE_ERROR = "Data at the root level is invalid. Line 1, position 1."
SECRET = "Robust-Secret-0815!"


def component(name: str, path: str, folder: str, settings: dict, **extra) -> dict:
    return {
        "component": name,
        "site": "Default Web Site",
        "virtual_path": path,
        "physical_path": folder,
        "app_pool": "MultiFactorAuthAppPool",
        "marker_file_present": True,
        "web_config": {"present": True, "settings": settings},
        **extra,
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("mfa-info-robust")
    portal = {
        "USE_WEB_SERVICE_SDK": "true",
        "pfup_pfwssdk_PfWsSdk": "http://localhost:4898/PfWsSdk.asmx",
        "WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD": SECRET,
        "Zeta": "1",
        "alpha": "1",
    }
    components = [
        component("user_portal", "/MultiFactorAuth", "C:\\inetpub\\wwwroot\\MultiFactorAuth", portal),
        component("user_portal", "/mfaPortal", "C:\\inetpub\\wwwroot\\mfaPortal", portal),
        component(
            "mobile_app_web_service", "/MultiFactorAuthMobileAppWebService", "", {"SSL_REQUIRED": "true"}
        ),
        component(
            "web_service_sdk",
            "/MultiFactorAuthWebServiceSdk",
            "C:\\inetpub\\wwwroot\\MultiFactorAuthWebServiceSdk",
            {"WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD": SECRET},
        ),
    ]
    components[3]["web_config"]["error"] = PARSE_ERROR
    scenario = directory / "scenario.json"
    scenario.write_text(
        json.dumps({"base": "private-ca", "hosts": {"*": {"mfa": {"components": components}}}})
    )
    with running_lab(directory / "lab", 1, str(scenario)) as running:
        yield running


def valid(result: dict) -> dict:
    return documented("mfa_server_info", result)


def test_unreadable_applications_are_skipped_with_a_reason(lab):
    result = valid(lab.module("mfa01", MODULE))
    assert not result["failed"], result.get("msg")
    assert result["installed"] and result["version"] == "7.3.0.3" and result["service"]["found"]
    by_path = {c["virtual_path"]: c for c in result["components"]}
    assert len(by_path) == 4

    mobile = by_path["/MultiFactorAuthMobileAppWebService"]
    assert mobile["component"] == "mobile_app_web_service" and mobile["physical_path"] == ""
    assert "no physical path" in mobile["skipped_reason"] and "Basic Settings" in mobile["skipped_reason"]
    assert mobile["marker_file_present"] is None and mobile["web_config"]["present"] is False
    assert mobile["web_config"]["app_setting_keys"] == []

    sdk = by_path["/MultiFactorAuthWebServiceSdk"]
    assert PARSE_ERROR in sdk["skipped_reason"] and "web.config" in sdk["skipped_reason"]
    assert sdk["web_config"]["present"] is False and sdk["web_config"]["sdk_password_set"] is False

    portal = by_path["/MultiFactorAuth"]
    assert portal["skipped_reason"] is None and portal["web_config"]["present"]
    assert portal["web_config"]["sdk_password_set"] is True

    warnings = " ".join(result.get("warnings") or [])
    assert "no physical path" in warnings and PARSE_ERROR in warnings
    assert SECRET not in json.dumps(result)


def test_order_is_ordinal(lab):
    result = lab.module("mfa01", MODULE)
    paths = [c["virtual_path"] for c in result["components"]]
    # ordinal: upper case before lower case ("/M..." < "/m..."); a culture sort would put /mfaPortal first
    assert paths == sorted(paths) and paths.index("/MultiFactorAuth") < paths.index("/mfaPortal")
    keys = next(c for c in result["components"] if c["virtual_path"] == "/MultiFactorAuth")["web_config"][
        "app_setting_keys"
    ]
    assert keys == [
        "USE_WEB_SERVICE_SDK",
        "WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD",
        "Zeta",
        "alpha",
        "pfup_pfwssdk_PfWsSdk",
    ]


def test_ps1_guards_each_application_and_sorts_ordinally():
    source = PS1.read_text()
    assert "Sort-Object" not in source
    assert source.count("[System.StringComparer]::Ordinal") >= 2
    assert "skipped_reason" in source and "IsNullOrWhiteSpace($folder)" in source
    for call in re.findall(r"\.ToString\(([^)]*)\)", source):
        assert call == "" or "InvariantCulture" in call, call
    assert (
        "ParseExact($endOfSupport, 'yyyy-MM-dd', [System.Globalization.CultureInfo]::InvariantCulture)"
        in source
    )
