"""IIS and HTTP.sys rules shared by the module emulations and the HTTPS listener.

- `bindingInformation` is `IP:port:host`; IPv6 is in brackets; `*` is every unassigned address.
- sslFlags bit 1 = SNI, bit 2 = Central Certificate Store.
- The HTTP.sys entry serving a binding: `ccs=port` (CCS bit), else `hostnameport=host:port` (SNI bit),
  else `ipport=ip:port` (`*` as 0.0.0.0, IPv6 in brackets).
- HTTP.sys picks a certificate for a connection: `hostnameport` for the SNI name, then `ccs` for the
  port (when the client sent SNI), then `ipport` for the address, then `ipport=0.0.0.0:port`.
"""

from __future__ import annotations

import re


def parse_binding(info: str) -> tuple[str, int, str]:
    """(ip, port, host) with IPv6 unbracketed; ValueError on a malformed value."""
    m = re.match(r"^(\[[0-9A-Fa-f:.]+\]|[^:]*):(\d+):(.*)$", info.strip())
    if not m:
        raise ValueError(f"'{info}' is not a bindingInformation value (IP:port:host)")
    ip = m[1][1:-1] if m[1].startswith("[") else m[1]
    return ip or "*", int(m[2]), m[3]


def same_binding(a: str, b: str) -> bool:
    try:
        ip_a, port_a, host_a = parse_binding(a)
        ip_b, port_b, host_b = parse_binding(b)
    except ValueError:
        return False
    return ip_a.lower() == ip_b.lower() and port_a == port_b and host_a.lower() == host_b.lower()


def http_sys_key(binding: dict) -> str:
    ip, port, host = parse_binding(binding["binding_information"])
    flags = int(binding.get("ssl_flags") or 0)
    if flags & 2:
        return f"ccs={port}"
    if flags & 1:
        return f"hostnameport={host}:{port}"
    if ip == "*":
        ip = "0.0.0.0"
    return f"ipport=[{ip}]:{port}" if ":" in ip else f"ipport={ip}:{port}"


def https_bindings(data: dict):
    """(site, binding) for every HTTPS binding of every site, by site id then configuration order."""
    for site in sorted(data["sites"], key=lambda s: s["id"]):
        for binding in site["bindings"]:
            if binding["protocol"].lower() == "https":
                yield site, binding


def http_sys_entry(data: dict, key: str) -> dict | None:
    for entry in data["http_sys"]:
        if entry["key"].lower() == key.lower():
            return entry
    return None


def select_entry(data: dict, port: int, sni: str | None, local_ip: str) -> dict | None:
    """The HTTP.sys entry that answers a TLS connection to (local_ip, port) with SNI `sni`."""
    if sni:
        entry = http_sys_entry(data, f"hostnameport={sni}:{port}")
        if entry:
            return entry
        entry = http_sys_entry(data, f"ccs={port}")
        if entry:
            return entry
    return http_sys_entry(data, f"ipport={local_ip}:{port}") or http_sys_entry(data, f"ipport=0.0.0.0:{port}")


def site_for(data: dict, port: int, host_header: str, local_ip: str) -> dict | None:
    """The site IIS routes a request to: exact host header first, then the IP, then the catch-all."""
    host_header = host_header.split(":")[0].lower() if host_header and not host_header.startswith("[") else ""
    best, best_rank = None, -1
    for site, binding in https_bindings(data):
        ip, b_port, host = parse_binding(binding["binding_information"])
        if b_port != port or (ip not in ("*", local_ip)):
            continue
        if host and host.lower() != host_header:
            continue
        rank = (2 if host else 0) + (1 if ip != "*" else 0)
        if rank > best_rank:
            best, best_rank = site, rank
    return best


def lab_port(port: int) -> int:
    """The loopback port the lab listens on for an IIS port (privileged ports move up by 10000)."""
    return port + 10000 if port < 1024 else port
