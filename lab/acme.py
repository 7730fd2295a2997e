"""A real ACME CA and a real authoritative DNS server on 127.0.0.1, for the ACME tests and the lab.

- `bind_server`: BIND (`named`) serving one zone whose A records map the lab's public names to loopback
  addresses, accepting RFC 2136 updates of `_acme-challenge.<name>` TXT records signed with a TSIG key
  (hmac-sha256) made here. It is what `community.general.nsupdate` updates for DNS-01, and the resolver
  Pebble asks, so a public name leads the CA to the lab host that serves it.
- `pebble_server`: Let's Encrypt's Pebble (Debian's package) with real validation, its HTTPS listener on a
  certificate made with tests/support/pki.py, HTTP-01 on port 80 of whichever address BIND gives for the name.

Both are context managers that start the process, wait (bounded) until it answers, and always stop it.
Their options and why are in docs/acme.md. Nothing here listens beyond 127.0.0.0/8, and the TSIG secret
is never printed (it is in files of a 0700 temporary folder and in `TsigKey.secret`, kept out of repr).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from tests.support import pki

LOOPBACK = "127.0.0.1"
PEBBLE = "/usr/bin/pebble"
NAMED = "/usr/sbin/named"
# Pebble's own default is 5 years (ca.defaultValidityPeriod); public CAs issue 90 days or less (SC-081).
DEFAULT_VALIDITY_DAYS = 90
START_ATTEMPTS = 3  # a free port found by probing can be taken before the server binds it


def missing_binaries() -> list[str]:
    """The server binaries that are not installed (.ci/run installs Debian's `pebble` and `bind9`)."""
    return [path for path in (PEBBLE, NAMED) if not os.access(path, os.X_OK)]


def free_port(address: str = LOOPBACK) -> int:
    """A port free on `address` for both TCP and UDP (BIND listens on both)."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((address, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((address, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no port free for TCP and UDP on {address}")


def _require_loopback(address: str) -> str:
    if not ipaddress.IPv4Address(address).is_loopback:
        raise ValueError(f"{address} is not on 127.0.0.0/8: the lab's servers only use loopback addresses")
    return address


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _log_tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _wait_until(ready, process: subprocess.Popen, timeout: float, what: str, log: Path) -> None:
    """Polls `ready()` until it is true, the process exits, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _Exited(f"{what} exited with {process.returncode}:\n{_log_tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not answer within {timeout:.0f} s:\n{_log_tail(log)}")


class _Exited(RuntimeError):
    """The server process ended before it answered (typically: its port was taken meanwhile)."""


# --- BIND -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key as nsupdate (and community.general.nsupdate's key_* options) take it."""

    name: str
    algorithm: str
    secret: str = field(repr=False)  # base64, as BIND's `secret` and dnspython's keyring want it


@dataclass(frozen=True)
class Bind:
    address: str
    port: int
    zone: str
    key: TsigKey
    records: Mapping[str, str]

    def query(self, name: str, rdtype: str = "A", *, tcp: bool = False, timeout: float = 2.0) -> list[str]:
        """The answer BIND gives for `name` (text of each record; [] when there is none)."""
        request = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
        send = dns.query.tcp if tcp else dns.query.udp
        response = send(request, self.address, timeout=timeout, port=self.port)
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise RuntimeError(f"BIND answered {dns.rcode.to_text(response.rcode())} for {name} {rdtype}")
        return [item.to_text() for rrset in response.answer for item in rrset]

    def txt(self, name: str) -> list[str]:
        """The TXT strings at `name`, unquoted (what an ACME CA compares with the key authorization digest)."""
        return [value.strip('"') for value in self.query(name, "TXT")]


def new_tsig_key(name: str = "lab-acme-update") -> TsigKey:
    # 32 random bytes: the size of an HMAC-SHA256 output, as `tsig-keygen -a hmac-sha256` makes it.
    return TsigKey(name, "hmac-sha256", base64.b64encode(secrets.token_bytes(32)).decode())


def _absolute(name: str, zone: str) -> str:
    name = name.rstrip(".")
    if name != zone and not name.endswith("." + zone):
        raise ValueError(f"{name} is not in the zone {zone}")
    return name + "."


def _zone_file(zone: str, records: Mapping[str, str]) -> str:
    # Short TTLs and negative TTL: the lab changes names and TXT records within seconds.
    lines = [
        "$TTL 60",
        f"@ IN SOA ns1.{zone}. hostmaster.{zone}. 1 60 60 600 5",
        f"@ IN NS ns1.{zone}.",
        f"ns1.{zone}. IN A {LOOPBACK}",
    ]
    lines += [f"{_absolute(name, zone)} IN A {address}" for name, address in sorted(records.items())]
    return "\n".join(lines) + "\n"


def _named_conf(folder: Path, port: int, zone: str, key: TsigKey, challenge_names: list[str]) -> str:
    # One grant per name: the key may change the `_acme-challenge` TXT record of each lab name and
    # nothing else (no A records, no other names), as a provider's scoped DNS-01 credential would.
    grants = "\n".join(
        f'        grant "{key.name}" name _acme-challenge.{_absolute(name, zone)} TXT;'
        for name in challenge_names
    )
    return f"""
options {{
    directory "{folder}";
    pid-file none;                         // no /run/named: several servers may run at once
    session-keyfile "{folder}/session.key"; // named writes one at start; keep it out of /run
    managed-keys-directory "{folder}";
    listen-on port {port} {{ {LOOPBACK}; }};
    listen-on-v6 {{ none; }};
    recursion no;                          // authoritative only: it never sends a query anywhere
    dnssec-validation no;
    notify no;
    allow-transfer {{ none; }};
}};
controls {{ }};                            // no rndc channel on port 953
key "{key.name}" {{
    algorithm {key.algorithm};
    secret "{key.secret}";
}};
zone "{zone}" {{
    type primary;
    file "{folder}/{zone}.zone";
    update-policy {{
{grants}
    }};
}};
"""


def _answers(address: str, port: int, zone: str) -> bool:
    """BIND serves the zone over UDP and TCP (nsupdate uses TCP, Pebble's resolver UDP)."""
    request = dns.message.make_query(zone, dns.rdatatype.SOA)
    try:
        for send in (dns.query.udp, dns.query.tcp):
            if send(request, address, timeout=0.5, port=port).rcode() != dns.rcode.NOERROR:
                return False
    except (OSError, dns.exception.DNSException):
        return False
    return True


def _start(command: list[str], log: Path, ready, what: str, timeout: float, **popen) -> subprocess.Popen:
    """Starts `command` with its output in `log` and waits until `ready()`; the caller stops it."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen
        )
    try:
        _wait_until(ready, process, timeout, what, log)
    except BaseException:
        _stop(process)
        raise
    return process


@contextmanager
def bind_server(
    zone: str,
    records: Mapping[str, str],
    *,
    challenge_names: list[str] | None = None,
    key: TsigKey | None = None,
    timeout: float = 20.0,
) -> Iterator[Bind]:
    """BIND serving `zone` with `records` (name -> 127.x address) on 127.0.0.1, a free port.

    The TSIG key (made here unless given) may update the `_acme-challenge` TXT record of each name in
    `challenge_names` (default: the names of `records`)."""
    zone = zone.rstrip(".")
    for address in records.values():
        _require_loopback(address)
    key = key or new_tsig_key()
    names = challenge_names if challenge_names is not None else list(records)
    with tempfile.TemporaryDirectory(prefix="lab-bind-") as temporary:  # mode 0700: the key is in it
        folder = Path(temporary)
        (folder / f"{zone}.zone").write_text(_zone_file(zone, records))
        conf = folder / "named.conf"
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            conf.write_text(_named_conf(folder, port, zone, key, names))
            conf.chmod(0o600)
            try:
                # -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker thread is plenty here.
                process = _start(
                    [NAMED, "-g", "-4", "-n", "1", "-c", str(conf)],
                    folder / "named.log",
                    lambda port=port: _answers(LOOPBACK, port, zone),
                    "named",
                    timeout,
                )
                break
            except _Exited:
                if attempt == START_ATTEMPTS:
                    raise
        try:
            yield Bind(LOOPBACK, port, zone, key, dict(records))
        finally:
            _stop(process)


# --- Pebble -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pebble:
    directory_url: str
    management_url: str
    # The lab root that signed Pebble's HTTPS listener: what an ACME client must trust to talk to it
    # (`mfa_tls_acme_trust_bundle`; for community.crypto, SSL_CERT_FILE in the task's environment).
    listener_ca_pem: bytes
    listener_ca_file: Path
    # Pebble's issuing chain, made anew at each start: what the issued certificates chain to.
    root_pem: bytes
    intermediate_pem: bytes
    log: Path
    # With `pebble_server(external_account_binding=True)`: the one key identifier and base64url HMAC key the CA
    # accepts for new accounts (what a CA's portal hands out for mfa_tls_acme_eab_kid / mfa_tls_acme_eab_hmac).
    eab_kid: str | None = None
    eab_hmac: str | None = field(default=None, repr=False)


def _listener_certificate(folder: Path) -> tuple[pki.Issued, Path, Path]:
    root = pki.make_root("Lab ACME listener root")
    leaf = pki.make_leaf(root, [LOOPBACK, "localhost"], common_name="Pebble listener")
    cert, key = folder / "listener.pem", folder / "listener.key"
    cert.write_bytes(leaf.pem())
    key.write_bytes(leaf.key_pem())
    key.chmod(0o600)
    return root, cert, key


def _get(url: str, context: ssl.SSLContext, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, context=context, timeout=timeout) as response:
        return response.read()


def _directory_answers(url: str, context: ssl.SSLContext) -> bool:
    try:
        return "newOrder" in json.loads(_get(url, context))
    except (OSError, ValueError):
        return False


def _pebble_env(authz_reuse: int) -> dict[str, str]:
    # Nothing inherited may switch validation off (PEBBLE_VA_ALWAYS_VALID) or change the behaviour below.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}
    env["PEBBLE_VA_NOSLEEP"] = "1"  # validate at once, not after a random sleep of up to 5 s
    env["PEBBLE_AUTHZREUSE"] = str(authz_reuse)  # Pebble's default 50 % reuse would skip challenges at random
    return env


def _management_answers(management: str, context: ssl.SSLContext) -> bool:
    try:
        return b"BEGIN CERTIFICATE" in _get(f"{management}/roots/0", context)
    except OSError:
        return False


def new_eab_key() -> tuple[str, str]:
    """A key identifier and a base64url HMAC key (48 random bytes, like the keys in Pebble's example config)."""
    return f"lab-eab-{secrets.token_hex(4)}", base64.urlsafe_b64encode(
        secrets.token_bytes(48)
    ).decode().rstrip("=")


def _pebble_config(
    folder: Path, cert: Path, key: Path, http_port: int, validity_days: int, eab: tuple[str, str] | None
) -> tuple[Path, str, str]:
    acme_port, management_port = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"{LOOPBACK}:{acme_port}",
            "managementListenAddress": f"{LOOPBACK}:{management_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": http_port,
            "tlsPort": 443,  # TLS-ALPN-01 is offered by Pebble but not answered in the lab
            "ocspResponderURL": "",
            # Pebble 2.4's keys (its example pebble-config-external-account-bindings.json): kid -> base64url key.
            "externalAccountBindingRequired": eab is not None,
            "certificateValidityPeriod": validity_days * 86400,  # seconds
        }
    }
    if eab is not None:
        config["pebble"]["externalAccountMACKeys"] = {eab[0]: eab[1]}
    path = folder / "pebble-config.json"
    path.touch(mode=0o600)  # it holds the HMAC key when EAB is required
    path.write_text(json.dumps(config, indent=2))
    return path, f"https://{LOOPBACK}:{acme_port}/dir", f"https://{LOOPBACK}:{management_port}"


