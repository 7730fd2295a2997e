"""The MFA Server's own path to the Web Service SDK, judged by the real tls_facts action against the lab.

Each `sdk-*` scenario breaks the private-ca host's SDK path one way; the emulated PfPaWs.asmx answers the SOAP call
TestPfWsSdkConnection from the host's own state (lab.mfa_sdk), so the findings come from two independent
sides: the controller's judgement of the facts (SDK_URL_UNSAFE) and the service's own answer
(SDK_CONNECTION_FAILED). The default scenarios' SDK path works.
"""

from __future__ import annotations

import json

import pytest

from tests.support.lab_harness import Lab, running_lab
from tests.support.return_schema import documented

FACTS = "mfa_server.tls.tls_facts"
SERVICE = "https://mfa01.lab.example/MultiFactorAuthMobileAppWebService/PfPaWs.asmx"
TRUST_FAILURE = "Could not establish trust relationship for the SSL/TLS secure channel."


def judge(lab: Lab, host: str = "mfa01", **options) -> dict:
    hostvars = lab.hostvars(host)
    args = {
        "public_name": hostvars["mfa_tls_public_name"],
        "probe_addresses": hostvars["mfa_tls_probe_addresses"],
        "trust_bundle": str(lab.dir / "trust" / "public-roots.pem"),
        "fetch_aia": False,
        "check_sdk_connection": True,
        **options,
    }
    result = lab.module(host, FACTS, args)
    assert not result["failed"], result.get("msg")
    return result["ansible_facts"]["mfa_tls"]


def codes(review: dict) -> list[str]:
    return sorted(f["code"] for f in review["mfa_findings"])


@pytest.mark.parametrize(
    ("scenario", "unsafe", "answer"),
    [
        (
            "sdk-localhost",
            "no http binding of the Web Service SDK's site listens on port 4898",
            "Unable to connect",
        ),
        ("sdk-ip", "it names the SDK by '10.20.0.2'", TRUST_FAILURE),
        ("sdk-http-remote", "http:// to another host (10.20.9.10)", "Unable to connect to the remote server"),
        ("sdk-name-uncovered", "names mfa01.lab.example, mfa01.corp.contoso.com, not mfa01", TRUST_FAILURE),
    ],
)
def test_an_unsafe_sdk_url_is_found_from_the_facts_and_by_the_service(tmp_path, scenario, unsafe, answer):
    with running_lab(tmp_path / "lab", 1, scenario) as lab:
        review = judge(lab)
    # Both SDK clients (the User Portal has USE_WEB_SERVICE_SDK true) carry the same URL.
    assert codes(review) == [
        "MFA_SERVER_RETIRED",
        "SDK_CONNECTION_FAILED",
        "SDK_URL_UNSAFE",
        "SDK_URL_UNSAFE",
    ]
    found = {f["where"]: f for f in review["mfa_findings"]}
    mobile = found[
        "Default Web Site/MultiFactorAuthMobileAppWebService pfMobile App Web Service_pfwssdk_PfWsSdk"
    ]
    assert mobile["code"] == "SDK_URL_UNSAFE" and unsafe in mobile["message"]
    assert found[SERVICE]["code"] == "SDK_CONNECTION_FAILED" and answer in found[SERVICE]["message"]
    assert not review["compliant"]
    assert f"{SERVICE}: SDK_CONNECTION_FAILED" in review["problems"]


@pytest.mark.parametrize(
    ("scenario", "answer"),
    [
        ("sdk-credentials", "The request failed with HTTP status 401: Unauthorized."),
        ("sdk-service-down", "could not connect to the Multi-Factor Authentication Server service"),
    ],
)
def test_a_safe_url_whose_call_fails_is_found_by_the_service_alone(tmp_path, scenario, answer):
    with running_lab(tmp_path / "lab", 1, scenario) as lab:
        review = judge(lab)
        secret = next(
            c["web_config"]["settings"]["WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD"]
            for c in lab.raw_state("mfa01")["mfa"]["components"]
            if c["component"] == "mobile_app_web_service"
        )
    assert codes(review) == ["MFA_SERVER_RETIRED", "SDK_CONNECTION_FAILED"]
    (failed,) = [f for f in review["mfa_findings"] if f["code"] == "SDK_CONNECTION_FAILED"]
    assert failed["where"] == SERVICE and answer in failed["message"]
    assert secret not in json.dumps(review)


def test_the_default_scenarios_sdk_path_works_and_only_the_retirement_is_reported(traps_lab):
    """The compliant traps host passes with the SDK test on; the trap host's SDK URL lands on its SNI binding,
    whose certificate names the public name (the host trusts its private CA), and its test succeeds too."""
    compliant = judge(traps_lab, "mfa02")
    assert codes(compliant) == ["MFA_SERVER_RETIRED"] and compliant["compliant"] is True
    assert codes(judge(traps_lab, "mfa01")) == ["MFA_SERVER_RETIRED"]
    assert judge(traps_lab, "mfa03")["mfa_findings"] == []  # IIS without MFA Server


def test_a_console_url_on_the_old_directory_name_is_component_url_not_found(private_ca_lab):
    old = "https://mfa01.lab.example/PhoneFactorPhoneAppWebService/"
    review = judge(private_ca_lab, mobile_app_web_service_url=old)
    assert codes(review) == ["COMPONENT_URL_NOT_FOUND", "MFA_SERVER_RETIRED"]
    (found,) = [f for f in review["mfa_findings"] if f["code"] == "COMPONENT_URL_NOT_FOUND"]
    assert found["where"] == f"Mobile App Web Service URL {old}"
    assert "installed at /MultiFactorAuthMobileAppWebService of site 'Default Web Site'" in found["message"]
    current = "https://mfa01.lab.example/MultiFactorAuthMobileAppWebService/"
    assert codes(judge(private_ca_lab, mobile_app_web_service_url=current)) == ["MFA_SERVER_RETIRED"]


def test_a_console_url_on_the_new_name_while_the_old_directory_stayed(tmp_path):
    with running_lab(tmp_path / "lab", 1, "mobile-vdir-old-name") as lab:
        review = judge(
            lab, mobile_app_web_service_url="https://mfa01.lab.example/MultiFactorAuthMobileAppWebService/"
        )
    assert codes(review) == ["COMPONENT_URL_NOT_FOUND", "MFA_SERVER_RETIRED"]
    assert "installed at /PhoneFactorPhoneAppWebService" in next(
        f["message"] for f in review["mfa_findings"] if f["code"] == "COMPONENT_URL_NOT_FOUND"
    )


def test_a_console_url_that_is_not_https_fails_the_task(private_ca_lab):
    result = private_ca_lab.module(
        "mfa01", FACTS, {"mobile_app_web_service_url": "http://mfa01.lab.example/PA/"}
    )
    assert result["failed"] and "is not an https:// URL" in result["msg"]


def test_mfa_server_info_reports_where_each_sdk_url_leads(tmp_path):
    with running_lab(tmp_path / "lab", 1, "sdk-http-remote") as lab:
        result = documented("mfa_server_info", lab.module("mfa01", "mfa_server.tls.mfa_server_info"))
    by_kind = {c["component"]: c for c in result["components"]}
    assert by_kind["mobile_app_web_service"]["sdk_url_resolution"] == {
        "host": "mfa-sdk.corp.contoso.com",
        "addresses": ["10.20.9.10"],
        "local": False,
        "error": None,
    }
    assert by_kind["web_service_sdk"]["sdk_url_resolution"] is None
    assert by_kind["web_service_sdk"]["http_bindings"] == ["*:80:"]
