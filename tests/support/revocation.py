"""A CA's revocation service on loopback: OCSP answers and a CRL, signed by the issuing CA, served over HTTP.

What a public CA runs (RFC 6960 OCSP over HTTP POST and GET, RFC 5280 CRLs at the distribution point), used
two ways:
- by the unit tests, the end-to-end tests and the probe benchmark: `Authority` objects in memory, revoked
  through `Authority.revoke`, with `Faults` that make a responder misbehave as real ones do (error status,
  wrong signature, stale answers, never answering);
- by the lab (lab/revocation.py): the lab's public issuing CA, with its state in DIR/ca, loaded into an
  `Authority` through `Authority.load` and served by `RevocationServer`.

It lives in the test support package, not in the lab, because the unit tests of
plugins/module_utils/revocation.py need a responder and ship in the Galaxy artifact without the lab.

Answers are signed ahead and kept until they are half way to their next update, or until a revocation, as
real CAs pre-generate OCSP responses; a request costs a lookup, not a signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import os
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.support import pki

OCSP_VALIDITY = dt.timedelta(days=4)
CRL_VALIDITY = dt.timedelta(days=7)
MAX_REQUEST_BYTES = 16 * 1024
# A responder that never answers gives up after this long, so that a stopped server's threads end.
HANG_LIMIT_SECONDS = 60.0


@dataclass(frozen=True)
class Revocation:
    at: dt.datetime
    reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise


@dataclass(frozen=True)
class Faults:
    """How a responder misbehaves (the default: it does not)."""

    ocsp_error: ocsp.OCSPResponseStatus | None = None  # answer every OCSP request with this error status
    bad_signature: bool = False  # OCSP answers and a CRL whose signature does not verify
    stale: bool = False  # OCSP answers and a CRL whose next update is past
    hang: bool = False  # take the request and never answer
    delay: float = 0.0  # seconds before each answer (a slow responder)
    crl_pem: bool = False  # serve the CRL as PEM rather than DER


def delegated_responder(
    issuer: pki.Issued, *, eku: list[x509.ObjectIdentifier] | None = None, **kwargs
) -> pki.Issued:
    """An OCSP responder certificate the issuer delegates to (RFC 6960 4.2.2.2: issued by it, OCSP signing
    EKU); `eku` and `pki.make_leaf` arguments make one that is not fit."""
    return pki.make_leaf(
        issuer,
        [],
        common_name="Lab OCSP Responder",
        eku=eku if eku is not None else [ExtendedKeyUsageOID.OCSP_SIGNING],
        **kwargs,
    )


class Authority:
    """One issuing CA's revocation state and its signed answers; safe across threads."""

    def __init__(
        self,
        issuer: pki.Issued,
        *,
        responder: pki.Issued | None = None,
        known: set[int] | None = None,
        faults: Faults | None = None,
    ) -> None:
        """`responder`: a delegated responder that signs the OCSP answers instead of the issuer. `known`: the
        serials the CA issued (others are answered "unknown", as a CA must); None answers for any serial."""
        self.issuer = issuer
        self.responder = responder
        self._known = known
        self._faults = faults or Faults()
        self._revoked: dict[int, Revocation] = {}
        self._lock = threading.Lock()
        self._ocsp: dict[tuple[int, str], tuple[bytes, dt.datetime]] = {}
        self._crl: tuple[bytes, dt.datetime] | None = None
        self._crl_number = 0
        self._other_key = pki.new_key()
        self.key_bits = _public_key_bits(issuer.cert)
        self.name_der = issuer.cert.subject.public_bytes()

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._forget()

    def revoke(
        self,
        serial: int,
        *,
        at: dt.datetime | None = None,
        reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise,
    ) -> None:
        with self._lock:
            self._revoked[serial] = Revocation(at or pki.now(), reason)
            self._forget()

    def load(self, revoked: dict[int, Revocation], known: set[int] | None) -> None:
        """Replace the whole state (the lab's, read from its files), then sign every known serial's answer."""
        with self._lock:
            self._revoked, self._known = dict(revoked), known
            self._forget()
        for serial in sorted(known or ()):
            self._signed_ocsp(serial, hashes.SHA1())

    def issues(self, request: ocsp.OCSPRequest) -> bool:
        """Whether the request asks about a certificate of this CA (its name and key hashes match)."""
        try:
            return (request.issuer_key_hash, request.issuer_name_hash) == (
                _digest(request.hash_algorithm, self.key_bits),
                _digest(request.hash_algorithm, self.name_der),
            )
        except ValueError:
            return False

    def ocsp_answer(self, request: ocsp.OCSPRequest) -> bytes:
        if self._faults.ocsp_error is not None:
            return _der(ocsp.OCSPResponseBuilder.build_unsuccessful(self._faults.ocsp_error))
        return self._signed_ocsp(request.serial_number, request.hash_algorithm)

    def crl(self) -> bytes:
        with self._lock:
            now = pki.now()
            if self._crl is None or now >= self._crl[1]:
                der = self._sign_crl(now)
                self._crl = (der, now + CRL_VALIDITY / 2)
            der = self._crl[0]
        if self._faults.crl_pem:
            return x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
        return der

    def _forget(self) -> None:
        self._ocsp.clear()
        self._crl = None

    def _signed_ocsp(self, serial: int, algorithm: hashes.HashAlgorithm) -> bytes:
        key = (serial, algorithm.name)
        with self._lock:
            now = pki.now()
            cached = self._ocsp.get(key)
            if cached is not None and now < cached[1]:
                return cached[0]
            der = self._sign_ocsp(serial, algorithm, now)
            self._ocsp[key] = (der, now + OCSP_VALIDITY / 2)
            return der

    def _sign_ocsp(self, serial: int, algorithm: hashes.HashAlgorithm, now: dt.datetime) -> bytes:
        this_update, next_update = self._validity(now, OCSP_VALIDITY)
        revocation = self._revoked.get(serial)
        if revocation is not None:
            status = ocsp.OCSPCertStatus.REVOKED
        elif self._known is not None and serial not in self._known:
            status = ocsp.OCSPCertStatus.UNKNOWN
        else:
            status = ocsp.OCSPCertStatus.GOOD
        signer = self.responder or self.issuer
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=_digest(algorithm, self.name_der),
                issuer_key_hash=_digest(algorithm, self.key_bits),
                serial_number=serial,
                algorithm=algorithm,
                cert_status=status,
                this_update=this_update,
                next_update=next_update,
                revocation_time=revocation.at if revocation else None,
                revocation_reason=revocation.reason if revocation else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
        )
        if self.responder is not None:
            builder = builder.certificates([self.responder.cert])
        response = builder.sign(signer.key, hashes.SHA256())
        if not self._faults.bad_signature:
            return _der(response)
        # cryptography signs only with the responder's own key: spoil the signature it made instead.
        spoiled = response.signature[:-1] + bytes([response.signature[-1] ^ 1])
        return _der(response).replace(response.signature, spoiled, 1)

    def _sign_crl(self, now: dt.datetime) -> bytes:
        last_update, next_update = self._validity(now, CRL_VALIDITY)
        self._crl_number += 1
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuer.cert.subject)
            .last_update(last_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(self._crl_number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuer.key.public_key()),
                critical=False,
            )
        )
        for serial, revocation in sorted(self._revoked.items()):
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revocation.at)
            if revocation.reason is not None:
                entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        # A CRL signed with another key than the issuer's: what a CRL from a rolled-over key looks like.
        signing_key = self._other_key if self._faults.bad_signature else self.issuer.key
        return builder.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def _validity(self, now: dt.datetime, validity: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
        if self._faults.stale:
            return now - validity - dt.timedelta(days=1), now - dt.timedelta(days=1)
        return now, now + validity


class RevocationServer:
    """OCSP (POST /ocsp, GET /ocsp/<base64>) and CRLs (GET /crl/<name>.crl) for `authorities` by name.

    `before_request` runs first on every request (the lab re-reads its state there). `requests` counts what
    was asked ("ocsp", "crl"), `connections` the TCP connections it took (kept alive, one serves many)."""

    def __init__(
        self,
        authorities: dict[str, Authority],
        host: str = "127.0.0.1",
        port: int = 0,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        self.authorities = authorities
        self.requests: Counter[str] = Counter()
        self.connections = 0
        self._count_lock = threading.Lock()
        self._before = before_request
        self._stopping = threading.Event()
        self._server = _HTTPServer((host, port), _Handler)
        self._server.service = self
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None
        self._keep_child_alive: int | None = None  # serve_in_child: the pipe whose end the child waits for

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    def crl_url(self, name: str | None = None) -> str:
        """The CRL URL of the authority `name` (the only one when not given)."""
        return f"{self.base_url}/crl/{name or next(iter(self.authorities))}.crl"

    def __enter__(self) -> RevocationServer:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._server.serve_forever(0.2)

    def stop(self) -> None:
        """Stop serving (serve_forever or the context's thread must be running) and close the socket."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def close(self) -> None:
        """Close the listening socket of a server that never served here (another process serves it)."""
        self._server.server_close()

    def serve_in_child(self) -> int:
        """Serve from a forked process, as a CA's responder runs on machines of its own, until the caller's
        process ends; the caller's copy of the socket is closed. Call it before starting any thread."""
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            threading.Thread(target=self.serve_forever, daemon=True).start()
            os.read(read_end, 1)  # end of file: the parent is gone
            os._exit(0)
        os.close(read_end)
        self._keep_child_alive = write_end  # closed with this process
        self.close()
        return pid

    def count(self, kind: str) -> None:
        with self._count_lock:
            self.requests[kind] += 1

    def connected(self) -> None:
        with self._count_lock:
            self.connections += 1

    def answer_ocsp(self, body: bytes) -> tuple[int, bytes] | None:
        """(HTTP status, OCSP response DER), or None to give no answer at all."""
        self.count("ocsp")
        self._prepare()
        try:
            request = ocsp.load_der_ocsp_request(body)
        except ValueError:
            return 200, _der(
                ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
            )
        authority = next((a for a in self.authorities.values() if a.issues(request)), None)
        if authority is None:  # RFC 5019 2.2.3: not a CA this responder answers for
            return 200, _der(
                ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
            )
        if not self._wait(authority.faults):
            return None
        return 200, authority.ocsp_answer(request)

    def answer_crl(self, name: str) -> tuple[int, bytes] | None:
        self.count("crl")
        self._prepare()
        authority = self.authorities.get(name)
        if authority is None:
            return 404, b""
        if not self._wait(authority.faults):
            return None
        return 200, authority.crl()

    def _wait(self, faults: Faults) -> bool:
        """Whether to answer at all, after the delay the faults ask for."""
        if faults.hang:
            self._stopping.wait(HANG_LIMIT_SECONDS)
            return False
        if faults.delay:
            self._stopping.wait(faults.delay)
        return True

    def _prepare(self) -> None:
        if self._before is not None:
            self._before()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    service: RevocationServer


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    # Keep-alive, as a CA's responders (CDNs) offer; an idle connection is closed after `timeout` seconds.
    protocol_version = "HTTP/1.1"
    timeout = 30
    # An answer goes out in one write (see _send); an error page from http.server may take two, which
    # Nagle's algorithm would hold back until the client's delayed ACK (40 ms on a kept-alive connection).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.service.connected()

    def do_POST(self) -> None:
        if urllib.parse.urlsplit(self.path).path.rstrip("/") != "/ocsp":
            self._send(404, b"", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(413, b"", "text/plain")
            return
        self._ocsp(self.rfile.read(length))

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/ocsp/"):  # RFC 6960 A.1: the DER request, base64, URL-encoded
            try:
                body = base64.b64decode(urllib.parse.unquote(path[len("/ocsp/") :]))
            except ValueError:
                body = b""
            self._ocsp(body)
        elif path.startswith("/crl/") and path.endswith(".crl"):
            answer = self.server.service.answer_crl(path[len("/crl/") : -len(".crl")])
            if answer is None:
                self.close_connection = True
            else:
                self._send(*answer, "application/pkix-crl")
        else:
            self._send(404, b"", "text/plain")

    def _ocsp(self, body: bytes) -> None:
        answer = self.server.service.answer_ocsp(body)
        if answer is None:
            self.close_connection = True
        else:
            self._send(*answer, "application/ocsp-response")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        # Status line, headers and body in one write: one segment, one read for the client.
        reason = self.responses.get(status, ("",))[0]
        head = (
            f"{self.protocol_version} {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode("latin-1") + body)

    def log_message(self, *args) -> None:
        pass


def _der(response: ocsp.OCSPResponse) -> bytes:
    return response.public_bytes(serialization.Encoding.DER)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (no unused-bits octet): what OCSP's issuerKeyHash hashes."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body, _length = _tlv(spki, 0)  # SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey }
    algorithm, algorithm_length = _tlv(spki, body)
    bits, bits_length = _tlv(spki, algorithm + algorithm_length)
    return spki[bits + 1 : bits + bits_length]


def _tlv(der: bytes, offset: int) -> tuple[int, int]:
    """(offset of the contents, length of the contents) of the DER element at `offset`."""
    length = der[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    return start, length
