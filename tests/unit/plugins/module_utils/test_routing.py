# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which names reach each binding (IIS routing, HTTP.sys entry selection), one rule for the controller and the lab."""

from __future__ import annotations

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import iis_bindings, routing
from ansible_collections.mfa_server.tls.plugins.module_utils.host_review import endpoints

PUBLIC = "mfa.contoso.com"
SDK_NAME = "mfa-sdk.corp.contoso.com"
SDK_URL = f"https://{SDK_NAME}/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
HOST_IP = "10.0.0.5"


def _binding(info: str, ssl_flags: int = 0, thumbprint: str = "AA" * 20) -> dict:
    key = iis_bindings.derive_key(info, ssl_flags).key
    _ip, port, host = iis_bindings.parse_binding_information(info)
    return {
        "binding_information": info,
        "port": port,
        "host": host,
        "ssl_flags": ssl_flags,
        "ccs": bool(ssl_flags & 2),
        "certificate_hash": thumbprint,
        "certificate_store_name": "My",
        "http_sys_key": key,
        "http_sys_status": "ok",
    }


def _entry(key: str, thumbprint: str = "AA" * 20) -> dict:
    return {"key": key, "certificate_hash": thumbprint, "certificate_store_name": "MY"}


def _component(
    kind: str, site: str, vdir: str, bindings: list[str], sdk_url: str | None = None, **config
) -> dict:
    setting = {
        "mobile_app_web_service": "pfMobile App Web Service_pfwssdk_PfWsSdk",
        "user_portal": "pfup_pfwssdk_PfWsSdk",
    }
    return {
        "component": kind,
        "site": site,
        "virtual_path": vdir,
        "https_bindings": bindings,
        "web_config": {"sdk_url": sdk_url, "sdk_url_key": setting.get(kind), **config},
        "sdk_url_resolution": {"host": SDK_NAME, "addresses": [HOST_IP], "local": True, "error": None}
        if sdk_url
        else None,
    }


# The case: the SDK alone on the catch-all, called by its internal name; an SNI binding takes the
# public name on the same port for the User Portal and the Mobile App Web Service.
IIS = {
    "sites": [
        {"name": "Default Web Site", "bindings": [_binding(f"*:443:{PUBLIC}", 1, "BB" * 20)]},
        {"name": "MFA SDK", "bindings": [_binding("*:443:")]},
    ],
    "http_sys": [_entry(f"hostnameport={PUBLIC}:443", "BB" * 20), _entry("ipport=0.0.0.0:443")],
    "certificates": [],
}
MFA = {
    "components": [
        _component(
            "user_portal",
            "Default Web Site",
            "/MultiFactorAuth",
            [f"*:443:{PUBLIC}"],
            SDK_URL,
            use_web_service_sdk="true",
        ),
        _component(
            "mobile_app_web_service",
            "Default Web Site",
            "/MultiFactorAuthMobileAppWebService",
            [f"*:443:{PUBLIC}"],
            SDK_URL,
        ),
        _component("web_service_sdk", "MFA SDK", "/MultiFactorAuthWebServiceSdk", ["*:443:"]),
    ]
}


def _reaches(iis: dict | None = None, mfa: dict | None = None) -> dict:
    iis, mfa = (IIS if iis is None else iis), (MFA if mfa is None else mfa)
    return {
        key: [(r.name, r.entry, r.alone, [c.who for c in r.callers]) for r in found]
        for key, found in routing.reaches(iis, mfa, PUBLIC).items()
    }


def test_iis_routes_to_the_exact_host_then_the_blank_host_binding_a_specific_address_first():
    table = [("A", "*:443:"), ("B", f"*:443:{PUBLIC}"), ("C", f"{HOST_IP}:443:"), ("D", "*:8443:")]
    assert routing.route(table, 443, PUBLIC, HOST_IP) == ("B", f"*:443:{PUBLIC}")
    assert routing.route(table, 443, "other.contoso.com", HOST_IP) == ("C", f"{HOST_IP}:443:")
    # An address no binding names: only `*` bindings take it.
    assert routing.route(table, 443, "other.contoso.com", None) == ("A", "*:443:")
    assert routing.route(table, 8443, PUBLIC, None) == ("D", "*:8443:")
    assert routing.route(table, 9443, PUBLIC, None) is None
    assert routing.request_host("MFA.contoso.com:8443") == "mfa.contoso.com"
    assert routing.request_host("[fd00::1]:443") == ""


