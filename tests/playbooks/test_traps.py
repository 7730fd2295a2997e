"""The traps other tools fell into: remediate changes exactly the intended bindings and nothing else.

Trap host mfa01: a catch-all *:443: and an SNI binding on the same port (both serve MFA), an IPv6 binding
and an IP binding shared by two sites using the same private certificate, a Central Certificate Store
binding, an orphaned HTTP.sys entry, and a stale intermediate in LocalMachine\\CA. mfa02 is already
compliant; mfa03 has IIS without MFA Server.
"""

from __future__ import annotations

from lab_harness import configuration, recap
from playbook_runs import remediate, replacement_thumbprint

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
    old_bindings, new_bindings = _bindings(before["mfa01"]), _bindings(after)
    assert old_bindings.keys() == new_bindings.keys()
    for key, binding in new_bindings.items():
        assert binding["ssl_flags"] == old_bindings[key]["ssl_flags"], f"sslFlags of {key} changed"
        if key in CHANGED_BINDINGS:
            assert binding["certificate_hash"] == new, key
        else:
            assert binding == old_bindings[key], f"{key} was not to be touched"
    old_entries = {e["key"]: e for e in before["mfa01"]["http_sys"]}
    for entry in after["http_sys"]:
        if entry["key"] in CHANGED_HTTP_SYS:
            assert entry["certificate_hash"] == new and entry["app_id"] == old_entries[entry["key"]]["app_id"]
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
