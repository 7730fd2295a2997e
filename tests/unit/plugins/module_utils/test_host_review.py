"""Endpoints from IIS and MFA Server facts, and the chain Schannel sends from LocalMachine\\CA."""

from __future__ import annotations

import base64

from ansible_collections.mfa_server.tls.plugins.module_utils.host_review import endpoints, sent_chain_der
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
