# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connects to an HTTPS endpoint like a phone: SNI, TLS 1.2 minimum, chain recorded exactly as sent.

Nothing is verified here (the trust engine judges the chain); the handshake only has to complete so
that the chain can be seen, whatever is wrong with it. Besides, which of TLS 1.0-1.3 the server accepts
and whether a forward-secret suite that App Transport Security accepts can be negotiated: learned from the
phone's handshake where it can be, otherwise from ClientHellos whose answer is read no further than the
ServerHello (a refusal costs the server one alert).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import urllib.parse
import warnings
from collections.abc import Callable
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
    # False: a client that reaches the server by its address (no SNI, the address as Host header), for a binding
    # no name reaches; the chain is still judged for `host` (routing.unnamed).
    send_name: bool = True

    @property
    def address(self) -> str:
        host = f"[{self.connect_host}]" if ":" in self.connect_host else self.connect_host
        return f"{host}:{self.connect_port}"


@dataclass
class Handshake:
    chain_der: list[bytes] = field(default_factory=list)
    tls_version: str | None = None
    cipher: str | None = None  # the suite negotiated, OpenSSL's name
    cipher_iana: str | None = None  # its IANA name, where known
    protocols: list[str] = field(default_factory=list)  # the versions the server accepts, oldest first
    forward_secrecy: bool | None = None  # TLS 1.3 or an ATS ECDHE suite over TLS 1.2; None: not known
    legacy_only: bool = False  # only TLS 1.0/1.1 worked
    http_status: int | None = None
    http_error: str | None = None
    error: str | None = None  # why no handshake happened at all


def parse_target(
    url: str, address: str | None = None, check_http_status: bool = True, send_name: bool = True
) -> Target:
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
        send_name=send_name,
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


# The suites App Transport Security accepts over TLS 1.2, all ECDHE (forward secrecy) with AES-128/256: Apple's
# "Requirements for Connecting Using ATS" (Information Property List Key Reference, NSAppTransportSecurity,
# https://developer.apple.com/library/archive/documentation/General/Reference/InfoPlistKeyReference/Articles/CocoaKeys.html,
# now "Preventing Insecure Network Connections"). The list has 11 suites: TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA is not
# on it, although its ECDSA twin is. OpenSSL name -> IANA name (as `openssl ciphers -stdname` prints them).
ATS_SUITES = {
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES256-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "ECDHE-ECDSA-AES256-SHA": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "ECDHE-ECDSA-AES128-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "ECDHE-ECDSA-AES128-SHA": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES256-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "ECDHE-RSA-AES128-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "ECDHE-RSA-AES128-SHA": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
}
# IANA names of other TLS 1.2 suites Schannel or OpenSSL commonly negotiate, so that a finding can name them as
# Windows does (TLS 1.3 suites already carry their IANA name).
_OTHER_SUITES = {
    "ECDHE-RSA-AES256-SHA": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "DHE-RSA-AES256-GCM-SHA384": "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "DHE-RSA-AES128-GCM-SHA256": "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "DHE-RSA-AES256-SHA": "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "DHE-RSA-AES128-SHA": "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "AES256-SHA256": "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "AES128-SHA256": "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "AES256-SHA": "TLS_RSA_WITH_AES_256_CBC_SHA",
    "AES128-SHA": "TLS_RSA_WITH_AES_128_CBC_SHA",
}
# Python's names of the versions (SSLSocket.version()), oldest first.
VERSION_NAMES = {
    ssl.TLSVersion.TLSv1: "TLSv1",
    ssl.TLSVersion.TLSv1_1: "TLSv1.1",
    ssl.TLSVersion.TLSv1_2: "TLSv1.2",
    ssl.TLSVersion.TLSv1_3: "TLSv1.3",
}
LEGACY_VERSIONS = ("TLSv1", "TLSv1.1")
_DEFAULT_CIPHERS = "DEFAULT:@SECLEVEL=0"


