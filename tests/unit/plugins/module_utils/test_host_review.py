"""Endpoints from IIS and MFA Server facts, and the chain Schannel sends from LocalMachine\\CA."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import routing
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import finding
from ansible_collections.mfa_server.tls.plugins.module_utils.host_review import (
    Endpoint,
    _for_its_callers,
    endpoints,
    sent_chain_der,
)
from tests.support.chains import LabPKI

LAB = LabPKI()


def _binding(info: str, port: int, host: str = "", thumbprint: str = "AB" * 20, ssl_flags: int = 0) -> dict:
    return {
        "binding_information": info,
        "port": port,
        "host": host,
        "ccs": bool(ssl_flags & 2),
        "certificate_hash": thumbprint,
        "certificate_store_name": "My",
        "http_sys_key": f"ipport=0.0.0.0:{port}",
    }


IIS = {
    "sites": [
        {
            "name": "Default Web Site",
            "bindings": [
                _binding("*:443:", 443),
                _binding("*:443:mfa.contoso.com", 443, "mfa.contoso.com", ssl_flags=1),
            ],
        },
        {"name": "Intranet", "bindings": [_binding("*:8443:", 8443)]},
    ]
}
MFA = {
    "components": [
        {
            "component": "mobile_app_web_service",
            "site": "Default Web Site",
            "virtual_path": "/MultiFactorAuthMobileAppWebService",
            "https_bindings": ["*:443:"],
        },
        {
            "component": "user_portal",
            "site": "Default Web Site",
            "virtual_path": "/MultiFactorAuth/",
            "https_bindings": ["*:443:", "*:443:mfa.contoso.com"],
        },
    ]
}


def test_one_endpoint_per_binding_and_component_it_serves():
    found = [
        (e.site, e.binding_information, e.component, e.url) for e in endpoints(IIS, MFA, "mfa.contoso.com")
    ]
    assert found == [
        (
            "Default Web Site",
            "*:443:",
            "mobile_app_web_service",
            "https://mfa.contoso.com/MultiFactorAuthMobileAppWebService/PfPaWs.asmx",
        ),
        ("Default Web Site", "*:443:", "user_portal", "https://mfa.contoso.com/MultiFactorAuth/"),
        (
            "Default Web Site",
            "*:443:mfa.contoso.com",
            "user_portal",
            "https://mfa.contoso.com/MultiFactorAuth/",
        ),
        ("Intranet", "*:8443:", None, "https://mfa.contoso.com:8443/"),
    ]


def test_a_binding_with_a_host_name_is_reached_by_it():
    iis = {
        "sites": [
            {"name": "S", "bindings": [_binding("*:443:portal.contoso.com", 443, "portal.contoso.com")]}
        ]
    }
    assert endpoints(iis, {}, "mfa.contoso.com")[0].public_name == "portal.contoso.com"


def test_schannel_sends_only_the_intermediates_in_the_ca_store():
    leaf = LAB.leaf()
    windows_chain = [leaf, LAB.public_ca, LAB.public_root]
    certificate = {
        "der_b64": base64.b64encode(leaf.der()).decode(),
        "chain_der_b64": [base64.b64encode(i.der()).decode() for i in windows_chain],
        "intermediates": [{"thumbprint": LAB.public_ca.sha1, "in_ca_store": True}],
    }
    assert sent_chain_der(certificate) == [leaf.der(), LAB.public_ca.der()]
    certificate["intermediates"][0]["in_ca_store"] = False
    assert sent_chain_der(certificate) == [leaf.der()]


SDK_URL = "https://mfa-sdk.corp.contoso.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
SDK_THUMBPRINT = "CD" * 20


def _sdk_endpoint(*kinds: str) -> Endpoint:
    callers = {
        routing.CONFIGURATION: routing.Caller(routing.CONFIGURATION, "the Mobile App Web Service", SDK_URL),
        routing.PUBLIC: routing.Caller(routing.PUBLIC, "phones"),
    }
    return Endpoint(
        site="MFA SDK",
        binding_information="*:443:",
        port=443,
        public_name="mfa-sdk.corp.contoso.com",
        path="/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx",
        component="web_service_sdk",
        thumbprint=SDK_THUMBPRINT,
        store_name="My",
        ccs=False,
        http_sys_key="ipport=0.0.0.0:443",
        http_sys_status="ok",
        served_by="",
        reached_by=tuple(callers[k].as_dict("mfa-sdk.corp.contoso.com") for k in kinds),
    )


def _views(served: str = SDK_THUMBPRINT) -> tuple[list[dict], dict]:
    private = finding("PRIVATE_CA", "issued by Contoso Root").as_dict()
    expired = finding("EXPIRED", "expired on 2026-01-01").as_dict()
    phone = {
        "presented_chain": [{"sha1": served.lower()}],
        "findings": [private, expired, finding("CT_MISSING", "no SCTs").as_dict()],
        "compliant": False,
    }
    return [private], phone


@pytest.mark.parametrize("trusted_by_windows", [True, False])
def test_a_binding_only_the_mfa_components_call_is_judged_by_what_windows_trusts(trusted_by_windows):
    server, phone = _views()
    certificate = {"chain_trusted": trusted_by_windows, "issuer": "CN=Contoso Root"}
    judged = _for_its_callers(_sdk_endpoint(routing.CONFIGURATION), certificate, server, phone)
    phone_codes = [f["code"] for f in phone["findings"]]
    if not trusted_by_windows:  # its callers refuse it as a phone would
        assert [f["code"] for f in judged] == ["PRIVATE_CA"]
        assert phone_codes == ["PRIVATE_CA", "EXPIRED", "CT_MISSING"]
        return
    (note,) = judged
    assert (note["code"], note["severity"]) == ("CALLED_ONLY_BY_MFA_SERVER", "info")
    assert f"the Mobile App Web Service as {SDK_URL}" in note["message"]
    assert "CT_MISSING, PRIVATE_CA do not apply" in note["message"]
    # What its callers check themselves still counts: an expired certificate fails them too.
    assert phone_codes == ["EXPIRED"] and phone["compliant"] is False


def test_a_binding_phones_also_reach_keeps_the_phone_rules():
    server, phone = _views()
    certificate = {"chain_trusted": True}
    endpoint = _sdk_endpoint(routing.CONFIGURATION, routing.PUBLIC)
    assert _for_its_callers(endpoint, certificate, server, phone) == server
    assert "PRIVATE_CA" in [f["code"] for f in phone["findings"]]


def test_another_certificate_answering_keeps_the_phone_rules():
    server, phone = _views(served="EF" * 20)
    assert (
        _for_its_callers(_sdk_endpoint(routing.CONFIGURATION), {"chain_trusted": True}, server, phone)
        == server
    )
