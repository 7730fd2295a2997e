# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One host's verdict: its HTTPS endpoints from IIS and MFA Server facts, each judged twice.

Server side: the chain Schannel will send (the bound certificate plus the intermediates that sit in
LocalMachine\\CA) evaluated by the trust engine, no network needed. Phone side: the endpoint probed from
the controller. An endpoint is compliant when neither view finds an error.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ansible_collections.mfa_server.tls.plugins.module_utils import (
    certificates,
    iis_bindings,
    mfa_checks,
    routing,
    scope,
    tls_client,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import evaluate_chain
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import ERROR, finding
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import ProbeSettings, probe_one

# What a phone requests of each MFA web component (relative to its virtual path).
COMPONENT_PATHS = {
    "mobile_app_web_service": "/PfPaWs.asmx",
    "web_service_sdk": "/PfWsSdk.asmx",
    "user_portal": "/",
}


@dataclass(frozen=True)
class Endpoint:
    site: str
    binding_information: str
    port: int
    public_name: str
    path: str
    component: str | None
    thumbprint: str
    store_name: str
    ccs: bool
    http_sys_key: str
    http_sys_status: str
    served_by: str  # the entry that serves a binding with no entry of its own (iis_bindings.fallback_entry)
    # How it is reached (routing.Reach): who calls it by `public_name`; False when no known name reaches it, so
    # the probe sends none; the address the binding names; the entry serving that connection; and whether that
    # name and address reach this binding and no other.
    reached_by: tuple[dict, ...] = ()
    send_name: bool = True
    address: str | None = None
    entry: str = ""
    alone: bool = True

    @property
    def url(self) -> str:
        port = "" if self.port == 443 else f":{self.port}"
        return f"https://{self.public_name}{port}{self.path}"


def endpoints(iis: dict, mfa: dict, public_name: str) -> list[Endpoint]:
    """One endpoint per HTTPS binding, name that reaches it and MFA component it serves (one for a binding
    serving none), judged and probed by that name.

    The names are those that really reach the binding (routing.reaches): a host binding's host name; for a
    binding without one, `public_name` unless a host binding on the same port takes it, and the SDK URL of
    the MFA configuration where IIS routes it (that name only for the Web Service SDK). A binding no known
    name reaches is judged for `public_name` and probed without a name, as a client reaching it by address.
    """
    reached = routing.reaches(iis, mfa, public_name)
    components_by_binding: dict[tuple[str, str], list[dict]] = {}
    for component in mfa.get("components") or []:
        for binding in component.get("https_bindings") or []:
            components_by_binding.setdefault((component["site"], binding), []).append(component)
    result = []
    for site in iis.get("sites") or []:
        for binding in site.get("bindings") or []:
            if binding.get("http_sys_status") == "unreadable":
                continue  # no address or port to reach it by: reported among the host's divergences
            key = (site["name"], binding["binding_information"])
            if key not in reached:
                continue  # a binding information no request can match: nothing reaches it
            served = components_by_binding.get(key) or [None]
            thumbprint = (binding.get("certificate_hash") or "").upper()
            store_name = binding.get("certificate_store_name") or ""
            fallback = None
            if binding.get("http_sys_status") == "missing":
                fallback = iis_bindings.fallback_entry(
                    iis.get("http_sys") or [],
                    binding["binding_information"],
                    int(binding.get("ssl_flags") or 0),
                )
            if fallback:  # what HTTP.sys really serves it with
                thumbprint = (fallback.get("certificate_hash") or "").upper()
                store_name = iis_bindings.store_display_name(fallback.get("certificate_store_name"))
            for reach, component in _by_name(key, binding, reached[key], served, iis, mfa):
                path = "/"
                if component is not None:
                    path = component["virtual_path"].rstrip("/") + COMPONENT_PATHS[component["component"]]
                kind = component["component"] if component else None
                result.append(
                    Endpoint(
                        site=site["name"],
                        binding_information=binding["binding_information"],
                        port=int(binding["port"]),
                        public_name=reach.name or public_name,
                        path=path,
                        component=component["component"] if component else None,
                        thumbprint=thumbprint,
                        store_name=store_name,
                        ccs=bool(binding.get("ccs")),
                        http_sys_key=binding.get("http_sys_key") or "",
                        http_sys_status=binding.get("http_sys_status") or "",
                        served_by=fallback["key"] if fallback else "",
                        reached_by=tuple(c.as_dict(reach.name) for c in reach.callers_of(kind)),
                        send_name=reach.name is not None,
                        address=reach.address,
                        entry=reach.entry,
                        alone=reach.alone,
                    )
                )
    return result


def _by_name(
    key: tuple[str, str], binding: dict, reaches: list[routing.Reach], served: list, iis: dict, mfa: dict
) -> list[tuple[routing.Reach, dict | None]]:
    """(reach, component) for each name and each component one of its callers calls: the SDK URL's name only
    for the Web Service SDK. None of them: the binding as a client without a name reaches it."""
    pairs = [
        (reach, component)
        for reach in reaches
        for component in served
        if reach.callers_of(component["component"] if component else None)
    ]
    return pairs or [(routing.unnamed(key, binding, iis, mfa), component) for component in served]


# The findings that judge a chain by a phone's trust store and Apple's policy, not by the host's own stores.
PHONE_TRUST_CODES = frozenset(
    {
        "PRIVATE_CA",
        "SELF_SIGNED",
        "UNTRUSTED",
        "INCOMPLETE_CHAIN",
        "VALIDITY_TOO_LONG",
        "CT_MISSING",
        "NO_FORWARD_SECRECY",
    }
)


def _for_its_callers(
    endpoint: Endpoint, certificate: dict | None, server_findings: list[dict], phone: dict
) -> list[dict]:
    """A binding that only the MFA Server's own components call (the SDK URL of their web.config, and no phone
    or host-binding name reaches it) is judged as those callers judge it: from the host, through the host's own
    stores (X509Chain, docs/windows-model.md 11.11: "a certificate the SDK's client host trusts is
    enough"). When Windows there trusts the certificate that the binding serves, the phone-trust findings do not
    apply: they leave both views, and one CALLED_ONLY_BY_MFA_SERVER note says which and why. The name, the
    dates, the key and everything else still count. Returns the server-side findings; `phone` is updated."""
    callers = endpoint.reached_by
    if not callers or any(c["kind"] != routing.CONFIGURATION for c in callers):
        return server_findings
    if not (certificate or {}).get("chain_trusted"):
        return server_findings  # Windows does not trust it either: its callers fail as a phone would
    presented = phone.get("presented_chain") or []
    if presented and presented[0]["sha1"].upper() != endpoint.thumbprint:
        return server_findings  # another certificate answers: the host's verdict is not about what is served
    dropped = sorted(
        {f["code"] for f in server_findings + phone["findings"] if f["code"] in PHONE_TRUST_CODES}
    )
    if not dropped:
        return server_findings
    phone["findings"] = [f for f in phone["findings"] if f["code"] not in PHONE_TRUST_CODES]
    phone["compliant"] = not any(f["severity"] == ERROR for f in phone["findings"])
    calls = "; ".join(f"{c['who']} as {c['url'] or endpoint.url}" for c in callers)
    note = finding(
        "CALLED_ONLY_BY_MFA_SERVER",
        f"Only the MFA Server's own components call binding '{endpoint.binding_information}' of site "
        f"'{endpoint.site}' ({calls}), from the host itself, and Windows there trusts its certificate "
        f"{endpoint.thumbprint} (issued by {(certificate or {}).get('issuer')}). No phone reaches it by a name, so "
        f"the phone rules behind {', '.join(dropped)} do not apply to it.",
    ).as_dict()
    return [f for f in server_findings if f["code"] not in PHONE_TRUST_CODES] + [note]


def sent_chain_der(certificate: dict) -> list[bytes]:
    """The chain Schannel sends for a bound certificate: the leaf, then those intermediates of the chain
    Windows built that sit in LocalMachine\\CA (HTTP.sys sends nothing else)."""
    in_ca = {i["thumbprint"].upper() for i in certificate.get("intermediates") or [] if i.get("in_ca_store")}
    chain = [base64.b64decode(certificate["der_b64"])]
    for der_b64 in (certificate.get("chain_der_b64") or [])[1:]:
        der = base64.b64decode(der_b64)
        if certificates.sha1_thumbprint(certificates.load_der(der)) in in_ca:
            chain.append(der)
    return chain


def review_host(
    iis: dict,
    mfa: dict,
    public_name: str,
    probe_addresses: dict[int, str],
    settings: ProbeSettings,
    mfa_options: mfa_checks.MfaOptions | None = None,
    scope_settings: scope.ScopeSettings | None = None,
) -> dict:
    """The structured verdict for one host (the `mfa_tls` fact). The MFA Server's own checks (retirement,
    SDK URL, SDK connection test, console URL) are host-level findings in `mfa_findings` (mfa_checks). What
    counts towards `compliant` and `problems` is the scope's to say (scope.apply)."""
    by_thumbprint = {
        (c["thumbprint"].upper(), iis_bindings.store_display_name(c.get("store_name"))): c
        for c in iis.get("certificates") or []
    }
    divergence = http_sys_divergence(iis)
    reviewed = []
    for endpoint in endpoints(iis, mfa, public_name):
        certificate = by_thumbprint.get(
            (endpoint.thumbprint, iis_bindings.store_display_name(endpoint.store_name))
        )
        server_findings = _divergence_findings(endpoint, divergence) + _server_side(
            endpoint, certificate, settings
        )
        # The root of a site that serves no MFA component may well answer 404: only the TLS side counts.
        target = tls_client.parse_target(
            endpoint.url,
            _probe_address(endpoint, probe_addresses),
            check_http_status=endpoint.component is not None,
            send_name=endpoint.send_name,
        )
        phone = probe_one(target, settings)
        server_findings = _for_its_callers(endpoint, certificate, server_findings, phone)
        codes = sorted({f["code"] for f in server_findings + phone["findings"]})
        reviewed.append(
            {
                "site": endpoint.site,
                "binding_information": endpoint.binding_information,
                "ccs": endpoint.ccs,
                "http_sys_key": endpoint.http_sys_key,
                "served_by": endpoint.served_by,
                "component": endpoint.component,
                "url": endpoint.url,
                "public_name": endpoint.public_name,
                "address": phone["address"],
                # Who calls it by that name (routing): empty when no known name reaches it.
                "reached_by": list(endpoint.reached_by),
                "routing": {
                    "name": endpoint.public_name if endpoint.send_name else None,
                    "address": endpoint.address,
                    "http_sys_entry": endpoint.entry,
                    "alone": endpoint.alone,
                },
                "certificate": _certificate_summary(endpoint, certificate),
                "server_side": {
                    "compliant": not any(f["severity"] == ERROR for f in server_findings),
                    "findings": server_findings,
                },
                "phone": phone,
                "compliant": phone["compliant"] and not any(f["severity"] == ERROR for f in server_findings),
                "codes": codes,
            }
        )
    host_errors = [d for d in divergence if d["severity"] == ERROR and not d.get("binding_reviewed")]
    mfa_findings = mfa_checks.host_findings(
        iis, mfa, reviewed, probe_addresses, mfa_options or mfa_checks.MfaOptions(), settings.timeout
    )
    review = {
        "computer_name": iis.get("computer_name"),
        "endpoints": reviewed,
        "mfa_server": _mfa_summary(mfa),
        "mfa_findings": mfa_findings,
        "http_sys_divergence": [{k: v for k, v in d.items() if k != "binding_reviewed"} for d in divergence],
        # The HTTP.sys entries as read: the remediation plan's undo restores exactly these.
        "http_sys_entries": [
            {k: entry.get(k) for k in ("key", *iis_bindings.ENTRY_FIELDS)}
            for entry in iis.get("http_sys") or []
        ],
    }
    # The scope marks each endpoint in or out and waived, and sets `compliant` and `problems` (one line per
    # endpoint or host error that counts, for messages: templating them costs per host).
    return scope.apply(review, mfa, scope_settings or scope.ScopeSettings(), host_errors)


def http_sys_divergence(iis: dict) -> list[dict]:
    """Where what IIS shows and what HTTP.sys serves part ways, each as a finding with where it is:
    entries no binding derives (and those among them that override a wildcard binding for one address),
    bindings without an entry or that cannot be mapped, entries another program owns, and legacy
    <customMetadata> that rewrites entries."""
    entries = iis.get("http_sys") or []
    result: list[dict] = []

    def add(code: str, where: str, message: str, **extra) -> None:
        result.append({**finding(code, message).as_dict(), "where": where, **extra})

    used_keys = {
        (b.get("http_sys_key") or "").lower() for s in iis.get("sites") or [] for b in s.get("bindings") or []
    }
    for entry in entries:
        if entry.get("status") == "orphaned":
            overridden = [
                wildcard["key"]
                for wildcard in entries
                if wildcard["key"].lower() in used_keys
                and entry in iis_bindings.overriding_entries(entries, wildcard["key"])
            ]
            if overridden:
                add(
                    "OVERRIDDEN_BY_HIDDEN_ENTRY",
                    entry["key"],
                    f"The HTTP.sys entry {entry['key']} has no IIS binding but serves every connection to "
                    f"{entry.get('ip')} port {entry.get('port')} instead of {', '.join(overridden)}, with "
                    f"certificate {entry.get('certificate_hash') or 'none'}.",
                    overrides=overridden,
                    binding_reviewed=True,
                )
            else:
                add(
                    "ORPHANED_HTTP_SYS_ENTRY",
                    entry["key"],
                    f"The HTTP.sys entry {entry['key']} (certificate {entry.get('certificate_hash') or 'none'}, "
                    f"app id {entry.get('app_id')}) belongs to no IIS binding.",
                )
        elif entry.get("foreign_app_id"):
            add(
                "FOREIGN_APP_ID",
                entry["key"],
                f"The HTTP.sys entry {entry['key']} used by IIS is owned by application {entry.get('app_id')}, "
                f"not IIS ({iis_bindings.IIS_APP_ID}).",
                binding_reviewed=True,
            )
    for site in iis.get("sites") or []:
        for binding in site.get("bindings") or []:
            where = f"{site['name']} {binding['binding_information']}"
            if binding.get("http_sys_status") == "unreadable":
                add(
                    "BINDING_UNREADABLE",
                    where,
                    f"The binding '{binding['binding_information']}' of site "
                    f"'{site['name']}' cannot be mapped to an HTTP.sys entry: {binding.get('error')}.",
                )
            elif binding.get("http_sys_status") == "missing":
                fallback = iis_bindings.fallback_entry(
                    entries, binding["binding_information"], int(binding.get("ssl_flags") or 0)
                )
                if fallback:
                    add(
                        "SERVED_BY_FALLBACK_ENTRY",
                        where,
                        f"The binding '{binding['binding_information']}' of site '{site['name']}' has no HTTP.sys "
                        f"entry of its own ({binding.get('http_sys_key')}); HTTP.sys serves it with "
                        f"{fallback['key']} (certificate {fallback.get('certificate_hash') or 'none'}), which IIS "
                        "does not show for it.",
                        binding_reviewed=True,
                    )
                else:
                    add(
                        "NO_HTTP_SYS_ENTRY",
                        where,
                        f"The binding '{binding['binding_information']}' of site '{site['name']}' has no HTTP.sys "
                        f"entry ({binding.get('http_sys_key')}): no certificate is bound and the TLS handshake "
                        "fails.",
                        binding_reviewed=True,
                    )
    for row in iis.get("custom_metadata") or []:
        what = "certificate hash" if row["property_id"] == 5506 else "certificate store"
        add(
            "LEGACY_METADATA",
            row.get("site") or row["path"],
            f"applicationHost.config holds the legacy metabase property {row['property_id']} ({what} "
            f"{row['value']}) for {row['path']}"
            + (f" (site '{row['site']}')" if row.get("site") else "")
            + ", which IIS's metabase compatibility uses to rewrite or delete HTTP.sys entries.",
            site=row.get("site"),
            binding_reviewed=True,
        )
    return result


def _divergence_findings(endpoint: Endpoint, divergence: list[dict]) -> list[dict]:
    """The host's divergences that concern this endpoint's binding."""
    mine = []
    for item in divergence:
        fields = {k: item[k] for k in ("code", "severity", "message", "remediation")}
        if (
            (
                item["code"] == "OVERRIDDEN_BY_HIDDEN_ENTRY"
                and any(iis_bindings.same_key(key, endpoint.http_sys_key) for key in item["overrides"])
            )
            or (
                item["code"] == "FOREIGN_APP_ID"
                and iis_bindings.same_key(item["where"], endpoint.http_sys_key)
            )
            or (item["code"] == "LEGACY_METADATA" and item.get("site") == endpoint.site)
            or (
                item["code"] == "SERVED_BY_FALLBACK_ENTRY"
                and item["where"] == f"{endpoint.site} {endpoint.binding_information}"
            )
        ):
            mine.append(fields)
    return mine


def _server_side(endpoint: Endpoint, certificate: dict | None, settings: ProbeSettings) -> list[dict]:
    if endpoint.ccs:
        return []  # the certificate comes from the Central Certificate Store: only the phone view judges it
    if endpoint.http_sys_status == "missing" and not endpoint.served_by:
        return [
            finding(
                "NO_HTTP_SYS_ENTRY",
                f"The binding '{endpoint.binding_information}' of site '{endpoint.site}' has no HTTP.sys entry "
                f"({endpoint.http_sys_key}): no certificate is bound and the TLS handshake fails.",
            ).as_dict()
        ]
    if certificate is None or not certificate.get("found", True) or not certificate.get("der_b64"):
        return [
            finding(
                "CERTIFICATE_MISSING",
                f"The binding '{endpoint.binding_information}' of site '{endpoint.site}' holds no certificate "
                f"that exists in the machine store ({endpoint.thumbprint or 'none'}).",
            ).as_dict()
        ]
    chain = [certificates.load_der(der) for der in sent_chain_der(certificate)]
    evaluation = evaluate_chain(
        chain,
        endpoint.public_name,
        settings.store,
        policy=settings.policy,
        find_missing_issuer=settings.issuer_lookup,
        revocation=settings.revocation,
    )
    return [f.as_dict() for f in evaluation.findings]


def _certificate_summary(endpoint: Endpoint, certificate: dict | None) -> dict:
    certificate = certificate or {}
    return {
        "thumbprint": endpoint.thumbprint,
        "store_name": endpoint.store_name,
        "subject": certificate.get("subject"),
        "issuer": certificate.get("issuer"),
        "not_after": certificate.get("not_after"),
        # Whether it names a caller's name today (remediation_plan: a change must not take that from it).
        "dns_names": list(certificate.get("san_dns_names") or []),
    }


def _probe_address(endpoint: Endpoint, probe_addresses: dict[int, str]) -> str | None:
    """Where the probe connects: the address given for the port, else the address the binding names, else
    (None) where the URL's host resolves."""
    if endpoint.port in probe_addresses:
        return probe_addresses[endpoint.port]
    if endpoint.address:
        host = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
        return f"{host}:{endpoint.port}"
    return None


def _mfa_summary(mfa: dict) -> dict:
    return {
        key: mfa.get(key)
        for key in (
            "installed",
            "version",
            "install_path",
            "end_of_support",
            "end_of_support_reached",
            "mobile_app_web_service_required",
        )
    } | {
        "components": [
            {k: c.get(k) for k in ("component", "site", "virtual_path")} for c in mfa.get("components") or []
        ]
    }
