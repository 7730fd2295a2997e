"""Apple's certificate rules in the trust engine, each both ways: the validity limits (398 days under the trust
store's roots from 2020-09-01, 825 days for any CA from 2019-07-01) and Certificate Transparency (embedded SCTs
from distinct logs, 2 for a lifetime of at most 180 days, 3 above), with the dates that exempt a certificate
and require_ct's default (docs/phone-rules.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import (
    Evaluation,
    Policy,
    evaluate_chain,
    resolve_require_ct,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import CATALOGUE
from ansible_collections.mfa_server.tls.plugins.module_utils.pfx import load_pfx
from ansible_collections.mfa_server.tls.plugins.module_utils.preflight import replacement_problems
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import settings_from
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore
from tests.support import pki

HOST = "mfa.contoso.test"
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
UTC = dt.UTC
# CAs valid over every date the rules name, so that a leaf of 2019 is judged while it was valid.
CA_FROM, CA_UNTIL = dt.datetime(2015, 1, 1, tzinfo=UTC), dt.datetime(2045, 1, 1, tzinfo=UTC)
PUBLIC_ROOT = pki.make_root("Rules Public Root", not_before=CA_FROM, not_after=CA_UNTIL)
PUBLIC_CA = pki.make_intermediate(PUBLIC_ROOT, "Rules Public CA", not_before=CA_FROM, not_after=CA_UNTIL)
PRIVATE_ROOT = pki.make_root("Contoso Rules Root", not_before=CA_FROM, not_after=CA_UNTIL)
PRIVATE_CA = pki.make_intermediate(PRIVATE_ROOT, "Contoso Rules CA", not_before=CA_FROM, not_after=CA_UNTIL)
STORE = TrustStore([PUBLIC_ROOT.cert], "rules test roots")
RECENT = dt.datetime(2025, 6, 1, tzinfo=UTC)  # after every cut-off date
CT_ON = Policy(require_ct=True)


def _leaf(days: float, *, issued: dt.datetime = RECENT, issuer: pki.Issued = PUBLIC_CA, logs=pki.LAB_CT_LOGS):
    """A leaf valid for exactly `days` days as Apple counts them (notBefore through notAfter inclusive)."""
    return pki.make_leaf(
        issuer, [HOST], not_before=issued, not_after=issued + days * DAY - SECOND, ct_logs=logs
    )


def _judge(leaf: pki.Issued, issuer: pki.Issued = PUBLIC_CA, policy: Policy | None = None) -> Evaluation:
    issued = certificates.not_before(leaf.cert)
    return evaluate_chain([leaf.cert, issuer.cert], HOST, STORE, at=issued + DAY, policy=policy or CT_ON)


def _only(evaluation: Evaluation, code: str):
    (found,) = [f for f in evaluation.findings if f.code == code]
    assert (found.severity, found.remediation) == CATALOGUE[code]
    return found


def test_validity_is_counted_inclusively_in_days_of_86400_seconds():
    start, logs = RECENT, pki.LAB_CT_LOGS
    exact = pki.make_leaf(
        PUBLIC_CA, [HOST], not_before=start, not_after=start + 398 * DAY - SECOND, ct_logs=logs
    )
    one_second_more = pki.make_leaf(
        PUBLIC_CA, [HOST], not_before=start, not_after=start + 398 * DAY, ct_logs=logs
    )
    assert certificates.validity_days(exact.cert) == 398
    assert certificates.validity_days(one_second_more.cert) == 399
    assert _judge(exact).codes() == []
    assert _judge(one_second_more).codes() == ["VALIDITY_TOO_LONG"]


@pytest.mark.parametrize(
    ("days", "too_long"), [(90, False), (397, False), (398, False), (399, True), (500, True)]
)
def test_a_public_certificate_may_be_valid_for_at_most_398_days(days, too_long):
    evaluation = _judge(_leaf(days))
    assert evaluation.codes() == (["VALIDITY_TOO_LONG"] if too_long else [])
    assert evaluation.trusted is not too_long, "Apple devices refuse the connection"
    if too_long:
        message = _only(evaluation, "VALIDITY_TOO_LONG").message
        assert f"valid for {days} days" in message and "at most 398 days" in message
        assert "'mfa.contoso.test'" in message and "2020-09-01" in message


@pytest.mark.parametrize(
    ("days", "codes"),
    [(500, {"PRIVATE_CA"}), (825, {"PRIVATE_CA"}), (826, {"PRIVATE_CA", "VALIDITY_TOO_LONG"})],
)
def test_a_private_ca_certificate_is_held_to_825_days_not_398(days, codes):
    evaluation = _judge(_leaf(days, issuer=PRIVATE_CA), PRIVATE_CA)
    assert set(evaluation.codes()) == codes
    if "VALIDITY_TOO_LONG" in codes:
        message = _only(evaluation, "VALIDITY_TOO_LONG").message
        assert "at most 825 days" in message and "2019-07-01 by any CA" in message


def test_a_private_root_in_the_trust_bundle_counts_as_a_preinstalled_one():
    """The bundle is what phones are taken to trust: a root given there is held to the public limit."""
    store = TrustStore([PRIVATE_ROOT.cert], "a bundle holding the company root")
    leaf = _leaf(500, issuer=PRIVATE_CA)
    evaluation = evaluate_chain([leaf.cert, PRIVATE_CA.cert], HOST, store, at=RECENT + DAY)
    assert evaluation.codes() == ["VALIDITY_TOO_LONG"]


@pytest.mark.parametrize(
    ("issued", "days", "codes"),
    [
        # Before 2020-09-01 the 825-day limit still holds for public certificates.
        (dt.datetime(2020, 8, 31, 23, 59, 59, tzinfo=UTC), 500, []),
        (dt.datetime(2020, 8, 31, tzinfo=UTC), 826, ["VALIDITY_TOO_LONG"]),
        (dt.datetime(2020, 9, 1, tzinfo=UTC), 399, ["VALIDITY_TOO_LONG"]),
        # Before 2019-07-01 there is no limit at all.
        (dt.datetime(2019, 6, 30, 23, 59, 59, tzinfo=UTC), 1000, []),
        (dt.datetime(2019, 7, 1, tzinfo=UTC), 1000, ["VALIDITY_TOO_LONG"]),
    ],
)
def test_the_limits_apply_from_their_dates(issued, days, codes):
    # CT is off here: these dates fall under Apple's earlier SCT table, tested below.
    assert _judge(_leaf(days, issued=issued), policy=Policy()).codes() == codes


def test_a_private_certificate_issued_before_2019_07_01_is_exempt():
    leaf = _leaf(1000, issued=dt.datetime(2019, 6, 1, tzinfo=UTC), issuer=PRIVATE_CA)
    assert _judge(leaf, PRIVATE_CA).codes() == ["PRIVATE_CA"]


@pytest.mark.parametrize(
    ("days", "logs", "required"),
    [
        (90, 1, 2),
        (90, 2, None),
        (180, 2, None),
        (181, 2, 3),
        (181, 3, None),
        (397, 2, 3),
        (397, 3, None),
        (397, 0, 3),
    ],
)
def test_embedded_scts_from_distinct_logs_follow_the_lifetime(days, logs, required):
    evaluation = _judge(_leaf(days, logs=pki.LAB_CT_LOGS[:logs]))
    if required is None:
        assert evaluation.codes() == [] and evaluation.trusted
        return
    assert evaluation.codes() == ["CT_MISSING"] and not evaluation.trusted
    message = _only(evaluation, "CT_MISSING").message
    assert f"embeds {logs} SCT(s) from {logs} distinct" in message
    assert f"requires SCTs from {required} distinct logs" in message and f"valid for {days} days" in message
    assert "'mfa.contoso.test'" in message and "counted, not verified" in message


def test_scts_from_the_same_log_are_counted_once():
    argon, xenon = pki.LAB_CT_LOGS[:2]
    leaf = _leaf(365, logs=[argon, argon, xenon])
    assert certificates.embedded_sct_log_ids(leaf.cert) == [pki.ct_log_id(n) for n in (argon, argon, xenon)]
    message = _only(_judge(leaf), "CT_MISSING").message
    assert "embeds 3 SCT(s) from 2 distinct" in message and "requires SCTs from 3" in message


def test_ct_is_not_required_before_2018_10_15_nor_for_a_private_chain():
    before = _leaf(365, issued=dt.datetime(2018, 10, 14, tzinfo=UTC), logs=())
    assert _judge(before).codes() == []
    on_the_day = _leaf(365, issued=dt.datetime(2018, 10, 15, tzinfo=UTC), logs=())
    assert _judge(on_the_day).codes() == ["CT_MISSING"]
    private = _leaf(365, issuer=PRIVATE_CA, logs=())
    assert _judge(private, PRIVATE_CA).codes() == ["PRIVATE_CA"]


@pytest.mark.parametrize(
    ("days", "logs", "required"),
    [
        (397, 2, None),
        (500, 2, 3),
        (500, 3, None),
        (825, 3, 4),
    ],  # under 15 months 2, under 27 months 3, then 4
)
def test_certificates_issued_before_2021_04_21_follow_apples_earlier_table_in_months(days, logs, required):
    evaluation = _judge(_leaf(days, issued=dt.datetime(2019, 10, 1, tzinfo=UTC), logs=pki.LAB_CT_LOGS[:logs]))
    if required is None:
        assert evaluation.codes() == []
    else:
        assert evaluation.codes() == ["CT_MISSING"]
        assert f"requires SCTs from {required} distinct logs" in evaluation.findings[0].message


def test_a_policy_made_by_hand_does_not_require_ct():
    assert _judge(_leaf(365, logs=()), policy=Policy()).codes() == []


@pytest.mark.parametrize(
    ("require_ct", "bundle", "expected"),
    [(None, None, True), (None, "roots.pem", False), (True, "roots.pem", True), (False, None, False)],
)
def test_require_ct_unset_means_the_default_store(require_ct, bundle, expected):
    assert resolve_require_ct(require_ct, bundle) is expected


def test_the_probe_settings_check_ct_with_a_custom_bundle_only_when_asked(tmp_path):
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(PUBLIC_ROOT.pem())
    chain = [_leaf(365, logs=()).cert, PUBLIC_CA.cert]
    at = RECENT + DAY
    for params, codes in (({}, []), ({"require_ct": True}, ["CT_MISSING"])):
        settings = settings_from({"trust_bundle": str(bundle), **params})
        assert settings.policy.require_ct is bool(codes)
        assert evaluate_chain(chain, HOST, settings.store, at=at, policy=settings.policy).codes() == codes
    assert settings_from({}).policy.require_ct is True, "the default (Mozilla) store requires CT"


def test_preflight_refuses_a_500_day_public_certificate_and_one_without_scts():
    too_long = load_pfx(pki.pfx_bytes(_leaf(500), [PUBLIC_CA], "pw"), "pw", "long.pfx")
    problems = replacement_problems(too_long, [HOST], STORE, min_days=30, at=RECENT + DAY, policy=CT_ON)
    assert [p.split(":")[0] for p in problems] == ["VALIDITY_TOO_LONG"]
    no_scts = load_pfx(pki.pfx_bytes(_leaf(365, logs=()), [PUBLIC_CA], "pw"), "pw", "no-ct.pfx")
    problems = replacement_problems(no_scts, [HOST], STORE, min_days=30, at=RECENT + DAY, policy=CT_ON)
    assert [p.split(":")[0] for p in problems] == ["CT_MISSING"]
    assert replacement_problems(no_scts, [HOST], STORE, min_days=30, at=RECENT + DAY) == []
