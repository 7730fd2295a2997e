"""certificate_preflight through the real ansible-playbook: fit certificates pass, unfit ones fail with
their cause, and neither the password nor the key material is ever printed."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from tests.support import pki
from tests.support.chains import HOST, LabPKI
from tests.support.module_task import run_module, run_module_with_output
from tests.support.revocation import Authority, RevocationServer

PASSWORD = "Pfx-Secret-7f3a"
LAB = LabPKI()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preflight")
    (folder / "roots.pem").write_bytes(LAB.trust_pem())
    return folder


def _write(folder, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return str(folder / name)


def test_a_fit_certificate_passes_and_its_content_is_never_printed(bundle):
    data = pki.pfx_bytes(LAB.leaf(), [LAB.public_ca], PASSWORD)
    path = _write(bundle, "good.pfx", data)
    args = {
        "path": path,
        "password": PASSWORD,
        "public_names": [HOST],
        "trust_bundle": str(bundle / "roots.pem"),
        "return_content": True,
    }
    result, output = run_module_with_output(
        "mfa_server.tls.certificate_preflight", args, no_log=True, verbosity=3
    )
    assert result.get("failed") is not True, result
    assert base64.b64decode(result["pfx_base64"]) == data
    assert result["subject_alt_names"] == [HOST]
    assert PASSWORD not in output
    assert result["pfx_base64"][:40] not in output


@pytest.mark.parametrize(
    ("name", "make", "password", "message"),
    [
        (
            "wrong-password",
            lambda: pki.pfx_bytes(LAB.leaf(), [LAB.public_ca], PASSWORD),
            "Not-The-Password-9",
            "the password is wrong",
        ),
        (
            "no-key",
            lambda: pki.pfx_bytes(LAB.leaf(), [LAB.public_ca], PASSWORD, include_key=False),
            PASSWORD,
            "holds no private key",
        ),
        (
            "private",
            lambda: pki.pfx_bytes(LAB.leaf(LAB.private_ca), [LAB.private_ca], PASSWORD),
            PASSWORD,
            "PRIVATE_CA",
        ),
        (
            "wrong-name",
            lambda: pki.pfx_bytes(LAB.leaf(names=["x.contoso.test"]), [LAB.public_ca], PASSWORD),
            PASSWORD,
            "HOSTNAME_MISMATCH",
        ),
    ],
)
def test_unfit_certificates_fail_with_the_cause(bundle, name, make, password, message):
    path = _write(bundle, f"{name}.pfx", make())
    args = {
        "path": path,
        "password": password,
        "public_names": [HOST],
        "trust_bundle": str(bundle / "roots.pem"),
    }
    result, output = run_module_with_output("mfa_server.tls.certificate_preflight", args, verbosity=3)
    assert result["failed"] is True
    assert message in result["msg"]
    assert "pfx_base64" not in result
    assert password not in output


def test_a_missing_file_names_the_variable_to_fix(bundle):
    result = run_module(
        "mfa_server.tls.certificate_preflight", {"path": str(bundle / "absent.pfx"), "public_names": [HOST]}
    )
    assert result["failed"] is True and "mfa_tls_pfx_path" in result["msg"]


@pytest.mark.parametrize(
    ("name", "leaf_args", "extra", "code"),
    [
        # notBefore yesterday, notAfter 499 days on: 500 days as Apple counts them, under the bundle's root.
        ("valid-500-days", {"not_after": pki.now() + dt.timedelta(days=499)}, {}, "VALIDITY_TOO_LONG"),
        ("no-scts", {}, {"require_ct": True}, "CT_MISSING"),
    ],
)
def test_apples_rules_refuse_the_certificate_before_any_change(bundle, name, leaf_args, extra, code):
    path = _write(bundle, f"{name}.pfx", pki.pfx_bytes(LAB.leaf(**leaf_args), [LAB.public_ca], PASSWORD))
    args = {
        "path": path,
        "password": PASSWORD,
        "public_names": [HOST],
        "trust_bundle": str(bundle / "roots.pem"),
    }
    result = run_module("mfa_server.tls.certificate_preflight", args | extra)
    assert result["failed"] is True and "pfx_base64" not in result
    assert [p.split(":")[0] for p in result["problems"]] == [code]
    assert code in result["msg"]


def test_a_custom_bundle_does_not_require_ct_in_preflight_unless_asked(bundle):
    path = _write(bundle, "no-scts-default.pfx", pki.pfx_bytes(LAB.leaf(), [LAB.public_ca], PASSWORD))
    args = {
        "path": path,
        "password": PASSWORD,
        "public_names": [HOST],
        "trust_bundle": str(bundle / "roots.pem"),
    }
    result = run_module("mfa_server.tls.certificate_preflight", args)
    assert result.get("failed") is not True, result


def test_a_revoked_certificate_is_refused_before_any_change(bundle):
    authority = Authority(LAB.public_ca)
    with RevocationServer({"public": authority}) as responder:
        leaf = LAB.leaf(names=[HOST, f"portal.{HOST}"], ocsp_url=responder.ocsp_url)
        authority.revoke(leaf.cert.serial_number)
        path = _write(bundle, "revoked.pfx", pki.pfx_bytes(leaf, [LAB.public_ca], PASSWORD))
        args = {
            "path": path,
            "password": PASSWORD,
            "public_names": [HOST, f"portal.{HOST}"],
            "trust_bundle": str(bundle / "roots.pem"),
            "return_content": True,
        }
        result = run_module("mfa_server.tls.certificate_preflight", args)
        assert result["failed"] is True and "pfx_base64" not in result
        assert [p.split(":")[0] for p in result["problems"]] == ["REVOKED"]
        assert responder.requests == {"ocsp": 1}, "one lookup for every name the certificate is to serve"
        unchecked = run_module("mfa_server.tls.certificate_preflight", args | {"check_revocation": False})
        assert unchecked.get("failed") is not True, unchecked
        assert responder.requests == {"ocsp": 1}
