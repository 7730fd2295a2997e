# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan by the names that really reach each binding: who would lose a name, what a verification probes, and
each target's verdict before the change."""

from __future__ import annotations

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import routing
from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import PlanError, plan_change

OLD, INTERNAL, NEW = "A" * 40, "B" * 40, "C" * 40
PUBLIC = "mfa.contoso.com"
SDK_NAME = "mfa-sdk.corp.contoso.com"
SDK_URL = f"https://{SDK_NAME}/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
MOBILE_SETTING = "pfMobile App Web Service_pfwssdk_PfWsSdk"


def _endpoint(
    site, binding, component, name, thumbprint, callers, *, codes=("PRIVATE_CA",), alone=True, dns_names=()
):
    return {
        "site": site,
        "binding_information": binding,
        "component": component,
        "compliant": False,
        "ccs": False,
        "http_sys_key": "ipport=0.0.0.0:443" if binding == "*:443:" else f"hostnameport={PUBLIC}:443",
        "public_name": name or PUBLIC,
        "url": f"https://{name or PUBLIC}/{component}",
        "address": "127.0.0.1:10443",
        "reached_by": [dict(c, name=name) for c in callers],
        "routing": {"name": name, "alone": alone},
        "certificate": {"thumbprint": thumbprint, "store_name": "My", "dns_names": list(dns_names)},
        "server_side": {"findings": []},
        "phone": {"findings": [{"code": code, "severity": "error"} for code in codes]},
        "codes": list(codes),
    }


PHONES = {"kind": routing.PUBLIC, "who": "phones", "url": None, "setting": None}
MOBILE = {
    "kind": routing.CONFIGURATION,
    "who": "the Mobile App Web Service",
    "url": SDK_URL,
    "setting": MOBILE_SETTING,
}
PORTAL = "Default Web Site", f"*:443:{PUBLIC}"
SDK = "MFA SDK", "*:443:"


def _review(*extra):
    return {
        "endpoints": [
            _endpoint(*PORTAL, "user_portal", PUBLIC, OLD, [PHONES], dns_names=[PUBLIC]),
            _endpoint(
                *PORTAL,
                "mobile_app_web_service",
                PUBLIC,
                OLD,
                [PHONES],
                codes=("PRIVATE_CA", "HTTP_NOT_FOUND"),
                dns_names=[PUBLIC],
            ),
            _endpoint(*SDK, "web_service_sdk", SDK_NAME, INTERNAL, [MOBILE], dns_names=[SDK_NAME]),
            *extra,
        ],
        "http_sys_entries": [],
    }


def _keys(items):
    return [(b["site"], b["binding_information"]) for b in items]


def test_the_sdk_catch_all_called_by_its_internal_name_is_left_alone_saying_who_calls_it():
    plan = plan_change(_review(), NEW, [PUBLIC])
    assert _keys(plan["bindings"]) == [PORTAL]
    (left,) = plan["left_alone"]
    assert (left["site"], left["binding_information"]) == SDK
    assert left["reason"] == (
        f"the Mobile App Web Service calls it as {SDK_URL} (web.config '{MOBILE_SETTING}'), a name its certificate "
        "names and the new certificate does not"
    )


def test_a_named_caller_fails_an_explicit_binding_before_anything_changes():
    with pytest.raises(PlanError, match=f"the Mobile App Web Service calls it as {SDK_URL}"):
        plan_change(_review(), NEW, [PUBLIC], bindings=[{"site": SDK[0], "binding_information": SDK[1]}])


def test_each_target_reaches_its_binding_alone_and_carries_its_verdict_before_the_change():
    plan = plan_change(_review(), NEW, [PUBLIC])
    assert [t["url"] for t in plan["verify_targets"]] == [
        f"https://{PUBLIC}/user_portal",
        f"https://{PUBLIC}/mobile_app_web_service",
    ]
    assert all(t["send_name"] for t in plan["verify_targets"])
    assert plan["verify_baseline"] == [
        {"url": f"https://{PUBLIC}/user_portal", "codes": ["PRIVATE_CA"]},
        {"url": f"https://{PUBLIC}/mobile_app_web_service", "codes": ["HTTP_NOT_FOUND", "PRIVATE_CA"]},
    ]
    assert plan["previous_thumbprints"] == [OLD, OLD]


def test_a_binding_no_name_reaches_is_verified_without_a_name_and_one_reached_only_through_another_entry_is_not():
    unnamed = _endpoint("Portal", "[fd00::1]:443:", None, None, OLD, [])
    plan = plan_change(_review(unnamed), NEW, [PUBLIC])
    assert ("Portal", "[fd00::1]:443:") in _keys(plan["bindings"])
    assert plan["verify_targets"][-1]["send_name"] is False

    hidden = _endpoint("Portal", "[fd00::1]:443:", None, PUBLIC, OLD, [PHONES], alone=False)
    plan = plan_change(_review(hidden), NEW, [PUBLIC])
    reasons = {(s["site"], s["binding_information"]): s["reason"] for s in plan["left_alone"]}
    assert reasons[("Portal", "[fd00::1]:443:")].startswith(
        "no name the new certificate names reaches it alone"
    )


def test_a_name_the_configuration_calls_that_no_certificate_names_does_not_hold_the_change_back():
    """The SDK URL names the host by a name its certificate does not cover (SDK_URL_UNSAFE already fails it):
    the change takes nothing from that caller, and the phones' name still gets its certificate."""
    review = _review()
    review["endpoints"][2] = _endpoint(
        *SDK, "web_service_sdk", SDK_NAME, INTERNAL, [MOBILE], dns_names=[PUBLIC]
    )
    review["endpoints"].append(_endpoint(*SDK, "user_portal", PUBLIC, INTERNAL, [PHONES], dns_names=[PUBLIC]))
    plan = plan_change(review, NEW, [PUBLIC])
    assert SDK in _keys(plan["bindings"]) and plan["left_alone"] == []
    # The verification probes by the name the new certificate names, not by the caller's.
    assert f"https://{SDK_NAME}/web_service_sdk" not in [t["url"] for t in plan["verify_targets"]]
