"""mfa_server.tls.certificate_import: real PFX parsing (cryptography), the store logic of the .ps1.

`remove_stale_intermediates` (win-acme #1162): expired certificates in `CA` with the subject of one of the
PFX's intermediates that is in `CA` after the run, and a thumbprint none of the PFX's, are removed once the
PFX's intermediates are in place. Valid certificates and the other stores are never touched.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from lab import certinfo
from lab.state import find_cert

IMPORT_FAULT = "Access is denied."


def _summary(cert) -> dict:
    return {
        "thumbprint": certinfo.thumbprint(cert),
        "subject": certinfo.dotnet_name(cert.subject),
        "not_after": certinfo.iso(cert.not_valid_after_utc),
    }


def _kind(cert) -> str:
    if not certinfo.is_ca(cert):
        return "leaf"
    return "root" if certinfo.is_self_signed(cert) else "intermediate"


def _entry(cert, has_key: bool, exportable: bool = False) -> dict:
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "thumbprint": certinfo.thumbprint(cert),
        "der_b64": base64.b64encode(der).decode(),
        "has_private_key": has_key,
        "private_key_machine": has_key,
        "exportable": exportable,
        "friendly_name": "",
    }


def _read(m) -> bytes:
    if m.params.get("content") is not None:
        try:
            return base64.b64decode(re.sub(r"\s", "", m.params["content"]), validate=True)
        except (binascii.Error, ValueError):
            m.fail(
                "content is not valid base64, so nothing was changed. Pass the PFX file base64 encoded, for "
                "example with the b64encode filter or lookup('file', 'cert.pfx.b64')."
            )
    content = m.host.state.read().get("files", {}).get(m.params["path"].lower())
    if content is None:
        m.fail(
            f"path '{m.params['path']}' is not a file on this host, so nothing was changed. Copy the PFX there "
            "first, or pass it as content."
        )
    return base64.b64decode(content)


def run(m) -> None:
    store = m.params["store_name"]
    pfx = _read(m)
    password = m.params.get("password")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(pfx, password.encode() if password else None)
    except ValueError:
        m.fail(
            "cannot open the PFX (The specified network password is not correct.), so nothing was changed. The "
            "password is wrong or the data is not a PKCS#12 (PFX) file: check the password, and export the "
            "certificate again as PFX including the private key."
        )
    everything = ([cert] if cert else []) + list(extra)
    leaves = [c for c in everything if _kind(c) == "leaf"]
    intermediates = [c for c in everything if _kind(c) == "intermediate"]
    roots = [c for c in everything if _kind(c) == "root"]
    if not leaves:
        subjects = "; ".join(certinfo.dotnet_name(c.subject) for c in everything)
        m.fail(
            f"the PFX holds no end-entity certificate (only CA certificates: {subjects}), so nothing was changed. "
            "Export the server certificate itself, with its private key and chain."
        )
    if len(leaves) > 1:
        listed = "; ".join(f"{certinfo.dotnet_name(c.subject)} {certinfo.thumbprint(c)}" for c in leaves)
        m.fail(
            f"the PFX holds {len(leaves)} end-entity certificates ({listed}), so nothing was changed. Export a "
            "PFX with exactly one server certificate and its chain."
        )
    leaf = leaves[0]
    thumbprint = certinfo.thumbprint(leaf)
    if key is None or cert is None or certinfo.thumbprint(cert) != thumbprint:
        m.fail(
            f"the PFX holds the certificate {certinfo.dotnet_name(leaf.subject)} ({thumbprint}) without its "
            "private key, so nothing was changed. Export it again with 'Yes, export the private key'."
        )
    data = m.host.state.read()
    existing = find_cert(data, store, thumbprint)
    leaf_state = 0 if existing is None else (2 if existing["has_private_key"] else 1)
    leaf_add = leaf_state != 2
    add_ca, present_ca, ca_before, ca_after = [], [], [], []
    for c in intermediates:
        tp = certinfo.thumbprint(c)
        if find_cert(data, "CA", tp):
            present_ca.append(_summary(c))
            ca_before.append(tp)
            ca_after.append(tp)
        elif m.params["import_intermediates"]:
            add_ca.append(c)
            ca_after.append(tp)
    stale = _stale(data, intermediates, ca_after) if m.params["remove_stale_intermediates"] else []
    add_root, skipped_root, root_before, root_after = [], [], [], []
    for c in roots:
        tp = certinfo.thumbprint(c)
        present = find_cert(data, "Root", tp) is not None
        if present:
            root_before.append(tp)
            root_after.append(tp)
        if m.params["import_roots"] and not present:
            add_root.append(c)
            root_after.append(tp)
        else:
            skipped_root.append(_summary(c))
    dns, _ips = certinfo.sans(leaf)
    changed = leaf_add or bool(add_ca) or bool(add_root) or bool(stale)
    m.result.update(
        {
            "changed": changed,
            "thumbprint": thumbprint,
            "subject": certinfo.dotnet_name(leaf.subject),
            "issuer": certinfo.dotnet_name(leaf.issuer),
            "san_dns_names": dns,
            "not_before": certinfo.iso(leaf.not_valid_before_utc),
            "not_after": certinfo.iso(leaf.not_valid_after_utc),
            "store_name": store,
            "leaf_added": leaf_add,
            "has_private_key": True,
            "intermediates_added": [_summary(c) for c in add_ca],
            "intermediates_present": present_ca,
            "roots_added": [_summary(c) for c in add_root],
            "roots_skipped": skipped_root,
            "stale_intermediates_removed": [_summary(certinfo.load(e["der_b64"])) for e in stale],
        }
    )
    if changed and m.diff:
        leaf_before = {
            "thumbprint": thumbprint,
            "store_name": store,
            "present": leaf_state != 0,
            "has_private_key": leaf_state == 2,
        }
        m.result["diff"] = {
            "before": {
                "leaf": leaf_before,
                "intermediates_in_ca": ca_before,
                "stale_intermediates_in_ca": [e["thumbprint"] for e in stale],
                "roots_in_root": root_before,
            },
            "after": {
                "leaf": {**leaf_before, "present": True, "has_private_key": True},
                "intermediates_in_ca": ca_after,
                "stale_intermediates_in_ca": [],
                "roots_in_root": root_after,
            },
        }
    if not changed or m.check_mode:
        return
    with m.host.state.change() as live:
        if (live.get("faults") or {}).get("import_fails"):
            m.result["changed"] = False
            m.fail(
                f"importing the PFX failed ({IMPORT_FAULT}). Run the module as an administrator; if the key "
                "provider refuses the key, export the PFX again with a Microsoft key storage provider."
            )
        if leaf_add:
            m.host.state.save_key(
                thumbprint,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            stores = live["stores"]
            name = {k.lower(): k for k in stores}.get(store.lower(), store)
            stores.setdefault(name, [])
            stores[name] = [e for e in stores[name] if e["thumbprint"] != thumbprint]
            stores[name].append(_entry(leaf, True, m.params["exportable"]))
        for c in add_ca:
            live["stores"]["CA"].append(_entry(c, False))
        for c in add_root:
            live["stores"]["Root"].append(_entry(c, False))
        gone = {e["thumbprint"] for e in stale}
        live["stores"]["CA"] = [e for e in live["stores"]["CA"] if e["thumbprint"] not in gone]


def _stale(data: dict, intermediates: list, ca_after: list[str]) -> list[dict]:
    """Expired copies in `CA` of the PFX's intermediates that are in `CA` after the run, in store order."""
    # as the .ps1: .NET's Subject strings, compared as PowerShell hashtable keys (case-insensitive)
    subjects = {
        certinfo.dotnet_name(c.subject).lower() for c in intermediates if certinfo.thumbprint(c) in ca_after
    }
    ours = {certinfo.thumbprint(c) for c in intermediates}
    now = dt.datetime.now(dt.UTC)
    stale = []
    for entry in data["stores"]["CA"]:
        if entry["thumbprint"] in ours:
            continue
        cert = certinfo.load(entry["der_b64"])
        if certinfo.dotnet_name(cert.subject).lower() in subjects and cert.not_valid_after_utc < now:
            stale.append(entry)
    return stale
