"""The traps other tools fell into: remediate changes exactly the intended bindings and nothing else.

Trap host mfa01: a catch-all *:443: and an SNI binding on the same port (both serve MFA), an IPv6 binding
and an IP binding shared by two sites using the same private certificate, a Central Certificate Store
binding, an orphaned HTTP.sys entry, and a stale intermediate in LocalMachine\\CA. mfa02 is already
compliant; mfa03 has IIS without MFA Server. The catch-all has DisableLegacyTLS (sslFlags 64), which its
HTTP.sys entry enforces (DISABLE_LEGACY_TLS): it must still refuse TLS 1.0 after the change.
"""

from __future__ import annotations

import socket
import ssl
import warnings

from tests.support.lab_harness import configuration, recap, served_certificates
from tests.support.playbook_runs import remediate, replacement_thumbprint

CHANGED_BINDINGS = {
    ("Default Web Site", "*:443:"),
    ("Default Web Site", "*:443:mfa01.lab.example"),
    ("Portal", "[fd00:20::1]:443:"),
}
CHANGED_HTTP_SYS = {"ipport=0.0.0.0:443", "hostnameport=mfa01.lab.example:443", "ipport=[fd00:20::1]:443"}


def _bindings(state: dict) -> dict[tuple[str, str], dict]:
    return {
        (site["name"], b["binding_information"]): b
        for site in state["sites"]
        for b in site["bindings"]
        if b["protocol"] == "https"
    }


def test_only_the_intended_bindings_change(traps_lab):
    lab = traps_lab
    before = {host: lab.state(host) for host in lab.hosts()}
    run = remediate(lab)
    assert run.returncode == 0, run.stdout[-4000:]
    new = replacement_thumbprint(lab)

    after = lab.state("mfa01")
    assert after["sites"] == before["mfa01"]["sites"], "IIS configuration was touched"
    served_before, served_after = served_certificates(before["mfa01"]), served_certificates(after)
    for key, thumbprint in served_after.items():
        assert thumbprint == (new if key in CHANGED_BINDINGS else served_before[key]), key
    old_entries = {e["key"]: e for e in before["mfa01"]["http_sys"]}
    for entry in after["http_sys"]:
        if entry["key"] in CHANGED_HTTP_SYS:
            # only hash and store change; app id, flags and check settings stay as they were
            expected = dict(old_entries[entry["key"]], certificate_hash=new, certificate_store_name="My")
            assert entry == expected, entry["key"]
        else:
            assert entry == old_entries[entry["key"]], f"HTTP.sys entry {entry['key']} was not to be touched"
    assert {e["key"] for e in after["http_sys"]} == set(old_entries), "an HTTP.sys entry appeared or vanished"

    output = run.stdout + run.stderr  # Ansible prints warnings on stderr
    assert "Left as it is: binding '10.20.0.2:8443:reports.corp.contoso.com' of site 'Reports'" in output
    assert "shares the HTTP.sys entry ipport=10.20.0.2:8443" in output
    for host in ("mfa02", "mfa03"):
        assert configuration(lab.state(host)) == configuration(before[host]), f"{host} was changed"
    assert recap(run.stdout)["mfa02"]["changed"] == 0 and recap(run.stdout)["mfa03"]["changed"] == 0

    second = remediate(lab)
    assert second.returncode == 0
    assert all(counts["changed"] == 0 for counts in recap(second.stdout).values()), second.stdout[-2000:]


def _tls10_handshake(address: str) -> str:
    """A real TLS 1.0 handshake without SNI against `host:port`; the version, or the error."""
    host, port = address.rsplit(":", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        try:
            with context.wrap_socket(sock) as tls:
                return tls.version() or ""
        except ssl.SSLError as exc:
            return f"refused: {exc.reason}"


def test_disable_legacy_tls_still_refuses_tls_1_0_after_the_change(traps_lab):
    """Runs after the remediation above: the entry kept DISABLE_LEGACY_TLS, so a TLS 1.0 client is refused,
    while the compliant host's catch-all (no such flag) still answers TLS 1.0 (Schannel's default)."""
    lab = traps_lab
    entry = next(e for e in lab.state("mfa01")["http_sys"] if e["key"] == "ipport=0.0.0.0:443")
    assert entry["certificate_hash"] == replacement_thumbprint(lab) and entry["default_flags"] == 0x400
    refused = _tls10_handshake(lab.hostvars("mfa01")["mfa_tls_probe_addresses"][443])
    assert refused.startswith("refused"), refused
    assert _tls10_handshake(lab.hostvars("mfa02")["mfa_tls_probe_addresses"][443]) == "TLSv1"
