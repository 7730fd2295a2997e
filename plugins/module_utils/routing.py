# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which names reach each IIS HTTPS binding, and which HTTP.sys entry serves each (name, address).

Two rules decide where a request lands (docs/windows-model.md 3.1-3.7); the lab routes its own requests with
the same functions (lab.iis.site_for calls `route`, lab.iis.select_entry calls `serving_entry`):

- TLS: HTTP.sys picks the entry by the SNI name (`hostnameport=<name>:<port>`), else the port's `ccs` entry,
  else the `ipport` entry of the exact address, else the wildcard (`serving_entry`, iis_bindings).
- HTTP: IIS routes the request to the binding whose host name equals the Host header on that address and
  port, else to the binding without a host name; a specific address wins over `*` (`route`).

So a binding without a host name is not reached by the public name when a host binding on the same port
takes that name, and the names the MFA configuration itself calls (the Web Service SDK URL in the Mobile
App Web Service's and the User Portal's web.config) reach whatever binding IIS routes them to. `reaches`
lists, per binding, every name known to reach it, who calls it by that name, the entry that serves the TLS
connection, and whether that name and address reach this binding and no other (what a verification needs).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates, iis_bindings

# Who calls a binding by a name: the kinds a plan tells apart (remediation_plan).
PUBLIC = "public"  # phones, by the public name (mfa_tls_public_name)
HOST_NAME = "host_name"  # clients of a host binding's own host name
CONFIGURATION = "configuration"  # an MFA component, by the SDK URL in its web.config

_CLIENTS = {"mobile_app_web_service": "the Mobile App Web Service", "user_portal": "the User Portal"}

# The HTTP.sys rule, one implementation for the controller and the lab.
serving_entry = iis_bindings.serving_entry


@dataclass(frozen=True)
class Caller:
    kind: str  # PUBLIC, HOST_NAME or CONFIGURATION
    who: str  # as a sentence names it: "phones", "the Mobile App Web Service"
    url: str = ""  # the URL it calls, when the configuration says (the SDK URL)
    setting: str = ""  # where the configuration says it (the web.config key)
    component: str | None = None  # the one component it calls; None: every component the binding serves

    def calls(self, component: str | None) -> bool:
        return self.component is None or self.component == component

    def as_dict(self, name: str | None) -> dict:
        return {
            "name": name,
            "who": self.who,
            "kind": self.kind,
            "url": self.url or None,
            "setting": self.setting or None,
        }


@dataclass(frozen=True)
class Reach:
    """One name (None: none known) reaching one binding at one address (None: any address no specific binding
    takes), the HTTP.sys entry that serves that TLS connection, and whether the pair lands on this binding and
    is served by its own entry (once it has one): then a probe through it judges this binding and no other."""

    name: str | None
    address: str | None
    port: int
    entry: str
    alone: bool
    callers: tuple[Caller, ...] = field(default_factory=tuple)

    def callers_of(self, component: str | None) -> tuple[Caller, ...]:
        return tuple(c for c in self.callers if c.calls(component))


def request_host(host_header: str | None) -> str:
    """The host name of a Host header as IIS matches it against bindings: without the port, lower case; an
    IPv6 literal (`[fd00::1]:443`) names no binding's host."""
    if not host_header or host_header.startswith("["):
        return ""
    return host_header.split(":")[0].lower()


def accepts(info: str, port: int, host: str, address: str | None) -> bool:
    """Whether a binding takes a request for `host` arriving on `address`:`port`. `address` None stands for an
    address that no binding names (only `*` bindings take it)."""
    try:
        ip, binding_port, binding_host = iis_bindings.parse_binding_information(info)
    except iis_bindings.BindingError:
        return False
    if binding_port != port or (binding_host and binding_host.lower() != (host or "").lower()):
        return False
    return ip == "*" or (address is not None and same_ip(ip, address))


def route(
    table: Sequence[tuple[Any, str]], port: int, host: str, address: str | None
) -> tuple[Any, str] | None:
    """(row, binding information) IIS routes an HTTPS request for `host` arriving on `address`:`port` to, from
    `table` rows of (site, binding information) in IIS order: a binding with that exact host name on that
    address (or all addresses), else one without a host name; a specific address wins over `*`
    (docs/windows-model.md 3.7, the ranking assumed)."""
    best, best_rank = None, -1
    for row, info in table:
        if not accepts(info, port, host, address):
            continue
        ip, _binding_port, binding_host = iis_bindings.parse_binding_information(info)
        rank = (2 if binding_host else 0) + (1 if ip != "*" else 0)
        if rank > best_rank:
            best, best_rank = (row, info), rank
    return best


