"""IIS and HTTP.sys as the emulated hosts hold them: the rules come from the product (iis_bindings).

One store: a binding in `sites[].bindings` is protocol, binding_information and ssl_flags; its certificate
is whatever the HTTP.sys entry it derives holds (`http_sys`), exactly as Microsoft.Web.Administration reads
`Binding.CertificateHash` (docs/windows-model.md, sections 1 to 3).
"""

from __future__ import annotations

import sys
from pathlib import Path

_COLLECTIONS = Path(__file__).resolve().parent.parent / ".cache" / "collections"
if _COLLECTIONS.is_dir() and str(_COLLECTIONS) not in sys.path:
    sys.path.append(str(_COLLECTIONS))

from ansible_collections.mfa_server.tls.plugins.module_utils import iis_bindings, routing  # noqa: E402
from ansible_collections.mfa_server.tls.plugins.module_utils.iis_bindings import (  # noqa: E402
    IIS_APP_ID,
    BindingError,
    default_flags_for,
    derive_key,
    normalize_thumbprint,
    same_store,
    store_display_name,
)

__all__ = [
    "IIS_APP_ID",
    "BindingError",
    "default_flags_for",
    "derive_key",
    "normalize_thumbprint",
    "same_store",
    "store_display_name",
]

ENTRY_FIELDS = iis_bindings.ENTRY_FIELDS


def new_entry(key: str, thumbprint: str = "", store: str = "MY", **fields) -> dict:
    """An HTTP.sys entry as IIS writes one (its app id, check mode 0, flags from the binding)."""
    entry = {
        "key": key,
        "certificate_hash": thumbprint,
        "certificate_store_name": store if thumbprint else "",
        "app_id": IIS_APP_ID,
        "default_flags": 0,
        "cert_check_mode": 0,
        "revocation_freshness_time": 0,
        "revocation_url_retrieval_timeout": 0,
        "ctl_identifier": "",
        "ctl_store_name": "",
    }
    entry.update(fields)
    return entry


def parse_binding(info: str) -> tuple[str, int, str]:
    return iis_bindings.parse_binding_information(info)


def binding_key(binding: dict) -> str:
    """The HTTP.sys key of a binding; BindingError for one Windows cannot map (a malformed IPv6 address)."""
    return derive_key(binding["binding_information"], int(binding.get("ssl_flags") or 0)).key


def same_binding(a: str, b: str) -> bool:
    try:
        ip_a, port_a, host_a = parse_binding(a)
        ip_b, port_b, host_b = parse_binding(b)
    except BindingError:
        return False
    return ip_a.lower() == ip_b.lower() and port_a == port_b and host_a.lower() == host_b.lower()


def https_bindings(data: dict, protocol: str = "https"):
    """(site, binding) for every binding of `protocol` of every site, by site id then configuration order."""
    for site in sorted(data["sites"], key=lambda s: s["id"]):
        for binding in site["bindings"]:
            if binding["protocol"].lower() == protocol:
                yield site, binding


def http_sys_entry(data: dict, key: str) -> dict | None:
    for entry in data["http_sys"]:
        if iis_bindings.same_key(entry["key"], key):
            return entry
    return None


def bound_certificate(data: dict, binding: dict) -> tuple[str, str]:
    """(thumbprint, store) a binding shows in IIS Manager: read from its HTTP.sys entry, or ('', '')."""
    try:
        entry = http_sys_entry(data, binding_key(binding))
    except BindingError:
        return "", ""
    if entry is None or not entry.get("certificate_hash"):
        return "", ""
    return entry["certificate_hash"].upper(), store_display_name(entry.get("certificate_store_name"))


def select_entry(data: dict, port: int, sni: str | None, local_ip: str) -> dict | None:
    """The HTTP.sys entry that answers a TLS connection to (local_ip, port) with SNI `sni`: the controller's rule
    (routing.serving_entry, which is iis_bindings.serving_entry)."""
    return routing.serving_entry(data["http_sys"], port, sni, local_ip)


def refuses_legacy_tls(entry: dict | None) -> bool:
    """HTTP.sys refuses TLS 1.0 and 1.1 on an entry with DISABLE_LEGACY_TLS in DefaultFlags."""
    return bool(entry) and bool(
        int(entry.get("default_flags") or 0) & iis_bindings.DEFAULT_FLAG_DISABLE_LEGACY_TLS
    )


def site_for(
    data: dict,
    port: int,
    host_header: str,
    local_ip: str,
    protocol: str = "https",
    started_only: bool = False,
) -> dict | None:
    """The site IIS routes a request to: exact host header first, then the IP, then the catch-all, by the rule
    the controller judges with (plugins/module_utils/routing.py `route`).
    `started_only`: a stopped site's bindings take no request (the HTTP listener asks for that)."""
    table = [
        (site, binding["binding_information"])
        for site, binding in https_bindings(data, protocol)
        if not started_only or (site.get("state") or "").lower() == "started"
    ]
    landed = routing.route(table, port, routing.request_host(host_header), local_ip)
    return landed[0] if landed else None


def https_ports(data: dict) -> list[int]:
    """Every port an HTTPS binding or an HTTP.sys entry listens on (malformed bindings have none)."""
    ports = set()
    for _site, binding in https_bindings(data):
        try:
            ports.add(parse_binding(binding["binding_information"])[1])
        except BindingError:
            continue
    ports.update(iis_bindings.parse_key(entry["key"]).port for entry in data["http_sys"])
    return sorted(ports)


def lab_port(port: int) -> int:
    """The loopback port the lab listens on for an IIS port (privileged ports move up by 10000)."""
    return port + 10000 if port < 1024 else port