def iana_name(cipher: str | None) -> str | None:
    """The IANA name of an OpenSSL suite name, where this module knows it."""
    if cipher is None:
        return None
    if cipher.startswith("TLS_"):
        return cipher
    return ATS_SUITES.get(cipher) or _OTHER_SUITES.get(cipher)


def _context(
    minimum: ssl.TLSVersion,
    maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ciphers: str = _DEFAULT_CIPHERS,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Security level 0 lets the handshake finish with weak keys and SHA-1 chains, so they can be judged
    # (and lets OpenSSL 3 speak TLS 1.0/1.1 at all).
    context.set_ciphers(ciphers)
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0 and 1.1; the probe needs them only to find servers that still accept them.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = minimum
        context.maximum_version = maximum
    return context


_PHONE_CONTEXT = _context(ssl.TLSVersion.TLSv1_2)
_LEGACY_CONTEXT = _context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
_TLS10_CONTEXT = _context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1)
_TLS12_CONTEXT = _context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
_ATS_CONTEXT = _context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, ":".join(ATS_SUITES))


def presented_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The chain as the server sent it. Python 3.13 has a public API; 3.12 only the private object."""
    if hasattr(tls, "get_unverified_chain"):
        chain = tls.get_unverified_chain() or []
    else:
        chain = tls._sslobj.get_unverified_chain() or []
    return [item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER) for item in chain]


def handshake(target: Target, timeout: float) -> Handshake:
    """The phone's handshake and GET, and which protocol versions the server accepts.

    Every check is in flight while something else runs, without a thread (a thread per probe costs more than
    its checks): the legacy check connects together with the phone, its ClientHello leaves once the phone's
    TCP connection is up and is answered during the phone's handshake (one round trip in all, not two); the
    one check the negotiated version and suite may still call for (`_modern_check`) leaves before the GET and
    is answered during it."""
    try:
        addresses = resolve(target)
    except OSError as error:
        return Handshake(error=f"no TCP connection to {target.address}: {error.strerror or error}")
    with HelloCheck(target, _LEGACY_CONTEXT, timeout, addresses, send_now=False) as legacy_check:
        result, modern_error = _phone_handshake(target, timeout, addresses, legacy_check.send)
        if result.error:  # no TCP connection: the legacy check's would not come either
            return result
        legacy, answered = legacy_check.answer()
    if modern_error is not None:
        if legacy is None and answered:
            result.error = f"TLS handshake with {target.address} failed: {modern_error}"
            return result
        # A legacy-only server (or a legacy check without an answer): its chain is still worth judging.
        return _legacy_handshake(target, timeout, addresses, modern_error, result)
    if legacy is not None:
        result.protocols[:0] = _legacy_versions(target, timeout, addresses, legacy)
    return result


def _phone_handshake(
    target: Target, timeout: float, addresses: list, connected: Callable[[], None]
) -> tuple[Handshake, str | None]:
    """(the result, why the TLS handshake failed or None). A failed TCP connection is the result's error;
    `connected` runs once the TCP connection is up, before the handshake."""
    result = Handshake()
    try:
        raw = connect(addresses, timeout)
    except OSError as error:
        result.error = f"no TCP connection to {target.address}: {error.strerror or error}"
        return result, None
    try:
        connected()
        with _PHONE_CONTEXT.wrap_socket(raw, server_hostname=_server_name(target)) as tls:
            _record_session(tls, result)
            check = _modern_check(target, timeout, addresses, result)
            with check or contextlib.nullcontext():
                _request(tls, target, result)
                if check:
                    _apply_modern_check(check, result)
            return result, None
    except (ssl.SSLError, OSError) as error:
        return result, _describe(error)
    finally:
        raw.close()


def _record_session(tls: ssl.SSLSocket, result: Handshake) -> None:
    result.tls_version = tls.version()
    cipher = tls.cipher()
    result.cipher = cipher[0] if cipher else None
    result.cipher_iana = iana_name(result.cipher)
    result.chain_der = presented_chain(tls)


def _modern_check(target: Target, timeout: float, addresses: list, result: Handshake) -> HelloCheck | None:
    """TLS 1.2/1.3 and forward secrecy as far as the phone's handshake tells them; the one check left, sent.

    The phone offers TLS 1.2 and 1.3: a server that picks 1.2 does not accept 1.3, and one that picks 1.3 has
    forward secrecy (every TLS 1.3 suite is ephemeral), so only whether it also accepts 1.2 is left to check.
    Over TLS 1.2 the client offers ECDHE first; a suite on the ATS list proves forward secrecy, any other (the
    server's own order, as Schannel's) leaves one check: a ClientHello offering only the ATS suites."""
    result.protocols = [result.tls_version]
    if result.tls_version == "TLSv1.3":
        result.forward_secrecy = True
        return HelloCheck(target, _TLS12_CONTEXT, timeout, addresses)
    if result.cipher in ATS_SUITES:
        result.forward_secrecy = True
        return None
    return HelloCheck(target, _ATS_CONTEXT, timeout, addresses)


def _apply_modern_check(check: HelloCheck, result: Handshake) -> None:
    accepted, answered = check.answer()
    if result.tls_version == "TLSv1.3":
        if accepted is not None:
            result.protocols.insert(0, "TLSv1.2")
    else:
        # Without an answer nothing is known: no finding rather than a wrong one.
        result.forward_secrecy = accepted is not None if answered else None


def _legacy_versions(target: Target, timeout: float, addresses: list, highest: str) -> list[str]:
    """The legacy versions accepted, given the highest one: a server answering TLS 1.1 may still take 1.0."""
    if highest == "TLSv1.1":
        tls10, _answered = hello_answer(target, _TLS10_CONTEXT, timeout, addresses)
        return ["TLSv1", "TLSv1.1"] if tls10 else ["TLSv1.1"]
    return [highest]


def _legacy_handshake(
    target: Target, timeout: float, addresses: list, modern_error: str, result: Handshake
) -> Handshake:
    """Tells 'only TLS 1.0/1.1' apart from every other handshake failure, with the chain sent over legacy TLS."""
    try:
        with (
            connect(addresses, timeout) as raw,
            _LEGACY_CONTEXT.wrap_socket(raw, server_hostname=_server_name(target)) as tls,
        ):
            _record_session(tls, result)
    except (ssl.SSLError, OSError):
        result.error = f"TLS handshake with {target.address} failed: {modern_error}"
        return result
    result.legacy_only = True
    result.forward_secrecy = False  # neither TLS 1.3 nor a TLS 1.2 suite can be negotiated
    result.protocols = _legacy_versions(target, timeout, addresses, result.tls_version)
    return result


# A TLS record header (type, version, length) and the start of the first handshake message (type, length, version).
_HANDSHAKE_RECORD, _SERVER_HELLO, _ANSWER_PREFIX = 0x16, 0x02, 11


class HelloCheck:
    """One ClientHello in flight: sent when made (or, with `send_now=False`, by `send()` once the TCP connection
    started when made is up), its answer read by `answer()`, the connection dropped on exit.

    OpenSSL writes the ClientHello (an SSLObject over memory buffers); only the first 11 bytes of the answer
    are read: a handshake record starting with a ServerHello, whose version field is the version chosen
    (TLS 1.0-1.2), means accepted; an alert, a close or a reset means refused. Dropping the connection then
    saves the key exchange, the certificate and the rest of the handshake on both sides."""

    def __init__(
        self,
        target: Target,
        context: ssl.SSLContext,
        timeout: float,
        addresses: list | None = None,
        *,
        send_now: bool = True,
    ) -> None:
        self._context = context
        self._timeout = timeout
        self._addresses = addresses or resolve(target)
        # Connecting does not wait here: the TCP handshake runs while OpenSSL writes the ClientHello, and while
        # the caller does something else.
        self._sock: socket.socket | None = _start_connect(self._addresses[0])
        self._hello = _client_hello(context, _server_name(target))
        self._sent = False
        if send_now:
            self.send()

    def send(self) -> None:
        """Sends the ClientHello (once), when the TCP connection is up: waits for it at most the timeout; when the
        first address fails, tries the others in turn as `connect` does."""
        if self._sent:
            return
        self._sent = True
        if self._sock is not None:
            try:
                self._sock.settimeout(self._timeout)
                self._sock.sendall(self._hello)  # Python waits for the connection before it sends
                return
            except (ConnectionResetError, BrokenPipeError):
                return  # connected, then refused at once: `answer()` sees it
            except OSError:
                self._drop()  # refused, no route, or no connection within the timeout
        try:
            self._sock = connect(self._addresses[1:], self._timeout)
        except OSError:
            return  # no TCP connection: no answer to read
        with contextlib.suppress(
            ConnectionResetError, BrokenPipeError
        ):  # refused at once: `answer()` sees it
            self._sock.sendall(self._hello)

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> HelloCheck:
        return self

    def __exit__(self, *exc) -> None:
        if self._sock is not None:
            self._sock.close()

    def answer(self) -> tuple[str | None, bool]:
        """(the version the server chose, or None when it refused; whether it answered at all)."""
        self.send()
        if self._sock is None:
            return None, False
        try:
            data = _receive(self._sock, _ANSWER_PREFIX)
        except (ConnectionResetError, BrokenPipeError):
            return None, True
        except OSError:
            return None, False  # silence until the timeout: nothing is known
        if len(data) < _ANSWER_PREFIX or data[0] != _HANDSHAKE_RECORD or data[5] != _SERVER_HELLO:
            return None, True
        chosen = int.from_bytes(data[9:11], "big")
        if not self._context.minimum_version <= chosen <= self._context.maximum_version:
            return None, True  # a version the ClientHello did not offer: the handshake could not go on
        return VERSION_NAMES[ssl.TLSVersion(chosen)], True


def hello_answer(
    target: Target, context: ssl.SSLContext, timeout: float, addresses: list | None = None
) -> tuple[str | None, bool]:
    """One check, start to end: see HelloCheck."""
    with HelloCheck(target, context, timeout, addresses) as check:
        return check.answer()


def resolve(target: Target) -> list:
    """The target's socket addresses (getaddrinfo), looked up once per probe for every connection it makes."""
    return socket.getaddrinfo(target.connect_host, target.connect_port, type=socket.SOCK_STREAM)