@contextmanager
def pebble_server(
    dns_server: str,
    *,
    http_port: int = 80,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    authz_reuse: int = 0,
    external_account_binding: bool = False,
    timeout: float = 30.0,
) -> Iterator[Pebble]:
    """Pebble on 127.0.0.1 (free ports), resolving every name through `dns_server` ("127.0.0.1:port").

    HTTP-01 is fetched from port `http_port` of the address the name resolves to; issued certificates are
    valid for `validity_days`; `authz_reuse` is the percentage of valid authorizations Pebble reuses. With
    `external_account_binding`, Pebble refuses new accounts without an external account binding (RFC 8555
    7.3.4) signed with the kid and HMAC key made here (`Pebble.eab_kid`, `Pebble.eab_hmac`; never printed)."""
    _require_loopback(dns_server.rsplit(":", 1)[0])
    with tempfile.TemporaryDirectory(prefix="lab-pebble-") as temporary:
        folder = Path(temporary)
        listener_root, cert, key = _listener_certificate(folder)
        ca_file = folder / "listener-ca.pem"
        ca_file.write_bytes(listener_root.pem())
        context = ssl.create_default_context(cafile=str(ca_file))
        log = folder / "pebble.log"
        eab = new_eab_key() if external_account_binding else None
        for attempt in range(1, START_ATTEMPTS + 1):
            config, directory, management = _pebble_config(folder, cert, key, http_port, validity_days, eab)
            try:
                process = _start(
                    [PEBBLE, "-config", str(config), "-dnsserver", dns_server],
                    log,
                    # Both listeners: the management one starts in its own goroutine, maybe a moment later.
                    lambda d=directory, m=management: (
                        _directory_answers(d, context) and _management_answers(m, context)
                    ),
                    "pebble",
                    timeout,
                    env=_pebble_env(authz_reuse),
                    cwd=folder,
                )
                break
            except _Exited:
                if attempt == START_ATTEMPTS:
                    raise
        try:
            root = _get(f"{management}/roots/0", context)
            intermediate = _get(f"{management}/intermediates/0", context)
            kid, hmac = eab if eab is not None else (None, None)
            yield Pebble(
                directory, management, listener_root.pem(), ca_file, root, intermediate, log, kid, hmac
            )
        finally:
            _stop(process)
