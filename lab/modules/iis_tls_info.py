"""mfa_server.tls.iis_tls_info: sites, HTTP.sys and certificates in use, as the sidecar documents them."""

from __future__ import annotations

from lab import certinfo, iis
from lab.iis_https import chain_from_ca_store
from lab.state import find_cert


def _binding_row(data: dict, binding: dict) -> dict:
    ip, port, host = iis.parse_binding(binding["binding_information"])
    flags = int(binding.get("ssl_flags") or 0)
    key = iis.http_sys_key(binding)
    entry = iis.http_sys_entry(data, key)
    if entry is None:
        status = "missing"
    elif key.startswith("ccs=") or _same(entry, binding):
        status = "consistent"
    else:
        status = "mismatch"
    return {
        "binding_information": binding["binding_information"],
        "ip": ip,
        "port": port,
        "host": host,
        "ssl_flags": flags,
        "sni": bool(flags & 1),
        "ccs": bool(flags & 2),
        "certificate_hash": binding.get("certificate_hash") or "",
        "certificate_store_name": binding.get("certificate_store_name") or "",
        "http_sys_key": key,
        "http_sys_status": status,
    }


def _same(entry: dict, binding: dict) -> bool:
    return (entry.get("certificate_hash") or "").upper() == (
        binding.get("certificate_hash") or ""
    ).upper() and _store_key(entry.get("certificate_store_name")) == _store_key(
        binding.get("certificate_store_name")
    )


def _store_key(name: str | None) -> str:
    """As the .ps1's Test-SameStoreName: HTTP.sys holds the personal store as 'MY' or as nothing, IIS as 'My'."""
    return (name or "My").lower()


def _split_key(key: str) -> tuple[str, str, str, int]:
    kind, _sep, rest = key.partition("=")
    if kind == "ccs":
        return kind, "", "", int(rest)
    where, _sep, port = rest.rpartition(":")
    if kind == "ipport":
        return kind, where.strip("[]"), "", int(port)
    return kind, "", where, int(port)


def _store_display(data: dict, name: str) -> str:
    return {k.lower(): k for k in data["stores"]}.get(name.lower(), name)


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
                key = (row["certificate_hash"].upper(), _store_display(data, row["certificate_store_name"]))
                usage.setdefault(key, []).append(
                    {"site": site["name"], "binding_information": row["binding_information"]}
                )
        if not wanted or site["name"].lower() in wanted:
            sites.append({"name": site["name"], "id": site["id"], "state": site["state"], "bindings": rows})
    http_sys = []
    for entry in sorted(data["http_sys"], key=lambda e: e["key"].lower()):
        kind, ip, host, port = _split_key(entry["key"])
        mapped = [(s, r) for s, r in all_rows if r["http_sys_key"].lower() == entry["key"].lower()]
        if not mapped:
            status = "orphaned"
        elif kind == "ccs" or all(_same(entry, r) for _key, r in mapped):
            status = "consistent"
        else:
            status = "mismatch"
        http_sys.append(
            {
                "key": entry["key"],
                "kind": kind,
                "ip": ip,
                "host": host,
                "port": port,
                "certificate_hash": (entry.get("certificate_hash") or "").upper(),
                "certificate_store_name": entry.get("certificate_store_name") or "",
                "app_id": entry["app_id"],
                "iis_bindings": [
                    {"site": s["name"], "binding_information": r["binding_information"]} for s, r in mapped
                ],
                "status": status,
            }
        )
        if entry.get("certificate_hash"):
            key = (
                entry["certificate_hash"].upper(),
                _store_display(data, entry.get("certificate_store_name") or "My"),
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
            "certificates": certificates,
            "schannel": data["schannel"],
            "dotnet_tls": data["dotnet_tls"],
        }
    )
