"""Pebble and BIND on 127.0.0.0/8 for the ACME tests, an HTTP-01 responder, and the playbook runner.

The servers come from Debian's `pebble` and `bind9` (.ci/run installs them); without them every test
here is skipped with the reason, so that a developer machine without the packages says what is missing."""

from __future__ import annotations

import http.server
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab import acme
from tests.support.collection_paths import ROOT, ansible_env

BIN = Path(sys.executable).parent
PLAYBOOK = Path(__file__).parent / "playbooks" / "order.yml"
ZONE = "lab.example"  # lab/scenarios.py PUBLIC_DOMAIN: the lab hosts' public names end in it
HTTP_NAME = f"web01.{ZONE}"
DNS_NAME = f"dns01.{ZONE}"
COLLECTIONS = ROOT / ".cache" / "collections" / "ansible_collections"
STAMP = ".from-ansible-14.5.0"
# ansible-core 2.21 no longer puts the module arguments into results (`invocation`) unless asked: asked
# here, so that -vvv shows every argument, and the secret checks see what older cores and AWX would show.
VERBOSE_ENV = {
    "ANSIBLE_INJECT_INVOCATION": "true",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_LOCALHOST_WARNING": "false",
}

if acme.missing_binaries():
    pytest.skip(
        f"{', '.join(acme.missing_binaries())} missing: install Debian's pebble and bind9 (.ci/run does)",
        allow_module_level=True,
    )


@pytest.fixture(scope="session", autouse=True)
def _acme_collections() -> None:
    """community.crypto and community.general from the pinned wheel, as `make setup` installs them."""
    if not all((COLLECTIONS / name / STAMP).exists() for name in ("community/crypto", "community/general")):
        subprocess.run(
            [str(ROOT / "scripts" / "install-windows-collection")],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PY": sys.executable},
        )


def free_loopback_address(port: int) -> str:
    """An address 127.A.0.B whose `port` is free, outside the lab fleets' 127.64-213.x.x ranges."""
    rng = random.Random()
    error: OSError | None = None
    for _attempt in range(200):
        address = f"127.{rng.randint(220, 254)}.0.{rng.randint(2, 250)}"
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError as exc:
                error = exc
                continue
        return address
    # Port 80 is what an ACME CA fetches HTTP-01 from; below 1024 it needs root or CAP_NET_BIND_SERVICE.
    raise RuntimeError(f"no loopback address with port {port} free: {error}")


@dataclass
class Responder:
    """What a lab host's IIS does for HTTP-01: serves the files of a web root on port 80 of its address."""

    address: str
    webroot: Path
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, User-Agent) of each GET


def _serve(responder: Responder) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(responder.webroot), **kwargs)

        def do_GET(self) -> None:
            responder.requests.append((self.path, self.headers.get("User-Agent", "")))
            super().do_GET()

        def log_message(self, format: str, *args) -> None:  # pylint: disable=redefined-builtin  # the base class names it so
            """Quiet: the test reads `responder.requests` instead."""

    return http.server.ThreadingHTTPServer((responder.address, 80), Handler)


@dataclass
class Services:
    bind: acme.Bind
    pebble: acme.Pebble
    responder: Responder
    http_name: str = HTTP_NAME  # resolves to the responder's address
    dns_name: str = DNS_NAME  # resolves to an address where nothing listens


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[Services]:
    """BIND with the two test names, Pebble resolving through it, and the HTTP-01 responder of web01.

    dns01 resolves to an address where nothing listens: DNS-01 must not need the host to answer HTTP."""
    responder = Responder(free_loopback_address(80), tmp_path_factory.mktemp("webroot"))
    records = {HTTP_NAME: responder.address, DNS_NAME: free_loopback_address(80)}
    server = _serve(responder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with (
            acme.bind_server(ZONE, records) as bind,
            acme.pebble_server(f"{bind.address}:{bind.port}") as pebble,
        ):
            yield Services(bind, pebble, responder)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Run:
    completed: subprocess.CompletedProcess
    seconds: float
    output_dir: Path

    @property
    def output(self) -> str:
        return self.completed.stdout + self.completed.stderr


def _run_order(services: Services, tmp_path: Path, challenge: str, names: list[str], **extra) -> Run:
    """tests/acme/playbooks/order.yml with the real ansible-playbook at -vvv; its output and wall time."""
    output_dir = tmp_path / "issued"
    output_dir.mkdir()
    variables = {
        "acme_directory": services.pebble.directory_url,
        "acme_trust_bundle": str(services.pebble.listener_ca_file),
        "acme_challenge": challenge,
        "acme_names": names,
        "acme_webroot": str(services.responder.webroot),
        "acme_output": str(output_dir),
        "acme_dns_server": services.bind.address,
        "acme_dns_port": services.bind.port,
        "acme_dns_zone": services.bind.zone,
        "acme_tsig_key_name": services.bind.key.name,
        "acme_tsig_key_algorithm": services.bind.key.algorithm,
        "acme_tsig_key_secret": services.bind.key.secret,
        **extra,
    }
    # The TSIG secret reaches ansible-playbook in a 0600 file, never on its command line.
    variables_file = tmp_path / "variables.json"
    variables_file.touch(mode=0o600)
    variables_file.write_text(json.dumps(variables))
    started = time.monotonic()
    completed = subprocess.run(
        [str(BIN / "ansible-playbook"), "-vvv", str(PLAYBOOK), "-e", f"@{variables_file}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**ansible_env(), **VERBOSE_ENV},
    )
    seconds = time.monotonic() - started
    # Kept beside the test's other files (throwaway keys only) to read when an assertion fails.
    (tmp_path / "ansible-playbook.log").write_text(completed.stdout + completed.stderr)
    return Run(completed, seconds, output_dir)


@pytest.fixture
def run_order(services, tmp_path):
    """Runs one order in this test's folder: run_order("http-01", [name], **more_variables) -> Run."""

    def run(challenge: str, names: list[str], **extra) -> Run:
        return _run_order(services, tmp_path, challenge, names, **extra)

    return run
