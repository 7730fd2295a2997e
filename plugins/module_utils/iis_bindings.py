# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IIS HTTPS bindings and the HTTP.sys entries that serve them: the rules the controller and the lab share.

The Windows side applies the same rules in C# (plugins/module_utils/_HttpSysSsl.cs, `WindowsRules`); both
are checked against one set of vectors (tests/vectors/windows_rules.json). Sources: docs/windows-model.md.

- applicationHost.config holds no certificate: a binding is `protocol`, `bindingInformation` (IP:port:host,
  IPv6 in brackets, `*` or empty for every unassigned address, blank host for every host) and `sslFlags`.
- The certificate lives in HTTP.sys, in the entry the binding derives: `ccs=port` (sslFlags bit 2), else
  `hostnameport=host:port` (bit 1), else `ipport=IP:port` (`*` as 0.0.0.0).
- A connection is served by the `hostnameport` entry for the SNI name, else the `ccs` entry for the port
  (when the client sent SNI), else the `ipport` entry for the exact address, else the wildcard.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IIS_APP_ID = "{4dc3e181-e14b-4a21-b022-59fc669b0914}"

# The fields of an HTTP.sys SSL entry (HTTP_SERVICE_CONFIG_SSL_PARAM) as the modules report and restore them.
ENTRY_FIELDS = (
    "certificate_hash",
    "certificate_store_name",
    "app_id",
    "default_flags",
    "cert_check_mode",
    "revocation_freshness_time",
    "revocation_url_retrieval_timeout",
    "ctl_identifier",
    "ctl_store_name",
)

SSL_FLAG_SNI = 1
SSL_FLAG_CCS = 2

# IIS 10 sslFlags bit -> HTTP_SERVICE_CONFIG_SSL_FLAG_* (http.h) that HTTP.sys enforces. An entry created
# with DefaultFlags 0 would silently re-enable what the binding disables (TLS 1.0 for DisableLegacyTLS).
SSL_FLAGS_TO_DEFAULT_FLAGS = {
    4: 0x10,  # DisableHTTP2 -> DISABLE_HTTP2
    8: 0x80,  # DisableOCSPStapling -> DISABLE_OCSP_STAPLING
    16: 0x20,  # DisableQUIC -> DISABLE_QUIC
    32: 0x40,  # DisableTLS13OverTcp -> DISABLE_TLS13
    64: 0x400,  # DisableLegacyTLS -> DISABLE_LEGACY_TLS
}
DEFAULT_FLAG_DISABLE_LEGACY_TLS = 0x400

_INVISIBLE = re.compile(r"[\s\u200e\u200f\ufeff:-]")
_BINDING = re.compile(r"^(?P<ip>\[[^\]]*\]|[^\[\]]*?):(?P<port>[^:]*):(?P<host>[^:]*)$")


class BindingError(ValueError):
    """A binding whose HTTP.sys entry cannot be derived; the message names the problem and the fix."""


@dataclass(frozen=True)
class BindingKey:
    kind: str  # ipport | hostnameport | ccs
    address: str  # normalised IP, the host name, or "" for ccs
    port: int

    @property
    def key(self) -> str:
        if self.kind == "ccs":
            return f"ccs={self.port}"
        if self.kind == "hostnameport":
            return f"hostnameport={self.address}:{self.port}"
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"ipport={address}:{self.port}"


def parse_binding_information(info: str) -> tuple[str, int, str]:
    """(ip, port, host): ip normalised ('*' for every unassigned address, IPv6 without brackets)."""
    text = "" if info is None else str(info)
    if text.count(":") > 2 and not text.startswith("["):
        raise BindingError(
            f"binding information '{text}' holds an IPv6 address without brackets; write it in brackets, "
            "e.g. '[fd00::5]:443:'"
        )
    match = _BINDING.match(text)
    if not match:
        if text.startswith("[") and "]" not in text:
            raise BindingError(
                f"binding information '{text}' opens an IPv6 address with '[' but has no closing bracket; "
                "write it in brackets, e.g. '[fd00::5]:443:'"
            )
        raise BindingError(
            f"binding information '{text}' is not in IP:port:host form; write it as IIS does, "
            "e.g. '*:443:', '*:443:mfa.contoso.com' or '[::1]:443:'"
        )
    port_text = match["port"]
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise BindingError(f"binding information '{text}' has port '{port_text}'; use a port from 1 to 65535")
    ip = match["ip"]
    if ip.startswith("["):
        ip = ip[1:-1]
    if ip in ("", "*"):
        ip = "*"
    else:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise BindingError(
                f"binding information '{text}' has the address '{ip}', which is not an IP address; use '*' "
                "or an address of this host"
            ) from None
    return ip, int(port_text), match["host"]


def derive_key(binding_information: str, ssl_flags: int) -> BindingKey:
    """The HTTP.sys entry that serves an IIS HTTPS binding."""
    ip, port, host = parse_binding_information(binding_information)
    flags = int(ssl_flags or 0)
    if flags & SSL_FLAG_CCS:
        return BindingKey("ccs", "", port)
    if flags & SSL_FLAG_SNI:
        if not host.strip():
            raise BindingError(
                f"binding '{binding_information}' has the SNI flag (sslFlags {flags}) but no host name, so it "
                "has no HTTP.sys entry; give it a host name in IIS or clear 'Require Server Name Indication'"
            )
        return BindingKey("hostnameport", host, port)
    return BindingKey("ipport", "0.0.0.0" if ip == "*" else ip, port)


