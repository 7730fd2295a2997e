"""`python -m lab up|down|state|cert|revoke|fault|serve` (see README of the lab in lab/__init__.py)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from lab import certinfo, folder, iis, scenarios
from lab.ca import REVOCATION_REASONS, LabCA, responder_address_free
from lab.state import NO_FAULTS, HostState, host_names

ROOT = Path(__file__).resolve().parent.parent


RESPONDER_PID = "revocation.pid"


def _pid(lab_dir: Path, name: str = "daemon.pid") -> int | None:
    try:
        pid = int((lab_dir / name).read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def _answers(address: str, port: int, ca_file: Path) -> bool:
    """The host's WinRM HTTPS listener completes a handshake and refuses an anonymous POST with 401."""
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with (
            socket.create_connection((address, port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname=address) as tls,
        ):
            tls.sendall(f"POST /wsman HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n".encode())
            return tls.recv(64).startswith(b"HTTP/1.1 401")
    except OSError:
        return False


def _start_responder(lab_dir: Path, timeout: float) -> str:
    """Start the lab CA's OCSP responder and CRL server at the address its certificates name; empty when it
    answers, else why not."""
    if _pid(lab_dir, RESPONDER_PID):
        return ""
    host, port = LabCA(lab_dir).responder_address()
    if not responder_address_free(host, port):
        return (
            f"the revocation responder's address {host}:{port} is taken; the lab CA's certificates name it "
            f"({lab_dir / 'ca' / 'responder.json'}): stop what listens there, or use a new lab directory"
        )
    with open(lab_dir / "lab.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lab", "revocation-serve", "--dir", str(lab_dir)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (lab_dir / RESPONDER_PID).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            (lab_dir / RESPONDER_PID).unlink(missing_ok=True)
            return f"the revocation responder exited ({process.returncode}), see {lab_dir / 'lab.log'}"
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return ""
        time.sleep(0.05)
    return f"the revocation responder did not answer at {host}:{port} in {timeout}s"


def _stop(lab_dir: Path, name: str) -> int | None:
    pid = _pid(lab_dir, name)
    if pid:
        os.killpg(pid, signal.SIGTERM)
        for _attempt in range(100):
            if not _running(pid):
                break
            time.sleep(0.02)
        else:
            os.killpg(pid, signal.SIGKILL)
    (lab_dir / name).unlink(missing_ok=True)
    return pid


def _running(pid: int) -> bool:
    """Whether the process still runs. One that has exited stays a zombie until init reaps it (the service's
    parent, `lab up`, is gone), which can take a second: it has stopped all the same."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: alive as far as can be told
    return state != "Z"


def _start_acme(lab_dir: Path, config: dict, timeout: float) -> str:
    """Start Pebble and BIND (lab/acme_service.py) and write their variables into the inventory; empty when
    they answer, else why not."""
    from lab import acme, acme_service

    missing = acme.missing_binaries()
    if missing:
        return f"--acme needs {', '.join(missing)}: install Debian's pebble and bind9 (.ci/run does)"
    if not _pid(lab_dir, acme_service.PID):
        (acme_service.folder(lab_dir) / acme_service.STATE).unlink(missing_ok=True)
        with open(lab_dir / "lab.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "lab", "acme-serve", "--dir", str(lab_dir)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        (lab_dir / acme_service.PID).write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while acme_service.state(lab_dir) is None:
            if process.poll() is not None:
                (lab_dir / acme_service.PID).unlink(missing_ok=True)
                return f"Pebble or BIND exited ({process.returncode}), see {lab_dir / 'lab.log'}"
            if time.monotonic() > deadline:
                _stop(lab_dir, acme_service.PID)
                return f"Pebble and BIND did not answer in {timeout}s, see {lab_dir / 'lab.log'}"
            time.sleep(0.1)
    folder.write_inventory(lab_dir, config)
    return ""


def up(args) -> int:
    lab_dir = Path(args.dir).resolve()
    started = time.monotonic()
    if _pid(lab_dir):
        problem = _start_responder(lab_dir, args.timeout)
        if not problem and args.acme:
            problem = _start_acme(lab_dir, json.loads((lab_dir / "lab.json").read_text()), args.timeout)
        if problem:
            print(f"lab: {problem}", file=sys.stderr)
            return 1
        print(f"lab: already up in {lab_dir}")
        return 0
    config = folder.prepare(lab_dir, args.hosts, args.scenario, args.command_delay)
    # Before the fleet: every public certificate the hosts serve names this responder.
    problem = _start_responder(lab_dir, args.timeout)
    if problem:
        print(f"lab: {problem}", file=sys.stderr)
        return 1
    with open(lab_dir / "lab.log", "ab") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "lab", "serve", "--dir", str(lab_dir)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (lab_dir / "daemon.pid").write_text(str(process.pid))
    deadline = time.monotonic() + args.timeout
    pending = list(config["hosts"])
    ca_file = lab_dir / "trust" / "winrm-ca.pem"
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            print(
                f"lab: the lab process exited ({process.returncode}), see {lab_dir / 'lab.log'}",
                file=sys.stderr,
            )
            return 1
        pending = [h for h in pending if not _answers(h["address"], config["winrm_https_port"], ca_file)]
        if pending:
            time.sleep(0.2)
    if pending:
        print(f"lab: {len(pending)} hosts did not answer in {args.timeout}s", file=sys.stderr)
        return 1
    if args.acme:
        problem = _start_acme(lab_dir, config, args.timeout)
        if problem:
            print(f"lab: {problem}", file=sys.stderr)
            return 1
        directory = json.loads((lab_dir / "acme" / "acme.json").read_text())["directory_url"]
        print(f"lab: Pebble and BIND up; ACME directory {directory}")
    print(
        f"lab: {len(config['hosts'])} hosts up in {time.monotonic() - started:.1f}s; inventory {lab_dir / 'inventory.yml'}"
    )
    return 0


def down(args) -> int:
    lab_dir = Path(args.dir).resolve()
    pid = _stop(lab_dir, "daemon.pid")
    responder = _stop(lab_dir, RESPONDER_PID)
    acme_pid = _stop(lab_dir, "acme.pid")  # lab/acme_service.py PID; it removes its acme.json as it stops
    print("lab: down" if pid or responder or acme_pid else "lab: was not running")
    return 0


def view(data: dict, secrets: bool = False) -> dict:
    """A host's ground truth, with certificates described and web.config secrets masked."""
    stores = {}
    for store, certs in data["stores"].items():
        stores[store] = []
        for entry in certs:
            summary = certinfo.summary(certinfo.load(entry["der_b64"]))
            stores[store].append(
                {
                    "thumbprint": entry["thumbprint"],
                    "subject": summary["subject"],
                    "issuer": summary["issuer"],
                    "not_after": summary["not_after"],
                    "san_dns_names": summary["san_dns_names"],
                    "has_private_key": entry["has_private_key"],
                    "private_key_machine": entry["private_key_machine"],
                    "exportable": entry["exportable"],
                    "friendly_name": entry["friendly_name"],
                }
            )
    mfa = json.loads(json.dumps(data["mfa"]))
    if not secrets:
        for component in mfa.get("components", []):
            settings = component["web_config"]["settings"]
            for key in settings:
                if "AUTHENTICATION" in key.upper():
                    settings[key] = "********"
    return {
        "host": data["host"],
        "sites": data["sites"],
        "http_sys": data["http_sys"],
        "custom_metadata": data.get("custom_metadata", []),
        "stores": stores,
        "mfa": mfa,
        "counters": data["counters"],
        "faults": data["faults"],
        "files": sorted(data.get("files", {})),
    }


def state(args) -> int:
    lab_dir = Path(args.dir).resolve()
    names = [args.host] if args.host else host_names(lab_dir)
    result = {name: view(HostState(lab_dir, name).read(), args.secrets) for name in names}
    print(json.dumps(result[args.host] if args.host else result, indent=1))
    return 0


def cert(args) -> int:
    lab_dir = Path(args.dir).resolve()
    ca = LabCA(lab_dir)
    ca.ensure()
    names = args.names or (
        folder.public_names(json.loads((lab_dir / "lab.json").read_text()))
        if (lab_dir / "lab.json").exists()
        else [f"mfa01.{scenarios.PUBLIC_DOMAIN}"]
    )
    kind, chain = args.kind, ca.chain("public")
    if kind == "private":
        leaf, chain = ca.leaf("private", names), ca.chain("private")
    elif kind == "expired":
        leaf = ca.expired_leaf(names)
    elif kind == "wrong-name":
        leaf = ca.leaf("public", args.names or [f"wrong.{scenarios.PUBLIC_DOMAIN}"])
    else:
        leaf = ca.leaf("public", names)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    folder.write_pfx(out, leaf, chain, include_key=kind != "no-key")
    print(
        json.dumps(
            {"path": str(out), "password_file": f"{out}.pass", "thumbprint": leaf.sha1, "names": names}
        )
    )
    return 0


def renew_by_hand(args) -> int:
    """`netsh http update sslcert` replaces the certificate of an existing entry (the HTTP.sys record is
    updated in place; its other settings stay: assumed, see docs/windows-model.md)."""
    lab_dir = Path(args.dir).resolve()
    host = HostState(lab_dir, args.host)
    ca = LabCA(lab_dir)
    ca.ensure()
    data = host.read()
    leaf = ca.leaf(args.kind, [data["host"]["public_name"]])
    with host.change() as live:
        entry = iis.http_sys_entry(live, args.key)
        if entry is None:
            print(
                f"lab: {args.host} has no HTTP.sys entry {args.key} (netsh: The system cannot find the file specified.)"
            )
            return 1
        live["stores"]["My"].append(scenarios.store_entry(host, leaf, friendly="renewed by hand"))
        entry["certificate_hash"], entry["certificate_store_name"] = leaf.sha1, "MY"
    print(json.dumps({"key": args.key, "thumbprint": leaf.sha1}))
    return 0


def revoke(args) -> int:
    """What a CA does when its customer reports a key compromise: the certificate is revoked at once."""
    ca = LabCA(Path(args.dir).resolve())
    try:
        revoked = ca.revoke(args.thumbprint, args.reason)
    except (KeyError, ValueError) as error:
        print(f"lab: {error.args[0]}", file=sys.stderr)
        return 1
    print(json.dumps(revoked))
    return 0


def serve_acme(args) -> int:
    from lab import acme_service

    return acme_service.serve(Path(args.dir).resolve())


def serve_revocation(args) -> int:
    from lab import revocation

    return revocation.serve_lab(Path(args.dir).resolve())


def fault(args) -> int:
    state_ = HostState(Path(args.dir).resolve(), args.host)
    if not state_.exists():
        print(f"lab: no host {args.host}", file=sys.stderr)
        return 1
    with state_.change() as data:
        faults = data.setdefault("faults", dict(NO_FAULTS))
        if args.fault == "clear":
            data["faults"] = dict(NO_FAULTS)
        elif args.fault == "import-fails":
            faults["import_fails"] = True
        elif args.fault == "set-fails-after":
            faults["set_fails_after"] = int(args.value if args.value is not None else 1)
        elif args.fault == "drop-connection":
            faults["drop_connection"] = args.value or "iis_binding_certificate"
        elif args.fault == "no-intermediates":
            faults["no_intermediates"] = True
        print(json.dumps(data["faults"]))
    return 0


def serve(args) -> int:
    from lab import daemon

    daemon.serve(Path(args.dir).resolve())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="The emulated MFA Server fleet.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="start N hosts in the background, return once all answer")
    p.add_argument("--hosts", type=int, default=3)
    p.add_argument("--dir", default="lab-state")
    p.add_argument("--scenario", default="private-ca", help="private-ca | traps | divergent | FILE (JSON)")
    p.add_argument(
        "--command-delay",
        type=float,
        default=0.0,
        help="seconds each WinRM command execution costs, per host and concurrently across hosts, as on Windows",
    )
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument(
        "--acme",
        action="store_true",
        help="also start Pebble (ACME, real validation, 90 days) and BIND (the public names, RFC 2136) and write "
        "their variables into the inventory (lab/acme_service.py)",
    )
    p.set_defaults(func=up)
    p = sub.add_parser("down", help="stop the lab (its state stays in DIR)")
    p.add_argument("--dir", default="lab-state")
    p.set_defaults(func=down)
    p = sub.add_parser("state", help="ground truth of one host or all, as JSON")
    p.add_argument("--dir", default="lab-state")
    p.add_argument("--host")
    p.add_argument("--secrets", action="store_true", help="show web.config credential values")
    p.set_defaults(func=state)
    p = sub.add_parser("cert", help="issue a test PFX (password in FILE.pass)")
    p.add_argument("--dir", default="lab-state")
    p.add_argument("--kind", required=True, choices=["public", "private", "expired", "wrong-name", "no-key"])
    p.add_argument("--out", required=True)
    p.add_argument("--names", nargs="*")
    p.set_defaults(func=cert)
    p = sub.add_parser(
        "revoke",
        help="revoke a certificate the lab's public CA issued (its OCSP responder and CRL say so at once)",
    )
    p.add_argument("--dir", default="lab-state")
    p.add_argument("thumbprint", help="the certificate's SHA-1 thumbprint")
    p.add_argument(
        "--reason",
        default="key_compromise",
        choices=REVOCATION_REASONS,
        help="as a public CA may give it (CA/Browser Forum Baseline Requirements 7.2.2)",
    )
    p.set_defaults(func=revoke)
    p = sub.add_parser("fault", help="arm or clear a fault on a host")
    p.add_argument("--dir", default="lab-state")
    p.add_argument("--host", required=True)
    p.add_argument(
        "fault",
        choices=["import-fails", "set-fails-after", "drop-connection", "no-intermediates", "clear"],
    )
    p.add_argument(
        "value",
        nargs="?",
        help="K for set-fails-after (the K+1-th HTTP.sys write fails); module name (or *) for drop-connection",
    )
    p.set_defaults(func=fault)
    p = sub.add_parser(
        "renew-by-hand",
        help="what an administrator does without this collection: import a new certificate with its key into "
        "LocalMachine\\My, then `netsh http update sslcert KEY certhash=...`",
    )
    p.add_argument("--dir", default="lab-state")
    p.add_argument("--host", required=True)
    p.add_argument("--key", required=True, help="the HTTP.sys entry, e.g. ipport=0.0.0.0:443")
    p.add_argument("--kind", default="private", choices=["private", "public"])
    p.set_defaults(func=renew_by_hand)
    p = sub.add_parser("serve", help=argparse.SUPPRESS)
    p.add_argument("--dir", required=True)
    p.set_defaults(func=serve)
    p = sub.add_parser("acme-serve", help=argparse.SUPPRESS)
    p.add_argument("--dir", required=True)
    p.set_defaults(func=serve_acme)
    p = sub.add_parser("revocation-serve", help=argparse.SUPPRESS)
    p.add_argument("--dir", required=True)
    p.set_defaults(func=serve_revocation)
    args = parser.parse_args(argv)
    return args.func(args)