def same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(plain_ip(a)) == ipaddress.ip_address(plain_ip(b))
    except ValueError:
        return False


def plain_ip(address: str) -> str:
    """An address without brackets or an IPv6 zone (`fe80::1%12`), as HTTP.sys keys hold it."""
    return address.strip("[]").split("%", 1)[0]


def routing_table(iis: dict, mfa: dict) -> list[tuple[str, str]]:
    """(site, binding information) of every HTTPS binding known: the IIS facts (which the `sites` option may
    narrow) and the bindings of the MFA components' sites (which it does not)."""
    table = [
        (site["name"], binding.get("binding_information") or "")
        for site in iis.get("sites") or []
        for binding in site.get("bindings") or []
        if binding.get("http_sys_status") != "unreadable"
    ]
    for component in mfa.get("components") or []:
        table += [(component.get("site") or "", info) for info in component.get("https_bindings") or []]
    return list(dict.fromkeys(table))


def sdk_clients(mfa: dict) -> list[dict]:
    """The components that call the Web Service SDK: the Mobile App Web Service always, the User Portal when
    its USE_WEB_SERVICE_SDK is true. A component whose web.config gives no SDK URL is not one."""
    result = []
    for component in mfa.get("components") or []:
        config = component.get("web_config") or {}
        uses_sdk = component.get("component") == "mobile_app_web_service" or (
            component.get("component") == "user_portal"
            and str(config.get("use_web_service_sdk") or "").strip().lower() == "true"
        )
        if uses_sdk and config.get("sdk_url"):
            result.append(component)
    return result


def reaches(iis: dict, mfa: dict, public_name: str) -> dict[tuple[str, str], list[Reach]]:
    """Per readable HTTPS binding of the facts, (site, binding information) in IIS order: every name known to
    reach it. A host binding is reached by its host name; a binding without one by the public name when no
    host binding on that port takes it; any binding by each SDK URL of the MFA configuration that IIS routes
    to it from the host. An empty list: no known name reaches it (see `unnamed`)."""
    table = routing_table(iis, mfa)
    entries = iis.get("http_sys") or []
    bindings = _bindings(iis)
    # Per binding: the callers of each name (compared without case, kept as first written).
    found: dict[tuple[str, str], dict[str, tuple[str, list[Caller]]]] = {key: {} for key in bindings}

    def add(key: tuple[str, str] | None, name: str, caller: Caller) -> None:
        if key in found:
            found[key].setdefault(name.lower(), (name, []))[1].append(caller)

    for key in bindings:
        ip, port, host = iis_bindings.parse_binding_information(key[1])
        name = host or public_name
        if name and route(table, port, name, None if ip == "*" else ip) == key:
            public = name.lower() == (public_name or "").lower()
            add(
                key,
                name,
                Caller(PUBLIC, "phones") if public else Caller(HOST_NAME, "clients of its host name"),
            )
    for component, url, setting, host, port, address in _configured_calls(mfa):
        caller = Caller(CONFIGURATION, _CLIENTS[component["component"]], url, setting, "web_service_sdk")
        add(route(table, port, host, address), host, caller)
    return {
        key: [
            _reach(key, bindings[key], name, callers, table, entries) for name, callers in found[key].values()
        ]
        for key in bindings
    }


def unnamed(key: tuple[str, str], binding: dict, iis: dict, mfa: dict) -> Reach:
    """How a binding that no known name reaches is still reached: by a client that sends no name (no SNI, its
    address as the Host header), at the binding's address."""
    return _reach(key, binding, None, [], routing_table(iis, mfa), iis.get("http_sys") or [])


def _bindings(iis: dict) -> dict[tuple[str, str], dict]:
    """The bindings a request can land on: not those Windows cannot map (reported as BINDING_UNREADABLE)."""
    result = {}
    for site in iis.get("sites") or []:
        for binding in site.get("bindings") or []:
            if binding.get("http_sys_status") == "unreadable" or not _readable(
                binding.get("binding_information")
            ):
                continue
            result[(site["name"], binding["binding_information"])] = binding
    return result


def _readable(info: str | None) -> bool:
    try:
        iis_bindings.parse_binding_information(info or "")
    except iis_bindings.BindingError:
        return False
    return True


