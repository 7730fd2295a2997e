"""The `acme` certificate source of playbooks/remediate.yml against the lab, a real ACME CA and a real DNS server.

A lab of three private-ca hosts (Default Web Site with `*:80:` and `*:443:`); BIND maps each host's public name to its
lab address and takes TSIG-signed RFC 2136 updates; Pebble validates for real, fetching HTTP-01 from port 10080
of that address, where the lab serves IIS's port 80 (lab.iis.lab_port). The controller reaches port 80 the same
way, through `mfa_tls_probe_addresses[80]` in the inventory copy each run uses.

The bad inputs run first, while every host still has its private-ca certificate: each shows from the lab's ground
truth that no host changed and that no challenge file or TXT record is left. Then one HTTP-01 issuance for the
fleet (timed), compliance with Pebble's root as the phones' trust, and one DNS-01 issuance.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.server
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lab import acme, iis
from lab.state import HostState
from tests.support.collection_paths import ROOT
from tests.support.lab_harness import VENV_BIN, Lab, configuration, recap, running_lab, served_certificates

PLAYBOOKS = ROOT / "playbooks"
ZONE = "lab.example"
CHALLENGE_PATH = "/.well-known/acme-challenge/"
# A PFX or a key in base64 on one line; certificates and CSRs in results are PEM, broken every 64 characters.
LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{400,}")
# As tests/acme/conftest.py: the module arguments in the results (ansible-core 2.21 leaves them out unless asked),
# so that the secret checks see what older cores and AWX would show.
VERBOSE_ENV = {
    "ANSIBLE_INJECT_INVOCATION": "true",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_LOCALHOST_WARNING": "false",
}


@dataclass
class Fleet:
    lab: Lab
    bind: acme.Bind
    pebble: acme.Pebble
    names: dict[str, str]  # host -> public name
    pebble_roots: Path  # Pebble's root: the CA phones trust in these tests
    account_key: str  # PEM, given as mfa_tls_acme_account_key so that the test can look for it


def _account_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _trust_as_public(lab: Lab, host: str, root_pem: bytes) -> None:
    """Pebble stands in for a public ACME CA, whose root Windows trusts (its root program, through automatic
    root update): in the host's LocalMachine\\Root, where the Mobile App Web Service's call to the Web Service
    SDK validates the new certificate (lab/mfa_sdk.py)."""
    root = x509.load_pem_x509_certificate(root_pem)
    entry = {
        "der_b64": base64.b64encode(root.public_bytes(serialization.Encoding.DER)).decode(),
        "exportable": False,
        "friendly_name": "Pebble root (a public ACME CA here)",
        "has_private_key": False,
        "private_key_machine": False,
        "thumbprint": root.fingerprint(hashes.SHA1()).hex().upper(),
    }
    with HostState(lab.dir, host).change() as data:
        data["stores"]["Root"].append(entry)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[Fleet]:
    """For the bad inputs, then the HTTP-01 issuance."""
    with _fleet(tmp_path_factory.mktemp("acme-remediate")) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def dns_fleet(tmp_path_factory) -> Iterator[Fleet]:
    """A second private-ca fleet: once the first serves a valid certificate, remediate rightly changes nothing there."""
    with _fleet(tmp_path_factory.mktemp("acme-remediate-dns")) as fleet:
        yield fleet


@contextlib.contextmanager
def _fleet(directory: Path, **pebble_options) -> Iterator[Fleet]:
    with running_lab(directory / "lab", 3, "private-ca") as lab:
        names = {host: lab.hostvars(host)["mfa_tls_public_name"] for host in lab.hosts()}
        records = {name: lab.hostvars(host)["ansible_host"] for host, name in names.items()}
        with (
            acme.bind_server(ZONE, records) as bind,
            acme.pebble_server(
                f"{bind.address}:{bind.port}", http_port=iis.lab_port(80), **pebble_options
            ) as pebble,
        ):
            roots = directory / "pebble-root.pem"
            roots.write_bytes(pebble.root_pem)
            for host in names:
                _trust_as_public(lab, host, pebble.root_pem)
            yield Fleet(lab, bind, pebble, names, roots, _account_key())


@dataclass
class Run:
    completed: subprocess.CompletedProcess
    seconds: float

    @property
    def output(self) -> str:
        return self.completed.stdout + self.completed.stderr


def _inventory(fleet: Fleet, folder: Path, http_addresses: dict[str, str] | None = None) -> Path:
    """The lab's inventory with each host's port 80 (where the controller fetches the tokens) mapped to where
    the lab serves it; `http_addresses` overrides it per host."""
    inventory = yaml.safe_load(fleet.lab.inventory.read_text())
    hosts = inventory["all"]["children"]["mfa_servers"]["hosts"]
    for host, variables in hosts.items():
        default = f"{variables['ansible_host']}:{iis.lab_port(80)}"
        variables["mfa_tls_probe_addresses"][80] = (http_addresses or {}).get(host, default)
    path = folder / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def _variables(fleet: Fleet, **extra) -> dict:
    return {
        "mfa_tls_certificate_source": "acme",
        "mfa_tls_acme_directory": fleet.pebble.directory_url,
        "mfa_tls_acme_trust_bundle": str(fleet.pebble.listener_ca_file),
        "mfa_tls_acme_account_key": fleet.account_key,
        "mfa_tls_acme_email": "pki@lab.example",
        "mfa_tls_trust_bundle": str(fleet.pebble_roots),
        **extra,
    }


def _dns_variables(fleet: Fleet, **extra) -> dict:
    return {
        "mfa_tls_acme_challenge": "dns-01",
        "mfa_tls_acme_dns_server": fleet.bind.address,
        "mfa_tls_acme_dns_port": fleet.bind.port,
        "mfa_tls_acme_dns_zone": fleet.bind.zone,
        "mfa_tls_acme_tsig_name": fleet.bind.key.name,
        "mfa_tls_acme_tsig_algorithm": fleet.bind.key.algorithm,
        "mfa_tls_acme_tsig_secret": fleet.bind.key.secret,
        **extra,
    }


def _playbook(
    fleet: Fleet, tmp_path: Path, playbook: str, variables: dict, inventory: Path | None = None, *extra: str
) -> Run:
    """A playbook at -vvv with the module arguments in the results, as AWX shows them; secrets in a 0600 file."""
    variables_file = tmp_path / f"{playbook}.variables.json"
    variables_file.touch(mode=0o600)
    variables_file.write_text(json.dumps(variables))
    inventory = inventory or _inventory(fleet, tmp_path)
    command = [str(VENV_BIN / "ansible-playbook"), "-vvv", "-i", str(inventory), str(PLAYBOOKS / playbook)]
    started = time.monotonic()
    completed = subprocess.run(
        [*command, "-e", f"@{variables_file}", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**fleet.lab.env(), **VERBOSE_ENV},
    )
    run = Run(completed, time.monotonic() - started)
    (tmp_path / f"{playbook}.log").write_text(run.output)
    return run


def _remediate(fleet: Fleet, tmp_path: Path, inventory: Path | None = None, **variables) -> Run:
    return _playbook(fleet, tmp_path, "remediate.yml", _variables(fleet, **variables), inventory)


def _challenge_requests(state: dict) -> list[dict]:
    return [e for e in state.get("iis_log") or [] if e["cs-uri-stem"].startswith(CHALLENGE_PATH)]


def _ground_truth(fleet: Fleet) -> dict[str, dict]:
    return {host: configuration(fleet.lab.raw_state(host)) for host in fleet.names}


def _txt_records(fleet: Fleet, names) -> dict[str, list[str]]:
    return {name: fleet.bind.txt(f"_acme-challenge.{name}") for name in names}


def _assert_nothing_changed_or_left(fleet: Fleet, before: dict[str, dict]) -> None:
    assert _ground_truth(fleet) == before, "a host changed"
    for host in fleet.names:
        assert not [d for d in fleet.lab.raw_state(host)["dirs"] if ".well-known" in d.lower()], host
    assert all(not values for values in _txt_records(fleet, fleet.names.values()).values())


def _assert_no_secrets(fleet: Fleet, text: str, *more: str) -> None:
    """The account key, the TSIG secret and any private key or PFX (a long base64 run) appear nowhere."""
    body = "".join(line for line in fleet.account_key.splitlines() if not line.startswith("-----"))
    for secret in (body[:40], body[-40:], fleet.bind.key.secret, *more):
        assert secret not in text
    assert "PRIVATE KEY" not in text
    # A public key's modulus is printed in decimal (the CSR's public_key_data): digits only are not base64.
    assert not [run for run in LONG_BASE64.findall(text.replace("\\n", "\n")) if not run.isdigit()]


def _all_failed(run: Run, hosts) -> None:
    assert run.completed.returncode != 0
    assert {host: counts["failed"] for host, counts in recap(run.completed.stdout).items()} == dict.fromkeys(
        hosts, 1
    )


# --- bad input: nothing changes, nothing is left ---------------------------------------------------------------


def test_an_unreachable_directory_fails_before_any_host_changes(fleet, tmp_path):
    before = _ground_truth(fleet)
    port = acme.free_port()
    run = _remediate(fleet, tmp_path, mfa_tls_acme_directory=f"https://127.0.0.1:{port}/dir")
    _all_failed(run, fleet.names)
    assert f"The ACME directory https://127.0.0.1:{port}/dir cannot be reached" in run.output
    assert "Check mfa_tls_acme_directory" in run.output
    _assert_nothing_changed_or_left(fleet, before)
    _assert_no_secrets(fleet, run.output)


@contextlib.contextmanager
def _answering_404(address: str) -> Iterator[str]:
    """What a misrouting proxy in front of a host does: 404 for every path; yields its host:port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"Not Found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # pylint: disable=redefined-builtin  # the base class names it so
            """Quiet."""

    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_check_mode_refuses_an_acme_order_and_changes_nothing(fleet, tmp_path):
    before = _ground_truth(fleet)
    run = _playbook(fleet, tmp_path, "remediate.yml", _variables(fleet), None, "--check", "--diff")
    _all_failed(run, fleet.names)
    assert "Check mode does not order an ACME certificate" in run.output
    assert "acme_certificate_order_create" not in run.output
    _assert_nothing_changed_or_left(fleet, before)


