"""mfa_server.tls.iis_binding_certificate: the .ps1's selection and checks, and HttpSys.Apply / Restore.

What Windows does that this emulates (docs/windows-model.md): only HTTP.sys holds a binding's
certificate, so the change is a write of the derived HTTP.sys entries and nothing in IIS configuration. An
existing entry keeps every field but hash and store (HttpUpdateServiceConfiguration); a missing one is
created with IIS's app id and DefaultFlags mapped from the binding's sslFlags. A failed write restores
every entry written so far and reads them back.

Fault `set_fails_after K`: the K+1-th HTTP.sys write of one module execution fails with ERROR_ACCESS_DENIED
(5) (K = 0: the first write fails), as a write would when another program holds the configuration.
"""

from __future__ import annotations

import copy

from lab import iis
from lab.state import find_cert

ERROR_ACCESS_DENIED = (
    "Access denied (Win32 error 5)"  # Win32Exception(5).Message + the code, as HttpSys says it
)


def _name(entry: dict) -> str:
    return f"'{entry['binding_information']}' of site '{entry['site']}'"


def _all_bindings(data: dict) -> list[dict]:
    rows = []
    for site, binding in iis.https_bindings(data):
        row = {
            "site": site["name"],
            "site_id": site["id"],
            "binding_information": binding["binding_information"],
            "ssl_flags": int(binding.get("ssl_flags") or 0),
            "parsed": None,
            "key": None,
            "key_error": None,
        }
        try:
            row["parsed"] = iis.parse_binding(binding["binding_information"])
            row["key"] = iis.binding_key(binding)
        except iis.BindingError as exc:
            row["key_error"] = str(exc)
        rows.append(row)
    return rows


def snapshot_row(data: dict, key: str) -> dict:
    return iis.iis_bindings.snapshot_of(data["http_sys"], key)


def _entry_from_snapshot(row: dict) -> dict:
    fields = {field: row.get(field) for field in iis.ENTRY_FIELDS}
    for number in (
        "default_flags",
        "cert_check_mode",
        "revocation_freshness_time",
        "revocation_url_retrieval_timeout",
    ):
        fields[number] = int(fields[number] or 0)
    for text in ("certificate_hash", "certificate_store_name", "ctl_identifier", "ctl_store_name"):
        fields[text] = fields[text] or ""
    fields["app_id"] = (fields["app_id"] or iis.IIS_APP_ID).lower()
    return {"key": row["key"], **fields}


def _same_entry(entry: dict | None, wanted: dict | None) -> bool:
    """Field by field, as HttpSys reads an entry back (NULL and empty strings alike, numbers as numbers)."""
    if entry is None or wanted is None:
        return entry is None and wanted is None
    return _entry_from_snapshot(entry) == _entry_from_snapshot(wanted)


def run(m) -> None:
    if m.params.get("restore") is not None:
        _run_restore(m)
        return
    raw = m.params.get("thumbprint")
    thumbprint = iis.normalize_thumbprint(raw)
    if thumbprint is None:
        m.fail(
            f"thumbprint '{raw}' is not a SHA-1 thumbprint (40 hexadecimal characters), so nothing was changed. "
            "Copy it from the certificate's Thumbprint field or from the 'thumbprint' that "
            "mfa_server.tls.certificate_import returned."
        )
    replace = None
    if m.params.get("replace_thumbprint") is not None:
        replace = iis.normalize_thumbprint(m.params["replace_thumbprint"])
        if replace is None:
            m.fail(
                f"replace_thumbprint '{m.params['replace_thumbprint']}' is not a SHA-1 thumbprint (40 hexadecimal "
                "characters), so nothing was changed. Take it from the certificate_hash that "
                "mfa_server.tls.iis_tls_info reports."
            )
    requested = m.params.get("bindings") or []
    if not requested and replace is None:
        m.fail(
            "thumbprint needs a selection of bindings, so nothing was changed. Set bindings (a list of site and "
            "binding_information), replace_thumbprint (every binding whose HTTP.sys entry holds that "
            "certificate), or both."
        )
    store = "WebHosting" if m.params["store_name"] == "WebHosting" else "My"
    m.result.update(
        {
            "thumbprint": thumbprint,
            "store_name": store,
            "bindings": [],
            "http_sys": [],
            "snapshot": [],
            "rolled_back": False,
            "rollback_verified": False,
        }
    )
    data = m.host.state.read()
    if not data["iis"]["installed"]:
        m.fail(
            "IIS is not installed on this host (Microsoft.Web.Administration.dll not found in System32\\inetsrv), "
            "so nothing was changed. Install the Web Server (IIS) role, or run this module only against IIS servers."
        )
    cert = find_cert(data, store, thumbprint)
    if cert is None:
        m.fail(
            f"certificate {thumbprint} is not in LocalMachine\\{store}, so nothing was changed. Import it first "
            f"with mfa_server.tls.certificate_import (store_name: {store}), or set store_name to the store that "
            "holds it."
        )
    if not cert["has_private_key"]:
        m.fail(
            f"certificate {thumbprint} in LocalMachine\\{store} has no private key, so HTTP.sys cannot use it; "
            "nothing was changed. Import the PFX that holds the key with mfa_server.tls.certificate_import."
        )
    everything = _all_bindings(data)
    selected = _select(m, data, everything, requested, replace)
    _refuse_unsafe(m, data, everything, selected, thumbprint, store)
    _change(m, data, selected, thumbprint, store)


