"""certificate_preflight through the real ansible-playbook: fit certificates pass, unfit ones fail with
their cause, and neither the password nor the key material is ever printed."""

from __future__ import annotations

import base64

import pytest

from lab import pki

from chains import HOST, LabPKI
from module_task import run_module, run_module_with_output

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
