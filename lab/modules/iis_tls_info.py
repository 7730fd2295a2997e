"""mfa_server.tls.iis_tls_info: sites, HTTP.sys and certificates in use, as the sidecar documents them."""

from __future__ import annotations

import base64

from lab import certinfo, iis
from lab.iis_https import chain_from_ca_store
from lab.state import find_cert


def _binding_row(data: dict, binding: dict) -> dict:
    """A binding as Get-IisHttpsBinding and the HTTP.sys read report it; one that cannot be mapped to an
    entry (Binding.CertificateHash throws for it on Windows) is reported as unreadable, not fatal."""
    flags = int(binding.get("ssl_flags") or 0)
    row = {
        "binding_information": binding["binding_information"],
        "ip": None,
        "port": None,
        "host": None,
        "ssl_flags": flags,
        "sni": bool(flags & 1),
        "ccs": bool(flags & 2),
        "http_sys_key": None,
        "certificate_hash": "",
        "certificate_store_name": "",
        "http_sys_status": "unreadable",
        "error": None,
    }
    try:
        row["ip"], row["port"], row["host"] = iis.parse_binding(binding["binding_information"])
        key = iis.binding_key(binding)
    except iis.BindingError as exc:
        row["error"] = str(exc)
        return row
    row["http_sys_key"] = key
    entry = iis.http_sys_entry(data, key)
    if key.startswith("ccs=") and entry is not None:
        row["http_sys_status"] = "ccs"
    elif entry is None or not entry.get("certificate_hash"):
        row["http_sys_status"] = "missing"
    else:
        row["http_sys_status"] = "bound"
        row["certificate_hash"] = entry["certificate_hash"].upper()
        row["certificate_store_name"] = iis.store_display_name(entry.get("certificate_store_name"))
    return row


def _split_key(key: str) -> tuple[str, str, str, int]:
    parsed = iis.iis_bindings.parse_key(key)
    if parsed.kind == "hostnameport":
        return parsed.kind, "", parsed.address, parsed.port
    return parsed.kind, parsed.address, "", parsed.port


def _custom_metadata(data: dict) -> list[dict]:
    """<customMetadata> properties 5506 (certificate hash, base64) and 5511 (store), per site key."""
    sites = {f"lm/w3svc/{s['id']}": s for s in data["sites"]}
    rows = []
    for item in data.get("custom_metadata") or []:
        if int(item["property_id"]) not in (5506, 5511):
            continue
        site = sites.get(item["path"].lower())
        value = item["value"]
        if int(item["property_id"]) == 5506:
            value = base64.b64decode(value).hex().upper()
        rows.append(
            {
                "path": item["path"],
                "site_id": site["id"] if site else None,
                "site": site["name"] if site else None,
                "property_id": int(item["property_id"]),
                "value": value,
            }
        )
    return rows


def _certificate(data: dict, thumbprint: str, store: str, used_by: list, keys: list) -> dict:
    entry = find_cert(data, store, thumbprint)
    row = {
        "thumbprint": thumbprint.upper(),
        "store_name": store,
        "found": entry is not None,
        "used_by": used_by,
        "http_sys_keys": keys,
    }
    empty = {
        k: None
        for k in (
            "subject",
            "issuer",
            "serial_number",
            "not_before",
            "not_after",
            "key_algorithm",
            "key_size",
            "signature_algorithm",
            "signature_algorithm_oid",
            "der_b64",
        )
    }
    empty.update(
        {
            "friendly_name": "",
            "san_dns_names": [],
            "san_ip_addresses": [],
            "has_private_key": False,
            "private_key_machine": False,
            "chain_der_b64": [],
            "chain_subjects": [],
            "chain_status": [],
            "chain_trusted": False,
            "intermediates": [],
            "intermediates_in_ca_store": False,
        }
    )
    if entry is None:
        return {**row, **empty}
    cert = certinfo.load(entry["der_b64"])
    summary = certinfo.summary(cert)
    summary.pop("thumbprint")
    chain, status, trusted, intermediates = _build_chain(data, entry["der_b64"])
    return {
        **row,
        **summary,
        "friendly_name": entry.get("friendly_name") or "",
        "has_private_key": bool(entry["has_private_key"]),
        "private_key_machine": bool(entry["private_key_machine"]),
        "der_b64": entry["der_b64"],
        "chain_der_b64": chain,
        "chain_subjects": [certinfo.dotnet_name(certinfo.load(d).subject) for d in chain],
        "chain_status": status,
        "chain_trusted": trusted,
        "intermediates": intermediates,
        "intermediates_in_ca_store": all(i["in_ca_store"] for i in intermediates),
    }


