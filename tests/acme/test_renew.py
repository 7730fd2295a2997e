"""playbooks/renew.yml against the lab started with `python -m lab up --acme` (Pebble and BIND beside the fleet).

The story of issue 12's renewal: the private-ca fleet serves a private-CA certificate, so renew.yml is due on every host
and gets one certificate from Pebble (HTTP-01 through the lab's IIS, validated for real), which compliance then
accepts; run again, it changes nothing and says when each host will be due. A host whose served certificate is
past the threshold (a public certificate made 300 of its 397 days ago) is renewed, and with
mfa_tls_remove_replaced its old certificate leaves the store, except on the host where an HTTP.sys entry still
holds it. Check mode changes and removes nothing; DNS-01 works with the variables `lab up --acme` wrote. Every
verdict is read from the lab's ground truth.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from lab import acme, acme_service, iis, scenarios
from lab.ca import LabCA
from lab.state import HostState
from tests.support import pki
from tests.support.collection_paths import ROOT
from tests.support.lab_harness import Lab, configuration, lab_cli, recap, served_certificates

RENEW = ROOT / "playbooks" / "renew.yml"
COMPLIANCE = ROOT / "playbooks" / "compliance.yml"
ACME = ("-e", "mfa_tls_certificate_source=acme")
ORPHAN_KEY = "ipport=0.0.0.0:8443"  # an HTTP.sys entry no IIS binding uses (netsh http add sslcert by hand)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("renew") / "lab"
    out = lab_cli("up", "--hosts", "3", "--dir", str(directory), "--acme")
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        yield Lab(directory)
    finally:
        down = lab_cli("down", "--dir", str(directory))
        assert down.returncode == 0, down.stderr
        assert acme_service.state(directory) is None, "lab down stops Pebble and BIND"


def _group_vars(lab: Lab) -> dict:
    return yaml.safe_load(lab.inventory.read_text())["all"]["children"]["mfa_servers"]["vars"]


def _run(lab: Lab, *extra: str, check: bool = False, source: tuple[str, ...] = ACME) -> tuple[str, dict]:
    args = [*source, *extra] + (["--check"] if check else [])
    completed = lab.playbook(RENEW, *args, timeout=600)
    output = completed.stdout + completed.stderr
    (lab.dir.parent / f"renew-{len(list(lab.dir.parent.glob('renew-*.log')))}.log").write_text(output)
    assert completed.returncode == 0, output[-6000:]
    return output, recap(completed.stdout)


def _pfx_source(lab: Lab) -> tuple[str, ...]:
    """The lab's replacement PFX (public CA, every public name), for the run in check mode: an ACME order is not
    made in check mode by the acme source (see the report of issue 12), while the decision, the plan and the
    skipped clean-up are the same whatever the source."""
    certs = lab.dir / "certs"
    # The password reaches ansible-playbook in a 0600 file, never on its command line.
    variables = lab.dir.parent / "pfx-source.json"
    variables.touch(mode=0o600)
    variables.write_text(
        json.dumps(
            {
                "mfa_tls_certificate_source": "pfx",
                "mfa_tls_pfx_path": str(certs / "replacement.pfx"),
                "mfa_tls_pfx_password": (certs / "replacement.pass").read_text(),
            }
        )
    )
    return ("-e", f"@{variables}")


def _served(lab: Lab, host: str) -> str:
    return served_certificates(lab.raw_state(host))[("Default Web Site", "*:443:")]


def _leaf(lab: Lab, host: str, thumbprint: str) -> x509.Certificate:
    entry = next(e for e in lab.raw_state(host)["stores"]["My"] if e["thumbprint"].upper() == thumbprint)
    return x509.load_der_x509_certificate(base64.b64decode(entry["der_b64"]))


def _messages(output: str) -> dict[str, str]:
    return dict(re.findall(r'"msg": "(mfa\d+): ((?:not )?due[^"]*)"', output))


def _serve_old_certificate(lab: Lab, host: str, *, orphan: bool = False) -> str:
    """A public certificate issued 300 days ago (397-day lifetime: 24 % left) bound where IIS serves *:443:, as
    `lab renew-by-hand` does; with `orphan`, also an HTTP.sys entry no IIS binding uses that holds it."""
    ca = LabCA(lab.dir)
    state = HostState(lab.dir, host)
    name = state.read()["host"]["public_name"]
    leaf = ca.leaf("public", [name], not_before=pki.now() - dt.timedelta(days=300))
    with state.change() as live:
        live["stores"]["My"].append(scenarios.store_entry(state, leaf, friendly="issued 300 days ago"))
        entry = iis.http_sys_entry(live, "ipport=0.0.0.0:443")
        entry["certificate_hash"], entry["certificate_store_name"] = leaf.sha1, "MY"
        if orphan:
            live["http_sys"].append(iis.new_entry(ORPHAN_KEY, leaf.sha1, "MY"))
    return leaf.sha1


def test_lab_up_acme_writes_what_the_playbooks_need_into_the_inventory(lab):
    variables = _group_vars(lab)
    published = acme_service.state(lab.dir)
    assert variables["mfa_tls_acme_directory"] == published["directory_url"]
    assert Path(variables["mfa_tls_acme_trust_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    pebble_root = (lab.dir / "acme" / "pebble-root.pem").read_text()
    assert pebble_root in Path(variables["mfa_tls_trust_bundle"]).read_text()
    assert variables["mfa_tls_acme_dns_zone"] == scenarios.PUBLIC_DOMAIN
    # The TSIG secret stays in its 0600 file; the inventory only names the file.
    secret_file = lab.dir / "acme" / "tsig.secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert secret_file.read_text() not in lab.inventory.read_text()
    assert str(secret_file.resolve()) in variables["mfa_tls_acme_tsig_secret"]
    # Every public name resolves, through BIND, to the lab host that serves it; the controller reaches port 80.
    for host in lab.hosts():
        hostvars = lab.hostvars(host)
        address = hostvars["ansible_host"]
        bind = acme.Bind(
            variables["mfa_tls_acme_dns_server"],
            variables["mfa_tls_acme_dns_port"],
            "",
            acme.TsigKey("", "", ""),
            {},
        )
        assert bind.query(hostvars["mfa_tls_public_name"]) == [address]
        assert hostvars["mfa_tls_probe_addresses"][80] == f"{address}:{iis.lab_port(80)}"


def test_renew_gets_one_certificate_from_pebble_for_the_fleet_then_does_nothing(lab):
    output, counts = _run(lab)
    assert all(
        _messages(output)[h].startswith("due:") and "PRIVATE_CA" in _messages(output)[h] for h in lab.hosts()
    )
    assert all(c["failed"] == 0 and c["changed"] > 0 for c in counts.values()), counts

    served = {host: _served(lab, host) for host in lab.hosts()}
    assert len(set(served.values())) == 1, "one certificate for the whole fleet"
    cert = _leaf(lab, "mfa01", served["mfa01"])
    names = sorted(
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    )
    assert names == sorted(lab.hostvars(h)["mfa_tls_public_name"] for h in lab.hosts())
    assert "Pebble" in cert.issuer.rfc4514_string()
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(lifetime - dt.timedelta(days=acme.DEFAULT_VALIDITY_DAYS)) <= dt.timedelta(seconds=1)

    compliance = lab.playbook(COMPLIANCE, "-e", f"mfa_tls_report_dir={lab.dir.parent / 'reports'}")
    assert compliance.returncode == 0, compliance.stdout[-4000:]

    before = {host: configuration(lab.raw_state(host)) for host in lab.hosts()}
    output, counts = _run(lab)
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counts.values()), counts
    assert before == {host: configuration(lab.raw_state(host)) for host in lab.hosts()}
    # Not due, and when: 33 % of the 90 days before the end.
    expected = (cert.not_valid_after_utc - lifetime * 0.33).date().isoformat()
    for host in lab.hosts():
        assert _messages(output)[host].startswith(f"not due: the next renewal is due on {expected}"), output[
            -3000:
        ]


def test_check_mode_renews_and_removes_nothing(lab):
    old = _serve_old_certificate(lab, "mfa01")
    before = {host: configuration(lab.raw_state(host)) for host in lab.hosts()}
    output, _counts = _run(lab, "-e", "mfa_tls_remove_replaced=true", check=True, source=_pfx_source(lab))
    assert "24." in _messages(output)["mfa01"] and _messages(output)["mfa02"].startswith("not due")
    assert before == {host: configuration(lab.raw_state(host)) for host in lab.hosts()}
    assert _served(lab, "mfa01") == old
    assert not lab.raw_state("mfa01")["counters"]["modules"].get("certificate_remove")


def test_a_certificate_past_the_threshold_is_renewed_and_the_replaced_one_removed_unless_in_use(lab):
    # mfa01 serves an old certificate since the test above; mfa02 too, and an HTTP.sys entry no binding uses
    # holds it as well; mfa03 still serves the fresh ACME certificate.
    old_1 = _served(lab, "mfa01")
    old_2 = _serve_old_certificate(lab, "mfa02", orphan=True)
    untouched = configuration(lab.raw_state("mfa03"))
    fresh = _served(lab, "mfa03")

    output, counts = _run(lab, "-e", "mfa_tls_remove_replaced=true")
    messages = _messages(output)
    assert "% of its lifetime remains (renewal below 33 %)" in messages["mfa01"]
    assert messages["mfa03"].startswith("not due")
    assert counts["mfa03"]["changed"] == 0 and configuration(lab.raw_state("mfa03")) == untouched

    renewed = {_served(lab, "mfa01"), _served(lab, "mfa02")}
    assert len(renewed) == 1 and not renewed & {old_1, old_2, fresh}
    stores = {
        host: {e["thumbprint"].upper() for e in lab.raw_state(host)["stores"]["My"]}
        for host in ("mfa01", "mfa02")
    }
    assert old_1 not in stores["mfa01"], "replaced and used by nothing: removed"
    assert old_2 in stores["mfa02"], "still held by an HTTP.sys entry: kept"
    assert renewed <= stores["mfa01"] and renewed <= stores["mfa02"]
    orphan = iis.http_sys_entry(lab.raw_state("mfa02"), ORPHAN_KEY)
    assert orphan["certificate_hash"].upper() == old_2, "the entry the renewal did not plan is left alone"
    warning = re.search(
        rf"certificate {old_2} in LocalMachine\\\\?My is kept: it is still used by HTTP\.sys entry {re.escape(ORPHAN_KEY)}",
        output,
    )
    assert warning, output[-4000:]

    output, counts = _run(lab, "-e", "mfa_tls_remove_replaced=true")
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counts.values()), counts
    assert all(m.startswith("not due") for m in _messages(output).values())


def test_dns01_with_the_variables_lab_up_acme_wrote(lab):
    """The DNS-01 variables of the inventory work as they stand: TSIG through the file lookup, BIND, Pebble."""
    old = _serve_old_certificate(lab, "mfa03")
    output, counts = _run(lab, "-e", "mfa_tls_acme_challenge=dns-01")
    assert _messages(output)["mfa03"].startswith("due:") and counts["mfa03"]["changed"] > 0
    assert counts["mfa01"]["changed"] == 0 and counts["mfa02"]["changed"] == 0
    assert _served(lab, "mfa03") != old
    assert "Pebble" in _leaf(lab, "mfa03", _served(lab, "mfa03")).issuer.rfc4514_string()
    variables = _group_vars(lab)
    bind = acme.Bind(
        variables["mfa_tls_acme_dns_server"],
        variables["mfa_tls_acme_dns_port"],
        "",
        acme.TsigKey("", "", ""),
        {},
    )
    assert bind.txt(f"_acme-challenge.{lab.hostvars('mfa03')['mfa_tls_public_name']}") == [], (
        "TXT record removed"
    )


def test_no_secret_in_the_playbook_output(lab):
    secrets = [
        (lab.dir / "acme" / "tsig.secret").read_text(),
        (lab.dir / "certs" / "replacement.pass").read_text(),
    ]
    logs = [p.read_text() for p in lab.dir.parent.glob("renew-*.log")]
    assert len(logs) >= 6
    assert not [secret for secret in secrets for log in logs if secret in log]
