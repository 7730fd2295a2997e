"""The renewal decision (plugins/module_utils/renewal.py): dates, thresholds, ARI, scope, findings."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import renewal

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
OPTIONS = {"remaining_percentage": 33.0, "min_days": 7.0, "ari_windows": {}}


def _endpoint(thumbprint: str, not_before: dt.datetime, not_after: dt.datetime, **extra) -> dict:
    chain = [{"sha1": thumbprint, "not_before": not_before.isoformat(), "not_after": not_after.isoformat()}]
    return {
        "site": "Default Web Site",
        "binding_information": "*:443:",
        "url": "https://mfa01.lab.example/MultiFactorAuthMobileAppWebService/",
        "component": "mobile_app_web_service",
        "ccs": False,
        "codes": [],
        "phone": {"presented_chain": chain},
        **extra,
    }


def _ninety_days(days_left: float, thumbprint: str = "AA" * 20, **extra) -> dict:
    not_after = NOW + dt.timedelta(days=days_left)
    return _endpoint(thumbprint, not_after - dt.timedelta(days=90), not_after, **extra)


def _decide(*endpoints: dict, **options) -> dict:
    return renewal.decide({"endpoints": list(endpoints)}, OPTIONS | options, now=NOW)


def test_a_fresh_certificate_is_not_due_and_the_date_it_will_be_is_given():
    verdict = _decide(_ninety_days(80))
    assert not verdict["due"] and verdict["bindings"] == []
    # 33 % of 90 days = 29.7 days before the end (the share rule comes before the 7 days).
    expected = (NOW + dt.timedelta(days=80) - dt.timedelta(days=29.7)).date().isoformat()
    assert verdict["renew_on"] == expected
    assert expected in verdict["msg"] and verdict["msg"].startswith("not due")


def test_below_the_remaining_share_it_is_due():
    verdict = _decide(_ninety_days(29))
    assert verdict["due"]
    assert verdict["bindings"] == [{"site": "Default Web Site", "binding_information": "*:443:"}]
    assert "32.2 % of its lifetime remains" in verdict["msg"]
    assert verdict["renew_on"] == NOW.date().isoformat()


def test_just_above_the_share_it_is_not_due():
    assert not _decide(_ninety_days(30))["due"]


def test_min_days_applies_when_the_share_would_renew_later():
    """A long-lived certificate: 33 % is far off, min_days makes it due."""
    not_after = NOW + dt.timedelta(days=200)
    long_lived = _endpoint("BB" * 20, not_after - dt.timedelta(days=365), not_after)
    assert not _decide(long_lived)["due"]
    verdict = _decide(long_lived, min_days=250)
    assert verdict["due"] and "200.0 days remain (renewal below 250)" in verdict["msg"]


def test_expired_leaf_is_due():
    verdict = _decide(_ninety_days(-3))
    assert verdict["due"] and "0.0 % of its lifetime" in verdict["msg"]


@pytest.mark.parametrize(
    ("code", "due"), [("PRIVATE_CA", True), ("REVOKED", True), ("HTTP_NOT_FOUND", False)]
)
def test_findings_a_new_certificate_fixes_make_it_due_others_do_not(code, due):
    verdict = _decide(_ninety_days(80, codes=[code]))
    assert verdict["due"] is due
    if due:
        assert code in verdict["msg"]


def test_an_endpoint_serving_nothing_is_due():
    endpoint = _ninety_days(80)
    endpoint["phone"] = {"presented_chain": [], "findings": [{"code": "UNREACHABLE"}]}
    verdict = _decide(endpoint)
    assert verdict["due"] and "no certificate is served" in verdict["msg"]


def test_every_binding_serving_a_due_leaf_is_renewed_and_ccs_is_never_in_scope():
    shared = "CC" * 20
    mfa = _ninety_days(10, shared)
    other_site = _ninety_days(10, shared, site="Intranet", binding_information="*:8443:", component=None)
    unrelated = _ninety_days(10, "DD" * 20, site="Other", binding_information="*:9443:", component=None)
    ccs = _ninety_days(10, shared, site="Ccs", binding_information="*:443:ccs.lab.example", ccs=True)
    verdict = _decide(mfa, other_site, unrelated, ccs)
    assert [b["site"] for b in verdict["bindings"]] == ["Default Web Site", "Intranet"]


def test_a_host_without_mfa_components_renews_all_its_endpoints():
    plain = _ninety_days(10, component=None)
    assert _decide(plain)["due"]


def test_one_due_leaf_among_fresh_ones_renews_only_its_bindings():
    fresh = _ninety_days(80, "EE" * 20)
    old = _ninety_days(5, "FF" * 20, binding_information="10.0.0.5:443:")
    verdict = _decide(fresh, old)
    assert verdict["bindings"] == [{"site": "Default Web Site", "binding_information": "10.0.0.5:443:"}]
    assert {c["thumbprint"]: c["due"] for c in verdict["certificates"]} == {"EE" * 20: False, "FF" * 20: True}


def test_ari_window_in_the_past_makes_a_fresh_certificate_due():
    thumbprint = "AB" * 20
    window = {
        "start": (NOW - dt.timedelta(days=2)).isoformat(),
        "end": (NOW - dt.timedelta(days=1)).isoformat(),
    }
    verdict = _decide(_ninety_days(80, thumbprint), ari_windows={thumbprint.lower(): window})
    assert verdict["due"] and "renewal window (ARI)" in verdict["msg"]


def test_ari_window_in_the_future_moves_the_date_earlier_but_is_not_due_yet():
    thumbprint = "AB" * 20
    start, end = NOW + dt.timedelta(days=5), NOW + dt.timedelta(days=6)
    verdict = _decide(
        _ninety_days(80, thumbprint),
        ari_windows={thumbprint: {"start": start.isoformat(), "end": end.isoformat()}},
    )
    assert not verdict["due"]
    assert start.date().isoformat() <= verdict["renew_on"] <= end.date().isoformat()


def test_ari_point_is_stable_and_inside_the_window():
    start, end = NOW, NOW + dt.timedelta(days=2)
    points = {renewal.ari_point(t, start, end) for t in ("01" * 20, "02" * 20, "03" * 20)}
    assert all(start <= p <= end for p in points) and len(points) == 3
    assert renewal.ari_point("01" * 20, start, end) == renewal.ari_point("01" * 20, start, end)
    assert renewal.ari_point("01" * 20, end, start) == end  # an inverted window means: from its start


def test_a_malformed_ari_window_is_refused_with_the_expected_form():
    with pytest.raises(renewal.RenewalError, match="suggestedWindow"):
        _decide(_ninety_days(80), ari_windows={"AA" * 20: {"start": "soon"}})


@pytest.mark.parametrize(
    "options", [{"remaining_percentage": 0}, {"remaining_percentage": 120}, {"min_days": -1}]
)
def test_thresholds_out_of_range_are_refused(options):
    with pytest.raises(renewal.RenewalError, match="mfa_tls_renew"):
        _decide(_ninety_days(80), **options)


def test_a_review_without_endpoints_is_refused():
    with pytest.raises(renewal.RenewalError, match="mfa_tls fact"):
        renewal.decide({}, OPTIONS, now=NOW)


def test_now_option_and_z_suffix_are_read_as_utc():
    endpoint = _ninety_days(29)
    endpoint["phone"]["presented_chain"][0]["not_after"] = (NOW + dt.timedelta(days=29)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    verdict = renewal.decide({"endpoints": [endpoint]}, OPTIONS | {"now": NOW.isoformat()})
    assert verdict["due"]
