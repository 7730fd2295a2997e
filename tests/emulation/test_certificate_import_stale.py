"""certificate_import removes expired copies of the chain's intermediates from `CA` (win-acme #1162).

The `traps` host mfa01 holds in `LocalMachine\\CA`, listed first, an expired "Lab Public Issuing CA R1" (same
name and key as the lab's public issuing CA, issued by a retired root). Once the replacement certificate is
bound, the lab's Schannel emulation picks that copy for the chain it sends, and a phone sees a private
(unknown) root and an expired certificate. `remove_stale_intermediates` (default true) is the fix; these
tests reproduce the failure with it off, then prove the fix, check mode, diff and idempotence, and on
mfa02 that a currently valid certificate of the same name and certificates in other stores stay.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import socket
import ssl
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from ansible_collections.mfa_server.tls.plugins.module_utils.tls_client import presented_chain
from lab.state import HostState
from tests.support import pki
from tests.support.lab_harness import Lab, running_lab, served_certificates
from tests.support.return_schema import documented

ISSUING = "Lab Public Issuing CA R1"


@pytest.fixture(scope="module")
def stale_lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("stale-lab")
    with running_lab(directory, 2, "traps") as lab:
        yield lab


def valid(result: dict) -> dict:
    return documented("certificate_import", result)


def replacement(lab: Lab, **extra) -> dict:
    return {
        "content": base64.b64encode((lab.dir / "certs" / "replacement.pfx").read_bytes()).decode(),
        "password": (lab.dir / "certs" / "replacement.pass").read_text(),
        **extra,
    }


def store(lab: Lab, host: str, name: str) -> list[dict]:
    return lab.raw_state(host)["stores"][name]


def cert(entry: dict) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(entry["der_b64"]))


def common_name(entry: dict) -> str:
    return cert(entry).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def stale_entries(lab: Lab, host: str) -> list[dict]:
    now = dt.datetime.now(dt.UTC)
    return [
        e for e in store(lab, host, "CA") if common_name(e) == ISSUING and cert(e).not_valid_after_utc < now
    ]


def with_diff(lab: Lab, host: str, args: dict, tmp_path: Path, *, check_mode: bool) -> dict:
    """One task with --diff through ansible-playbook (the ad-hoc tree callback drops `diff`)."""
    out = tmp_path / f"result-{host}-{check_mode}.json"
    play = [
        {
            "hosts": host,
            "gather_facts": False,
            "tasks": [
                {
                    "mfa_server.tls.certificate_import": args,
                    "register": "r",
                    "check_mode": check_mode,
                    "diff": True,
                    "no_log": False,
                },
                {
                    "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out)},
                    "delegate_to": "localhost",
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    },
                },
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    run = lab.playbook(playbook)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return json.loads(out.read_text())


def bind_replacement(lab: Lab, host: str, thumbprint: str) -> None:
    shared = served_certificates(lab.raw_state(host))[("Default Web Site", "*:443:")]
    result = lab.module(
        host,
        "mfa_server.tls.iis_binding_certificate",
        {"thumbprint": thumbprint, "replace_thumbprint": shared},
    )
    assert result["changed"] and not result["failed"], result


def served_chain(lab: Lab, host: str) -> list[str]:
    hostvars = lab.hostvars(host)
    address, port = hostvars["mfa_tls_probe_address"].rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # look at what is sent, trusted or not
    with (
        socket.create_connection((address, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=hostvars["mfa_tls_public_name"]) as tls,
    ):
        return [hashlib.sha1(der).hexdigest().upper() for der in presented_chain(tls)]


def test_stale_intermediate_served_then_removed(stale_lab, tmp_path):
    lab, host = stale_lab, "mfa01"
    stale = stale_entries(lab, host)
    assert len(stale) == 1 and store(lab, host, "CA")[0] == stale[0]  # the trap: listed first
    stale_print = stale[0]["thumbprint"]
    untouched = {name: store(lab, host, name) for name in ("Root", "WebHosting")}

    # 1. The failure, reproduced: the replacement imported without the fix and bound everywhere.
    off = valid(
        lab.module(
            host, "mfa_server.tls.certificate_import", replacement(lab, remove_stale_intermediates=False)
        )
    )
    assert off["changed"] and off["intermediates_added"] and off["stale_intermediates_removed"] == []
    assert [e["thumbprint"] for e in stale_entries(lab, host)] == [stale_print]
    thumbprint = off["thumbprint"]
    bind_replacement(lab, host, thumbprint)
    assert served_chain(lab, host) == [thumbprint, stale_print]
    findings = lab.probe_codes(host)
    assert "PRIVATE_CA" in findings and "EXPIRED" in findings, findings

    # 2. Check mode with diff: reported, not removed.
    dry = with_diff(lab, host, replacement(lab), tmp_path, check_mode=True)
    assert dry["changed"] and not dry["leaf_added"] and dry["intermediates_added"] == []
    assert [s["thumbprint"] for s in dry["stale_intermediates_removed"]] == [stale_print]
    assert dry["stale_intermediates_removed"][0]["subject"].startswith(f"CN={ISSUING},")
    assert dry["stale_intermediates_removed"][0]["not_after"] < dt.datetime.now(dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert dry["diff"]["before"]["stale_intermediates_in_ca"] == [stale_print]
    assert dry["diff"]["after"]["stale_intermediates_in_ca"] == []
    assert [e["thumbprint"] for e in stale_entries(lab, host)] == [stale_print]

    # 3. The fix: the expired copy goes, the current intermediate and every other store stay.
    ca_before = store(lab, host, "CA")
    my_before = store(lab, host, "My")
    done = with_diff(lab, host, replacement(lab), tmp_path, check_mode=False)
    valid({k: v for k, v in done.items() if k not in ("diff", "invocation")})
    assert done["changed"] and [s["thumbprint"] for s in done["stale_intermediates_removed"]] == [stale_print]
    assert done["diff"] == dry["diff"]
    assert stale_entries(lab, host) == []
    assert store(lab, host, "CA") == [e for e in ca_before if e["thumbprint"] != stale_print]
    assert store(lab, host, "My") == my_before
    assert {name: store(lab, host, name) for name in untouched} == untouched

    # 4. Idempotent: nothing left to remove.
    again = valid(lab.module(host, "mfa_server.tls.certificate_import", replacement(lab)))
    assert not again["changed"] and again["stale_intermediates_removed"] == []

    # 5. What a phone sees now: the current intermediate, a public chain, nothing expired.
    issuing = next(e["thumbprint"] for e in store(lab, host, "CA") if common_name(e) == ISSUING)
    assert served_chain(lab, host) == [thumbprint, issuing]
    findings = lab.probe_codes(host)
    assert "PRIVATE_CA" not in findings and "EXPIRED" not in findings, findings


def test_valid_copies_and_other_stores_are_never_touched(stale_lab):
    """mfa02 already holds the current intermediate; add a valid cross-signed copy of it, expired copies in
    CA, Root and My, and an expired CA certificate of another name: only the expired copy in CA goes."""
    lab, host = stale_lab, "mfa02"
    ca = pki.make_root("Lab Cross Root CA X1")
    retired = pki.make_root(
        "Lab Public Root CA G0",
        not_before=pki.now() - dt.timedelta(days=4000),
        not_after=pki.now() - dt.timedelta(days=30),
    )
    old = {"not_before": pki.now() - dt.timedelta(days=3000), "not_after": pki.now() - dt.timedelta(days=2)}
    cross = pki.make_intermediate(ca, "Lab Public Issuing CA R1")  # valid: must stay
    expired_ca = pki.make_intermediate(retired, "Lab Public Issuing CA R1", **old)  # the one to remove
    expired_root = pki.make_intermediate(retired, "Lab Public Issuing CA R1", **old)
    expired_my = pki.make_intermediate(retired, "Lab Public Issuing CA R1", **old)
    other = pki.make_intermediate(retired, "Lab Other Issuing CA", **old)  # expired, another name: stays

    def entry(issued: pki.Issued) -> dict:
        return {
            "thumbprint": issued.sha1,
            "der_b64": base64.b64encode(issued.der()).decode(),
            "has_private_key": False,
            "private_key_machine": False,
            "exportable": False,
            "friendly_name": "",
        }

    with HostState(lab.dir, host).change() as live:
        live["stores"]["CA"][:0] = [entry(cross), entry(expired_ca), entry(other)]
        live["stores"]["Root"].append(entry(expired_root))
        live["stores"]["My"].append(entry(expired_my))
    before = lab.raw_state(host)["stores"]

    off = valid(
        lab.module(
            host,
            "mfa_server.tls.certificate_import",
            replacement(lab, remove_stale_intermediates=False),
            check=True,
        )
    )
    assert off["stale_intermediates_removed"] == []

    done = valid(lab.module(host, "mfa_server.tls.certificate_import", replacement(lab)))
    assert done["changed"] and [s["thumbprint"] for s in done["stale_intermediates_removed"]] == [
        expired_ca.sha1
    ]
    after = lab.raw_state(host)["stores"]
    assert after["CA"] == [e for e in before["CA"] if e["thumbprint"] != expired_ca.sha1]
    assert {cross.sha1, other.sha1} <= {e["thumbprint"] for e in after["CA"]}
    for name in ("Root", "WebHosting"):
        assert after[name] == before[name]
    assert expired_my.sha1 in {e["thumbprint"] for e in after["My"]}
    again = valid(lab.module(host, "mfa_server.tls.certificate_import", replacement(lab)))
    assert not again["changed"] and again["stale_intermediates_removed"] == []