def test_a_failed_pre_check_says_which_host_answered_what(fleet, tmp_path):
    """One host's port 80 leads the controller (and the CA) to something that answers 404: the pre-check fails
    before the CA is asked, naming the host, the address and the answer; every token is removed."""
    before = _ground_truth(fleet)
    host = sorted(fleet.names)[1]
    with _answering_404("127.0.0.1") as proxy:
        inventory = _inventory(fleet, tmp_path, {host: proxy})
        run = _remediate(fleet, tmp_path, inventory)
    _all_failed(run, fleet.names)
    assert f"{host} ({proxy}) answered 404" in run.output
    assert f"http://{fleet.names[host]}/.well-known/acme-challenge/" in run.output
    # The other hosts answered their tokens; nobody asked Pebble to validate.
    assert "acme_certificate_order_validate" not in _task_starts(run.output)
    _assert_nothing_changed_or_left(fleet, before)
    _assert_no_secrets(fleet, run.output)


def _task_starts(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if line.startswith("TASK ["))


def test_a_name_no_host_serves_fails_and_removes_every_token(fleet, tmp_path):
    """Host-header bindings (`*:80:<public name>`) on every host: a name none of them has is refused before the
    CA is asked; each host received only the tokens of the names it serves."""
    before = _ground_truth(fleet)
    for host, name in fleet.names.items():
        with HostState(fleet.lab.dir, host).change() as data:
            for site in data["sites"]:
                for binding in site["bindings"]:
                    if binding["protocol"] == "http" and binding["binding_information"] == "*:80:":
                        binding["binding_information"] = f"*:80:{name}"
    changed = _ground_truth(fleet)
    try:
        other = f"other.{ZONE}"
        run = _remediate(fleet, tmp_path, mfa_tls_acme_names=[*fleet.names.values(), other])
        _all_failed(run, fleet.names)
        assert f"No host of the play serves http://{other}/ on port 80" in run.output
        _assert_nothing_changed_or_left(fleet, changed)
    finally:
        for host in fleet.names:
            with HostState(fleet.lab.dir, host).change() as data:
                data["sites"] = before[host]["sites"]
    assert _ground_truth(fleet) == before
    _assert_no_secrets(fleet, run.output)