def parse_key(key: str) -> BindingKey:
    kind, _sep, rest = key.partition("=")
    if kind == "ccs":
        return BindingKey("ccs", "", int(rest))
    where, _sep, port = rest.rpartition(":")
    if kind == "ipport" and (":" not in where or (where.startswith("[") and where.endswith("]"))):
        return BindingKey("ipport", str(ipaddress.ip_address(where.strip("[]"))), int(port))
    if kind == "hostnameport" and where:
        return BindingKey("hostnameport", where, int(port))
    raise BindingError(
        f"'{key}' is not an HTTP.sys key (ipport=IP:port with IPv6 in brackets, hostnameport=host:port, ccs=port)"
    )


def snapshot_of(entries: list[dict], key: str) -> dict:
    """The record iis_binding_certificate's `restore` takes for one key: the entry as read, or exists false."""
    entry = next((e for e in entries if same_key(e.get("key") or "", key)), None)
    if entry is None:
        return {"key": key, "exists": False, **dict.fromkeys(ENTRY_FIELDS)}
    return {"key": entry["key"], "exists": True, **{field: entry.get(field) for field in ENTRY_FIELDS}}


def same_key(a: str, b: str) -> bool:
    return (a or "").lower() == (b or "").lower()


def default_flags_for(ssl_flags: int) -> int:
    """DefaultFlags for an HTTP.sys entry created for a binding with these sslFlags."""
    flags = int(ssl_flags or 0)
    result = 0
    for bit, default_flag in SSL_FLAGS_TO_DEFAULT_FLAGS.items():
        if flags & bit:
            result |= default_flag
    return result


def normalize_thumbprint(value: str | None) -> str | None:
    """Upper-case hex without separators or the invisible marks the certificate dialog copies; None
    when the value is not a SHA-1 thumbprint."""
    if value is None:
        return None
    cleaned = _INVISIBLE.sub("", str(value)).upper()
    return cleaned if re.fullmatch(r"[0-9A-F]{40}", cleaned) else None


def store_display_name(name: str | None) -> str:
    """HTTP.sys holds the personal store as NULL or 'MY', IIS shows 'My'."""
    lowered = (name or "").lower()
    if lowered in ("", "my"):
        return "My"
    if lowered == "webhosting":
        return "WebHosting"
    return name or ""


def same_store(a: str | None, b: str | None) -> bool:
    return store_display_name(a).lower() == store_display_name(b).lower()


def serving_entry(entries: list[dict], port: int, sni: str | None, local_ip: str) -> dict | None:
    """The HTTP.sys entry that answers a TLS connection to (local_ip, port), with SNI `sni` or none."""
    by_key = {(e.get("key") or "").lower(): e for e in entries}
    if sni:
        for key in (f"hostnameport={sni}:{port}", f"ccs={port}"):
            if key.lower() in by_key:
                return by_key[key.lower()]
    address = ipaddress.ip_address(local_ip)
    # 0.0.0.0 covers IPv6 connections too (HTTP_SERVICE_CONFIG_SSL_KEY); that [::] wins over it is assumed.
    candidates = [str(address), *(["::"] if address.version == 6 else []), "0.0.0.0"]
    for candidate in candidates:
        entry = by_key.get(BindingKey("ipport", candidate, port).key.lower())
        if entry:
            return entry
    return None


def fallback_entry(entries: list[dict], binding_information: str, ssl_flags: int) -> dict | None:
    """The entry HTTP.sys serves a binding's connections with when the binding has no entry of its own: an
    SNI binding falls through to the port's ccs entry, then to its address's and the wildcard ipport entry;
    an address binding to the wildcard. IIS shows no certificate for such a binding, yet changing that
    entry changes what it serves. None when the binding has its own entry or nothing serves it."""
    key = derive_key(binding_information, ssl_flags)
    if key.kind == "ccs" or any(same_key(e.get("key") or "", key.key) for e in entries):
        return None
    ip, port, host = parse_binding_information(binding_information)
    local = "0.0.0.0" if ip == "*" else ip
    return serving_entry(entries, port, host if key.kind == "hostnameport" else None, local)


def overriding_entries(entries: list[dict], key: str) -> list[dict]:
    """The ipport entries for one address that win over the wildcard entry `key` for connections to
    that address (a hidden entry overrides what IIS shows: win-acme #94, #292, #709)."""
    try:
        parsed = parse_key(key)
    except (BindingError, ValueError):
        return []
    if parsed.kind != "ipport" or parsed.address not in ("0.0.0.0", "::"):
        return []
    # 0.0.0.0 serves IPv6 connections too, so any exact address overrides it; [::] only IPv6 ones.
    families = {4, 6} if parsed.address == "0.0.0.0" else {6}
    result = []
    for entry in entries:
        try:
            other = parse_key(entry.get("key") or "")
        except (BindingError, ValueError):
            continue
        if (
            other.kind == "ipport"
            and other.port == parsed.port
            and other.address not in ("0.0.0.0", "::")
            and ipaddress.ip_address(other.address).version in families
        ):
            result.append(entry)
    return result
