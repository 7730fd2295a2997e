"""`python -m lab up --acme`: a real ACME CA (Pebble) and a real DNS server (BIND) beside the fleet.

BIND serves the zone of the lab's public names (`lab.example`), each name -> the loopback address of the lab host
that serves it, and takes RFC 2136 updates of their `_acme-challenge` TXT records signed with a TSIG key made
at start. Pebble resolves every name through that BIND (`-dnsserver`), fetches HTTP-01 from port 10080 of the
address it gets (where the lab serves IIS's port 80, lab.iis.lab_port), validates for real (no
PEBBLE_VA_ALWAYS_VALID) and issues for 90 days. Both come from lab/acme.py and run, until `lab down`, in one
background process (`python -m lab acme-serve`), which writes what the inventory needs into `<lab>/acme/`:

| file | what |
| --- | --- |
| `acme.json` | directory URL, DNS server, port, zone and TSIG key name and algorithm (no secret); written last, so that its presence means "answering" |
| `listener-ca.pem` | the root of Pebble's HTTPS listener: `mfa_tls_acme_trust_bundle` |
| `pebble-root.pem` | Pebble's issuing root, new at every start |
| `tsig.secret` | the TSIG secret (0600, in a 0700 folder); the inventory reads it with a `file` lookup, never copies it |
| `../trust/public-roots-acme.pem` | the lab's public roots plus Pebble's root: `mfa_tls_trust_bundle`, the store of a phone to which Pebble is a public CA |
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab import acme, certinfo, iis, scenarios
from lab.state import HostState

# The friendly name of Pebble's root in each host's LocalMachine\Root (replaced at every start: Pebble makes a
# new root each time).
ROOT_FRIENDLY_NAME = "Pebble root (lab ACME CA, public in this lab)"
FOLDER = "acme"
STATE = "acme.json"
PID = "acme.pid"


def folder(lab_dir: Path) -> Path:
    return lab_dir / FOLDER


def state(lab_dir: Path) -> dict | None:
    """What the running ACME services published, or None when they are not running."""
    path = folder(lab_dir) / STATE
    return json.loads(path.read_text()) if path.exists() else None


def records(lab_dir: Path) -> dict[str, str]:
    """Public name -> lab address of every lab host whose public name is in the lab's zone."""
    config = json.loads((lab_dir / "lab.json").read_text())
    names = {}
    for host in config["hosts"]:
        name = HostState(lab_dir, host["name"]).read()["host"]["public_name"].lower().rstrip(".")
        if name.endswith("." + scenarios.PUBLIC_DOMAIN):
            names[name] = host["address"]
    return names


def _write_secret(path: Path, secret: str) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)


def _trust_on_hosts(lab_dir: Path, root_pem: bytes) -> None:
    """Pebble's root into every host's LocalMachine\\Root, as Windows holds the roots of public CAs (Microsoft's
    Trusted Root Program): the hosts' own TLS clients, such as the Mobile App Web Service calling the Web Service
    SDK over HTTPS, then trust Pebble's certificates as they would a public CA's (docs/windows-model.md)."""
    cert = x509.load_pem_x509_certificate(root_pem)
    entry = {
        "thumbprint": certinfo.thumbprint(cert),
        "der_b64": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        "has_private_key": False,
        "private_key_machine": False,
        "exportable": False,
        "friendly_name": ROOT_FRIENDLY_NAME,
    }
    for host in json.loads((lab_dir / "lab.json").read_text())["hosts"]:
        with HostState(lab_dir, host["name"]).change() as live:
            roots = live["stores"].setdefault("Root", [])
            roots[:] = [e for e in roots if e.get("friendly_name") != ROOT_FRIENDLY_NAME] + [entry]


def _publish(lab_dir: Path, bind: acme.Bind, pebble: acme.Pebble) -> None:
    out = folder(lab_dir)
    _trust_on_hosts(lab_dir, pebble.root_pem)
    (out / "listener-ca.pem").write_bytes(pebble.listener_ca_pem)
    (out / "pebble-root.pem").write_bytes(pebble.root_pem)
    _write_secret(out / "tsig.secret", bind.key.secret)
    public = (lab_dir / "trust" / "public-roots.pem").read_bytes()
    (lab_dir / "trust" / "public-roots-acme.pem").write_bytes(public.rstrip(b"\n") + b"\n" + pebble.root_pem)
    published = {
        "directory_url": pebble.directory_url,
        "dns_server": bind.address,
        "dns_port": bind.port,
        "zone": bind.zone,
        "tsig_name": bind.key.name,
        "tsig_algorithm": bind.key.algorithm,
        "http_port": iis.lab_port(80),
        "names": sorted(bind.records),
    }
    temporary = out / f"{STATE}.tmp"
    temporary.write_text(json.dumps(published, indent=1))
    temporary.replace(out / STATE)  # atomic: readers see all of it or nothing


def serve(lab_dir: Path) -> int:
    """Runs BIND and Pebble until SIGTERM (what `lab down` sends), then stops both."""
    out = folder(lab_dir)
    out.mkdir(mode=0o700, exist_ok=True)
    out.chmod(0o700)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stopping.set())
    names = records(lab_dir)
    try:
        with (
            acme.bind_server(scenarios.PUBLIC_DOMAIN, names) as bind,
            acme.pebble_server(f"{bind.address}:{bind.port}", http_port=iis.lab_port(80)) as pebble,
        ):
            _publish(lab_dir, bind, pebble)
            print(
                f"lab acme: Pebble {pebble.directory_url}, BIND {bind.address}:{bind.port} ({len(names)} names)"
            )
            stopping.wait()
    finally:
        (out / STATE).unlink(missing_ok=True)
        (out / "tsig.secret").unlink(missing_ok=True)
    return 0


def inventory_vars(lab_dir: Path) -> dict:
    """The group variables `lab up --acme` adds to the inventory, or {} when the services are not running."""
    published = state(lab_dir)
    if not published:
        return {}
    out = folder(lab_dir).resolve()
    return {
        "mfa_tls_acme_directory": published["directory_url"],
        "mfa_tls_acme_trust_bundle": str(out / "listener-ca.pem"),
        "mfa_tls_trust_bundle": str((lab_dir / "trust" / "public-roots-acme.pem").resolve()),
        "mfa_tls_acme_dns_server": published["dns_server"],
        "mfa_tls_acme_dns_port": published["dns_port"],
        "mfa_tls_acme_dns_zone": published["zone"],
        "mfa_tls_acme_tsig_name": published["tsig_name"],
        "mfa_tls_acme_tsig_algorithm": published["tsig_algorithm"],
        "mfa_tls_acme_tsig_secret": "{{ lookup('ansible.builtin.file', '"
        + str(out / "tsig.secret")
        + "') }}",
    }
