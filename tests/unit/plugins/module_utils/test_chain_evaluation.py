"""The trust engine on real chains, without a network: every finding code, and causes side by side."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import Policy, evaluate_chain
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import CATALOGUE
from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import RevocationChecker
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore, TrustStoreError
from tests.support import pki
from tests.support.chains import HOST, LabPKI, scenarios

LAB = LabPKI()
STORE = TrustStore([LAB.public_root.cert], "test roots")


def _lookup_in(extra: list[pki.Issued]):
    return lambda cert: [i.cert for i in extra if i.cert.subject == cert.issuer]


@pytest.mark.parametrize("scenario", scenarios(LAB), ids=lambda s: s.name)
def test_each_scenario_gets_exactly_its_findings(scenario):
    evaluation = evaluate_chain(
        [i.cert for i in scenario.serve],
        scenario.host,
        STORE,
        find_missing_issuer=_lookup_in(scenario.extra_intermediates),
        # No scenario leaf names a responder: anchored chains get REVOCATION_UNKNOWN, nothing is fetched.
        revocation=RevocationChecker(1),
    )
    assert set(evaluation.codes()) == scenario.chain_codes
    assert evaluation.trusted is scenario.chain_trusted
    for f in evaluation.findings:
        assert (f.severity, f.remediation) == CATALOGUE[f.code]
        assert "'" in f.message, "a message names the certificate or endpoint involved"


def test_private_ca_names_the_root_the_store_lacks():
    chain = [LAB.leaf(LAB.private_ca).cert, LAB.private_ca.cert, LAB.private_root.cert]
    (private,) = [f for f in evaluate_chain(chain, HOST, STORE).findings if f.code == "PRIVATE_CA"]
    assert "Contoso Private Root" in private.message and "test roots" in private.message


def test_the_mozilla_store_does_not_trust_a_private_chain():
    evaluation = evaluate_chain(
        [LAB.leaf(LAB.private_ca).cert, LAB.private_ca.cert], HOST, TrustStore.mozilla()
    )
    assert evaluation.codes() == ["PRIVATE_CA"]
    assert not evaluation.trusted and not evaluation.compliant


def test_a_missing_intermediate_that_cannot_be_found_is_reported_as_an_unknown_ca():
    unsent = pki.make_intermediate(LAB.public_root, "Nowhere CA")
    evaluation = evaluate_chain([LAB.leaf(unsent).cert], HOST, STORE, find_missing_issuer=lambda cert: [])
    assert evaluation.codes() == ["PRIVATE_CA"]
    assert "Nowhere CA" in evaluation.findings[0].message


def test_the_missing_intermediate_never_makes_the_verdict_trusted():
    unsent = pki.make_intermediate(LAB.public_root, "Unsent CA")
    evaluation = evaluate_chain(
        [LAB.leaf(unsent).cert], HOST, STORE, find_missing_issuer=_lookup_in([unsent])
    )
    assert evaluation.codes() == ["INCOMPLETE_CHAIN"]
    assert "Unsent CA" in evaluation.findings[0].message
    assert evaluation.trusted is False


def test_every_weak_certificate_is_named_on_its_own():
    weak_ca = pki.make_intermediate(LAB.public_root, "Weak CA", key=pki.new_key("rsa", 1024))
    leaf = LAB.leaf(weak_ca, key=pki.new_key("ec", 192))
    findings = evaluate_chain([leaf.cert, weak_ca.cert], HOST, STORE).findings
    weak = [f.message for f in findings if f.code == "WEAK_KEY"]
    assert len(weak) == 2
    assert "'mfa.contoso.test'" in weak[0] and "EC key of 192 bits" in weak[0]
    assert "'Weak CA'" in weak[1] and "RSA key of 1024 bits" in weak[1]


def test_md5_signature_is_weak():
    leaf = LAB.leaf(LAB.public_rsa_ca, hash_alg=pki.hashes.MD5())
    codes = evaluate_chain([leaf.cert, LAB.public_rsa_ca.cert], HOST, STORE).codes()
    assert codes == ["WEAK_SIGNATURE"]


def test_expiry_warning_follows_the_policy():
    leaf = LAB.leaf(not_after=pki.now() + dt.timedelta(days=40))
    chain = [leaf.cert, LAB.public_ca.cert]
    assert evaluate_chain(chain, HOST, STORE).codes() == []
    assert evaluate_chain(chain, HOST, STORE, policy=Policy(expiry_warning_days=60)).codes() == [
        "EXPIRING_SOON"
    ]


def test_validation_time_is_respected():
    chain = [LAB.leaf().cert, LAB.public_ca.cert]
    later = pki.now() + dt.timedelta(days=400)
    evaluation = evaluate_chain(chain, HOST, STORE, at=later)
    assert evaluation.codes() == ["EXPIRED"] and not evaluation.trusted


def test_ip_address_hosts_match_ip_sans_only():
    leaf = LAB.leaf(names=["127.0.0.1"])
    chain = [leaf.cert, LAB.public_ca.cert]
    assert evaluate_chain(chain, "127.0.0.1", STORE).trusted
    assert evaluate_chain(chain, "127.0.0.2", STORE).codes() == ["HOSTNAME_MISMATCH"]


def test_an_empty_trust_bundle_is_refused_with_the_fix(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(TrustStoreError, match="holds no certificates; give a PEM file"):
        TrustStore.from_file(str(empty))
