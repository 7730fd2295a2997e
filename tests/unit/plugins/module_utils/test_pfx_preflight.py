"""PFX reading and the replacement preflight: every bad certificate is refused with its cause."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.pfx import PfxError, load_pfx
from ansible_collections.mfa_server.tls.plugins.module_utils.preflight import (
    describe_replacement,
    replacement_problems,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore
from tests.support import pki
from tests.support.chains import HOST, LabPKI

LAB = LabPKI()
STORE = TrustStore([LAB.public_root.cert], "test roots")


def _pfx(leaf: pki.Issued, chain: list[pki.Issued], password: str | None = "s3cret", **kwargs) -> bytes:
    return pki.pfx_bytes(leaf, chain, password, **kwargs)


def test_a_good_pfx_passes_and_is_described():
    leaf = LAB.leaf()
    pfx = load_pfx(_pfx(leaf, [LAB.public_ca, LAB.public_root]), "s3cret", "good.pfx")
    assert pfx.leaf == leaf.cert
    assert pfx.intermediates == [LAB.public_ca.cert] and pfx.roots == [LAB.public_root.cert]
    assert replacement_problems(pfx, [HOST], STORE, min_days=30) == []
    facts = describe_replacement(pfx)
    assert facts["thumbprint"] == leaf.sha1
    assert facts["subject_alt_names"] == [HOST]
    assert facts["intermediates"] == [
        {
            "thumbprint": LAB.public_ca.sha1,
            "subject": LAB.public_ca.cert.subject.rfc4514_string(),
            "pem": LAB.public_ca.pem().decode(),
        }
    ]


def test_a_wrong_password_is_named_and_not_echoed():
    with pytest.raises(PfxError, match="the password is wrong") as raised:
        load_pfx(_pfx(LAB.leaf(), [LAB.public_ca]), "not-the-password", "mfa.pfx")
    assert "not-the-password" not in str(raised.value)


def test_a_pfx_without_key_is_refused():
    with pytest.raises(PfxError, match="holds no private key"):
        load_pfx(_pfx(LAB.leaf(), [LAB.public_ca], include_key=False), "s3cret", "nokey.pfx")


def test_a_file_that_is_not_a_pfx_is_refused():
    with pytest.raises(PfxError, match="is not a PFX"):
        load_pfx(LAB.leaf().pem(), "s3cret", "cert.pem")


def test_a_pfx_holding_only_a_ca_is_refused():
    ca_as_leaf = pki.Issued(LAB.public_ca.cert, LAB.public_ca.key)
    with pytest.raises(PfxError, match="no end-entity"):
        load_pfx(_pfx(ca_as_leaf, [LAB.public_root]), "s3cret", "ca.pfx")


@pytest.mark.parametrize(
    ("make_leaf", "issuer_chain", "expected"),
    [
        (lambda: LAB.leaf(LAB.private_ca), lambda: [LAB.private_ca, LAB.private_root], "PRIVATE_CA"),
        (lambda: LAB.leaf(names=["other.contoso.test"]), lambda: [LAB.public_ca], "HOSTNAME_MISMATCH"),
        (lambda: LAB.leaf(not_after=pki.now() - dt.timedelta(days=1)), lambda: [LAB.public_ca], "EXPIRED"),
        (lambda: LAB.leaf(not_after=pki.now() + dt.timedelta(days=5)), lambda: [LAB.public_ca], "TOO_SHORT"),
        (lambda: LAB.leaf(key=pki.new_key("rsa", 1024)), lambda: [LAB.public_ca], "WEAK_KEY"),
        (LAB.leaf, lambda: [], "PRIVATE_CA"),  # no intermediate in the PFX: IIS could not send it
    ],
)
def test_unfit_certificates_are_refused_with_their_code(make_leaf, issuer_chain, expected):
    pfx = load_pfx(_pfx(make_leaf(), issuer_chain()), "s3cret", "x.pfx")
    problems = replacement_problems(pfx, [HOST], STORE, min_days=30)
    assert any(p.startswith(f"{expected}:") for p in problems), problems


def test_every_public_name_must_be_covered():
    pfx = load_pfx(_pfx(LAB.leaf(names=[HOST]), [LAB.public_ca]), "s3cret", "x.pfx")
    problems = replacement_problems(pfx, [HOST, "portal.contoso.test"], STORE, min_days=30)
    assert len(problems) == 1 and "portal.contoso.test" in problems[0]
