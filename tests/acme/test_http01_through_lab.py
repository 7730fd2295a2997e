"""HTTP-01 through IIS on every lab host, validated for real by Pebble.

A lab of three private-ca hosts (Default Web Site with `*:80:` on C:\\inetpub\\wwwroot); BIND maps each host's public
name to the host's lab address; Pebble fetches HTTP-01 from port 10080 there, where the lab serves IIS's port
80 (lab.iis.lab_port). tests/acme/playbooks/order_through_lab.yml orders one certificate for the three names on
the controller, places every token on every host with the real mfa_server.tls.acme_http_challenge over WinRM,
fetches each URL from each host itself, lets Pebble validate, finalizes, and removes the tokens. The lab's
ground truth shows what IIS served to whom (its W3C log) and that nothing is left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from lab import acme, iis
from tests.support.lab_harness import Lab, configuration, recap, running_lab

PLAYBOOK = Path(__file__).parent / "playbooks" / "order_through_lab.yml"
ZONE = "lab.example"
CHALLENGE_PATH = "/.well-known/acme-challenge/"


@dataclass
class Fleet:
    lab: Lab
    bind: acme.Bind
    pebble: acme.Pebble
    names: dict[str, str]  # host -> public name


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[Fleet]:
    directory = tmp_path_factory.mktemp("acme-fleet")
    with running_lab(directory / "lab", 3, "private-ca") as lab:
        names = {host: lab.hostvars(host)["mfa_tls_public_name"] for host in lab.hosts()}
        records = {name: lab.hostvars(host)["ansible_host"] for host, name in names.items()}
        with (
            acme.bind_server(ZONE, records) as bind,
            acme.pebble_server(f"{bind.address}:{bind.port}", http_port=iis.lab_port(80)) as pebble,
        ):
            yield Fleet(lab, bind, pebble, names)


def _order(fleet: Fleet, tmp_path: Path, names: list[str]):
    output = tmp_path / "issued"
    output.mkdir()
    variables = {
        "acme_directory": fleet.pebble.directory_url,
        "acme_trust_bundle": str(fleet.pebble.listener_ca_file),
        "acme_names": names,
        "acme_output": str(output),
        "acme_probe_port": iis.lab_port(80),
    }
    variables_file = tmp_path / "variables.json"
    variables_file.write_text(json.dumps(variables))
    started = time.monotonic()
    completed = fleet.lab.playbook(PLAYBOOK, "-e", f"@{variables_file}", timeout=600)
    seconds = time.monotonic() - started
    (tmp_path / "ansible-playbook.log").write_text(completed.stdout + completed.stderr)
    return completed, seconds, output


def _challenge_requests(state: dict) -> list[dict]:
    return [e for e in state.get("iis_log") or [] if e["cs-uri-stem"].startswith(CHALLENGE_PATH)]


def test_one_certificate_for_the_fleet_validated_through_iis_on_every_host(fleet, tmp_path, record_property):
    before = {host: configuration(fleet.lab.raw_state(host)) for host in fleet.names}
    names = sorted(fleet.names.values())
    completed, seconds, output = _order(fleet, tmp_path, names)
    logs = completed.stdout[-6000:] + fleet.pebble.log.read_text()[-3000:]
    assert completed.returncode == 0, logs

    # The certificate: every public name, issued by Pebble's intermediate, Pebble's 90 days.
    cert = x509.load_pem_x509_certificate((output / "cert.pem").read_bytes())
    intermediate = x509.load_pem_x509_certificate(fleet.pebble.intermediate_pem)
    cert.verify_directly_issued_by(intermediate)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == names
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(lifetime - dt.timedelta(days=acme.DEFAULT_VALIDITY_DAYS)) <= dt.timedelta(seconds=1)

    for host, name in fleet.names.items():
        state = fleet.lab.raw_state(host)
        requests = _challenge_requests(state)
        # Pebble resolved the name through BIND to this host and fetched its token from IIS port 80 here.
        by_pebble = [e for e in requests if "Pebble" in e["cs(User-Agent)"]]
        assert by_pebble and all(
            (e["sc-status"], e["s-sitename"]) == (200, "Default Web Site") for e in by_pebble
        )
        # The controller fetched every name's token from every host before asking the CA.
        by_controller = [e for e in requests if "Pebble" not in e["cs(User-Agent)"]]
        assert len(by_controller) == len(names) and all(e["sc-status"] == 200 for e in by_controller)
        assert state["counters"]["modules"]["acme_http_challenge"] == 2, "placed once, removed once"
        # Nothing remains: every file and folder the module made is gone.
        assert configuration(state) == before[host], f"{host}: {name}"
        assert not [d for d in state["dirs"] if ".well-known" in d.lower()]

    record_property("http01_fleet_issuance_seconds", round(seconds, 2))
    print(f"one HTTP-01 issuance for {len(names)} hosts through the lab's IIS: {seconds:.1f} s")


def test_a_name_the_token_is_missing_for_fails_and_leaves_nothing(fleet, tmp_path):
    """A name BIND does not know: every host serves its token (the blank-host binding answers any name, so the
    controller's own fetch passes), but Pebble cannot resolve it and the validation fails; the clean-up still
    removes every token from every host, and no certificate is issued."""
    before = {host: configuration(fleet.lab.raw_state(host)) for host in fleet.names}
    completed, _seconds, output = _order(fleet, tmp_path, [*sorted(fleet.names.values()), f"nowhere.{ZONE}"])
    assert completed.returncode != 0
    assert "The ACME order failed" in completed.stdout and f"nowhere.{ZONE}" in completed.stdout
    # Every host failed at the order's failure and went through the clean-up (none was dropped from the play).
    assert {host: counts["failed"] for host, counts in recap(completed.stdout).items()} == dict.fromkeys(
        fleet.names, 1
    )
    assert not (output / "cert.pem").exists()
    for host in fleet.names:
        assert configuration(fleet.lab.raw_state(host)) == before[host]
