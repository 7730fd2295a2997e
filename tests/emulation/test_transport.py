"""The lab speaks WinRM as Windows does: real `ansible` over NTLM/HTTPS with certificate validation."""

from __future__ import annotations

import socket
import ssl

from tests.support.lab_harness import ROOT, lab_cli, start_lab


def test_inventory_uses_ntlm_https_with_validation(private_ca_lab):
    text = private_ca_lab.inventory.read_text()
    for expected in (
        "ansible_winrm_transport: ntlm",
        "ansible_winrm_scheme: https",
        "ansible_winrm_server_cert_validation: validate",
        "winrm-ca.pem",
        "mfa_servers",
    ):
        assert expected in text
    hostvars = private_ca_lab.hostvars("mfa01")
    assert hostvars["mfa_tls_public_name"] == "mfa01.lab.example"
    assert hostvars["mfa_tls_probe_address"].endswith(":10443")
    for name in (
        "trust/public-roots.pem",
        "trust/winrm-ca.pem",
        "certs/replacement.pfx",
        "certs/replacement.pass",
    ):
        assert (private_ca_lab.dir / name).is_file(), name


def test_win_ping(private_ca_lab):
    result = private_ca_lab.module("mfa01", "ansible.windows.win_ping")
    assert result["ping"] == "pong" and not result.get("failed")
    assert private_ca_lab.state("mfa01")["counters"]["modules"]["win_ping"] >= 1


def test_setup_gathers_windows_facts(private_ca_lab):
    facts = private_ca_lab.module("mfa02", "ansible.windows.setup")["ansible_facts"]
    assert facts["ansible_os_family"] == "Windows"
    assert facts["ansible_hostname"] == "MFA02"
    assert facts["ansible_distribution"].startswith("Microsoft Windows Server")
    assert facts["ansible_ip_addresses"]


def test_wrong_password_is_refused_with_401(private_ca_lab):
    result = private_ca_lab.module(
        "mfa01", "ansible.windows.win_ping", extra=["-e", "ansible_password=wrong"]
    )
    assert result.get("unreachable") and "credentials were rejected" in result["msg"]
    address = private_ca_lab.hostvars("mfa01")["ansible_host"]
    context = ssl.create_default_context(cafile=str(private_ca_lab.dir / "trust" / "winrm-ca.pem"))
    with (
        socket.create_connection((address, 5986), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=address) as tls,
    ):
        tls.sendall(
            f"POST /wsman HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic bGFiYWRtaW46d3Jvbmc=\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        assert tls.recv(64).startswith(b"HTTP/1.1 401")


def test_basic_auth_and_http_with_ntlm_message_encryption(private_ca_lab):
    assert (
        private_ca_lab.module(
            "mfa01", "ansible.windows.win_ping", extra=["-e", "ansible_winrm_transport=basic"]
        )["ping"]
        == "pong"
    )
    result = private_ca_lab.module(
        "mfa01",
        "ansible.windows.win_ping",
        extra=["-e", "ansible_port=5985", "-e", "ansible_winrm_scheme=http"],
    )
    assert result["ping"] == "pong"


def test_raw_and_unknown_module(private_ca_lab):
    assert "MFA01" in private_ca_lab.module("mfa01", "raw", {"_raw_params": "hostname"})["stdout"]
    result = private_ca_lab.module("mfa01", "ansible.windows.win_shell", {"_raw_params": "dir"})
    assert (
        result.get("failed")
        and "ansible.windows.win_shell" in result["msg"]
        and "not emulated" in result["msg"]
    )


def test_playbook_with_gather_facts(private_ca_lab, tmp_path):
    playbook = tmp_path / "ping.yml"
    playbook.write_text(
        "- hosts: mfa_servers\n  gather_facts: true\n  tasks:\n"
        "    - ansible.windows.win_ping:\n"
        "    - ansible.builtin.assert:\n        that: ansible_os_family == 'Windows'\n"
    )
    out = private_ca_lab.playbook(playbook)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "failed=0" in out.stdout and "unreachable=0" in out.stdout


def test_state_persists_across_restart(tmp_path):
    lab = start_lab(tmp_path, 1)
    try:
        lab.module("mfa01", "ansible.windows.win_ping")
        before = lab.raw_state("mfa01")
        assert lab_cli("down", "--dir", str(tmp_path)).returncode == 0
        lab = start_lab(tmp_path, 1)
        assert lab.raw_state("mfa01") == before
        assert lab.module("mfa01", "ansible.windows.win_ping")["ping"] == "pong"
        assert (
            lab.raw_state("mfa01")["counters"]["modules"]["win_ping"]
            == before["counters"]["modules"]["win_ping"] + 1
        )
    finally:
        lab_cli("down", "--dir", str(tmp_path))
    assert ROOT.exists()
