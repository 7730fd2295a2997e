"""HTTP authentication for the WinRM listener: Basic and NTLM (pyspnego's acceptor), per connection.

NTLM authenticates the TCP connection, not a request: once a connection has finished the handshake the
following requests on it carry no Authorization header. Over HTTP the authenticated context also seals
the messages (`multipart/encrypted`, MS-WSMV 2.2.9.1.1), which this module unwraps and wraps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct

import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from spnego.channel_bindings import GssChannelBindings

PROTOCOL = b"application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"


def channel_bindings(cert_der: bytes) -> GssChannelBindings:
    """RFC 5929 tls-server-end-point bindings, as requests-ntlm computes them from the server certificate."""
    cert = x509.load_der_x509_certificate(cert_der)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert_der)
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())


class Unauthorized(Exception):
    def __init__(self, token: str | None = None):
        super().__init__("unauthorized")
        self.token = token  # the NTLM challenge to send back, when the handshake is under way


class ConnectionAuth:
    """The authentication state of one HTTP connection."""

    def __init__(self, user: str, password: str, bindings: GssChannelBindings | None):
        self.user, self.password, self.bindings = user, password, bindings
        self.context: spnego.ContextProxy | None = None
        self.scheme = ""
        self.authenticated = False

    def check(self, header: str) -> None:
        """Raises Unauthorized unless the request (or the connection) is authenticated."""
        scheme, _sep, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, _sep, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise Unauthorized() from exc
            if _user_matches(user, self.user) and hmac.compare_digest(password, self.password):
                self.authenticated = True
                self.context = None
                return
            self.authenticated = False
            raise Unauthorized()
        if scheme in ("ntlm", "negotiate"):
            self._ntlm_step(scheme, value.strip())
            return
        if self.authenticated:
            return
        raise Unauthorized()

    def _ntlm_step(self, scheme: str, value: str) -> None:
        try:
            token = base64.b64decode(value)
        except binascii.Error as exc:
            raise Unauthorized() from exc
        if token[:8] == b"NTLMSSP\0" and token[8:12] == b"\x01\0\0\0":  # a new NEGOTIATE message
            self.context = spnego.server(protocol="ntlm", channel_bindings=self.bindings)
            self.authenticated = False
            self.scheme = "NTLM" if scheme == "ntlm" else "Negotiate"
        if self.context is None:
            raise Unauthorized()
        try:
            answer = self.context.step(token)
        except spnego.exceptions.SpnegoError as exc:
            self.context = None
            self.authenticated = False
            raise Unauthorized() from exc
        if not self.context.complete:
            raise Unauthorized(f"{self.scheme} {base64.b64encode(answer or b'').decode()}")
        if not _user_matches(self.context.client_principal or "", self.user):
            self.context = None
            raise Unauthorized()
        self.authenticated = True

    # --- MS-WSMV message encryption over HTTP -------------------------------------------------------

    @property
    def can_seal(self) -> bool:
        return self.authenticated and self.context is not None

    def unseal(self, body: bytes) -> bytes:
        assert self.context is not None
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        message = b""
        for i in range(0, len(parts) - 1, 2):
            payload = parts[i + 1]
            if payload.endswith(BOUNDARY + b"--\r\n"):
                payload = payload[: -len(BOUNDARY + b"--\r\n")]
            data = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            (sig_len,) = struct.unpack("<i", data[:4])
            signature, sealed = data[4 : 4 + sig_len], data[4 + sig_len :]
            message += self.context.unwrap(signature + sealed).data
        return message

    def seal(self, message: bytes) -> tuple[bytes, str]:
        assert self.context is not None
        wrapped = self.context.wrap(message, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        body = (
            BOUNDARY + b"\r\n\tContent-Type: " + PROTOCOL + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + BOUNDARY
            + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", len(signature))
            + signature
            + sealed
            + BOUNDARY
            + b"--\r\n"
        )
        content_type = f'multipart/encrypted;protocol="{PROTOCOL.decode()}";boundary="Encrypted Boundary"'
        return body, content_type


def _user_matches(given: str, expected: str) -> bool:
    # "DOMAIN\user", "user@domain" and "user" all name the local user here.
    name = re.split(r"[\\]", given)[-1].split("@")[0]
    return name.lower() == expected.lower()


def ntlm_user_file_line(user: str, password: str) -> str:
    """A line of the NTLM_USER_FILE pyspnego's acceptor reads (Heimdal format, no domain)."""
    return f":{user}:{password}\n"


def password_digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()
