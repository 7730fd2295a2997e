"""mfa_server.tls.certificate_remove: the .ps1 on the lab's certificate stores, HTTP.sys table and IIS sites.

What the .ps1 reads is read here from the host's state, in the same module run (docs/windows-model.md, "Removing a
certificate from a machine store"):

- the users of a certificate are the HTTP.sys entries holding its hash in that store (HttpQueryServiceConfiguration,
  what `netsh http show sslcert` lists), each named with the IIS HTTPS bindings whose derived key is the entry's key;
- X509Store.Remove takes the certificate out of the store; its private key stays (the lab keeps the key file, as
  Windows keeps the key container);
- `CA` and `Root` are never touched.
"""

from __future__ import annotations

from lab import certinfo, iis

WRITABLE_STORES = ("My", "WebHosting")


def _users(data: dict, thumbprint: str, store: str) -> list[dict]:
    users = []
    for entry in data["http_sys"]:
        if iis.normalize_thumbprint(entry.get("certificate_hash") or "") != thumbprint:
            continue
        if not iis.same_store(entry.get("certificate_store_name"), store):
            continue
        bindings = []
        for site, binding in iis.https_bindings(data):
            try:
                key = iis.binding_key(binding)
            except iis.BindingError:
                continue  # a binding Windows cannot map to a key maps to no entry
            if iis.iis_bindings.same_key(key, entry["key"]):
                bindings.append({"site": site["name"], "binding_information": binding["binding_information"]})
        users.append(
            {"key": entry["key"], "app_id": (entry.get("app_id") or "").lower(), "bindings": bindings}
        )
    return users


def _describe(user: dict) -> str:
    if not user["bindings"]:
        return f"HTTP.sys entry {user['key']} (no IIS binding, application id {user['app_id']})"
    names = ", ".join(f"site '{b['site']}' binding '{b['binding_information']}'" for b in user["bindings"])
    return f"HTTP.sys entry {user['key']} ({names})"


def _store_entries(data: dict, store: str) -> list[dict]:
    name = {k.lower(): k for k in data["stores"]}.get(store.lower(), store)
    return data["stores"].setdefault(name, [])


def run(m) -> None:
    thumbprint = iis.normalize_thumbprint(m.params["thumbprint"])
    if thumbprint is None:
        m.fail(
            f"thumbprint '{m.params['thumbprint']}' is not a SHA-1 thumbprint (40 hexadecimal digits), so nothing "
            "was changed."
        )
    store = m.params["store_name"]
    m.result.update({"thumbprint": thumbprint, "store_name": store, "present": False, "removed": False})
    data = m.host.state.read()
    users = _users(data, thumbprint, store)
    m.result["in_use"] = users
    found = [
        e for e in _store_entries(data, store) if iis.normalize_thumbprint(e["thumbprint"]) == thumbprint
    ]
    if not found:
        return
    summary = certinfo.summary(certinfo.load(found[0]["der_b64"]))
    m.result.update({"present": True, "subject": summary["subject"], "not_after": summary["not_after"]})
    if users:
        who = "; ".join(_describe(u) for u in users)
        m.result.setdefault("warnings", []).append(
            f"certificate {thumbprint} in LocalMachine\\{store} is kept: it is still used by {who}."
        )
        return
    if m.diff:
        before = {"thumbprint": thumbprint, "store_name": store, "present": True}
        m.result["diff"] = {"before": before, "after": {**before, "present": False}}
    if not m.check_mode:
        with m.host.state.change() as live:
            entries = _store_entries(live, store)
            entries[:] = [e for e in entries if iis.normalize_thumbprint(e["thumbprint"]) != thumbprint]
    m.result.update({"removed": True, "changed": True})
