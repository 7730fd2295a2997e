"""The scope: which endpoints count, waivers, hosts without MFA Server, and the one set compliance and remediation
share."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import reports, scope
from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import plan_change

TODAY = dt.date(2026, 12, 1)
PRIVATE, PUBLIC, OTHER = "A" * 40, "B" * 40, "C" * 40
MFA_73 = {"installed": True, "version": "7.3.0.3", "mobile_app_web_service_required": True, "components": []}


def _endpoint(
    site, binding, thumbprint=PRIVATE, component=None, errors=("PRIVATE_CA",), host="mfa.contoso.com"
):
    findings = [
        {"code": c, "severity": "error", "message": f"{c} here", "remediation": "fix"} for c in errors
    ]
    return {
        "site": site,
        "binding_information": binding,
        "component": component,
        "url": f"https://{host}/",
        "public_name": host,
        "address": "127.0.0.1:10443",
        "ccs": False,
        "http_sys_key": f"ipport={binding}",
        "certificate": {"thumbprint": thumbprint, "store_name": "My"},
        "server_side": {"compliant": not errors, "findings": []},
        "phone": {"compliant": not errors, "findings": findings},
        "compliant": not errors,
        "codes": sorted(errors),
    }


def _review(*endpoints) -> dict:
    return {"endpoints": [dict(e) for e in endpoints], "mfa_findings": []}


# mfa01 after remediation: the MFA binding on the new public certificate, the IPv6 binding that shared the old
# one changed with it; an IP binding and a reports site still on the private certificate; an intranet site.
AFTER = (
    _endpoint("Default Web Site", "*:443:", PUBLIC, "mobile_app_web_service", errors=()),
    _endpoint("Portal", "[fd00::1]:443:", PUBLIC, errors=()),
    _endpoint("Portal", "10.0.0.2:8443:"),
    _endpoint("Intranet", "*:443:intranet.corp", OTHER, host="intranet.corp"),
)


def _settings(**options) -> scope.ScopeSettings:
    return scope.settings_from(options, "mfa01", today=TODAY)


def _apply(review: dict, mfa: dict | None = None, **options) -> dict:
    return scope.apply(review, mfa or MFA_73, _settings(**options), [])


def _marks(review: dict) -> dict:
    return {
        (e["site"], e["binding_information"]): (e["scope"], e.get("scope_reason"))
        for e in review["endpoints"]
    }


def test_scope_mfa_counts_mfa_bindings_and_those_sharing_their_certificate_only():
    review = _apply(_review(*AFTER))
    marks = _marks(review)
    assert marks[("Default Web Site", "*:443:")] == ("in", None)
    assert marks[("Portal", "[fd00::1]:443:")] == ("in", None)  # same certificate as the MFA binding
    assert marks[("Portal", "10.0.0.2:8443:")] == ("out", scope.OUT_OF_MFA_SCOPE)
    assert marks[("Intranet", "*:443:intranet.corp")] == ("out", scope.OUT_OF_MFA_SCOPE)
    assert review["compliant"] is True and review["problems"] == []


def test_scope_all_counts_every_binding_and_names_what_fails():
    review = _apply(_review(*AFTER), scope="all")
    assert {m for m, _reason in _marks(review).values()} == {"in"}
    assert review["compliant"] is False
    assert review["problems"] == [
        "https://mfa.contoso.com/ (Portal 10.0.0.2:8443:): PRIVATE_CA",
        "https://intranet.corp/ (Intranet *:443:intranet.corp): PRIVATE_CA",
    ]


def test_before_remediation_the_bindings_sharing_the_mfa_certificate_are_in_scope_and_fail():
    before = [_endpoint(e["site"], e["binding_information"], PRIVATE, e["component"]) for e in AFTER[:3]]
    review = _apply(_review(*before, AFTER[3]))
    assert [p.split(" (")[1].split(")")[0] for p in review["problems"]] == [
        "Default Web Site *:443:",
        "Portal [fd00::1]:443:",
        "Portal 10.0.0.2:8443:",
    ]


def test_include_adds_and_exclude_wins_even_over_an_mfa_binding():
    review = _apply(
        _review(*AFTER),
        include=["Intranet"],
        exclude=[
            {"site": "default web site", "binding": "*:443:"},
            {"site": "Portal", "binding": "10.0.0.2:8443:"},
        ],
    )
    marks = _marks(review)
    assert marks[("Intranet", "*:443:intranet.corp")] == ("in", None)
    assert marks[("Default Web Site", "*:443:")] == ("out", scope.EXCLUDED)  # site names compare without case
    assert marks[("Portal", "10.0.0.2:8443:")] == ("out", scope.EXCLUDED)
    assert review["problems"] == ["https://intranet.corp/ (Intranet *:443:intranet.corp): PRIVATE_CA"]


def test_a_survey_text_of_sites_is_split_and_trimmed():
    settings = _settings(include=["Portal", " Intranet\nReports ", ""], exclude="Legacy, Old App")
    assert [s.site for s in settings.include] == ["Portal", "Intranet", "Reports"]
    assert [s.site for s in settings.exclude] == ["Legacy", "Old App"]


def test_a_waiver_that_holds_waives_and_shows_in_the_reports():
    waiver = {"site": "Intranet", "reason": "moves to the proxy, CHG-1042", "until": "2026-12-31"}
    review = _apply(_review(*AFTER), scope="all", waivers=[waiver, {**waiver, "site": "Portal"}])
    intranet = review["endpoints"][3]
    assert intranet["waiver"] == {"reason": "moves to the proxy, CHG-1042", "until": "2026-12-31"}
    assert scope.waived(intranet) and not scope.fails(intranet)
    assert review["compliant"] is True and review["problems"] == []
    # The compliant Portal binding has a waiver it does not need: shown, never a failure.
    assert "expired" not in review["endpoints"][1]["waiver"]
    (view,) = reports.host_views([{"host": "mfa01", **review}], dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    statuses = {item.binding: (item.status, item.note) for item in view.items}
    assert statuses["*:443:intranet.corp"] == (
        "waived",
        "waived until 2026-12-31: moves to the proxy, CHG-1042",
    )
    assert view.status == "passing"


def test_a_waiver_past_its_date_fails_with_its_reason():
    waiver = {
        "site": "Intranet",
        "reason": "vendor appliance, replaced in Q1",
        "until": dt.date(2026, 11, 30),
    }
    review = _apply(_review(*AFTER), scope="all", waivers=[waiver], exclude=["Portal"])
    intranet = review["endpoints"][3]
    assert intranet["waiver"] == {
        "reason": "vendor appliance, replaced in Q1",
        "until": "2026-11-30",
        "expired": True,
    }
    assert "WAIVER_EXPIRED" in intranet["codes"]
    (expiry,) = [f for f in intranet["server_side"]["findings"] if f["code"] == "WAIVER_EXPIRED"]
    assert expiry["severity"] == "error" and "vendor appliance, replaced in Q1" in expiry["message"]
    assert review["compliant"] is False
    assert review["problems"] == [
        "https://intranet.corp/ (Intranet *:443:intranet.corp): PRIVATE_CA, WAIVER_EXPIRED "
        "(waiver expired on 2026-11-30: vendor appliance, replaced in Q1)"
    ]
    (view,) = reports.host_views([{"host": "mfa01", **review}], dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert view.status == "failing"


def test_an_expired_waiver_of_a_fixed_endpoint_is_no_failure():
    waiver = {"site": "Default Web Site", "reason": "old", "until": "2020-01-01"}
    review = _apply(_review(*AFTER), waivers=[waiver])
    assert review["endpoints"][0]["waiver"] == {"reason": "old", "until": "2020-01-01"}
    assert review["compliant"] is True


def test_a_waiver_for_some_codes_leaves_the_others_failing():
    mismatch = _endpoint("Reports", "*:443:reports", OTHER, errors=("PRIVATE_CA", "HOSTNAME_MISMATCH"))
    waiver = {"site": "Reports", "codes": ["private_ca"], "reason": "internal CA", "until": "2027-06-30"}
    review = _apply(_review(mismatch), scope="all", waivers=[waiver])
    assert review["endpoints"][0]["waiver"]["codes"] == ["PRIVATE_CA"]
    assert review["problems"] == [
        "https://mfa.contoso.com/ (Reports *:443:reports): HOSTNAME_MISMATCH, PRIVATE_CA "
        "(the waiver until 2027-06-30 does not cover HOSTNAME_MISMATCH)"
    ]


def test_a_waiver_for_another_host_or_binding_does_not_apply():
    waivers = [
        {"host": "mfa02", "site": "Intranet", "reason": "r", "until": "2027-01-01"},
        {"site": "Intranet", "binding": "*:443:other", "reason": "r", "until": "2027-01-01"},
    ]
    review = _apply(_review(*AFTER), scope="all", waivers=waivers, exclude=["Portal"])
    assert "waiver" not in review["endpoints"][3] and review["compliant"] is False
    waivers[0]["host"] = "MFA01"
    assert _apply(_review(*AFTER), scope="all", waivers=waivers, exclude=["Portal"])["compliant"] is True


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"site": "Intranet", "until": "2027-01-01"},
            "entry 2 (site=Intranet, until=2027-01-01): 'reason' is required",
        ),
        ({"site": "Intranet", "reason": " ", "until": "2027-01-01"}, "'reason' is required"),
        ({"site": "Intranet", "reason": "r", "until": "next year"}, "'until' must be a date, YYYY-MM-DD"),
        ({"site": "Intranet", "reason": "r"}, "'until' must be a date"),
        ({"reason": "r", "until": "2027-01-01"}, "'site' is required"),
        ({"site": "Intranet", "reason": "r", "until": "2027-01-01", "codes": ["PRIVATE_CAA"]}, "PRIVATE_CAA"),
        (
            {"site": "Intranet", "reason": "r", "until": "2027-01-01", "expires": "x"},
            "unknown key(s) expires",
        ),
    ],
)
def test_a_bad_waiver_is_a_clear_error_naming_the_entry(entry, message):
    good = {"site": "Portal", "reason": "r", "until": "2027-01-01"}
    with pytest.raises(scope.ScopeError, match="mfa_tls_waivers entry 2") as raised:
        scope.settings_from(
            {"waivers": [good, {**entry, "host": "mfa99"}]}, "mfa01"
        )  # checked for every host
    assert message.replace("(site=", "(host=mfa99, site=") in str(raised.value)


def test_a_bad_selector_is_a_clear_error():
    with pytest.raises(scope.ScopeError, match=r"mfa_tls_exclude entry 1 .*'site' is required"):
        scope.settings_from({"exclude": [{"binding": "*:443:"}]}, "mfa01")
    with pytest.raises(scope.ScopeError, match="mfa_tls_include entry 1 \\(42\\) is neither"):
        scope.settings_from({"include": [42]}, "mfa01")


def test_a_host_without_mfa_server_is_not_applicable_and_compliant_unless_asked():
    absent = {"installed": False, "components": []}
    review = _apply(_review(_endpoint("Default Web Site", "*:443:")), absent)
    assert review["not_applicable"] == "not applicable: MFA Server is not installed"
    assert review["compliant"] is True and review["problems"] == []
    assert _marks(review) == {("Default Web Site", "*:443:"): ("out", scope.NOT_INSTALLED)}
    (view,) = reports.host_views([{"host": "mfa03", **review}])
    assert view.status == "not applicable"

    failing = _apply(_review(_endpoint("Default Web Site", "*:443:")), absent, fail_when_not_applicable=True)
    assert failing["compliant"] is False
    assert failing["problems"] == [
        "not applicable: MFA Server is not installed (mfa_tls_fail_when_not_applicable is true)"
    ]


def _mobile_app(version: str | None, required: bool | None, https: list[str]) -> dict:
    return {
        "installed": True,
        "version": version,
        "mobile_app_web_service_required": required,
        "components": [
            {
                "component": "mobile_app_web_service",
                "site": "MFA Mobile App",
                "virtual_path": "/MultiFactorAuthMobileAppWebService",
                "https_bindings": https,
                "http_bindings": ["*:8080:"],
            },
            {
                "component": "user_portal",
                "site": "Default Web Site",
                "virtual_path": "/MultiFactorAuth",
                "https_bindings": [],
            },
        ],
    }


def test_a_mobile_app_web_service_phones_need_without_https_fails_the_host_whatever_the_endpoints_say():
    portal = _endpoint("Default Web Site", "*:443:", PUBLIC, "user_portal", errors=())
    review = _apply(_review(portal), _mobile_app("7.3.0.3", True, []))
    (found,) = review["mfa_findings"]
    assert found["code"] == "MFA_COMPONENT_WITHOUT_HTTPS" and found["severity"] == "error"
    assert found["where"] == "MFA Mobile App/MultiFactorAuthMobileAppWebService"
    assert "7.3.0.3" in found["message"] and "*:8080:" in found["message"]
    assert review["compliant"] is False
    assert review["problems"] == [
        "MFA Mobile App/MultiFactorAuthMobileAppWebService: MFA_COMPONENT_WITHOUT_HTTPS"
    ]
    # Unknown version: needed, as far as anyone can tell. The User Portal without HTTPS is no such finding.
    assert [f["code"] for f in _apply(_review(), _mobile_app(None, None, []))["mfa_findings"]] == [
        "MFA_COMPONENT_WITHOUT_HTTPS"
    ]


@pytest.mark.parametrize(
    ("mfa", "options"),
    [
        (_mobile_app("8.0.1.1", False, []), {}),  # 8.0 activates without it
        (_mobile_app("7.3.0.3", True, ["*:443:"]), {}),
        (_mobile_app("7.3.0.3", True, []), {"exclude": ["MFA Mobile App"]}),  # HTTPS ends at a proxy
    ],
)
def test_no_component_finding_where_phones_do_not_need_it_or_it_has_https(mfa, options):
    assert _apply(_review(), mfa, **options)["mfa_findings"] == []


def test_a_host_error_about_a_binding_counts_only_in_scope():
    unreadable = {"code": "BINDING_UNREADABLE", "where": "Intranet fd00::1:443:", "severity": "error"}
    orphan_error = {"code": "SOMETHING", "where": "ipport=0.0.0.0:4443", "severity": "error"}

    def problems(**options):
        return scope.apply(_review(*AFTER), MFA_73, _settings(**options), [unreadable, orphan_error])[
            "problems"
        ]

    assert problems() == ["ipport=0.0.0.0:4443: SOMETHING"]
    assert "Intranet fd00::1:443:: BINDING_UNREADABLE" in problems(scope="all", exclude=["Portal"])
    assert "Intranet fd00::1:443:: BINDING_UNREADABLE" in problems(include=["Intranet"])
    assert "Intranet fd00::1:443:: BINDING_UNREADABLE" not in problems(scope="all", exclude=["Intranet"])


def _by_binding(review: dict) -> dict:
    grouped: dict = {}
    for endpoint in review["endpoints"]:
        grouped.setdefault((endpoint["site"], endpoint["binding_information"]), []).append(endpoint)
    return grouped


def test_remediation_selects_what_the_verdict_fails():
    before = _review(
        _endpoint("Default Web Site", "*:443:", component="user_portal"),
        _endpoint("Portal", "10.0.0.2:8443:"),
        _endpoint("Intranet", "*:443:intranet.corp", OTHER, host="intranet.corp"),
        _endpoint("Reports", "*:443:reports", OTHER, host="reports"),
    )
    unmarked = scope.remediation_selection(_by_binding(before))  # a review made without tls_facts: scope mfa
    assert unmarked == {("Default Web Site", "*:443:"), ("Portal", "10.0.0.2:8443:")}
    assert scope.remediation_selection(_by_binding(_apply(before))) == unmarked

    waiver = {"site": "Reports", "reason": "retired in March", "until": "2027-03-31"}
    everything = _apply(_review(*before["endpoints"]), scope="all", exclude=["Portal"], waivers=[waiver])
    # In scope and failing: the MFA binding and the intranet site; the Portal is excluded, the reports waived.
    assert scope.remediation_selection(_by_binding(everything)) == {
        ("Default Web Site", "*:443:"),
        ("Intranet", "*:443:intranet.corp"),
    }
    # Through the plan: what the new certificate does not name is left alone, saying so.
    plan = plan_change(everything, "D" * 40, ["mfa.contoso.com"])
    assert [(b["site"], b["binding_information"]) for b in plan["bindings"]] == [
        ("Default Web Site", "*:443:")
    ]
    assert [s["site"] for s in plan["left_alone"]] == ["Intranet"]


def test_a_compliant_mfa_binding_still_takes_a_failing_binding_that_shares_its_certificate():
    """Scope mfa counts a binding that shares the MFA certificate, so remediation must cover it too: else
    compliance would stay red after a remediation that had nothing to do."""
    review = _apply(
        _review(
            _endpoint("Default Web Site", "*:443:", PUBLIC, "mobile_app_web_service", errors=()),
            _endpoint("Legacy", "*:443:legacy", PUBLIC, host="legacy", errors=("HOSTNAME_MISMATCH",)),
        )
    )
    assert review["compliant"] is False
    assert scope.remediation_selection(_by_binding(review)) == {("Legacy", "*:443:legacy")}
