"""Probe benchmark: tls_probe's throughput beside a bare `ssl` handshake loop, same endpoints.

N HTTPS endpoints on 127.0.0.1 (each its own port and certificate, served by a separate process so
the server does not share the measuring process's GIL). Each leaf names an OCSP responder and a CRL served
on 127.0.0.1 from a process of their own (tests/support/revocation.py, answers signed ahead as CAs do), so revocation
is checked as for a public certificate: one OCSP request per endpoint (`--revocation crl`: leaves with a CRL
only, as Let's Encrypt issues them since 2025: one download for all). Prints endpoints per second for:
  1. a bare loop: TCP connect + TLS handshake, one after the other, nothing judged;
  2. the probe engine in-process (handshake, protocol scan, chain evaluation, HTTP GET, revocation) with its
     default concurrency, and the same with revocation off (check_revocation: false), to show what it costs;
  3. the real `ansible localhost -m mfa_server.tls.tls_probe` command, start-up included.
Usage: python bench/probe_throughput.py [--endpoints 200] [--concurrency 16] [--revocation ocsp|crl]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / ".cache" / "collections")]

from ansible_collections.mfa_server.tls.plugins.module_utils import (  # noqa: E402
    certificates,
    revocation,
    tls_client,
    trust_store,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import Policy  # noqa: E402
from ansible_collections.mfa_server.tls.plugins.module_utils.issuer_lookup import IssuerLookup  # noqa: E402
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import ProbeSettings, probe_all  # noqa: E402

HOST = "mfa{index}.bench.test"


def serve(count: int, folder: Path, revocation_by: str = "ocsp") -> None:
    """Child process: start the endpoints, print their addresses, serve until stdin closes."""
    from tests.support import pki
    from tests.support.revocation import Authority, RevocationServer
    from tests.support.servers import HTTPSServer

    root = pki.make_root("Bench Root")
    issuing = pki.make_intermediate(root, "Bench Issuing CA")
    (folder / "roots.pem").write_bytes(root.pem())
    authority = Authority(issuing)
    revocation = RevocationServer({"issuing": authority})
    leaves = [
        pki.make_leaf(
            issuing,
            [HOST.format(index=index)],
            # A CA with both (OCSP is asked, once per leaf), or one with CRLs only, as Let's Encrypt since 2025.
            ocsp_url=revocation.ocsp_url if revocation_by == "ocsp" else None,
            crl_url=revocation.crl_url(),
        )
        for index in range(count)
    ]
    authority.load({}, known={leaf.cert.serial_number for leaf in leaves})  # every answer signed ahead
    revocation.serve_in_child()  # a process of its own, as a CA's responder is another machine
    with contextlib.ExitStack() as stack:
        addresses = []
        for leaf in leaves:
            server = HTTPSServer([leaf.pem(), issuing.pem()], leaf.key_pem())
            addresses.append(stack.enter_context(server).address)
        print(json.dumps(addresses), flush=True)
        sys.stdin.read()


def bare_loop(addresses: list[str], server_names: list[str] | None = None) -> float:
    """TCP connect + TLS handshake to each `host:port`, one after the other; SNI from `server_names`."""
    names = server_names or [HOST.format(index=index) for index in range(len(addresses))]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    start = time.perf_counter()
    for name, address in zip(names, addresses, strict=True):
        host, port = address.rsplit(":", 1)
        with (
            socket.create_connection((host.strip("[]"), int(port)), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=name),
        ):
            pass
    return time.perf_counter() - start


def _targets(addresses: list[str]) -> list[dict]:
    return [{"url": f"https://{HOST.format(index=i)}/", "address": a} for i, a in enumerate(addresses)]


def engine(
    addresses: list[str], roots: Path, concurrency: int, check_revocation: bool = True
) -> tuple[float, list[dict]]:
    return engine_targets(_targets(addresses), roots, concurrency, check_revocation)


def engine_targets(
    target_args: list[dict], roots: Path, concurrency: int, check_revocation: bool = True
) -> tuple[float, list[dict]]:
    """The probe engine in-process over tls_probe-style targets ({url, address, check_http_status}), starting
    as a task's first run does: nothing parsed or verified yet."""
    _forget_earlier_runs()
    targets = [
        tls_client.parse_target(t["url"], t.get("address"), t.get("check_http_status", True))
        for t in target_args
    ]
    settings = ProbeSettings(
        store=trust_store.load(str(roots)),
        issuer_lookup=IssuerLookup([], fetch_aia=False, timeout=10),
        policy=Policy(),
        concurrency=concurrency,
        # tls_probe's default timeout
        revocation=revocation.RevocationChecker(timeout=5) if check_revocation else None,
    )
    start = time.perf_counter()
    results = probe_all(targets, settings)
    return time.perf_counter() - start, results


def _forget_earlier_runs() -> None:
    """Empties the engine's per-process caches (parsed certificates, verified links, descriptions), so a run
    after another over the same endpoints is not cheaper for it."""
    for module in (certificates, revocation, trust_store):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def module(addresses: list[str], roots: Path, concurrency: int) -> float:
    return module_targets(_targets(addresses), roots, concurrency)[0]