def _select(m, data: dict, everything: list[dict], requested: list[dict], replace: str | None) -> list[dict]:
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
                and (
                    b["binding_information"] == request["binding_information"]
                    or iis.same_binding(b["binding_information"], request["binding_information"])
                )
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
                f"changed. Its https bindings: {existing or 'none'}. Fix binding_information, written as IIS does "
                "('*:443:', '*:443:mfa.contoso.com', '10.0.0.5:443:', '[::1]:443:'); mfa_server.tls.iis_tls_info "
                "lists every binding."
            )
        if match["key"] is None:
            m.fail(
                f"binding {_name(match)} cannot be mapped to an HTTP.sys entry ({match['key_error']}), so nothing "
                "was changed. Fix the binding information in IIS as that message says, or leave this binding out."
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
            if candidate["key"] is None:
                m.result.setdefault("warnings", []).append(
                    f"binding {_name(candidate)} was skipped: {candidate['key_error']}"
                )
                continue
            if candidate["ssl_flags"] & 2 or candidate in selected:
                continue
            entry = iis.http_sys_entry(data, candidate["key"])
            if entry and (entry.get("certificate_hash") or "").upper() == replace:
                selected.append(candidate)
    return selected


def _refuse_unsafe(
    m, data: dict, everything: list[dict], selected: list[dict], thumbprint: str, store: str
) -> None:
    for entry in selected:
        for candidate in everything:
            if candidate in selected or candidate["key"] is None:
                continue
            if iis.iis_bindings.same_key(candidate["key"], entry["key"]):
                m.fail(
                    f"binding {_name(entry)} shares the HTTP.sys entry {entry['key']} with binding "
                    f"{_name(candidate)}, which is not selected. HTTP.sys holds one certificate per entry, so the "
                    "change would reach that binding too; nothing was changed. Select that binding as well, or "
                    "give the bindings their own entries (SNI with a host name, or a dedicated IP)."
                )
        _refuse_fallback_reach(m, data, everything, selected, entry)
        current = iis.http_sys_entry(data, entry["key"])
        unchanged = (
            current is not None
            and (current.get("certificate_hash") or "").upper() == thumbprint
            and (iis.same_store(current.get("certificate_store_name"), store))
        )
        if (
            current
            and current["app_id"].lower() != iis.IIS_APP_ID
            and not unchanged
            and not m.params.get("force")
        ):
            m.fail(
                f"the HTTP.sys entry {current['key']} (binding {_name(entry)}) belongs to application id "
                f"{current['app_id']}, not to IIS ({iis.IIS_APP_ID}): another program manages it, so nothing was "
                "changed. Set force: true to take it over, or leave this binding out."
            )


def _refuse_fallback_reach(m, data: dict, everything: list[dict], selected: list[dict], entry: dict) -> None:
    """An unselected binding with no entry of its own is served by the next entry HTTP.sys tries (the
    wildcard, or the port's ccs entry): changing that entry would reach it unseen."""
    for candidate in everything:
        if candidate in selected or candidate["key"] is None:
            continue
        fallback = iis.iis_bindings.fallback_entry(
            data["http_sys"], candidate["binding_information"], candidate["ssl_flags"]
        )
        if fallback and iis.iis_bindings.same_key(fallback["key"], entry["key"]):
            m.fail(
                f"binding {_name(candidate)} has no HTTP.sys entry of its own ({candidate['key']}), so HTTP.sys "
                f"serves it with {fallback['key']}, the entry of binding {_name(entry)}; the change would reach it "
                "too, so nothing was changed. Select that binding as well (it then gets an entry of its own), or "
                "leave this binding out."
            )


def _change(m, data: dict, selected: list[dict], thumbprint: str, store: str) -> None:
    keys: dict[str, dict] = {}
    results, before, after = [], [], []
    for entry in selected:
        name = entry["key"].lower()
        current = iis.http_sys_entry(data, entry["key"])
        previous_hash = (current.get("certificate_hash") or "").upper() if current else ""
        previous_store = current.get("certificate_store_name") or "" if current else ""
        if name not in keys:
            if current is None:
                action = "created"
            elif previous_hash == thumbprint and iis.same_store(previous_store, store):
                action = "unchanged"
            else:
                action = "updated"
            keys[name] = {
                "key": current["key"] if current else entry["key"],
                "action": action,
                "previous_hash": previous_hash,
                "previous_store_name": iis.store_display_name(previous_store) if current else "",
                "new_hash": thumbprint,
                "new_store_name": store,
                "app_id": current["app_id"] if current else iis.IIS_APP_ID,
                "default_flags": int(current.get("default_flags") or 0)
                if current
                else iis.default_flags_for(entry["ssl_flags"]),
                "_ssl_flags": entry["ssl_flags"],
            }
        ip, port, host = entry["parsed"]
        shown_store = iis.store_display_name(previous_store) if previous_hash else ""
        results.append(
            {
                "site": entry["site"],
                "site_id": entry["site_id"],
                "binding_information": entry["binding_information"],
                "ip": ip,
                "port": port,
                "host": host,
                "ssl_flags": entry["ssl_flags"],
                "http_sys_key": keys[name]["key"],
                "previous_thumbprint": previous_hash,
                "previous_store_name": shown_store,
                "new_thumbprint": thumbprint,
                "new_store_name": store,
                "changed": keys[name]["action"] != "unchanged",
            }
        )
        where = {
            "site": entry["site"],
            "binding_information": entry["binding_information"],
            "http_sys_key": keys[name]["key"],
        }
        before.append({**where, "thumbprint": previous_hash, "store_name": shown_store})
        after.append({**where, "thumbprint": thumbprint, "store_name": store})
    changes = [k for k in keys.values() if k["action"] != "unchanged"]
    m.result["bindings"] = results
    m.result["http_sys"] = [{k: v for k, v in row.items() if not k.startswith("_")} for row in keys.values()]
    m.result["snapshot"] = [snapshot_row(data, row["key"]) for row in changes]
    if changes and m.diff:
        m.result["diff"] = {"before": {"bindings": before}, "after": {"bindings": after}}
    if not changes or m.check_mode:
        m.result["changed"] = bool(changes)
        return
    wanted = []
    for row in changes:
        current = iis.http_sys_entry(data, row["key"])
        if current is not None:
            target = dict(current, certificate_hash=thumbprint, certificate_store_name=store)
        else:
            target = iis.new_entry(
                row["key"], thumbprint, store, default_flags=iis.default_flags_for(row["_ssl_flags"])
            )
        wanted.append(target)
    _write(m, wanted, m.result["snapshot"])
    m.result["changed"] = True


def _write(m, wanted: list[dict], snapshot: list[dict], roll_back: bool = True) -> None:
    """HttpSys.Apply (roll_back: a failed write restores what was written) or HttpSys.Restore (a failed
    restore is reported as it is: there is nothing better to go back to)."""
    fails_after = (m.host.state.read().get("faults") or {}).get("set_fails_after")
    for written, target in enumerate(wanted):
        existed = any(
            iis.iis_bindings.same_key(row["key"], target["key"]) and row["exists"] for row in snapshot
        )
        function = "HttpUpdateServiceConfiguration" if existed else "HttpSetServiceConfiguration"
        if fails_after is not None and written >= fails_after:
            if not roll_back:
                m.result.update({"changed": written > 0, "rolled_back": False, "rollback_verified": False})
                m.fail(
                    f"restoring the HTTP.sys entry {target['key']} failed ({ERROR_ACCESS_DENIED}) after {written} "
                    "of the entries were written. Check them with mfa_server.tls.iis_tls_info and run the "
                    "restore again; 'snapshot' holds the entries as they were before this run."
                )
            touched = [row["key"] for row in snapshot[: written + 1]]
            _restore_after_failure(
                m, snapshot, target["key"], f"{function} returned {ERROR_ACCESS_DENIED}", touched
            )
        with m.host.state.change() as live:
            current = iis.http_sys_entry(live, target["key"])
            if target.get("_delete"):
                if current is not None:
                    live["http_sys"].remove(current)
            elif current is None:
                live["http_sys"].append({k: v for k, v in target.items() if not k.startswith("_")})
            else:
                current.clear()
                current.update({k: v for k, v in target.items() if not k.startswith("_")})
    live = m.host.state.read()
    for target in wanted:
        now = iis.http_sys_entry(live, target["key"])
        expected = None if target.get("_delete") else target
        if not _same_entry(now, expected):
            _restore_after_failure(
                m,
                snapshot,
                target["key"],
                "reading the entry back after the change shows a different entry than was written",
                [row["key"] for row in snapshot],
            )


def _restore_after_failure(m, snapshot: list[dict], failed_key: str, what: str, touched: list[str]) -> None:
    """HttpSys.Apply's ChangeFailed: put back the entries written so far, read them back, and say so as the
    module does (the C# message, then the module's own sentence)."""
    with m.host.state.change() as live:
        for row in snapshot:
            current = iis.http_sys_entry(live, row["key"])
            if current is not None and row["exists"]:
                current.clear()
                current.update(_entry_from_snapshot(row))
            elif current is not None:
                live["http_sys"].remove(current)
            elif row["exists"]:
                live["http_sys"].append(_entry_from_snapshot(row))
    live = m.host.state.read()
    verified = all(
        _same_entry(
            iis.http_sys_entry(live, row["key"]), _entry_from_snapshot(row) if row["exists"] else None
        )
        for row in snapshot
    )
    m.result.update({"changed": not verified, "rolled_back": True, "rollback_verified": verified})
    keys = ", ".join(touched)
    if verified:
        outcome = f"The previous entries ({keys}) were restored and verified by reading them back. Nothing was changed."
    else:
        outcome = (
            f"The previous entries ({keys}) were written back but NOT verified. The entries as they were before "
            "this run are in the returned 'snapshot': pass it to this module as 'restore' once the cause is fixed."
        )
    m.fail(f"HTTP.sys change of {failed_key} failed: {what}. {outcome}")


def _shown_store(entry: dict | None) -> str:
    return (
        iis.store_display_name(entry.get("certificate_store_name"))
        if entry and entry.get("certificate_hash")
        else ""
    )


def _run_restore(m) -> None:
    for option in ("thumbprint", "bindings", "replace_thumbprint"):
        if m.params.get(option):
            m.fail(
                f"restore cannot be combined with {option}, so nothing was changed. Call the module once per task."
            )
    data = m.host.state.read()
    rows = []
    for position, row in enumerate(m.params["restore"]):
        label = f"restore[{position}] (key '{row['key']}')"
        try:
            iis.iis_bindings.parse_key(row["key"])
        except (iis.BindingError, ValueError) as exc:
            m.fail(
                f"{label} is not an HTTP.sys key ({exc}), so nothing was changed. Pass the 'snapshot' this module "
                "returned unchanged, or write keys as iis_tls_info reports them: ipport=0.0.0.0:443, "
                "ipport=[::1]:443, hostnameport=mfa.contoso.com:443, ccs=443."
            )
        if row["exists"] and not row.get("certificate_hash") and not row["key"].startswith("ccs="):
            m.fail(
                f"{label} has exists: true but no certificate_hash: an {row['key'].split('=')[0]} entry always "
                "holds a certificate, so nothing was changed. Give certificate_hash (and certificate_store_name), "
                "or set exists: false to delete the entry."
            )
        rows.append(row)
    m.result.update({"rolled_back": False, "rollback_verified": False})
    results, wanted = [], []
    m.result["snapshot"] = [snapshot_row(data, row["key"]) for row in rows]
    for row in rows:
        current = iis.http_sys_entry(data, row["key"])
        target = _entry_from_snapshot(row) if row["exists"] else None
        if _same_entry(current, target):
            action = "unchanged"
        elif target is None:
            action = "deleted"
        else:
            action = "restored"
        results.append(
            {
                "key": row["key"],
                "action": action,
                "previous_hash": (current or {}).get("certificate_hash") or "",
                "previous_store_name": _shown_store(current),
                "new_hash": (target or {}).get("certificate_hash") or "",
                "new_store_name": _shown_store(target),
                "app_id": target["app_id"] if target else None,
                "default_flags": target["default_flags"] if target else None,
            }
        )
        if action != "unchanged":
            wanted.append(
                dict(copy.deepcopy(target), _delete=False) if target else {"key": row["key"], "_delete": True}
            )
    m.result.update({"bindings": [], "http_sys": results, "thumbprint": None, "store_name": None})
    if wanted and m.diff:
        after = [
            snapshot_row({"http_sys": [_entry_from_snapshot(r)] if r["exists"] else []}, r["key"])
            for r in rows
        ]
        m.result["diff"] = {"before": {"http_sys": m.result["snapshot"]}, "after": {"http_sys": after}}
    if not wanted or m.check_mode:
        m.result["changed"] = bool(wanted)
        return
    _write(m, wanted, m.result["snapshot"], roll_back=False)
    m.result["changed"] = True
