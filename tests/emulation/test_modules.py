"""The emulated Windows modules keep their documented contract (sidecar DOCUMENTATION and RETURN)."""

from __future__ import annotations

import base64
import socket
import ssl

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.tls_client import presented_chain
from tests.support.lab_harness import lab_cli, served_certificates
from tests.support.return_schema import documented

MODULES = ("iis_tls_info", "mfa_server_info", "certificate_import", "iis_binding_certificate")


def pfx(lab, kind: str, tmp_path, name: str | None = None) -> tuple[str, str]:
    out = tmp_path / f"{kind}.pfx"
    args = ["cert", "--dir", str(lab.dir), "--kind", kind, "--out", str(out)]
    if name:
        args += ["--names", name]
    assert lab_cli(*args).returncode == 0
    return base64.b64encode(out.read_bytes()).decode(), (tmp_path / f"{kind}.pfx.pass").read_text()


@pytest.mark.parametrize("host", ["mfa01", "mfa02", "mfa03"])
def test_info_modules_keep_return_contract(traps_lab, host):
    tls = documented("iis_tls_info", traps_lab.module(host, "mfa_server.tls.iis_tls_info"))
    documented("mfa_server_info", traps_lab.module(host, "mfa_server.tls.mfa_server_info"))
    if host == "mfa01":  # the trap host: orphaned entry, CCS binding, IPv6 binding
        statuses = {e["key"]: e["status"] for e in tls["http_sys"]}
        assert statuses["ipport=0.0.0.0:4443"] == "orphaned"
        assert any(b["ccs"] for s in tls["sites"] for b in s["bindings"])
        assert "ipport=[fd00:20::1]:443" in statuses


def test_secrets_are_never_returned(private_ca_lab):
    result = documented("mfa_server_info", private_ca_lab.module("mfa01", "mfa_server.tls.mfa_server_info"))
    secret = private_ca_lab.raw_state("mfa01")["mfa"]["components"][0]["web_config"]["settings"][
        "WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD"
    ]
    assert secret not in str(result)
    assert result["mobile_app_web_service_required"] is True
    # The SDK's clients hold the credentials; the Web Service SDK itself authenticates them and holds none.
    clients = [c for c in result["components"] if c["component"] != "web_service_sdk"]
    assert clients and all(c["web_config"]["sdk_password_set"] for c in clients)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"foo": 1},
            "Unsupported parameters for (mfa_server.tls.iis_tls_info) module: foo. Supported parameters"
            " include: sites",
        ),
        ({"sites": {"a": 1}}, "argument for sites is of type"),
    ],
)
def test_arguments_outside_documentation_are_refused(private_ca_lab, args, message):
    result = private_ca_lab.module("mfa01", "mfa_server.tls.iis_tls_info", args)
    assert result["failed"] and message in result["msg"]


def test_binding_arguments_refused(private_ca_lab):
    missing = private_ca_lab.module("mfa01", "mfa_server.tls.iis_binding_certificate", {"store_name": "My"})
    assert missing["failed"] and "one of the following is required: thumbprint, restore" in missing["msg"]
    choice = private_ca_lab.module(
        "mfa01",
        "mfa_server.tls.iis_binding_certificate",
        {"thumbprint": "A" * 40, "store_name": "Root", "replace_thumbprint": "B" * 40},
    )
    assert choice["failed"] and "value of store_name must be one of: My, WebHosting" in choice["msg"]


def test_import_wrong_password_and_no_key_change_nothing(private_ca_lab, tmp_path):
    before = private_ca_lab.raw_state("mfa03")["stores"]
    content, _password = pfx(private_ca_lab, "public", tmp_path)
    wrong = private_ca_lab.module(
        "mfa03", "mfa_server.tls.certificate_import", {"content": content, "password": "nope"}
    )
    assert wrong["failed"] and "cannot open the PFX" in wrong["msg"] and "nope" not in str(wrong)
    content, password = pfx(private_ca_lab, "no-key", tmp_path)
    nokey = private_ca_lab.module(
        "mfa03", "mfa_server.tls.certificate_import", {"content": content, "password": password}
    )
    assert nokey["failed"] and "without its private key" in nokey["msg"]
    assert private_ca_lab.raw_state("mfa03")["stores"] == before


