"""One ACME order against a real ACME CA (Pebble) and a real DNS server (BIND), by the real ansible-playbook.

HTTP-01: Pebble resolves the name through BIND to a loopback address and fetches the token from port 80
there, where the test's responder serves the web root the playbook wrote. DNS-01: the playbook adds the
TXT record to BIND with community.general.nsupdate (TSIG), waits until BIND serves it, and removes it.
No PEBBLE_VA_ALWAYS_VALID: a certificate is only issued when the challenge really was answered."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab import acme
from tests.support.module_task import run_module_with_output

CHALLENGE_PATH = "/.well-known/acme-challenge/"


def _issued(run) -> tuple[x509.Certificate, list[x509.Certificate]]:
    cert = x509.load_pem_x509_certificate((run.output_dir / "cert.pem").read_bytes())
    chain = x509.load_pem_x509_certificates((run.output_dir / "chain.pem").read_bytes())
    return cert, chain


def _assert_chains_to_pebble(
    cert: x509.Certificate, chain: list[x509.Certificate], pebble, name: str
) -> None:
    root = x509.load_pem_x509_certificate(pebble.root_pem)
    intermediate = x509.load_pem_x509_certificate(pebble.intermediate_pem)
    assert chain == [intermediate], "the chain is Pebble's intermediate, without the root"
    cert.verify_directly_issued_by(intermediate)  # raises unless the signature and names match
    intermediate.verify_directly_issued_by(root)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(lifetime - dt.timedelta(days=acme.DEFAULT_VALIDITY_DAYS)) <= dt.timedelta(seconds=1)


def _pem_lines(pem: str) -> list[str]:
    """The base64 lines of every PEM block: any of them in the output would leak part of the secret."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _assert_secrets_absent(output: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret and secret not in output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output, "-vvv shows the module arguments, masked"


def _read_and_remove(path) -> str:
    text = path.read_text()
    path.unlink()
    return text


def test_http01_order_is_validated_by_pebble_and_issued(services, run_order, tmp_path, record_property):
    dump = tmp_path / "keys.pem"
    run = run_order("http-01", [services.http_name], acme_secret_dump=str(dump))
    assert run.completed.returncode == 0, run.output[-6000:] + services.pebble.log.read_text()[-3000:]
    keys = _read_and_remove(dump)

    cert, chain = _issued(run)
    _assert_chains_to_pebble(cert, chain, services.pebble, services.http_name)
    # The certificate is for the key the playbook made (the second key in the dump).
    certificate_key = serialization.load_pem_private_key(
        re.findall(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", keys, re.S)[1].encode(), None
    )
    assert cert.public_key().public_numbers() == certificate_key.public_key().public_numbers()

    # Pebble fetched the token from the responder itself (three concurrent validations in Pebble 2.4)...
    fetched = [
        (path, agent) for path, agent in services.responder.requests if path.startswith(CHALLENGE_PATH)
    ]
    assert fetched and all("Pebble" in agent for _path, agent in fetched), services.responder.requests
    # ...and the token is gone again.
    assert not list((services.responder.webroot / ".well-known" / "acme-challenge").iterdir())

    _assert_secrets_absent(run.output, [*_pem_lines(keys), services.bind.key.secret])
    record_property("http01_issuance_seconds", round(run.seconds, 2))
    print(f"one HTTP-01 issuance (ansible-playbook, keys to certificate): {run.seconds:.1f} s")


def test_dns01_order_goes_through_bind_and_removes_the_txt_record(services, run_order, tmp_path):
    dump = tmp_path / "keys.pem"
    before = len(services.responder.requests)
    run = run_order("dns-01", [services.dns_name], acme_secret_dump=str(dump))
    assert run.completed.returncode == 0, run.output[-6000:] + services.pebble.log.read_text()[-3000:]
    keys = _read_and_remove(dump)

    cert, chain = _issued(run)
    _assert_chains_to_pebble(cert, chain, services.pebble, services.dns_name)
    record = f"_acme-challenge.{services.dns_name}"
    assert re.search(rf"changed: \[localhost\] => \(item={re.escape(record)}\)", run.output), (
        "TXT record added"
    )
    assert services.bind.txt(record) == [], "the TXT record is removed after the order"
    assert len(services.responder.requests) == before, "DNS-01 needs no HTTP request"
    _assert_secrets_absent(run.output, [*_pem_lines(keys), services.bind.key.secret])


def test_http01_fails_when_the_name_leads_to_no_token(services, run_order):
    """Validation is real: dns01 resolves to an address where nothing serves port 80, so Pebble refuses."""
    run = run_order("http-01", [services.dns_name])
    assert run.completed.returncode != 0
    assert "connection refused" in run.output.lower(), run.output[-4000:]
    assert not (run.output_dir / "cert.pem").exists()
    assert not list((services.responder.webroot / ".well-known" / "acme-challenge").iterdir()), "token left"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", r"TSIG update error \(PeerBadSignature\)"),
        ("unknown key name", r"TSIG update error \(PeerBadKey\)"),
        # The key is good, but its update-policy covers only _acme-challenge TXT records: BIND refuses.
        ("outside the policy", r"Failed to create DNS record \(rc: 5\)"),
    ],
)
def test_a_refused_tsig_update_fails_with_a_clear_error(services, case, expected):
    key = services.bind.key
    wrong = acme.new_tsig_key().secret
    args = {
        "server": services.bind.address,
        "port": services.bind.port,
        "zone": services.bind.zone,
        "key_name": "not-a-lab-key" if case == "unknown key name" else key.name,
        "key_algorithm": key.algorithm,
        "key_secret": wrong if case == "wrong secret" else key.secret,
        "record": f"_acme-challenge.{services.http_name}.",
        "type": "TXT",
        "value": ["refused-update"],
    }
    if case == "outside the policy":
        args.update(record=f"intruder.{services.bind.zone}.", type="A", value=["127.0.0.9"])
    env = {**os.environ, "ANSIBLE_INJECT_INVOCATION": "true"}
    result, output = run_module_with_output("community.general.nsupdate", args, verbosity=3, env=env)
    assert result.get("failed") is True, result
    assert re.search(expected, result["msg"]), result["msg"]
    assert services.bind.txt(f"_acme-challenge.{services.http_name}") == []
    assert services.bind.query(f"intruder.{services.bind.zone}") == []
    assert key.secret not in output and wrong not in output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output, "-vvv shows the module arguments, masked"