def _start_connect(address: tuple) -> socket.socket | None:
    """A socket whose TCP connection to `address` (a getaddrinfo entry) is under way, None when it failed at once."""
    family, kind, proto, _name, sockaddr = address
    try:
        sock = socket.socket(family, kind, proto)
    except OSError:  # e.g. an IPv6 address where IPv6 is off
        return None
    sock.setblocking(False)
    if sock.connect_ex(sockaddr) in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
        return sock
    sock.close()
    return None


def connect(addresses: list, timeout: float) -> socket.socket:
    """A TCP connection to the first of `addresses` that takes it, as socket.create_connection makes it."""
    failure: OSError | None = None
    for family, kind, proto, _name, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as error:
            sock.close()
            failure = error
    raise failure or OSError("no address to connect to")


def _client_hello(context: ssl.SSLContext, server_name: str | None) -> bytes:
    hello_writer = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        hello_writer.do_handshake()
    return outgoing.read()


def _receive(raw: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = raw.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _server_name(target: Target) -> str | None:
    return target.host if target.send_name and _is_dns_name(target.host) else None


def _request(tls: ssl.SSLSocket, target: Target, result: Handshake) -> None:
    """One GET on the TLS connection already open; only the status line is read."""
    named = target.host if target.send_name else target.connect_host
    host_header = f"[{named}]" if ":" in named else named
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