def test_import_and_bind_end_to_end(private_ca_lab, tmp_path):
    content = base64.b64encode((private_ca_lab.dir / "certs" / "replacement.pfx").read_bytes()).decode()
    password = (private_ca_lab.dir / "certs" / "replacement.pass").read_text()
    args = {"content": content, "password": password}
    checked = documented(
        "certificate_import",
        private_ca_lab.module("mfa02", "mfa_server.tls.certificate_import", args, check=True, diff=True),
    )
    assert checked["changed"]  # (the tree callback drops `diff`: the playbook tests look at it)
    assert not any(
        c["thumbprint"] == checked["thumbprint"] for c in private_ca_lab.state("mfa02")["stores"]["My"]
    )
    imported = documented(
        "certificate_import", private_ca_lab.module("mfa02", "mfa_server.tls.certificate_import", args)
    )
    assert imported["changed"] and imported["intermediates_added"]
    assert password not in str(imported)
    again = documented(
        "certificate_import", private_ca_lab.module("mfa02", "mfa_server.tls.certificate_import", args)
    )
    assert not again["changed"]
    thumbprint = imported["thumbprint"]
    unknown = private_ca_lab.module(
        "mfa02",
        "mfa_server.tls.iis_binding_certificate",
        {
            "thumbprint": thumbprint,
            "bindings": [{"site": "Default Web Site", "binding_information": "*:8443:"}],
        },
    )
    assert unknown["failed"] and "has no https binding" in unknown["msg"]
    before = private_ca_lab.raw_state("mfa02")
    bind = {
        "thumbprint": thumbprint,
        "bindings": [{"site": "Default Web Site", "binding_information": "*:443:"}],
    }
    dry = documented(
        "iis_binding_certificate",
        private_ca_lab.module("mfa02", "mfa_server.tls.iis_binding_certificate", bind, check=True, diff=True),
    )
    assert dry["changed"] and dry["bindings"][0]["new_thumbprint"] == thumbprint
    assert private_ca_lab.raw_state("mfa02")["sites"] == before["sites"]
    done = documented(
        "iis_binding_certificate",
        private_ca_lab.module("mfa02", "mfa_server.tls.iis_binding_certificate", bind),
    )
    assert done["changed"] and done["http_sys"][0]["action"] == "updated"
    previous = served_certificates(before)[("Default Web Site", "*:443:")]
    assert done["bindings"][0]["previous_thumbprint"] == previous
    # the undo is the entry exactly as it was, and IIS configuration was never touched
    assert done["snapshot"] == [{"exists": True, **before["http_sys"][0]}]
    assert private_ca_lab.raw_state("mfa02")["sites"] == before["sites"]
    again = documented(
        "iis_binding_certificate",
        private_ca_lab.module("mfa02", "mfa_server.tls.iis_binding_certificate", bind),
    )
    assert not again["changed"]
    chain = served_chain(private_ca_lab, "mfa02")
    assert chain[0] == thumbprint and len(chain) == 2  # leaf + intermediate from the CA store

    undo = {"restore": done["snapshot"]}
    restored = documented(
        "iis_binding_certificate",
        private_ca_lab.module("mfa02", "mfa_server.tls.iis_binding_certificate", undo),
    )
    assert restored["changed"] and restored["http_sys"][0]["action"] == "restored"
    assert private_ca_lab.raw_state("mfa02")["http_sys"] == before["http_sys"]
    assert served_chain(private_ca_lab, "mfa02", verify=False)[0] == previous
    assert not private_ca_lab.module("mfa02", "mfa_server.tls.iis_binding_certificate", undo)["changed"]