def test_the_public_name_does_not_reach_a_catch_all_when_an_sni_binding_on_its_port_takes_it():
    found = _reaches()
    assert found[("Default Web Site", f"*:443:{PUBLIC}")] == [
        (PUBLIC, f"hostnameport={PUBLIC}:443", True, ["phones"])
    ]
    # The catch-all is reached by the name its callers use, through the wildcard entry, and by nothing else.
    assert found[("MFA SDK", "*:443:")] == [
        (SDK_NAME, "ipport=0.0.0.0:443", True, ["the Mobile App Web Service", "the User Portal"])
    ]


def test_the_public_name_reaches_a_blank_host_binding_no_host_binding_takes_it_from():
    iis = {
        "sites": [{"name": "Default Web Site", "bindings": [_binding("*:443:")]}],
        "http_sys": [_entry("ipport=0.0.0.0:443")],
    }
    assert _reaches(iis, {}) == {
        ("Default Web Site", "*:443:"): [(PUBLIC, "ipport=0.0.0.0:443", True, ["phones"])]
    }


def test_an_sdk_url_to_another_host_or_over_http_reaches_no_binding_here():
    for resolution in ({"addresses": ["10.9.9.9"], "local": False}, {"addresses": [], "local": None}):
        mfa = {"components": [dict(c, sdk_url_resolution=resolution) for c in MFA["components"]]}
        assert _reaches(IIS, mfa)[("MFA SDK", "*:443:")] == []
    plain = {
        "components": [
            dict(c, web_config=dict(c["web_config"], sdk_url=SDK_URL.replace("https", "http")))
            for c in MFA["components"]
        ]
    }
    assert _reaches(IIS, plain)[("MFA SDK", "*:443:")] == []


def test_a_name_whose_tls_lands_on_another_entry_does_not_reach_the_binding_alone():
    """An HTTP.sys entry for the public name with no IIS binding (left by netsh) serves the TLS connection,
    while IIS routes the request to the catch-all: a probe by that name judges another entry's certificate."""
    iis = dict(IIS, sites=[IIS["sites"][1]], http_sys=[*IIS["http_sys"]])
    (reach,) = routing.reaches(iis, {}, PUBLIC)[("MFA SDK", "*:443:")]
    assert (reach.name, reach.entry, reach.alone) == (PUBLIC, f"hostnameport={PUBLIC}:443", False)


def test_a_binding_without_an_entry_is_reached_alone_by_the_entry_a_change_gives_it():
    binding = dict(_binding("*:8443:"), http_sys_status="missing")
    iis = {"sites": [{"name": "S", "bindings": [binding]}], "http_sys": []}
    (reach,) = routing.reaches(iis, {}, PUBLIC)[("S", "*:8443:")]
    assert (reach.entry, reach.alone) == ("", True)


def test_a_binding_no_known_name_reaches_is_reached_without_a_name_at_its_address():
    iis = {
        "sites": [
            {"name": "A", "bindings": [_binding("*:443:"), _binding(f"*:443:{PUBLIC}", 1)]},
            {"name": "B", "bindings": [_binding("[fd00::1]:443:")]},
        ],
        "http_sys": [
            _entry("ipport=0.0.0.0:443"),
            _entry(f"hostnameport={PUBLIC}:443"),
            _entry("ipport=[fd00::1]:443"),
        ],
    }
    found = routing.reaches(iis, {}, PUBLIC)
    assert found[("A", "*:443:")] == [] and found[("B", "[fd00::1]:443:")] == []
    catch_all = routing.unnamed(("A", "*:443:"), iis["sites"][0]["bindings"][0], iis, {})
    ipv6 = routing.unnamed(("B", "[fd00::1]:443:"), iis["sites"][1]["bindings"][0], iis, {})
    assert (catch_all.name, catch_all.address, catch_all.entry, catch_all.alone) == (
        None,
        None,
        "ipport=0.0.0.0:443",
        True,
    )
    assert (ipv6.name, ipv6.address, ipv6.entry, ipv6.alone) == (
        None,
        "fd00::1",
        "ipport=[fd00::1]:443",
        True,
    )