def test_a_name_the_ca_cannot_validate_fails_midway_and_cleans_up(fleet, tmp_path):
    """A name BIND does not know: every host serves its token (the blank-host binding answers any name, so the
    pre-check passes), Pebble cannot resolve it and refuses the order at validation: the tokens are removed from
    every host, nothing is imported or bound."""
    before = _ground_truth(fleet)
    nowhere = f"nowhere.{ZONE}"
    run = _remediate(fleet, tmp_path, mfa_tls_acme_names=[*fleet.names.values(), nowhere])
    _all_failed(run, fleet.names)
    assert "The ACME CA did not issue the certificate" in run.output and nowhere in run.output
    for host in fleet.names:
        # The tokens were placed and served (to the controller's pre-check), then removed.
        assert _challenge_requests(fleet.lab.raw_state(host)), host
    _assert_nothing_changed_or_left(fleet, before)
    _assert_no_secrets(fleet, run.output)


def test_a_refused_tsig_update_fails_before_any_host_changes(fleet, tmp_path):
    before = _ground_truth(fleet)
    wrong = acme.new_tsig_key(fleet.bind.key.name)
    run = _remediate(fleet, tmp_path, **_dns_variables(fleet, mfa_tls_acme_tsig_secret=wrong.secret))
    _all_failed(run, fleet.names)
    assert f"The DNS server {fleet.bind.address}:{fleet.bind.port} refused the update" in run.output
    assert "Check mfa_tls_acme_tsig_name" in run.output
    _assert_nothing_changed_or_left(fleet, before)
    _assert_no_secrets(fleet, run.output, wrong.secret)