def served_chain(lab, host: str, verify: bool = True) -> list[str]:
    import hashlib

    hostvars = lab.hostvars(host)
    address, port = hostvars["mfa_tls_probe_address"].rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(lab.dir / "trust" / "public-roots.pem"))
    if not verify:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection((address, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=hostvars["mfa_tls_public_name"]) as tls,
    ):
        tls.sendall(
            f"GET /MultiFactorAuthMobileAppWebService/PfPaWs.asmx HTTP/1.1\r\nHost: "
            f"{hostvars['mfa_tls_public_name']}\r\nConnection: close\r\n\r\n".encode()
        )
        assert tls.recv(64).startswith(b"HTTP/1.1 200")
        return [hashlib.sha1(der).hexdigest().upper() for der in presented_chain(tls)]


def test_catch_all_trap_is_refused(traps_lab):
    old = traps_lab.raw_state("mfa01")
    mine = old["stores"]["My"][1]["thumbprint"]  # another certificate with a key on the host
    result = traps_lab.module(
        "mfa01",
        "mfa_server.tls.iis_binding_certificate",
        {"thumbprint": mine, "bindings": [{"site": "Portal", "binding_information": "10.20.0.2:8443:"}]},
    )
    assert result["failed"] and "shares the HTTP.sys entry ipport=10.20.0.2:8443" in result["msg"]
    assert traps_lab.raw_state("mfa01")["http_sys"] == old["http_sys"]


def test_a_write_failing_midway_restores_every_entry_written(traps_lab, tmp_path):
    """Four entries hold the shared certificate; the third HTTP.sys write fails: the two written before it
    are put back exactly, read back, and the module says so without claiming a change."""
    content, password = pfx(traps_lab, "public", tmp_path, "mfa01.lab.example")
    imported = traps_lab.module(
        "mfa01", "mfa_server.tls.certificate_import", {"content": content, "password": password}
    )
    assert not imported["failed"], imported["msg"]
    before = traps_lab.raw_state("mfa01")
    shared = served_certificates(before)[("Default Web Site", "*:443:")]
    assert (
        lab_cli("fault", "--dir", str(traps_lab.dir), "--host", "mfa01", "set-fails-after", "2").returncode
        == 0
    )
    try:
        result = traps_lab.module(
            "mfa01",
            "mfa_server.tls.iis_binding_certificate",
            {"thumbprint": imported["thumbprint"], "replace_thumbprint": shared},
        )
        assert result["failed"] and "were restored and verified" in result["msg"], result["msg"]
        assert result["rolled_back"] and result["rollback_verified"] and not result["changed"]
        assert len(result["snapshot"]) == 4
        documented("iis_binding_certificate", result)
        assert traps_lab.raw_state("mfa01")["http_sys"] == before["http_sys"]
    finally:
        lab_cli("fault", "--dir", str(traps_lab.dir), "--host", "mfa01", "clear")


def test_tls_probe_reports_private_ca_for_the_private_ca_fleet(private_ca_lab, tmp_path):
    playbook = tmp_path / "probe.yml"
    playbook.write_text(
        "- hosts: mfa03\n  gather_facts: false\n  tasks:\n"
        "    - mfa_server.tls.tls_probe:\n"
        "        targets:\n"
        '          - url: "https://{{ mfa_tls_public_name }}/MultiFactorAuthMobileAppWebService/PfPaWs.asmx"\n'
        '            address: "{{ mfa_tls_probe_address }}"\n'
        '        trust_bundle: "{{ mfa_tls_trust_bundle }}"\n'
        "        fetch_aia: false\n"
        "      delegate_to: localhost\n"
        "      vars:\n"
        "        ansible_connection: local\n"
        '        ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
    )
    out = private_ca_lab.playbook(playbook, "-v")
    assert "PRIVATE_CA" in out.stdout, out.stdout[-3000:]
