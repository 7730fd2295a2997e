"""The lab's armed faults behave as the real failures they stand for (set-fails-after: test_modules.py).

One `traps` lab, one host per fault so the tests do not depend on each other's order:
mfa01 (every trap) for import-fails, mfa02 (already compliant: public leaf, intermediate in `CA`) for
no-intermediates, mfa03 (IIS without MFA Server) for drop-connection.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl

import pytest
from cryptography import x509

from ansible_collections.mfa_server.tls.plugins.module_utils.tls_client import presented_chain
from tests.support.lab_harness import Lab, lab_cli, running_lab, served_certificates


@pytest.fixture(scope="module")
def fault_lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("fault-lab")
    with running_lab(directory, 3, "traps") as lab:
        yield lab


def arm(lab: Lab, host: str, *fault: str) -> None:
    out = lab_cli("fault", "--dir", str(lab.dir), "--host", host, *fault)
    assert out.returncode == 0, out.stderr


def replacement(lab: Lab) -> dict:
    return {
        "content": base64.b64encode((lab.dir / "certs" / "replacement.pfx").read_bytes()).decode(),
        "password": (lab.dir / "certs" / "replacement.pass").read_text(),
    }


def keys(lab: Lab, host: str) -> list[str]:
    return sorted(p.name for p in (lab.dir / "hosts" / host / "keys").iterdir())


def served_chain(lab: Lab, host: str) -> list[str]:
    hostvars = lab.hostvars(host)
    address, port = hostvars["mfa_tls_probe_address"].rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(lab.dir / "trust" / "public-roots.pem"))
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the leaf alone does not verify
    with (
        socket.create_connection((address, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=hostvars["mfa_tls_public_name"]) as tls,
    ):
        return [hashlib.sha1(der).hexdigest().upper() for der in presented_chain(tls)]


def test_no_intermediates_makes_tls_probe_report_incomplete_chain(fault_lab):
    # The lab's leaves name no CA Issuers URL (their Authority Information Access holds only the OCSP
    # responder), so AIA cannot find the missing intermediate: tls_probe gets it from extra_intermediates
    # (the lab's public issuing CA) instead.
    leaf_der = served_certificates(fault_lab.state("mfa02"))[("Default Web Site", "*:443:")]
    store = fault_lab.raw_state("mfa02")["stores"]["My"]
    leaf = x509.load_der_x509_certificate(
        base64.b64decode(next(c["der_b64"] for c in store if c["thumbprint"] == leaf_der))
    )
    access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_method for d in access] == [x509.AuthorityInformationAccessOID.OCSP]
    issuing = str(fault_lab.dir / "ca" / "public-issuing.pem")

    assert len(served_chain(fault_lab, "mfa02")) == 2  # leaf + intermediate from the CA store
    assert "INCOMPLETE_CHAIN" not in fault_lab.probe_codes("mfa02", extra_intermediates=[issuing])
    arm(fault_lab, "mfa02", "no-intermediates")
    try:
        assert served_chain(fault_lab, "mfa02") == [leaf_der]
        assert "INCOMPLETE_CHAIN" in fault_lab.probe_codes("mfa02", extra_intermediates=[issuing])
    finally:
        arm(fault_lab, "mfa02", "clear")
    assert len(served_chain(fault_lab, "mfa02")) == 2


def test_import_fails_with_a_clear_message_and_changes_no_store(fault_lab):
    before, before_keys = fault_lab.raw_state("mfa01")["stores"], keys(fault_lab, "mfa01")
    args = replacement(fault_lab)
    arm(fault_lab, "mfa01", "import-fails")
    try:
        result = fault_lab.module("mfa01", "mfa_server.tls.certificate_import", args)
    finally:
        arm(fault_lab, "mfa01", "clear")
    assert result["failed"] and not result["changed"]
    assert (
        "importing the PFX failed" in result["msg"] and "Run the module as an administrator" in result["msg"]
    )
    assert args["password"] not in str(result)
    assert fault_lab.raw_state("mfa01")["stores"] == before and keys(fault_lab, "mfa01") == before_keys
    # the fault, not the PFX, was the problem: cleared, the same import goes through
    imported = fault_lab.module("mfa01", "mfa_server.tls.certificate_import", args)
    assert imported["changed"] and not imported["failed"]


def test_drop_connection_leaves_host_unreachable_and_ground_truth_shows_the_change(fault_lab):
    args = replacement(fault_lab)
    assert not fault_lab.module("mfa03", "mfa_server.tls.certificate_import", args, check=True)["failed"]
    arm(fault_lab, "mfa03", "drop-connection", "certificate_import")
    try:
        dropped = fault_lab.module("mfa03", "mfa_server.tls.certificate_import", args)
    finally:
        arm(fault_lab, "mfa03", "clear")
    # ansible-core's winrm plugin reports the dropped Receive as a failed task (requests' ConnectionError),
    # not as a module answer: nothing the module would have returned arrives.
    assert dropped.get("unreachable") or dropped["failed"], dropped
    assert "connection" in dropped["msg"].lower(), dropped
    assert "thumbprint" not in dropped  # the module's answer never arrived
    # The module ran before the connection died: the host holds the certificate, Ansible never heard of it.
    truth = fault_lab.state("mfa03")
    assert truth["counters"]["modules"]["certificate_import"] == 2
    again = fault_lab.module("mfa03", "mfa_server.tls.certificate_import", args)
    assert not again["failed"] and not again["changed"]
    assert any(c["thumbprint"] == again["thumbprint"] and c["has_private_key"] for c in truth["stores"]["My"])
