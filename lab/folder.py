"""Prepare a lab directory: CAs, host states, WinRM certificates, trust files, inventory, test PFX."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import socket
from pathlib import Path

import yaml

from lab import iis, scenarios
from lab.auth import ntlm_user_file_line
from lab.ca import LabCA
from lab.state import HostState
from tests.support import pki

USER = "labadmin"
WINRM_HTTPS, WINRM_HTTP = 5986, 5985


def _free_subnet(lab_dir: Path) -> int:
    start = int(hashlib.sha1(str(lab_dir.resolve()).encode()).hexdigest(), 16) % 150
    for offset in range(150):
        octet = 64 + (start + offset) % 150
        try:
            with socket.socket() as probe:
                probe.bind((f"127.{octet}.0.2", WINRM_HTTPS))
            return octet
        except OSError:
            continue
    raise RuntimeError("no free 127.x.0.0/16 range for the lab's hosts")


def address(octet: int, index: int) -> str:
    return str(ipaddress.IPv4Address(f"127.{octet}.0.1") + index)


def prepare(lab_dir: Path, count: int, scenario: str, command_delay: float = 0.0) -> dict:
    lab_dir.mkdir(parents=True, exist_ok=True)
    ca = LabCA(lab_dir)
    ca.ensure()
    config_path = lab_dir / "lab.json"
    config = (
        json.loads(config_path.read_text())
        if config_path.exists()
        else {
            "user": USER,
            "password": secrets.token_urlsafe(12) + "!1a",
            "octet": _free_subnet(lab_dir),
            "winrm_https_port": WINRM_HTTPS,
            "winrm_http_port": WINRM_HTTP,
            "scenario": scenario,
            "hosts": [],
        }
    )
    known = {h["name"] for h in config["hosts"]}
    for index in range(1, count + 1):
        name = scenarios.host_name(index)
        state = HostState(lab_dir, name)
        if not state.exists():
            state.create(scenarios.build(scenario, index, ca, state))
        if not (state.dir / "winrm.pem").exists():
            ip = address(config["octet"], index)
            leaf = ca.winrm_leaf([ip, name, f"{name}.{scenarios.DOMAIN}"])
            (state.dir / "winrm.key").write_bytes(leaf.key_pem())
            (state.dir / "winrm.pem").write_bytes(leaf.pem())
        if name not in known:
            config["hosts"].append({"name": name, "index": index, "address": address(config["octet"], index)})
    config["hosts"] = [h for h in config["hosts"] if h["index"] <= count]
    config["command_delay"] = command_delay
    config_path.write_text(json.dumps(config, indent=1))
    (lab_dir / "ntlm-users").write_text(ntlm_user_file_line(config["user"], config["password"]))
    (lab_dir / "ntlm-users").chmod(0o600)
    _trust(lab_dir, ca)
    _replacement(lab_dir, ca, config)
    write_inventory(lab_dir, config)
    return config


def _trust(lab_dir: Path, ca: LabCA) -> None:
    trust = lab_dir / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "public-roots.pem").write_bytes(ca["public-root"].pem())
    (trust / "winrm-ca.pem").write_bytes(ca["winrm"].pem())
    (trust / "private-root.pem").write_bytes(ca["private-root"].pem())


def public_names(config: dict) -> list[str]:
    return [f"{h['name']}.{scenarios.PUBLIC_DOMAIN}" for h in config["hosts"]]


def _replacement(lab_dir: Path, ca: LabCA, config: dict) -> None:
    certs = lab_dir / "certs"
    certs.mkdir(exist_ok=True)
    names = public_names(config)
    marker = certs / "replacement.names"
    if marker.exists() and marker.read_text() == "\n".join(names):
        return
    write_pfx(
        certs / "replacement.pfx",
        ca.leaf("public", names),
        ca.chain("public"),
        pass_path=certs / "replacement.pass",
    )
    marker.write_text("\n".join(names))


def write_pfx(
    path: Path,
    leaf: pki.Issued,
    chain: list[pki.Issued],
    include_key: bool = True,
    pass_path: Path | None = None,
) -> str:
    """The PFX at `path`, its password in `pass_path` (default `<path>.pass`)."""
    password = secrets.token_urlsafe(12)
    path.write_bytes(pki.pfx_bytes(leaf, chain, password, include_key=include_key))
    pass_path = pass_path or Path(f"{path}.pass")
    pass_path.write_text(password)
    pass_path.chmod(0o600)
    return password


def write_inventory(lab_dir: Path, config: dict) -> None:
    from lab import acme_service  # the ACME services import dnspython, which the plain lab does not need

    acme_vars = acme_service.inventory_vars(lab_dir)
    hosts = {}
    for entry in config["hosts"]:
        data = HostState(lab_dir, entry["name"]).read()
        ports = iis.https_ports(data)
        probe = {port: f"{entry['address']}:{iis.lab_port(port)}" for port in ports}
        if acme_vars:
            # Where the controller fetches an HTTP-01 token before the CA does: IIS's port 80 of this host.
            probe[80] = f"{entry['address']}:{iis.lab_port(80)}"
        hosts[entry["name"]] = {
            "ansible_host": entry["address"],
            "mfa_tls_public_name": data["host"]["public_name"],
            "mfa_tls_probe_address": probe.get(443) or next(iter(probe.values()), ""),
            "mfa_tls_probe_addresses": probe,
        }
    inventory = {
        "all": {
            "children": {
                "mfa_servers": {
                    "hosts": hosts,
                    "vars": {
                        "ansible_connection": "winrm",
                        "ansible_port": config["winrm_https_port"],
                        "ansible_winrm_scheme": "https",
                        "ansible_winrm_transport": "ntlm",
                        "ansible_winrm_server_cert_validation": "validate",
                        "ansible_winrm_ca_trust_path": str((lab_dir / "trust" / "winrm-ca.pem").resolve()),
                        "ansible_user": config["user"],
                        "ansible_password": config["password"],
                        "mfa_tls_trust_bundle": str((lab_dir / "trust" / "public-roots.pem").resolve()),
                        **acme_vars,
                    },
                }
            }
        }
    }
    header = "# Written by `python -m lab up`: the lab's emulated MFA Server fleet.\n"
    (lab_dir / "inventory.yml").write_text(header + yaml.safe_dump(inventory, sort_keys=False))
