"""The plan: default selection, narrowing, and what is left alone (and why) before anything changes."""

from __future__ import annotations

import re

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import PlanError, plan_change

OLD, OTHER, NEW = "A" * 40, "B" * 40, "C" * 40


def _endpoint(
    site,
    binding,
    thumbprint=OLD,
    component=None,
    compliant=False,
    host="mfa.contoso.com",
    key=None,
    ccs=False,
    server_codes=(),
):
    return {
        "server_side": {"findings": [{"code": code} for code in server_codes]},
        "site": site,
        "binding_information": binding,
        "component": component,
        "compliant": compliant,
        "public_name": host,
        "url": f"https://{host}/",
        "address": "127.0.0.1:10443",
        "ccs": ccs,
        "http_sys_key": key or f"ipport={site}:{binding}",
        "certificate": {"thumbprint": thumbprint, "store_name": "My" if thumbprint else ""},
    }


REVIEW = {
    "endpoints": [
        _endpoint("Default Web Site", "*:443:", component="mobile_app_web_service", key="ipport=0.0.0.0:443"),
        _endpoint("Default Web Site", "*:443:", component="user_portal", key="ipport=0.0.0.0:443"),
        _endpoint("Portal", "[fd00::1]:443:", key="ipport=[fd00::1]:443"),
        _endpoint("Portal", "10.0.0.2:8443:", key="ipport=10.0.0.2:8443"),
        _endpoint("Reports", "10.0.0.2:8443:reports.corp", host="reports.corp", key="ipport=10.0.0.2:8443"),
        _endpoint("Intranet", "*:443:intranet", thumbprint="", host="intranet", key="ccs=443", ccs=True),
        _endpoint("Other", "*:4443:", thumbprint=OTHER, key="ipport=0.0.0.0:4443"),
    ],
    # As discovery read them: the undo restores these exactly (a hand-set check mode and flags included).
    "http_sys_entries": [
        {
            "key": "ipport=0.0.0.0:443",
            "certificate_hash": OLD,
            "certificate_store_name": "",
            "app_id": "{4dc3e181-e14b-4a21-b022-59fc669b0914}",
            "default_flags": 1024,
            "cert_check_mode": 1,
            "revocation_freshness_time": 0,
            "revocation_url_retrieval_timeout": 0,
            "ctl_identifier": "",
            "ctl_store_name": "",
        }
    ],
}
SANS = ["mfa.contoso.com"]


def _keys(bindings):
    return [(b["site"], b["binding_information"]) for b in bindings]


def test_default_plan_takes_mfa_bindings_and_their_certificate_and_says_what_it_leaves():
    plan = plan_change(REVIEW, NEW, SANS)
    assert _keys(plan["bindings"]) == [("Default Web Site", "*:443:"), ("Portal", "[fd00::1]:443:")]
    reasons = {(s["site"], s["binding_information"]): s["reason"] for s in plan["left_alone"]}
    assert "does not name reports.corp" in reasons[("Reports", "10.0.0.2:8443:reports.corp")]
    assert "shares the HTTP.sys entry ipport=10.0.0.2:8443" in reasons[("Portal", "10.0.0.2:8443:")]
    assert ("Other", "*:4443:") not in reasons and ("Intranet", "*:443:intranet") not in reasons
    # The undo: the wildcard entry exactly as read; the IPv6 binding had no entry, so the undo deletes it.
    assert plan["rollback"] == [
        {"exists": True, **REVIEW["http_sys_entries"][0]},
        {
            "key": "ipport=[fd00::1]:443",
            "exists": False,
            **dict.fromkeys(REVIEW["http_sys_entries"][0]) | {"key": "ipport=[fd00::1]:443"},
        },
    ]
    assert len(plan["verify_targets"]) == len(plan["previous_thumbprints"]) == 3
    assert [t["check_http_status"] for t in plan["verify_targets"]] == [True, True, False]
    assert plan["diff"]["after"].count(NEW) == 2


@pytest.mark.parametrize(
    ("code", "reason"),
    [("OVERRIDDEN_BY_HIDDEN_ENTRY", "hidden HTTP.sys entry"), ("FOREIGN_APP_ID", "owned by another program")],
)
def test_a_binding_whose_entry_another_program_holds_or_hides_is_left_alone(code, reason):
    review = {
        "endpoints": [
            _endpoint(
                "Default Web Site",
                "*:443:",
                component="user_portal",
                key="ipport=0.0.0.0:443",
                server_codes=[code],
            )
        ]
    }
    plan = plan_change(review, NEW, SANS)
    assert plan["bindings"] == []
    assert reason in plan["left_alone"][0]["reason"]
    with pytest.raises(PlanError, match=reason):
        plan_change(
            review, NEW, SANS, bindings=[{"site": "Default Web Site", "binding_information": "*:443:"}]
        )


def test_a_certificate_covering_every_name_takes_the_shared_entry_whole():
    plan = plan_change(REVIEW, NEW, ["mfa.contoso.com", "reports.corp"])
    assert ("Portal", "10.0.0.2:8443:") in _keys(plan["bindings"])
    assert ("Reports", "10.0.0.2:8443:reports.corp") in _keys(plan["bindings"])


def test_bindings_already_on_the_new_certificate_are_not_planned():
    done = {
        "endpoints": [
            dict(e, certificate={"thumbprint": NEW, "store_name": "My"}) for e in REVIEW["endpoints"][:2]
        ]
    }
    assert plan_change(done, NEW, SANS)["bindings"] == []


def test_sites_narrow_the_plan():
    assert _keys(plan_change(REVIEW, NEW, SANS, sites=["Portal"])["bindings"]) == [
        ("Portal", "[fd00::1]:443:")
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sites": ["Nope"]}, "Site 'Nope' has no HTTPS binding"),
        (
            {"bindings": [{"site": "Portal", "binding_information": "*:9:"}]},
            "No HTTPS binding '*:9:' on site 'Portal'",
        ),
        (
            {"bindings": [{"site": "Intranet", "binding_information": "*:443:intranet"}]},
            "Central Certificate Store",
        ),
        (
            {"bindings": [{"site": "Portal", "binding_information": "10.0.0.2:8443:"}]},
            "shares the HTTP.sys entry",
        ),
        (
            {"bindings": [{"site": "Reports", "binding_information": "10.0.0.2:8443:reports.corp"}]},
            "does not name",
        ),
    ],
)
def test_mistakes_and_impossible_explicit_bindings_fail_before_any_change(kwargs, message):
    with pytest.raises(PlanError, match=re.escape(message)):
        plan_change(REVIEW, NEW, SANS, **kwargs)
