"""The lab process: every host's WinRM (HTTPS 5986, HTTP 5985) and IIS HTTPS listeners in one process.

Started by `python -m lab up` as `python -m lab serve --dir DIR` in its own session; stops on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import sys
from pathlib import Path

from lab import iis, iis_http, iis_https, listeners
from lab.auth import channel_bindings
from lab.executor import Host
from lab.state import HostState
from lab.winrm_server import Shells, WinRMHandler


def load_config(lab_dir: Path) -> dict:
    return json.loads((lab_dir / "lab.json").read_text())


def iis_ports(data: dict) -> set[int]:
    return set(iis.https_ports(data))


def _winrm_handler(host: Host, config: dict, tls: ssl.SSLContext | None, bindings):
    attrs = {
        "host": host,
        "shells": Shells(),
        "user": config["user"],
        "password": config["password"],
        "bindings": bindings,
        "https": tls is not None,
    }
    cls = type(f"WinRM_{host.name}", (WinRMHandler,), attrs)

    def handle(conn: socket.socket, addr: tuple) -> None:
        if tls is not None:
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return
        cls(conn, addr, None)

    return handle


def serve(lab_dir: Path) -> None:
    config = load_config(lab_dir)
    os.environ["NTLM_USER_FILE"] = str(lab_dir / "ntlm-users")
    acceptor = listeners.Acceptor()
    for entry in config["hosts"]:
        host = Host(entry["name"], lab_dir, float(config.get("command_delay") or 0))
        state = HostState(lab_dir, entry["name"])
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(state.dir / "winrm.pem", state.dir / "winrm.key")
        der = ssl.PEM_cert_to_DER_cert((state.dir / "winrm.pem").read_text())
        address = entry["address"]
        acceptor.add(
            listeners.listen(address, config["winrm_https_port"]),
            _winrm_handler(host, config, tls, channel_bindings(der)),
        )
        acceptor.add(
            listeners.listen(address, config["winrm_http_port"]), _winrm_handler(host, config, None, None)
        )
        contexts = iis_https.TLSContexts(state)
        data = state.read()
        for port in sorted(iis_ports(data)):
            acceptor.add(listeners.listen(address, iis.lab_port(port)), iis_https.handler(port, contexts))
        # Plain HTTP for the http bindings (port 80 -> 10080), from the sites' physical paths (lab.iis_http).
        taken = {iis.lab_port(port) for port in iis_ports(data)}
        taken |= {config["winrm_https_port"], config["winrm_http_port"]}
        for port in iis_http.http_ports(data):
            if iis.lab_port(port) not in taken:
                acceptor.add(listeners.listen(address, iis.lab_port(port)), iis_http.handler(port, state))
    signal.signal(signal.SIGTERM, lambda *_: acceptor.stop())
    signal.signal(signal.SIGINT, lambda *_: acceptor.stop())
    (lab_dir / "daemon.ready").write_text(str(os.getpid()))
    print(f"lab: serving {len(config['hosts'])} hosts", flush=True)
    try:
        acceptor.serve_forever()
    finally:
        (lab_dir / "daemon.ready").unlink(missing_ok=True)
        print("lab: stopped", flush=True)
    sys.exit(0)