def _build_chain(data: dict, leaf_b64: str) -> tuple[list[str], list[str], bool, list[dict]]:
    """X509Chain.Build from the machine stores: intermediates from CA (or Root), the root from Root."""
    import datetime as dt

    chain = [leaf_b64, *chain_from_ca_store(data, leaf_b64)]
    ca_prints = {c["thumbprint"] for c in data["stores"]["CA"]}
    status: list[str] = []
    last = certinfo.load(chain[-1])
    roots = [c for c in data["stores"]["Root"] if certinfo.load(c["der_b64"]).subject == last.issuer]
    if certinfo.is_self_signed(last):
        pass
    elif roots:
        chain.append(roots[0]["der_b64"])
    else:
        status.append("PartialChain")
    top = certinfo.load(chain[-1])
    if certinfo.is_self_signed(top) and not any(c["der_b64"] == chain[-1] for c in data["stores"]["Root"]):
        status.append("UntrustedRoot")
    now = dt.datetime.now(dt.UTC)
    if any(
        not (certinfo.load(d).not_valid_before_utc <= now <= certinfo.load(d).not_valid_after_utc)
        for d in chain
    ):
        status.append("NotTimeValid")
    intermediates = []
    for der in chain[1:]:
        cert = certinfo.load(der)
        if certinfo.is_self_signed(cert):
            continue
        thumb = certinfo.thumbprint(cert)
        intermediates.append(
            {
                "thumbprint": thumb,
                "subject": certinfo.dotnet_name(cert.subject),
                "in_ca_store": thumb in ca_prints,
            }
        )
    return chain, status, not status, intermediates


def run(m) -> None:
    data = m.host.state.read()
    wanted = [s.lower() for s in m.params.get("sites") or []]
    sites, usage, http_usage = [], {}, {}
    all_rows = []
    for site in sorted(data["sites"], key=lambda s: s["id"]):
        rows = []
        for binding in site["bindings"]:
            if binding["protocol"].lower() != "https":
                continue
            row = _binding_row(data, binding)
            rows.append(row)
            all_rows.append((site, row))
            if row["certificate_hash"]:
                key = (row["certificate_hash"], row["certificate_store_name"])
                usage.setdefault(key, []).append(
                    {"site": site["name"], "binding_information": row["binding_information"]}
                )
        if not wanted or site["name"].lower() in wanted:
            sites.append({"name": site["name"], "id": site["id"], "state": site["state"], "bindings": rows})
    http_sys = []
    for entry in sorted(data["http_sys"], key=lambda e: e["key"]):
        kind, ip, host, port = _split_key(entry["key"])
        mapped = [(s, r) for s, r in all_rows if iis.iis_bindings.same_key(r["http_sys_key"], entry["key"])]
        http_sys.append(
            {
                "key": entry["key"],
                "kind": kind,
                "ip": ip,
                "host": host,
                "port": port,
                **{field: entry.get(field) for field in iis.ENTRY_FIELDS},
                "certificate_hash": (entry.get("certificate_hash") or "").upper(),
                "iis_bindings": [
                    {"site": s["name"], "binding_information": r["binding_information"]} for s, r in mapped
                ],
                "status": "in_use" if mapped else "orphaned",
                "foreign_app_id": entry["app_id"].lower() != iis.IIS_APP_ID,
            }
        )
        if entry.get("certificate_hash"):
            key = (
                entry["certificate_hash"].upper(),
                iis.store_display_name(entry.get("certificate_store_name")),
            )
            http_usage.setdefault(key, []).append(entry["key"])
    certificates = [
        _certificate(data, thumb, store, usage.get((thumb, store), []), http_usage.get((thumb, store), []))
        for thumb, store in sorted(set(usage) | set(http_usage))
    ]
    m.result.update(
        {
            "computer_name": data["host"]["computer_name"],
            "iis_installed": data["iis"]["installed"],
            "iis_version": data["iis"]["version"] if data["iis"]["installed"] else None,
            "sites": sites,
            "http_sys": http_sys,
            "custom_metadata": _custom_metadata(data),
            "certificates": certificates,
            "schannel": data["schannel"],
            "dotnet_tls": data["dotnet_tls"],
        }
    )
