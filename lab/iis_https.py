"""Real HTTPS for a host's IIS HTTPS bindings, as HTTP.sys and Schannel serve them.

The certificate is the one HTTP.sys would choose (lab.iis.select_entry); the chain sent is the leaf plus
the intermediates found in the host's `CA` store (not `Root`), as Schannel builds it; the fault
`no_intermediates` sends the leaf alone. Paths of installed MFA components answer 200, others 404; a SOAP
POST of TestPfWsSdkConnection to PfPaWs.asmx answers from the host's state (lab.mfa_sdk).
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from lab import certinfo, iis, mfa_sdk
from lab.http_request import read_request
from lab.state import HostState, find_cert

_MARKERS = {"mobile_app_web_service": "pfpaws.asmx", "web_service_sdk": "pfwssdk.asmx"}


def chain_from_ca_store(data: dict, leaf_der_b64: str) -> list[str]:
    """Intermediates (DER base64, leaf's issuer first) found in the CA store, as Schannel sends them."""
    chain: list[str] = []
    current = certinfo.load(leaf_der_b64)
    for _attempt in range(8):
        if certinfo.is_self_signed(current):
            break
        candidates = [
            c for c in data["stores"]["CA"] if certinfo.load(c["der_b64"]).subject == current.issuer
        ]
        if not candidates:
            break
        chosen = next(
            (c for c in candidates if _signed_by(current, certinfo.load(c["der_b64"]))), candidates[0]
        )
        issuer = certinfo.load(chosen["der_b64"])
        if certinfo.is_self_signed(issuer) or chosen["der_b64"] in chain:
            break
        chain.append(chosen["der_b64"])
        current = issuer
    return chain


def _signed_by(cert, issuer) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:
        return False


def served_certificate(data: dict, entry: dict | None, sni: str | None) -> dict | None:
    """The store certificate HTTP.sys serves for `entry` (the Central Certificate Store's for a ccs entry);
    None when it has none it can serve (missing, or without its private key)."""
    if entry is None:
        return None
    if entry["key"].startswith("ccs="):
        cert = _ccs_cert(data, sni)
    else:
        cert = find_cert(
            data, entry.get("certificate_store_name") or "My", entry.get("certificate_hash") or ""
        )
    if cert is None or not cert.get("has_private_key"):
        return None
    return cert


class TLSContexts:
    """Certificate files and SSLContexts per (certificate, chain), built from the host's state, cached."""

    def __init__(self, state: HostState):
        self.state = state
        self.dir = state.dir / "tls"
        self.lock = threading.Lock()
        self.cache: dict[str, ssl.SSLContext] = {}

    def files(self, data: dict, entry: dict | None, sni: str | None = None) -> tuple[Path, Path] | None:
        """(chain PEM, key PEM) HTTP.sys would serve for `entry`; None when it can serve nothing."""
        cert = served_certificate(data, entry, sni)
        if cert is None:
            return None
        key_path = self.state.key_path(cert["thumbprint"])
        if key_path is None:
            return None
        faults = data.get("faults") or {}
        chain = [] if faults.get("no_intermediates") else chain_from_ca_store(data, cert["der_b64"])
        ident = hashlib.sha1("|".join([cert["der_b64"], *chain]).encode()).hexdigest()
        pem_path = self.dir / f"{ident}.pem"
        with self.lock:
            if not pem_path.exists():
                self.dir.mkdir(parents=True, exist_ok=True)
                tmp = pem_path.with_suffix(f".tmp{threading.get_ident()}")
                tmp.write_bytes(b"".join(_pem(d) for d in [cert["der_b64"], *chain]))
                tmp.replace(pem_path)
        return pem_path, key_path

    def context(self, files: tuple[Path, Path], legacy_tls: bool) -> ssl.SSLContext:
        ident = f"{files}|{legacy_tls}"
        with self.lock:
            if ident not in self.cache:
                self.cache[ident] = new_context(files, legacy_tls)
            return self.cache[ident]


def new_context(files: tuple[Path, Path] | None, legacy_tls: bool = False) -> ssl.SSLContext:
    """Schannel on Server 2016/2019 still speaks TLS 1.0 and 1.1 unless the serving HTTP.sys entry has
    DISABLE_LEGACY_TLS (or SCHANNEL disables the protocol)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if legacy_tls:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    if files:
        context.load_cert_chain(*files)
    return context


def _schannel_allows_legacy(data: dict) -> bool:
    """SCHANNEL\\Protocols\\TLS 1.0\\Server Enabled=0 turns TLS 1.0 off for every entry; absent means on."""
    for row in data.get("schannel") or []:
        if row["protocol"] == "TLS 1.0" and row["side"] == "Server" and row.get("enabled") == 0:
            return False
    return True


def _ccs_cert(data: dict, sni: str | None) -> dict | None:
    """The Central Certificate Store holds `<host>.pfx` files; the lab keeps them in a `CCS` store."""
    for cert in data["stores"].get("CCS", []):
        dns, _ips = certinfo.sans(certinfo.load(cert["der_b64"]))
        if sni and sni.lower() in (d.lower() for d in dns):
            return cert
    return None


def _pem(der_b64: str) -> bytes:
    return certinfo.load(der_b64).public_bytes(serialization.Encoding.PEM)


def peek_server_name(conn: socket.socket, limit: float = 5.0) -> str | None:
    """The SNI host name of the ClientHello waiting on `conn`, read without consuming it (MSG_PEEK).

    HTTP.sys picks the entry, and with it the protocols it allows, from the ClientHello; OpenSSL settles the
    protocol version before its SNI callback could switch contexts, so the lab reads the name first."""
    conn.settimeout(limit)
    data = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        data = conn.recv(16389, socket.MSG_PEEK)
        if not data or data[0] != 0x16:
            return None
        if len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
            break
        time.sleep(0.01)
    try:
        return _server_name(data[5:])
    except (IndexError, ValueError):
        return None


def _server_name(hello: bytes) -> str | None:
    if hello[0] != 0x01:  # not a ClientHello
        return None
    at = 4 + 2 + 32  # handshake header, client_version, random
    at += 1 + hello[at]  # session id
    at += 2 + int.from_bytes(hello[at : at + 2], "big")  # cipher suites
    at += 1 + hello[at]  # compression methods
    end = at + 2 + int.from_bytes(hello[at : at + 2], "big")
    at += 2
    while at + 4 <= end:
        kind, size = int.from_bytes(hello[at : at + 2], "big"), int.from_bytes(hello[at + 2 : at + 4], "big")
        if kind == 0:  # server_name: list length, name type 0, name length, name
            length = int.from_bytes(hello[at + 7 : at + 9], "big")
            return hello[at + 9 : at + 9 + length].decode("ascii")
        at += 4 + size
    return None


def handler(port: int, contexts: TLSContexts):
    def handle(conn: socket.socket, addr: tuple) -> None:
        data = contexts.state.read()
        local_ip = data["host"]["ip"]
        try:
            sni = peek_server_name(conn)
        except OSError:
            return
        conn.settimeout(None)
        entry = iis.select_entry(data, port, sni, local_ip)
        legacy = _schannel_allows_legacy(data) and not iis.refuses_legacy_tls(entry)
        files = contexts.files(data, entry, sni)
        context = contexts.context(files, legacy) if files else new_context(None, legacy)
        try:
            tls = context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _serve_http(tls, data, port, sni, local_ip)
        finally:
            tls.close()

    return handle


def _serve_http(tls: ssl.SSLSocket, data: dict, port: int, sni: str | None, local_ip: str) -> None:
    reader = tls.makefile("rb")
    while True:
        request = read_request(reader)
        if request is None:
            return
        headers, path = request.headers, request.target
        status, body = _route(data, port, headers.get("host") or sni or "", local_ip, path)
        content_type = "text/html; charset=utf-8"
        if status == 200 and request.method == "POST" and path.split("?")[0].lower().endswith("/pfpaws.asmx"):
            status, body = _soap(data, port, headers, local_ip, path, request.payload)
            content_type = "text/xml; charset=utf-8"
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
        close = request.closes
        tls.sendall(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nServer: Microsoft-IIS/10.0\r\n"
            f"Content-Length: {len(body)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n".encode()
            + body
        )
        if close:
            return


def _soap(
    data: dict, port: int, headers: dict, local_ip: str, path: str, payload: bytes
) -> tuple[int, bytes]:
    """A SOAP 1.1 call to the Mobile App Web Service at `path` (which answered 200 to the route): ASMX
    dispatches on the SOAPAction header; TestPfWsSdkConnection tests the host's own path to the SDK."""
    action = headers.get("soapaction", "").strip().strip('"')
    if action != mfa_sdk.SOAP_ACTION or b"TestPfWsSdkConnection" not in payload:
        return 500, mfa_sdk.soap_fault(
            f"Server did not recognize the value of HTTP Header SOAPAction: {action}."
        )
    site = iis.site_for(data, port, headers.get("host") or "", local_ip)
    component = next(
        (
            c
            for c in data["mfa"]["components"]
            if c["component"] == "mobile_app_web_service"
            and site is not None
            and c["site"] == site["name"]
            and path.split("?")[0].lower() == c["virtual_path"].rstrip("/").lower() + "/pfpaws.asmx"
            and c.get("marker_file_present")
        ),
        None,
    )
    if component is None:  # a path under another component's folder: no such service there
        return 404, b"<h1>404 - File or directory not found.</h1>"
    return 200, mfa_sdk.soap_answer(mfa_sdk.test_connection(data, component))


def _route(data: dict, port: int, host_header: str, local_ip: str, path: str) -> tuple[int, bytes]:
    site = iis.site_for(data, port, host_header, local_ip)
    path = path.split("?")[0].lower()
    if site is None or not data["mfa"].get("installed"):
        return 404, b"<h1>404 - File or directory not found.</h1>"
    for component in data["mfa"]["components"]:
        if component["site"] != site["name"]:
            continue
        vdir = component["virtual_path"].rstrip("/").lower()
        marker = _MARKERS.get(component["component"])
        if marker:
            if component.get("marker_file_present") and path == f"{vdir}/{marker}":
                return 200, f"<html><body>{component['component']} web service</body></html>".encode()
        elif path in (vdir, vdir + "/") or path.startswith(vdir + "/"):
            return 200, b"<html><body>Multi-Factor Authentication User Portal</body></html>"
    return 404, b"<h1>404 - File or directory not found.</h1>"