def _configured_calls(mfa: dict):
    """(component, url, web.config key, host, port, local address) of each SDK URL that leads over https to
    this host itself, as the host resolved it (mfa_server_info's `sdk_url_resolution`)."""
    # The Mobile App Web Service first: it always calls the SDK, the User Portal only when told to.
    clients = sorted(sdk_clients(mfa), key=lambda c: c.get("component") != "mobile_app_web_service")
    for component in clients:
        config = component.get("web_config") or {}
        url = str(config.get("sdk_url") or "").strip()
        parsed = urllib.parse.urlsplit(url)
        resolution = component.get("sdk_url_resolution") or {}
        addresses = [str(a) for a in resolution.get("addresses") or []]
        if (
            parsed.scheme.lower() != "https"
            or not parsed.hostname
            or not addresses
            or not resolution.get("local")
        ):
            continue  # http, another host, or a name the host cannot resolve: it lands on no HTTPS binding here
        try:
            port = parsed.port or 443
        except ValueError:
            continue
        yield component, url, config.get("sdk_url_key") or "", parsed.hostname, port, plain_ip(addresses[0])


def _reach(
    key: tuple[str, str],
    binding: dict,
    name: str | None,
    callers: list[Caller],
    table: list[tuple[str, str]],
    entries: list[dict],
) -> Reach:
    ip, port, _host = iis_bindings.parse_binding_information(key[1])
    address = None if ip == "*" else ip
    local = address or "0.0.0.0"
    sni = name if name and _is_dns_name(name) else None
    served = serving_entry(entries, port, sni, local)
    # After a change the binding has an entry of its own (iis_binding_certificate creates a missing one).
    own = binding.get("http_sys_key") or ""
    with_own = (
        entries
        if any(iis_bindings.same_key(e.get("key") or "", own) for e in entries)
        else [*entries, {"key": own}]
    )
    after = serving_entry(with_own, port, sni, local) if own else None
    # Without a name the Host header is the address: no host binding takes it.
    landed = route(table, port, name or "", address)
    alone = landed == key and after is not None and iis_bindings.same_key(after.get("key") or "", own)
    return Reach(name, address, port, (served or {}).get("key") or "", alone, tuple(callers))


def _is_dns_name(name: str) -> bool:
    try:
        ipaddress.ip_address(plain_ip(name))
    except ValueError:
        return True
    return False


# ---- what a certificate change does to the callers (remediation_plan) -------------------------------------


def names_left_out(endpoints: list[dict], covers: Callable[[str], bool]) -> list[str]:
    """Why a change of one binding's certificate to one whose names `covers` tells would cut callers off: one
    phrase per name that reaches the binding (its reviewed `endpoints`) and that the new certificate does not
    name. The public name and a host name count always (they are what the change is for); a name only the MFA
    configuration calls counts when the current certificate names it: one it does not name already fails
    (SDK_URL_UNSAFE), and the change takes nothing from it."""
    phrases = []
    for name, reached in _callers_by_name(endpoints).items():
        if covers(name):
            continue
        kinds = {caller.get("kind") for caller in reached}
        if kinds - {CONFIGURATION}:
            phrases.append(f"the new certificate does not name {name}")
            continue
        named_now = any(
            certificates.dns_name_matches(pattern, name)
            for e in endpoints
            for pattern in (e.get("certificate") or {}).get("dns_names") or []
        )
        if named_now:
            calls = " and ".join(_calls(caller, first=i == 0) for i, caller in enumerate(reached))
            phrases.append(f"{calls}, a name its certificate names and the new certificate does not")
    return phrases


def verification_endpoints(endpoints: list[dict], covers: Callable[[str], bool]) -> list[dict]:
    """The reviewed endpoints of one binding a verification may probe: a name (or none) and address that reach
    this binding and no other, by a name the new certificate names."""
    return [
        e
        for e in endpoints
        if (e.get("routing") or {}).get("alone", True) and (_name(e) is None or covers(_name(e)))
    ]


def _name(endpoint: dict) -> str | None:
    """The name an endpoint is reached by; None when none is (a review without routing: its public name)."""
    routing = endpoint.get("routing")
    return routing.get("name") if routing is not None else endpoint.get("public_name")


def _callers_by_name(endpoints: list[dict]) -> dict[str, list[dict]]:
    """Who calls the binding by which name (each caller once), from its endpoints' `reached_by`; an endpoint
    of a review without routing is reached by its public name, by phones."""
    result: dict[str, list[dict]] = {}
    for endpoint in endpoints:
        name = _name(endpoint)
        if name is None:
            continue
        reached = (
            endpoint.get("reached_by") if "reached_by" in endpoint else [{"kind": PUBLIC, "who": "phones"}]
        )
        group = result.setdefault(name, [])
        for caller in reached or []:
            if caller not in group:
                group.append(caller)
    return result


def _calls(caller: dict, first: bool) -> str:
    where = f" (web.config '{caller['setting']}')" if caller.get("setting") else ""
    verb = "calls it as" if first else "as"
    return f"{caller.get('who')} {verb} {caller.get('url')}{where}"