def test_endpoints_are_judged_by_the_names_that_reach_them_and_record_who_calls_them():
    found = {(e.site, e.component): e for e in endpoints(IIS, MFA, PUBLIC)}
    assert set(found) == {
        ("Default Web Site", "user_portal"),
        ("Default Web Site", "mobile_app_web_service"),
        ("MFA SDK", "web_service_sdk"),
    }
    sdk = found[("MFA SDK", "web_service_sdk")]
    assert sdk.url == SDK_URL and sdk.send_name and sdk.alone
    assert [(c["name"], c["who"], c["url"], c["setting"]) for c in sdk.reached_by] == [
        (SDK_NAME, "the Mobile App Web Service", SDK_URL, "pfMobile App Web Service_pfwssdk_PfWsSdk"),
        (SDK_NAME, "the User Portal", SDK_URL, "pfup_pfwssdk_PfWsSdk"),
    ]
    portal = found[("Default Web Site", "user_portal")]
    assert portal.url == f"https://{PUBLIC}/MultiFactorAuth/" and [c["who"] for c in portal.reached_by] == [
        "phones"
    ]


def test_a_binding_no_known_name_reaches_is_judged_for_the_public_name_and_probed_without_it():
    iis = {
        "sites": [{"name": "A", "bindings": [_binding("*:443:"), _binding(f"*:443:{PUBLIC}", 1)]}],
        "http_sys": [_entry("ipport=0.0.0.0:443"), _entry(f"hostnameport={PUBLIC}:443")],
    }
    (catch_all, sni) = endpoints(iis, {}, PUBLIC)
    assert (
        catch_all.binding_information,
        catch_all.public_name,
        catch_all.send_name,
        catch_all.reached_by,
    ) == ("*:443:", PUBLIC, False, ())
    assert (sni.binding_information, sni.send_name) == (f"*:443:{PUBLIC}", True)


def _reviewed(name, kind, callers=(), dns_names=(), alone=True, send_name=True):
    return {
        "public_name": name,
        "routing": {"name": name if send_name else None, "alone": alone},
        "reached_by": [
            {"name": name, "kind": k, "who": who, "url": url, "setting": setting}
            for k, who, url, setting in callers
        ]
        if callers
        else ([{"name": name, "kind": kind, "who": "phones", "url": None, "setting": None}] if kind else []),
        "certificate": {"dns_names": list(dns_names)},
    }


def _only(*names):
    return lambda name: name in names


SDK_CALLERS = (
    (
        routing.CONFIGURATION,
        "the Mobile App Web Service",
        SDK_URL,
        "pfMobile App Web Service_pfwssdk_PfWsSdk",
    ),
    (routing.CONFIGURATION, "the User Portal", SDK_URL, "pfup_pfwssdk_PfWsSdk"),
)


def test_a_name_the_configuration_calls_counts_when_the_current_certificate_names_it():
    called = [_reviewed(SDK_NAME, None, SDK_CALLERS, dns_names=[SDK_NAME])]
    (phrase,) = routing.names_left_out(called, _only(PUBLIC))
    assert phrase == (
        f"the Mobile App Web Service calls it as {SDK_URL} (web.config 'pfMobile App Web Service_pfwssdk_PfWsSdk') "
        f"and the User Portal as {SDK_URL} (web.config 'pfup_pfwssdk_PfWsSdk'), a name its certificate names and the "
        "new certificate does not"
    )
    # Named by neither certificate: the callers fail already (SDK_URL_UNSAFE), the change takes nothing from them.
    assert (
        routing.names_left_out([_reviewed(SDK_NAME, None, SDK_CALLERS, dns_names=[PUBLIC])], _only(PUBLIC))
        == []
    )
    assert routing.names_left_out(called, _only(PUBLIC, SDK_NAME)) == []


def test_the_public_name_and_host_names_must_be_named_by_the_new_certificate():
    assert routing.names_left_out([_reviewed("reports.corp", routing.HOST_NAME)], _only(PUBLIC)) == [
        "the new certificate does not name reports.corp"
    ]
    # A review made without routing: each endpoint reached by its public name, by phones.
    assert routing.names_left_out([{"public_name": "reports.corp"}], _only(PUBLIC)) == [
        "the new certificate does not name reports.corp"
    ]
    unnamed = _reviewed(PUBLIC, None, send_name=False)
    assert routing.names_left_out([unnamed], _only()) == []


@pytest.mark.parametrize(
    ("endpoint", "verifiable"),
    [
        (_reviewed(PUBLIC, routing.PUBLIC), True),
        (_reviewed(PUBLIC, routing.PUBLIC, alone=False), False),
        (_reviewed(SDK_NAME, None, SDK_CALLERS), False),  # the new certificate does not name it
        (_reviewed(PUBLIC, None, send_name=False), True),  # reached by address alone
    ],
)
def test_a_verification_uses_only_names_that_reach_the_binding_alone_and_that_the_new_certificate_names(
    endpoint, verifiable
):
    assert routing.verification_endpoints([endpoint], _only(PUBLIC)) == ([endpoint] if verifiable else [])
