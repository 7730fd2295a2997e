# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connects to an HTTPS endpoint like a phone: SNI, TLS 1.2 minimum, chain recorded exactly as sent.

Nothing is verified here (the trust engine judges the chain); the handshake only has to complete so
that the chain can be seen, whatever is wrong with it.
"""

from __future__ import annotations

import socket
import ssl
import urllib.parse
import warnings
from dataclasses import dataclass, field

MAX_STATUS_LINE = 8192
USER_AGENT = "mfa_server.tls-probe/1.0"


class TargetError(ValueError):
    """The target itself is malformed: a caller error, reported before any connection."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str  # what the phone asks for: SNI, Host header, name to match
    path: str
    connect_host: str
    connect_port: int
    check_http_status: bool = True  # False: the path means nothing, a 404 is not a finding

    @property
    def address(self) -> str:
        host = f"[{self.connect_host}]" if ":" in self.connect_host else self.connect_host
        return f"{host}:{self.connect_port}"


@dataclass
class Handshake:
    chain_der: list[bytes] = field(default_factory=list)
    tls_version: str | None = None
    legacy_only: bool = False  # only TLS 1.0/1.1 worked
    http_status: int | None = None
    http_error: str | None = None
    error: str | None = None  # why no handshake happened at all


def parse_target(url: str, address: str | None = None, check_http_status: bool = True) -> Target:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "https" or not parsed.hostname:
        raise TargetError(
            f"Target URL {url!r} is not an https:// URL with a host name; write it like https://mfa.example.com/path."
        )
    try:
        port = parsed.port or 443
    except ValueError as error:
        raise TargetError(f"Target URL {url!r} has an invalid port: {error}.") from error
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    connect_host, connect_port = parsed.hostname, port
    if address:
        connect_host, connect_port = split_address(address, url)
    return Target(
        url=url,
        host=parsed.hostname,
        path=path,
        connect_host=connect_host,
        connect_port=connect_port,
        check_http_status=check_http_status,
    )


def split_address(address: str, url: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or a bare host (port 443)."""
    parsed = urllib.parse.urlsplit("//" + address)
    try:
        port = parsed.port or 443
    except ValueError as error:
        raise TargetError(
            f"Address {address!r} for {url} has an invalid port; write it as host:port."
        ) from error
    if not parsed.hostname:
        raise TargetError(f"Address {address!r} for {url} has no host; write it as host:port.")
    return parsed.hostname, port


def _context(legacy: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Security level 0 lets the handshake finish with weak keys and SHA-1 chains, so they can be judged.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if legacy:
        # Python deprecates these versions; the probe needs them only to tell a legacy-only server apart.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


_PHONE_CONTEXT = _context(legacy=False)
_LEGACY_CONTEXT = _context(legacy=True)


def presented_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The chain as the server sent it. Python 3.13 has a public API; 3.12 only the private object."""
    if hasattr(tls, "get_unverified_chain"):
        chain = tls.get_unverified_chain() or []
    else:
        chain = tls._sslobj.get_unverified_chain() or []
    return [item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER) for item in chain]


def handshake(target: Target, timeout: float) -> Handshake:
    result = Handshake()
    try:
        raw = socket.create_connection((target.connect_host, target.connect_port), timeout=timeout)
    except OSError as error:
        result.error = f"no TCP connection to {target.address}: {error.strerror or error}"
        return result
    server_name = target.host if _is_dns_name(target.host) else None
    modern_error = ""
    try:
        with _PHONE_CONTEXT.wrap_socket(raw, server_hostname=server_name) as tls:
            result.tls_version = tls.version()
            result.chain_der = presented_chain(tls)
            _request(tls, target, result)
            return result
    except (ssl.SSLError, OSError) as error:
        modern_error = _describe(error)
    finally:
        raw.close()
    return _legacy_handshake(target, timeout, modern_error, result)


def _legacy_handshake(target: Target, timeout: float, modern_error: str, result: Handshake) -> Handshake:
    """Tells 'only TLS 1.0/1.1' apart from every other handshake failure."""
    server_name = target.host if _is_dns_name(target.host) else None
    try:
        with (
            socket.create_connection((target.connect_host, target.connect_port), timeout=timeout) as raw,
            _LEGACY_CONTEXT.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            result.tls_version = tls.version()
            result.chain_der = presented_chain(tls)
            result.legacy_only = True
            return result
    except (ssl.SSLError, OSError):
        result.error = f"TLS handshake with {target.address} failed: {modern_error}"
        return result


def _request(tls: ssl.SSLSocket, target: Target, result: Handshake) -> None:
    """One GET on the TLS connection already open; only the status line is read."""
    host_header = f"[{target.host}]" if ":" in target.host else target.host
    if target.connect_port != 443:
        host_header += f":{target.connect_port}"
    request = (
        f"GET {target.path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    )
    try:
        tls.sendall(request.encode("ascii"))
        line = _read_line(tls)
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            result.http_error = f"not an HTTP answer: {line[:80]!r}"
            return
        result.http_status = int(parts[1])
    except (OSError, UnicodeError) as error:
        result.http_error = f"no HTTP answer: {_describe(error)}"


def _read_line(tls: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < MAX_STATUS_LINE:
        chunk = tls.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].split(b"\n", 1)[0]


def _is_dns_name(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return True
    return False


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return f"{error.reason} ({error.library or 'ssl'})"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__