# --- issuance for the fleet -----------------------------------------------------------------------------------


def _served(fleet: Fleet) -> dict[str, set[str]]:
    return {host: set(served_certificates(fleet.lab.raw_state(host)).values()) for host in fleet.names}


def _issued_certificate(fleet: Fleet, thumbprint: str) -> x509.Certificate:
    """The certificate the lab's store holds under `thumbprint` (the same on every host)."""
    certificates = set()
    for host in fleet.names:
        store = fleet.lab.raw_state(host)["stores"]["My"]
        certificates |= {
            c["der_b64"] for c in store if c["thumbprint"] == thumbprint and c["has_private_key"]
        }
    assert len(certificates) == 1, thumbprint
    return x509.load_der_x509_certificate(base64.b64decode(certificates.pop()))


def _certificate_key_parts(fleet: Fleet, thumbprint: str) -> list[str]:
    """Pieces of the certificate's private key as the lab keeps it for the host's machine store (lab-side, where
    Windows keeps it protected): what must appear nowhere in the output."""
    path = HostState(fleet.lab.dir, next(iter(fleet.names))).key_path(thumbprint)
    assert path is not None, "the imported key is in the host's store"
    body = "".join(line for line in path.read_text().splitlines() if not line.startswith("-----"))
    return [body[:40], body[len(body) // 2 : len(body) // 2 + 40], body[-40:]]


def _assert_one_certificate_for_the_fleet(fleet: Fleet) -> str:
    served = _served(fleet)
    thumbprints = set().union(*served.values())
    assert len(thumbprints) == 1 and all(served.values()), served
    thumbprint = thumbprints.pop()
    cert = _issued_certificate(fleet, thumbprint)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(fleet.pebble.intermediate_pem))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(fleet.names.values())
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(lifetime - dt.timedelta(days=acme.DEFAULT_VALIDITY_DAYS)) <= dt.timedelta(seconds=1)
    return thumbprint


def test_one_certificate_for_the_fleet_via_http01_then_compliance_passes(fleet, tmp_path, record_property):
    first_served = _served(fleet)
    logged = {
        host: [json.dumps(e) for e in _challenge_requests(fleet.lab.raw_state(host))] for host in fleet.names
    }
    run = _remediate(fleet, tmp_path)
    assert run.completed.returncode == 0, run.output[-6000:] + fleet.pebble.log.read_text()[-2000:]
    thumbprint = _assert_one_certificate_for_the_fleet(fleet)
    assert all(thumbprint not in old for old in first_served.values())
    names = sorted(fleet.names.values())
    for host in fleet.names:
        state = fleet.lab.raw_state(host)
        requests = [e for e in _challenge_requests(state) if json.dumps(e) not in logged[host]]
        # Pebble resolved each name through BIND to its host and fetched the token from IIS's port 80 there.
        by_pebble = [e for e in requests if "Pebble" in e["cs(User-Agent)"]]
        assert by_pebble and all(e["sc-status"] == 200 for e in by_pebble), host
        # Every name's token was on every host: the controller fetched each of them from each host, and got it.
        by_controller = [e for e in requests if "Pebble" not in e["cs(User-Agent)"]]
        assert len({e["cs-uri-stem"] for e in by_controller}) == len(names), host
        assert all(e["sc-status"] == 200 for e in by_controller), host
        assert state["counters"]["modules"]["acme_http_challenge"] >= 2, "placed and removed"
        assert not [d for d in state["dirs"] if ".well-known" in d.lower()], "a challenge folder is left"
    _assert_no_secrets(fleet, run.output, *_certificate_key_parts(fleet, thumbprint))
    record_property("acme_http01_fleet_issuance_seconds", round(run.seconds, 2))
    print(f"remediate.yml with an HTTP-01 issuance for {len(names)} hosts: {run.seconds:.1f} s")

    report_dir = tmp_path / "report"
    compliance = _playbook(
        fleet,
        tmp_path,
        "compliance.yml",
        {"mfa_tls_trust_bundle": str(fleet.pebble_roots), "mfa_tls_report_dir": str(report_dir)},
    )
    assert compliance.completed.returncode == 0, compliance.output[-4000:]
    report = json.loads((report_dir / "mfa-tls-compliance.json").read_text())
    assert report["summary"]["compliant"] is True
    for path in report_dir.rglob("*"):
        if path.is_file():
            _assert_no_secrets(fleet, path.read_text())


def test_one_certificate_for_the_fleet_via_dns01_through_bind(dns_fleet, tmp_path):
    fleet = dns_fleet
    previous = set().union(*_served(fleet).values())
    run = _remediate(fleet, tmp_path, **_dns_variables(fleet))
    assert run.completed.returncode == 0, run.output[-6000:] + fleet.pebble.log.read_text()[-2000:]
    thumbprint = _assert_one_certificate_for_the_fleet(fleet)
    assert thumbprint not in previous, "a new certificate"
    assert all(not values for values in _txt_records(fleet, fleet.names.values()).values()), (
        "a TXT record is left"
    )
    _assert_no_secrets(fleet, run.output, *_certificate_key_parts(fleet, thumbprint))


@pytest.fixture(scope="module")
def per_host_fleet(tmp_path_factory) -> Iterator[Fleet]:
    with _fleet(tmp_path_factory.mktemp("acme-remediate-per-host")) as fleet:
        yield fleet


def test_a_certificate_per_host_each_answered_on_every_host(per_host_fleet, tmp_path):
    """mfa_tls_acme_per_host: one order per host for its own public name; every order's token on every host.
    The account key is given as a file here (a path on the controller, as a vault-decrypted file would be)."""
    fleet = per_host_fleet
    account_key = tmp_path / "account.key"
    account_key.touch(mode=0o600)
    account_key.write_text(fleet.account_key)
    run = _remediate(fleet, tmp_path, mfa_tls_acme_per_host=True, mfa_tls_acme_account_key=str(account_key))
    assert run.completed.returncode == 0, run.output[-6000:] + fleet.pebble.log.read_text()[-2000:]
    served = _served(fleet)
    assert all(len(thumbprints) == 1 for thumbprints in served.values()), served
    assert len(set().union(*served.values())) == len(fleet.names), "one certificate per host"
    for host, name in fleet.names.items():
        cert = _issued_certificate(fleet, next(iter(served[host])))
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [name]
        by_controller = [
            e for e in _challenge_requests(fleet.lab.raw_state(host)) if "Pebble" not in e["cs(User-Agent)"]
        ]
        assert len({e["cs-uri-stem"] for e in by_controller}) == len(fleet.names), host
    _assert_no_secrets(fleet, run.output)


# --- a CA that requires an external account binding (RFC 8555 7.3.4) -------------------------------------------


@pytest.fixture(scope="module")
def eab_fleet(tmp_path_factory) -> Iterator[Fleet]:
    """A private-ca fleet whose CA refuses new accounts without an external account binding, as ZeroSSL, Google Trust
    Services and most commercial ACME CAs do."""
    with _fleet(tmp_path_factory.mktemp("acme-remediate-eab"), external_account_binding=True) as fleet:
        yield fleet


def _eab_hmac(fleet: Fleet) -> str:
    assert fleet.pebble.eab_kid and fleet.pebble.eab_hmac, "Pebble requires EAB here"
    return fleet.pebble.eab_hmac


def test_a_ca_that_requires_eab_refuses_the_account_before_any_host_changes(eab_fleet, tmp_path):
    fleet = eab_fleet
    before = _ground_truth(fleet)
    run = _remediate(fleet, tmp_path)
    _all_failed(run, fleet.names)
    assert (
        f"The ACME CA at {fleet.pebble.directory_url} refused or could not be reached for the account"
        in run.output
    )
    assert (
        "The CA requires an external account binding: set mfa_tls_acme_eab_kid and mfa_tls_acme_eab_hmac"
        in run.output
    )
    # Refused at the account: no order, so no challenge was placed anywhere.
    for host in fleet.names:
        assert not _challenge_requests(fleet.lab.raw_state(host)), host
    _assert_nothing_changed_or_left(fleet, before)
    _assert_no_secrets(fleet, run.output, _eab_hmac(fleet))


def test_the_eab_hmac_never_appears_in_verbose_output(eab_fleet, tmp_path):
    """-vvv with the module arguments injected and a wrong MAC key (the CA refuses it, before any host changes):
    neither key appears. (The success run below checks the right key too; it runs last, since a fleet that
    serves a valid certificate has nothing left to order.)"""
    fleet = eab_fleet
    _kid, wrong = acme.new_eab_key()
    before = _ground_truth(fleet)
    run = _remediate(
        fleet,
        tmp_path,
        mfa_tls_acme_account_key=_account_key(),  # a new account, so that the CA checks the binding again
        mfa_tls_acme_eab_kid=fleet.pebble.eab_kid,
        mfa_tls_acme_eab_hmac=wrong,
    )
    _all_failed(run, fleet.names)
    assert (
        "The CA requires an external account binding and refused the one given: set mfa_tls_acme_eab_kid"
        in run.output
    )
    assert fleet.pebble.eab_kid in run.output, (
        "the module arguments (kid shown, key hidden) are in the output"
    )
    _assert_nothing_changed_or_left(fleet, before)
    _assert_no_secrets(fleet, run.output, wrong, _eab_hmac(fleet))


def test_the_ca_issues_with_the_external_account_binding_and_the_hmac_stays_hidden(eab_fleet, tmp_path):
    fleet = eab_fleet
    hmac = _eab_hmac(fleet)
    previous = set().union(*_served(fleet).values())
    run = _remediate(fleet, tmp_path, mfa_tls_acme_eab_kid=fleet.pebble.eab_kid, mfa_tls_acme_eab_hmac=hmac)
    assert run.completed.returncode == 0, run.output[-6000:] + fleet.pebble.log.read_text()[-2000:]
    thumbprint = _assert_one_certificate_for_the_fleet(fleet)
    assert thumbprint not in previous, "a new certificate"
    # The binding went to the CA (Pebble logs the account it bound to the kid is new) and its key nowhere.
    assert "Register the ACME account, or find it" in run.output
    _assert_no_secrets(fleet, run.output, hmac, *_certificate_key_parts(fleet, thumbprint))
