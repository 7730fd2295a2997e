"""mfa_server.tls.iis_binding_certificate: the .ps1's selection, safety checks and two-phase change.

Fault `commit_fails_after K`: K = 0 makes IIS refuse the configuration commit (nothing changes but the
backup); K > 0 lets the commit and K HTTP.sys entries through and fails the next HTTP.sys update.
"""

from __future__ import annotations

import copy
import datetime as dt
import re

from lab import iis
from lab.state import IIS_APP_ID, find_cert


def _thumbprint(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = re.sub(r"[\s\u200e\u200f]", "", value).upper()
    return cleaned if re.fullmatch(r"[0-9A-F]{40}", cleaned) else None


def _name(entry: dict) -> str:
    return f"'{entry['binding_information']}' of site '{entry['site']}'"


def _all_bindings(data: dict) -> list[dict]:
    rows = []
    for site, binding in iis.https_bindings(data):
        try:
            parsed = iis.parse_binding(binding["binding_information"])
            key = iis.http_sys_key(binding)
        except ValueError:
            parsed, key = None, None
        rows.append(
            {
                "site": site["name"],
                "site_id": site["id"],
                "binding": binding,
                "binding_information": binding["binding_information"],
                "parsed": parsed,
                "key": key,
                "ssl_flags": int(binding.get("ssl_flags") or 0),
                "hash": (binding.get("certificate_hash") or "").upper(),
                "store": binding.get("certificate_store_name") or "",
            }
        )
    return rows


def run(m) -> None:
    thumbprint = _thumbprint(m.params["thumbprint"])
    if thumbprint is None:
        m.fail(
            f"thumbprint '{m.params['thumbprint']}' is not a SHA-1 thumbprint (40 hexadecimal characters). Copy "
            "it from the certificate's Thumbprint field or from the 'thumbprint' that "
            "mfa_server.tls.certificate_import returned."
        )
    replace = None
    if m.params.get("replace_thumbprint") is not None:
        replace = _thumbprint(m.params["replace_thumbprint"])
        if replace is None:
            m.fail(
                f"replace_thumbprint '{m.params['replace_thumbprint']}' is not a SHA-1 thumbprint (40 hexadecimal "
                "characters). Take it from the certificate_hash that mfa_server.tls.iis_tls_info reports."
            )
    store = "WebHosting" if m.params["store_name"] == "WebHosting" else "My"
    m.result.update(
        {"thumbprint": thumbprint, "store_name": store, "backup_name": None, "bindings": [], "http_sys": []}
    )
    requested = m.params.get("bindings") or []
    for request in requested:
        try:
            iis.parse_binding(request["binding_information"])
        except ValueError:
            m.fail(
                f"binding_information '{request['binding_information']}' (site '{request['site']}') is not in "
                "IP:port:host form. Write it as IIS does, for example '*:443:', '*:443:mfa.contoso.com', "
                "'10.0.0.5:443:' or '[::1]:443:' (IPv6 in brackets)."
            )
    data = m.host.state.read()
    if not data["iis"]["installed"]:
        m.fail(
            "IIS is not installed on this host (Microsoft.Web.Administration.dll not found in System32\\inetsrv). "
            "Install the Web Server (IIS) role, or run this module only against IIS servers."
        )
    cert = find_cert(data, store, thumbprint)
    if cert is None:
        m.fail(
            f"certificate {thumbprint} is not in LocalMachine\\{store}. Import it first with "
            f"mfa_server.tls.certificate_import (store_name: {store}), or set store_name to the store that holds it."
        )
    if not cert["has_private_key"]:
        m.fail(
            f"certificate {thumbprint} in LocalMachine\\{store} has no private key, so HTTP.sys cannot use it. "
            "Import the PFX that holds the key with mfa_server.tls.certificate_import."
        )
    everything = _all_bindings(data)
    selected: list[dict] = []
    for request in requested:
        site = next((s for s in data["sites"] if s["name"].lower() == request["site"].lower()), None)
        if site is None:
            names = ", ".join(f"'{s['name']}'" for s in data["sites"])
            m.fail(
                f"site '{request['site']}' does not exist, so nothing was changed. Existing sites: {names}. Fix the "
                "site name (mfa_server.tls.iis_tls_info lists sites and bindings)."
            )
        match = next(
            (
                b
                for b in everything
                if b["site"] == site["name"]
                and b["parsed"]
                and iis.same_binding(b["binding_information"], request["binding_information"])
            ),
            None,
        )
        if match is None:
            other = [
                b
                for b in site["bindings"]
                if b["protocol"].lower() != "https"
                and b["binding_information"] == request["binding_information"]
            ]
            if other:
                m.fail(
                    f"binding '{request['binding_information']}' of site '{site['name']}' is a {other[0]['protocol']} "
                    "binding, not https, so nothing was changed. Add an https binding first, or select an existing "
                    "https binding."
                )
            existing = ", ".join(
                f"'{b['binding_information']}'" for b in everything if b["site"] == site["name"]
            )
            m.fail(
                f"site '{site['name']}' has no https binding '{request['binding_information']}', so nothing was "
                f"changed. Its https bindings: {existing or 'none'}. Fix binding_information "
                "(mfa_server.tls.iis_tls_info lists every binding)."
            )
        if match["ssl_flags"] & 2:
            m.fail(
                f"binding {_name(match)} uses the Central Certificate Store (sslFlags {match['ssl_flags']}): IIS "
                "takes its certificate from the CCS share by host name, not from a thumbprint, so nothing was "
                "changed. Put the new certificate into the Central Certificate Store instead, or leave this "
                "binding out."
            )
        if match not in selected:
            selected.append(match)
    if replace is not None:
        for candidate in everything:
            if candidate["hash"] == replace and not candidate["ssl_flags"] & 2 and candidate not in selected:
                selected.append(candidate)
    for entry in selected:
        # an SNI binding without a host name would need 'hostnameport=:port', which HTTP.sys cannot hold
        if entry["ssl_flags"] & 1 and not entry["parsed"][2].strip():
            example = entry["binding_information"].rstrip() + "mfa.contoso.com"
            m.fail(
                f"binding {_name(entry)} has the SNI flag (sslFlags {entry['ssl_flags']}) but no host name, so its "
                f"HTTP.sys entry would be 'hostnameport=:{entry['parsed'][1]}', which HTTP.sys cannot hold; nothing "
                f"was changed. Give the binding a host name in IIS (for example '{example}'), or clear 'Require "
                "Server Name Indication' on it in IIS Manager (sslFlags bit 1), then run again."
            )
    for entry in selected:
        for candidate in everything:
            if candidate in selected or candidate["key"] is None:
                continue
            if candidate["key"] == entry["key"]:
                m.fail(
                    f"binding {_name(entry)} shares the HTTP.sys entry {entry['key']} with binding "
                    f"{_name(candidate)}, which is not selected. HTTP.sys holds one certificate per entry, so the "
                    "change would reach that binding too; nothing was changed. Select that binding as well, or "
                    "give the bindings their own entries (SNI with a host name, or a dedicated IP)."
                )
    keys: dict[str, dict] = {}
    results, before, after = [], [], []
    for entry in selected:
        name = entry["key"].lower()
        if name not in keys:
            current = iis.http_sys_entry(data, entry["key"])
            state = {
                "key": entry["key"],
                "previous_hash": "",
                "previous_store_name": "",
                "new_hash": thumbprint,
                "new_store_name": store,
                "app_id": IIS_APP_ID,
                "action": "created",
            }
            if current is not None:
                state.update(
                    previous_hash=(current["certificate_hash"] or "").upper(),
                    previous_store_name=current["certificate_store_name"] or "",
                    app_id=current["app_id"],
                )
                same = (
                    state["previous_hash"] == thumbprint
                    and state["previous_store_name"].lower() == store.lower()
                )
                state["action"] = "unchanged" if same else "updated"
            keys[name] = state
        entry["iis_change"] = entry["hash"] != thumbprint or entry["store"] != store
        ip, port, host = entry["parsed"]
        results.append(
            {
                "site": entry["site"],
                "site_id": entry["site_id"],
                "binding_information": entry["binding_information"],
                "ip": ip,
                "port": port,
                "host": host,
                "ssl_flags": entry["ssl_flags"],
                "http_sys_key": entry["key"],
                "previous_thumbprint": entry["hash"],
                "previous_store_name": entry["store"],
                "new_thumbprint": thumbprint,
                "new_store_name": store,
                "changed": entry["iis_change"] or keys[name]["action"] != "unchanged",
            }
        )
        before.append(
            {
                "site": entry["site"],
                "binding_information": entry["binding_information"],
                "thumbprint": entry["hash"],
                "store_name": entry["store"],
            }
        )
        after.append(
            {
                "site": entry["site"],
                "binding_information": entry["binding_information"],
                "thumbprint": thumbprint,
                "store_name": store,
            }
        )
    changed = any(r["changed"] for r in results)
    m.result.update({"bindings": results, "http_sys": [dict(k) for k in keys.values()], "changed": changed})
    if changed and m.diff:
        m.result["diff"] = {"before": {"bindings": before}, "after": {"bindings": after}}
    if not changed or m.check_mode:
        return
    _apply(m, selected, keys, thumbprint, store)


def _apply(m, selected: list[dict], keys: dict, thumbprint: str, store: str) -> None:
    backup = "mfa_server.tls-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")[:-3] + "Z"
    with m.host.state.change() as live:
        live["backups"].append(
            {
                "name": backup,
                "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "sites": copy.deepcopy(live["sites"]),
                "http_sys": copy.deepcopy(live["http_sys"]),
            }
        )
    m.result["backup_name"] = backup
    fails_after = (m.host.state.read().get("faults") or {}).get("commit_fails_after")
    if fails_after == 0:
        m.fail(
            f"IIS refused the new configuration (Cannot commit configuration changes because the file has "
            f"changed on disk); applicationHost.config was not changed (backup {backup}). Check the certificate "
            "and the bindings with mfa_server.tls.iis_tls_info."
        )
    with m.host.state.change() as live:
        for entry in selected:
            if not entry["iis_change"]:
                continue
            site = next(s for s in live["sites"] if s["name"] == entry["site"])
            binding = next(
                b
                for b in site["bindings"]
                if b["protocol"].lower() == "https"
                and b["binding_information"] == entry["binding_information"]
            )
            binding["certificate_hash"], binding["certificate_store_name"] = thumbprint, store
    done = 0
    for state in keys.values():
        if state["action"] == "unchanged":
            continue
        if fails_after is not None and done >= fails_after:
            m.fail(
                f"applicationHost.config now holds {thumbprint} but updating the HTTP.sys entry {state['key']} failed "
                "(The process cannot access the file because it is being used by another process). Roll back by "
                "calling mfa_server.tls.iis_binding_certificate with each binding's previous_thumbprint (see "
                f"'bindings'), or restore the configuration with Restore-WebConfiguration -Name {backup}."
            )
        with m.host.state.change() as live:
            current = iis.http_sys_entry(live, state["key"])
            if current is None:
                live["http_sys"].append(
                    {
                        "key": state["key"],
                        "certificate_hash": thumbprint,
                        "certificate_store_name": store,
                        "app_id": IIS_APP_ID,
                    }
                )
            else:
                current["certificate_hash"], current["certificate_store_name"] = thumbprint, store
        done += 1
