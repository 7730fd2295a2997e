"""mfa_server.tls.certificate_import: real PFX parsing (cryptography), the store logic of the .ps1.

What Windows does that the emulation models (docs/windows-model.md, sections 5 and 6):

- Key sets over WinRM. The .ps1 opens the PFX twice: a probe (`MachineKeySet`, not persisted, its
  certificates `Reset()` at once) and the import of the leaf (`MachineKeySet, PersistKeySet`). Any import
  that is neither `MachineKeySet` nor `EphemeralKeySet` uses the user key set: over WinRM (network logon,
  no profile, no DPAPI master key) it fails with "The specified network password is not correct."
  (ansible.windows win_certificate_store documentation). `EphemeralKeySet` exists only from .NET Framework
  4.7.2 (release 461808); the host's release is `dotnet_framework_release` in its state (default 528040,
  4.8; stock Server 2016 has 394802, 4.6.2). `_key_set` raises what Windows would for the flags an import
  uses; the module never asks for the user key set, so it never fails that way.
- Passwords. `PFXImportCertStore` needs exactly the password the file was made with: NULL and "" are
  different (Microsoft's documentation of PFXImportCertStore: "whether set to a string of length greater
  than zero or set to an empty string or to NULL, this value must be exactly the same as the value that was
  used to encrypt the packet"). OpenSSL, and so cryptography, is lenient: `PKCS12_parse` with NULL or ""
  verifies the MAC with NULL, then with "" (checked: cryptography 50 opens either kind with either).
  `windows_opens` therefore verifies the PKCS#12 MAC itself (RFC 7292 appendix B.2, ID 3; a NULL password is
  the empty byte string, "" is the BMPString terminator 00 00), with exactly the password given. A PFX
  without a MAC, with a BER (indefinite length) body or a MAC algorithm not handled here (PBMAC1) is opened
  as OpenSSL opens it: assumed, not confirmed on Windows. The byte form of NULL versus "" follows RFC 7292
  and OpenSSL (`PKCS12_key_gen_asc`); that Windows hashes them the same way is assumed (the exactness itself
  is documented). Checked here: the MAC check agrees with files `openssl pkcs12 -export` writes, and
  cryptography 50's `NoEncryption()` writes bags in clear with a MAC over "" (not NULL), so such a file opens
  only with ""; `remac(pfx, None)` makes the same file with a MAC over NULL, as an export with NULL writes it.
  The module passes the given password, or, when none or an empty one is given, NULL and then ""
  (PowerShell: `[System.Management.Automation.Language.NullString]::Value`, because PowerShell turns `$null`
  into "" for a string parameter of a .NET method).
- The leaf is the certificate that has the private key (`HasPrivateKey`; cryptography returns it as the
  key's certificate). A self-signed certificate without a key is a root whether or not it has
  BasicConstraints (a v1 root has none); the other keyless certificates with BasicConstraints CA=true, or
  without BasicConstraints, are intermediates; a keyless certificate with CA=false is refused.
- `changed` only after a write succeeded. The fault `faults.import_fails` refuses writes with "Access is
  denied.": `true` refuses the first write (nothing is changed), a store name ("My", "WebHosting", "CA",
  "Root") refuses only writes to that store, so the writes before it stay; `written` lists what was
  written, on success and on failure.
- Thumbprints are normalised one way (plugins/module_utils/iis_bindings.normalize_thumbprint, the rules of
  tests/vectors/windows_rules.json), also those of store entries a hand-written scenario may hold.

`remove_stale_intermediates` (win-acme #1162): expired certificates in `CA` with the subject of one of the
PFX's intermediates that is in `CA` after the run, and a thumbprint none of the PFX's, are removed once the
PFX's intermediates are in place. Valid certificates and the other stores are never touched.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from lab import certinfo

_COLLECTIONS = Path(__file__).resolve().parents[2] / ".cache" / "collections"
if _COLLECTIONS.is_dir() and str(_COLLECTIONS) not in sys.path:
    sys.path.append(str(_COLLECTIONS))

from ansible_collections.mfa_server.tls.plugins.module_utils.iis_bindings import (  # noqa: E402
    normalize_thumbprint,
)

IMPORT_FAULT = "Access is denied."
NETWORK_PASSWORD = "The specified network password is not correct."
NOT_PKCS12 = "Cannot find the requested object."
DEFAULT_DOTNET_RELEASE = 528040  # .NET Framework 4.8
EPHEMERAL_KEY_SET_RELEASE = 461808  # .NET Framework 4.7.2, the first with X509KeyStorageFlags.EphemeralKeySet
PROBE_FLAGS = frozenset({"MachineKeySet"})
IMPORT_FLAGS = frozenset({"MachineKeySet", "PersistKeySet"})

__all__ = ["normalize_thumbprint", "remac", "run", "windows_opens"]


class WindowsError_(Exception):
    """What X509Certificate2Collection.Import throws (CryptographicException), by its message."""


# ---- PKCS#12 as PFXImportCertStore reads it ------------------------------------------------------------

_HASHES = {
    "2b0e03021a": "sha1",
    "608648016503040204": "sha224",
    "608648016503040201": "sha256",
    "608648016503040202": "sha384",
    "608648016503040203": "sha512",
}
_DATA_OID = "2a864886f70d010701"


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `pos`; ValueError when not DER."""
    if pos + 2 > len(buf):
        raise ValueError("truncated")
    tag, first = buf[pos], buf[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    elif first == 0x80:
        raise ValueError("indefinite length (BER)")
    else:
        count = first & 0x7F
        start, length = pos + 2 + count, int.from_bytes(buf[pos + 2 : pos + 2 + count], "big")
    if start + length > len(buf):
        raise ValueError("truncated")
    return tag, start, start + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out, pos = [], start
    while pos < end:
        tag, s, e = _tlv(buf, pos)
        out.append((tag, s, e))
        pos = e
    return out


def _mac_parts(pfx: bytes) -> dict | None:
    """The MAC of a password-integrity PFX: None when it has none (or one not handled here)."""
    tag, start, end = _tlv(pfx, 0)
    parts = _children(pfx, start, end)
    if tag != 0x30 or len(parts) < 2 or parts[1][0] != 0x30:
        raise ValueError("not a PFX")
    content_type, *content = _children(pfx, parts[1][1], parts[1][2])
    if pfx[content_type[1] : content_type[2]].hex() != _DATA_OID or not content:
        return None  # public-key integrity (signedData): no password MAC
    _t, s, e = content[0]
    octets = _children(pfx, s, e)
    if not octets or octets[0][0] != 0x04:
        raise ValueError("authSafe is not a DER OCTET STRING")
    auth_safe = pfx[octets[0][1] : octets[0][2]]
    if len(parts) < 3:
        return None
    mac_data = _children(pfx, parts[2][1], parts[2][2])
    digest_info = _children(pfx, mac_data[0][1], mac_data[0][2])
    algorithm = _children(pfx, digest_info[0][1], digest_info[0][2])
    hash_name = _HASHES.get(pfx[algorithm[0][1] : algorithm[0][2]].hex())
    if hash_name is None:
        return None  # PBMAC1 or another MAC: not modelled
    iterations = 1
    if len(mac_data) > 2:
        iterations = int.from_bytes(pfx[mac_data[2][1] : mac_data[2][2]], "big")
    return {
        "auth_safe": auth_safe,
        "hash": hash_name,
        "digest": (digest_info[1][1], digest_info[1][2]),
        "salt": pfx[mac_data[1][1] : mac_data[1][2]],
        "iterations": iterations,
    }


def _bmp(password: str | None) -> bytes:
    """The password as PKCS#12 hashes it: NULL is nothing, a string is BMPString plus 00 00 (so "" is 00 00)."""
    return b"" if password is None else password.encode("utf-16-be") + b"\x00\x00"


def _mac_key(hash_name: str, password: str | None, salt: bytes, iterations: int) -> bytes:
    """RFC 7292 appendix B.2 with ID 3 (MAC key), as long as the hash output."""
    u, v = hashlib.new(hash_name).digest_size, hashlib.new(hash_name).block_size

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        length = v * -(-len(data) // v)
        return (data * (length // len(data) + 1))[:length]

    # D || I, hashed `iterations` times; the key is one hash output long, so one block A_1 is the key.
    a = bytes([3]) * v + stretch(salt) + stretch(_bmp(password))
    for _round in range(iterations):
        a = hashlib.new(hash_name, a).digest()
    return a[:u]


def _mac(parts: dict, password: str | None) -> bytes:
    key = _mac_key(parts["hash"], password, parts["salt"], parts["iterations"])
    return hmac.new(key, parts["auth_safe"], parts["hash"]).digest()


def remac(pfx: bytes, password: str | None) -> bytes:
    """The same PFX with its MAC computed over `password` (None = NULL); for bags in clear (NoEncryption)."""
    parts = _mac_parts(pfx)
    if parts is None:
        raise ValueError("the PFX has no MAC this emulation handles")
    start, end = parts["digest"]
    return pfx[:start] + _mac(parts, password) + pfx[end:]


def _load(pfx: bytes, password: str | None):
    """PFXImportCertStore with exactly `password`; WindowsError_ with the message .NET shows."""
    try:
        parts = _mac_parts(pfx)
    except (ValueError, IndexError):
        parts = None  # BER or unusual layout: opened as OpenSSL opens it (assumed)
    if parts is not None and not hmac.compare_digest(
        _mac(parts, password), pfx[parts["digest"][0] : parts["digest"][1]]
    ):
        raise WindowsError_(NETWORK_PASSWORD)
    try:
        return pkcs12.load_key_and_certificates(pfx, None if password is None else password.encode())
    except ValueError as exc:
        message = NETWORK_PASSWORD if "password" in str(exc).lower() else NOT_PKCS12
        raise WindowsError_(message) from exc


def windows_opens(pfx: bytes, password: str | None) -> bool:
    """Whether Windows opens the PFX with exactly this password (None = NULL)."""
    try:
        _load(pfx, password)
    except WindowsError_:
        return False
    return True


def _key_set(flags: frozenset, release: int) -> None:
    """What the key storage flags of an import cost over WinRM on a host with this .NET Framework release."""
    if "EphemeralKeySet" in flags and release < EPHEMERAL_KEY_SET_RELEASE:
        raise WindowsError_(
            'Cannot convert value "EphemeralKeySet" to type '
            '"System.Security.Cryptography.X509Certificates.X509KeyStorageFlags".'
        )
    if not flags & {"MachineKeySet", "EphemeralKeySet"}:
        raise WindowsError_(NETWORK_PASSWORD)  # the user key set: no profile, no DPAPI over WinRM


def _import(pfx: bytes, password: str | None, flags: frozenset, release: int):
    _key_set(flags, release)
    return _load(pfx, password)


# ---- the module ---------------------------------------------------------------------------------------


def _summary(cert) -> dict:
    return {
        "thumbprint": certinfo.thumbprint(cert),
        "subject": certinfo.dotnet_name(cert.subject),
        "not_after": certinfo.iso(cert.not_valid_after_utc),
    }


def _basic_constraints_ca(cert) -> bool | None:
    """BasicConstraints' CA flag, None when the certificate has no BasicConstraints (a v1 certificate)."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return None


def _chain_kind(cert) -> str:
    """Kind of a certificate without a private key: 'root', 'intermediate' or 'end-entity'."""
    ca = _basic_constraints_ca(cert)
    if ca is False:
        return "end-entity"
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


def _store_key(data: dict, store: str) -> str:
    return {k.lower(): k for k in data["stores"]}.get(store.lower(), store)


def _find(data: dict, store: str, thumbprint: str) -> dict | None:
    for entry in data["stores"].get(_store_key(data, store), []):
        if normalize_thumbprint(entry["thumbprint"]) == thumbprint:
            return entry
    return None


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


def _probe(m, pfx: bytes, release: int):
    """The .ps1's probe: the given password, or NULL then "" when none (or an empty one) is given."""
    password = m.params.get("password")
    candidates = [password] if password else [None, ""]
    reason = NETWORK_PASSWORD
    for candidate in candidates:
        try:
            return candidate, _import(pfx, candidate, PROBE_FLAGS, release)
        except WindowsError_ as exc:
            reason = str(exc)
    tried = (
        "" if password else " (the PFX has no password given: both a NULL and an empty password were tried)"
    )
    m.fail(
        f"cannot open the PFX ({reason}){tried}, so nothing was changed. The password is wrong or the data is "
        "not a PKCS#12 (PFX) file: check the password, and export the certificate again as PFX including the "
        "private key."
    )


def run(m) -> None:
    store = m.params["store_name"]
    m.result["written"] = []
    pfx = _read(m)
    data = m.host.state.read()
    release = int(data.get("dotnet_framework_release", DEFAULT_DOTNET_RELEASE))
    password, (key, cert, extra) = _probe(m, pfx, release)
    keyed = [cert] if key is not None and cert is not None else []
    keyless = ([cert] if cert is not None and not keyed else []) + list(extra)
    everything = keyed + keyless
    kinds = [(c, _chain_kind(c)) for c in keyless]
    if not keyed:
        # a keyless certificate that is not a CA: CA=false, or no BasicConstraints and not self-signed
        candidates = [
            c
            for c, kind in kinds
            if kind == "end-entity" or (kind == "intermediate" and _basic_constraints_ca(c) is None)
        ]
        if not candidates:
            subjects = "; ".join(certinfo.dotnet_name(c.subject) for c in everything)
            m.fail(
                f"the PFX holds no end-entity certificate (only CA certificates: {subjects}), so nothing was "
                "changed. Export the server certificate itself, with its private key and chain."
            )
        first = candidates[0]
        m.fail(
            f"the PFX holds the certificate {certinfo.dotnet_name(first.subject)} ({certinfo.thumbprint(first)}) "
            "without its private key, so nothing was changed. Export it again with 'Yes, export the private key'."
        )
    others = [c for c, kind in kinds if kind == "end-entity"]
    if others:
        listed = "; ".join(f"{certinfo.dotnet_name(c.subject)} {certinfo.thumbprint(c)}" for c in others)
        m.fail(
            f"the PFX holds, besides the certificate with the private key, end-entity certificates without a key "
            f"({listed}), so nothing was changed. Export a PFX with exactly one server certificate and its chain."
        )
    leaf = keyed[0]
    intermediates = [c for c, kind in kinds if kind == "intermediate"]
    roots = [c for c, kind in kinds if kind == "root"]
    thumbprint = certinfo.thumbprint(leaf)
    existing = _find(data, store, thumbprint)
    leaf_state = 0 if existing is None else (2 if existing["has_private_key"] else 1)
    leaf_add = leaf_state != 2
    add_ca, present_ca, ca_before, ca_after = [], [], [], []
    for c in intermediates:
        tp = certinfo.thumbprint(c)
        if _find(data, "CA", tp):
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
        present = _find(data, "Root", tp) is not None
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
            "changed": changed and m.check_mode,
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
            "written": [],
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
                "stale_intermediates_in_ca": [normalize_thumbprint(e["thumbprint"]) for e in stale],
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
    written: list[dict] = m.result["written"]

    def write(target: str, tp: str, action: str, apply, subject: str = "") -> None:
        with m.host.state.change() as live:
            refused = (live.get("faults") or {}).get("import_fails")
            if refused is True or (isinstance(refused, str) and refused.lower() == target.lower()):
                _fail_write(m, written, target, tp, action, subject)
            apply(live)
        written.append({"store": target, "thumbprint": tp, "action": action})
        m.result["changed"] = True

    if leaf_add:
        _key, _cert, _extra = _import(pfx, password, IMPORT_FLAGS, release)

        def add_leaf(live: dict) -> None:
            m.host.state.save_key(
                thumbprint,
                _key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            name = _store_key(live, store)
            live["stores"].setdefault(name, [])
            live["stores"][name] = [
                e for e in live["stores"][name] if normalize_thumbprint(e["thumbprint"]) != thumbprint
            ]
            live["stores"][name].append(_entry(leaf, True, m.params["exportable"]))

        write(store, thumbprint, "added", add_leaf)
    for target, certs in (("CA", add_ca), ("Root", add_root)):
        for c in certs:
            write(
                target,
                certinfo.thumbprint(c),
                "added",
                lambda live, c=c, t=target: live["stores"][t].append(_entry(c, False)),
            )
    for e in stale:
        tp = normalize_thumbprint(e["thumbprint"])

        def remove(live: dict, tp=tp) -> None:
            live["stores"]["CA"] = [
                x for x in live["stores"]["CA"] if normalize_thumbprint(x["thumbprint"]) != tp
            ]

        write("CA", tp, "removed", remove, certinfo.dotnet_name(certinfo.load(e["der_b64"]).subject))


def _fail_write(m, written: list[dict], target: str, thumbprint: str, action: str, subject: str = "") -> None:
    m.result["changed"] = bool(written)
    what = f"adding {thumbprint} to LocalMachine\\{target}"
    if action == "removed":
        what = (
            f"removing the expired intermediate {subject} {thumbprint} from LocalMachine\\CA (remove it in "
            "certlm.msc, Intermediate Certification Authorities, if this persists)"
        )
    if not written:
        m.fail(
            f"importing the PFX failed ({IMPORT_FAULT}) while {what}, so nothing was changed. Run the module as "
            "an administrator; if the key provider refuses the key, export the PFX again with a Microsoft key "
            "storage provider."
        )
    done = "; ".join(f"{w['action']} {w['thumbprint']} in LocalMachine\\{w['store']}" for w in written)
    m.fail(
        f"importing the PFX failed ({IMPORT_FAULT}) while {what}, after these changes were made: {done} (listed "
        "in written). Run the module as an administrator and run the module again: it adds only what is still "
        "missing."
    )


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
        if normalize_thumbprint(entry["thumbprint"]) in ours:
            continue
        cert = certinfo.load(entry["der_b64"])
        if certinfo.dotnet_name(cert.subject).lower() in subjects and cert.not_valid_after_utc < now:
            stale.append(entry)
    return stale