def module_targets(
    targets: list[dict], roots: Path, concurrency: int, env: dict | None = None, timeout: float = 600
) -> tuple[float, str]:
    """One `ansible localhost -m mfa_server.tls.tls_probe` call over `targets`: seconds and its stdout."""
    args = {"targets": targets, "trust_bundle": str(roots), "concurrency": concurrency}
    start = time.perf_counter()
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "localhost",
            "-m",
            "mfa_server.tls.tls_probe",
            "-a",
            json.dumps(args),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return time.perf_counter() - start, out.stdout


class CpuTimes:
    """CPU seconds spent during a `with` block by this process (every thread) and by the serving process with
    its children (the endpoints, the revocation responder): on a machine of 2 cores the wall figures depend on
    both, and CPU time is what other load on a shared machine disturbs least. Reads /proc (Linux); elsewhere
    only this process's time is shown."""

    def __init__(self, server_pid: int) -> None:
        self._server_pid = server_pid

    def __enter__(self) -> CpuTimes:
        self._client, self._servers = time.process_time(), _tree_cpu(self._server_pid)
        return self

    def __exit__(self, *exc) -> None:
        self.client = time.process_time() - self._client
        servers = _tree_cpu(self._server_pid)
        self.servers = None if servers is None or self._servers is None else servers - self._servers

    def __str__(self) -> str:
        servers = "" if self.servers is None else f", servers {self.servers:.2f} s"
        return f"(CPU: this process {self.client:.2f} s{servers})"


def _tree_cpu(pid: int) -> float | None:
    """User and system CPU seconds of `pid` and its descendants so far, or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        tasks = os.listdir(f"/proc/{pid}/task")
    except (OSError, IndexError):
        return None
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in tasks:
        try:  # a thread may end while it is read
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                children = [int(child) for child in handle.read().split()]
        except OSError:
            continue
        total += sum(_tree_cpu(child) or 0.0 for child in children)
    return total


def _working(result: dict) -> bool:
    """Trusted, HTTP 200 and no revocation finding: with revocation on, a verified "good" answer (no
    REVOCATION_UNKNOWN); with it off, nothing was asked."""
    codes = {f["code"] for f in result["findings"]}
    return (
        result["trusted"] and result["http_status"] == 200 and not codes & {"REVOKED", "REVOCATION_UNKNOWN"}
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--revocation",
        choices=["ocsp", "crl"],
        default="ocsp",
        help="leaves name an OCSP responder and a CRL (one OCSP request per endpoint), or only a CRL",
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.endpoints, options.serve, options.revocation)
        return
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                folder,
                "--endpoints",
                str(options.endpoints),
                "--revocation",
                options.revocation,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            addresses = json.loads(server.stdout.readline())
            roots = Path(folder, "roots.pem")
            with CpuTimes(server.pid) as bare_cpu:
                bare = bare_loop(addresses)
            with CpuTimes(server.pid) as engine_cpu:
                in_process, results = engine(addresses, roots, options.concurrency)
            with CpuTimes(server.pid) as unchecked_cpu:
                unchecked, unchecked_results = engine(
                    addresses, roots, options.concurrency, check_revocation=False
                )
            through_ansible = module(addresses, roots, options.concurrency)
        finally:
            server.terminate()
            server.wait(timeout=30)
    judged = sum(map(_working, results))
    judged_unchecked = sum(map(_working, unchecked_results))
    n = len(addresses)
    print(
        f"endpoints: {n} on 127.0.0.1, one certificate each; probe concurrency {options.concurrency}; "
        f"revocation by {options.revocation.upper()}"
    )
    print(
        f"trusted, HTTP 200 and not revoked in the engine run: {judged}/{n}; trusted and HTTP 200 with "
        f"revocation off: {judged_unchecked}/{n}"
    )
    print(f"bare ssl handshake loop  : {bare:6.2f} s  {n / bare:7.1f} endpoints/s  {bare_cpu}")
    print(
        f"tls_probe engine         : {in_process:6.2f} s  {n / in_process:7.1f} endpoints/s  ratio {bare / in_process:.2f}x"
        f"  {engine_cpu}"
    )
    print(
        f"  the same, revocation off: {unchecked:6.2f} s  {n / unchecked:7.1f} endpoints/s  ratio {bare / unchecked:.2f}x"
        f"  {unchecked_cpu}"
    )
    print(
        f"ansible -m tls_probe     : {through_ansible:6.2f} s  {n / through_ansible:7.1f} endpoints/s  ratio {bare / through_ansible:.2f}x"
    )
    if judged != n or judged_unchecked != n:
        sys.exit(
            "some endpoints were not judged trusted with HTTP 200 (and, with revocation on, a good revocation "
            "status): the figures do not measure a working probe"
        )


if __name__ == "__main__":
    main()
