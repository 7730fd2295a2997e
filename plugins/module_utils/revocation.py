# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation of a leaf certificate: its OCSP responder first, else the CRL at its distribution point.

Only the leaf is checked, against the issuer the chain walk found. Public CAs name an OCSP responder, a CRL, or
both (Let's Encrypt has dropped OCSP for CRLs), so both are understood. Every answer is verified (signature by
the issuer or by a responder it delegated to, freshness, the right certificate); anything short of a verified
answer is "unknown", with the reason, never an error: a responder that is down says nothing about the
certificate. Lookups have their own deadline and are cached per certificate, and CRLs per URL, for the life of
the checker (one run), so concurrent checks of one certificate make one request.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.client
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import Finding, finding

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
except ImportError:  # reported by the module with missing_required_lib
    pass

GOOD, REVOKED, UNKNOWN = "good", "revoked", "unknown"
# An OCSP answer is a few hundred bytes, with a delegated responder certificate a few kilobytes. CRLs of large
# CAs reach megabytes; Let's Encrypt shards them into small ones.
MAX_OCSP_BYTES = 64 * 1024
MAX_CRL_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 3
# Bounds on what is read before an answer's body: a status or header line, and the number of header lines.
MAX_HEAD_LINE = 8192
MAX_HEAD_LINES = 100
# Clocks of client and responder differ a little.
CLOCK_SKEW = dt.timedelta(minutes=5)
# An answer without nextUpdate is taken for as long as the CA/Browser Forum lets an OCSP response be valid.
MAX_AGE_WITHOUT_NEXT_UPDATE = dt.timedelta(days=10)
CONTENT_OCSP_REQUEST = "application/ocsp-request"


@dataclass(frozen=True)
class RevocationStatus:
    state: str  # GOOD, REVOKED or UNKNOWN
    source: str = ""  # "OCSP" or "CRL": where the answer came from
    url: str = ""
    why: str = ""  # for UNKNOWN: why no answer could be had
    revoked_at: dt.datetime | None = None
    reason: str | None = None  # the CA's revocation reason, e.g. key_compromise


def _unknown(why: str) -> RevocationStatus:
    return RevocationStatus(UNKNOWN, why=why)


class Unavailable(Exception):
    """No usable answer from a URL; the message says why."""


class _OnceCache:
    """Computes each key's value once: later and concurrent callers get the first caller's result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[object, Future] = {}

    def get(self, key, compute: Callable[[], object]):
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if owner:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as error:  # the waiters must not wait forever for a value that will not come
                future.set_exception(error)
                raise
        return future.result()


class RevocationChecker:
    """Revocation status of leaf certificates, each looked up at most once for the checker's life; thread-safe."""

    def __init__(self, timeout: float = 5.0) -> None:
        if timeout <= 0:
            raise ValueError(f"the revocation timeout must be greater than 0, got {timeout}")
        self.timeout = timeout
        self._statuses = _OnceCache()  # (issuer key id, serial) -> RevocationStatus
        self._crls = _OnceCache()  # (URL, issuer key id) -> the verified CRL, or why it cannot be used
        self._http = HttpClient()

    def check(self, leaf: x509.Certificate, issuer: x509.Certificate | None) -> RevocationStatus:
        if issuer is None:
            return _unknown("the issuer certificate is unknown, so no answer about it can be verified")
        key = (_key_id(issuer), leaf.serial_number)
        return self._statuses.get(key, lambda: self._look_up(leaf, issuer))

    def _look_up(self, leaf: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        # One deadline for everything this certificate's check fetches.
        deadline = time.monotonic() + self.timeout
        try:
            responders = ocsp_urls(leaf)
            # The CRL distribution points only matter without a responder.
            distribution_points = [] if responders else crl_urls(leaf)
        except ValueError as error:  # cryptography parses extensions when first asked
            return _unknown(
                f"its Authority Information Access or CRL distribution points cannot be read ({error})"
            )
        if responders:
            return self._by_ocsp(leaf, issuer, responders, deadline)
        if distribution_points:
            return self._by_crl(leaf, issuer, distribution_points, deadline)
        return _unknown("the certificate names no OCSP responder and no CRL distribution point")

    def _by_ocsp(
        self, leaf: x509.Certificate, issuer: x509.Certificate, urls: list[str], deadline: float
    ) -> RevocationStatus:
        try:
            request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
        except (ValueError, TypeError) as error:
            return _unknown(f"no OCSP request can be made for it ({error})")
        body = request.public_bytes(serialization.Encoding.DER)
        problems = []
        for url in urls:
            try:
                answer = self._http.fetch(url, deadline, self.timeout, MAX_OCSP_BYTES, body=body)
                return ocsp_status(answer, leaf, issuer, request, url, _now())
            except Unavailable as error:
                problems.append(f"the OCSP responder {url}: {error}")
        return _unknown("; ".join(problems))

    def _by_crl(
        self, leaf: x509.Certificate, issuer: x509.Certificate, urls: list[str], deadline: float
    ) -> RevocationStatus:
        problems = []
        for url in urls:
            crl = self._crls.get(
                (url, _key_id(issuer)), lambda url=url: self._verified_crl(url, issuer, deadline)
            )
            if isinstance(crl, str):
                problems.append(f"the CRL {url}: {crl}")
                continue
            return crl_status(crl, leaf, url)
        return _unknown("; ".join(problems))

    def _verified_crl(
        self, url: str, issuer: x509.Certificate, deadline: float
    ) -> x509.CertificateRevocationList | str:
        """The CRL, or why it cannot be used (cached either way: a CRL that failed once fails for the run)."""
        try:
            crl = load_crl(self._http.fetch(url, deadline, self.timeout, MAX_CRL_BYTES))
            problem = crl_problem(crl, issuer, _now())
        except Unavailable as error:
            return str(error)
        return problem or crl


def revocation_findings(
    checker: RevocationChecker, leaf: x509.Certificate, issuer: x509.Certificate | None
) -> list[Finding]:
    """REVOKED or REVOCATION_UNKNOWN for `leaf`, nothing when its CA says it is good."""
    status = checker.check(leaf, issuer)
    if status.state == GOOD:
        return []
    if status.state == REVOKED:
        when = f" on {status.revoked_at:%Y-%m-%d %H:%M} UTC" if status.revoked_at else ""
        why = f" (reason: {status.reason})" if status.reason else ""
        return [
            finding(
                "REVOKED",
                f"The certificate {certificates.label(leaf)} was revoked{when}{why}, according to its "
                f"{'OCSP responder' if status.source == 'OCSP' else 'CRL'} {status.url}.",
            )
        ]
    return [
        finding(
            "REVOCATION_UNKNOWN",
            f"The revocation status of {certificates.label(leaf)} could not be had: {status.why}.",
        )
    ]


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
        and _is_http(d.access_location.value)
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    """The http(s) URLs of the certificate's CRL distribution points (LDAP ones are for Active Directory)."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier) and _is_http(name.value)
    ]


def ocsp_status(
    answer: bytes,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    request: ocsp.OCSPRequest,
    url: str,
    now: dt.datetime,
) -> RevocationStatus:
    """The status an OCSP answer gives, once verified; raises Unavailable when it cannot be relied on."""
    try:
        response = ocsp.load_der_ocsp_response(answer)
    except ValueError as error:
        raise Unavailable("the answer is not an OCSP response") from error
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise Unavailable(
            f"the responder answered with the error status {response.response_status.name.lower()}"
        )
    single = _response_for(response, leaf, issuer, request)
    if single is None:
        raise Unavailable("the response is not about this certificate")
    problem = _ocsp_signature_problem(response, issuer, now)
    if problem:
        raise Unavailable(problem)
    problem = freshness_problem(single.this_update_utc, single.next_update_utc, now)
    if problem:
        raise Unavailable(f"the response is {problem}")
    if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
        return RevocationStatus(GOOD, "OCSP", url)
    if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.name if single.revocation_reason else None
        return RevocationStatus(REVOKED, "OCSP", url, revoked_at=single.revocation_time_utc, reason=reason)
    raise Unavailable("the responder does not know the certificate (status unknown)")


def _response_for(
    response: ocsp.OCSPResponse, leaf: x509.Certificate, issuer: x509.Certificate, request: ocsp.OCSPRequest
) -> ocsp.OCSPSingleResponse | None:
    for single in response.responses:
        if single.serial_number != leaf.serial_number:
            continue
        expected = request
        if single.hash_algorithm.name != request.hash_algorithm.name:
            # A responder may identify the certificate with another hash than the one asked with.
            try:
                expected = (
                    ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, single.hash_algorithm).build()
                )
            except (ValueError, UnsupportedAlgorithm):
                continue
        if (single.issuer_key_hash, single.issuer_name_hash) == (
            expected.issuer_key_hash,
            expected.issuer_name_hash,
        ):
            return single
    return None


def _ocsp_signature_problem(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: dt.datetime) -> str:
    """Empty when the response is signed by the issuer or by a responder certificate the issuer authorised
    (issued by it, with the OCSP signing EKU, valid now: RFC 6960 4.2.2.2)."""
    if _is_responder(response, issuer):
        signer = issuer
    else:
        delegates = [c for c in response.certificates if _is_responder(response, c)]
        if not delegates:
            return "the response is signed by neither the issuer nor a responder certificate it carries"
        signer = delegates[0]
        if not _directly_issued_by(signer, issuer):
            return f"the responder certificate {certificates.label(signer)} is not issued by the certificate's issuer"
        if not _allows_ocsp_signing(signer):
            return f"the responder certificate {certificates.label(signer)} is not allowed to sign OCSP responses (EKU)"
        if (
            not certificates.not_before(signer) - CLOCK_SKEW
            <= now
            <= certificates.not_after(signer) + CLOCK_SKEW
        ):
            return f"the responder certificate {certificates.label(signer)} is not valid now"
    if not certificates.verify_signature(
        signer.public_key(),
        response.signature,
        response.tbs_response_bytes,
        response.signature_hash_algorithm,
    ):
        return f"the response's signature does not verify with the key of {certificates.label(signer)}"
    return ""


def _is_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        # byKey: the SHA-1 of the responder's subjectPublicKey bits, as a key identifier of RFC 5280 method 1.
        return response.responder_key_hash == _key_id(cert)
    return response.responder_name == cert.subject


def _directly_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _allows_ocsp_signing(cert: x509.Certificate) -> bool:
    # RFC 6960 4.2.2.2: a delegated responder must carry id-kp-OCSPSigning; no EKU is no delegation.
    return certificates.lists_usage(cert, ExtendedKeyUsageOID.OCSP_SIGNING, when_absent=False)


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL in DER (what CAs serve) or PEM."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as error:
        raise Unavailable("the answer is not a CRL") from error


def crl_problem(crl: x509.CertificateRevocationList, issuer: x509.Certificate, now: dt.datetime) -> str:
    """Empty when the CRL is the issuer's, signed by it, current, and covers end-entity certificates."""
    if crl.issuer != issuer.subject:
        return (
            f"it is issued by '{crl.issuer.rfc4514_string()}', not by the certificate's issuer "
            "(indirect CRLs are not used)"
        )
    try:
        signed = crl.is_signature_valid(issuer.public_key())
    except (TypeError, ValueError, UnsupportedAlgorithm):
        signed = False
    if not signed:
        return f"its signature does not verify with the key of {certificates.label(issuer)}"
    problem = freshness_problem(crl.last_update_utc, crl.next_update_utc, now)
    if problem:
        return f"it is {problem}"
    try:
        scope = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return ""
    if scope.only_contains_ca_certs or scope.only_contains_attribute_certs or scope.only_some_reasons:
        return "it does not cover every revocation of end-entity certificates (issuing distribution point)"
    return ""


def crl_status(crl: x509.CertificateRevocationList, leaf: x509.Certificate, url: str) -> RevocationStatus:
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is None:
        return RevocationStatus(GOOD, "CRL", url)
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        reason = None
    if reason == x509.ReasonFlags.remove_from_crl:  # a delta CRL's "no longer on hold"
        return RevocationStatus(GOOD, "CRL", url)
    return RevocationStatus(
        REVOKED, "CRL", url, revoked_at=entry.revocation_date_utc, reason=reason.name if reason else None
    )


def freshness_problem(this_update: dt.datetime, next_update: dt.datetime | None, now: dt.datetime) -> str:
    """Empty when an answer produced at `this_update`, to be replaced at `next_update`, may be used `now`; else
    what is wrong, to follow "the response is" or "it is"."""
    if this_update > now + CLOCK_SKEW:
        return f"dated in the future ({this_update:%Y-%m-%d %H:%M} UTC)"
    if next_update is None:
        if now - this_update > MAX_AGE_WITHOUT_NEXT_UPDATE:
            return f"stale: it was produced on {this_update:%Y-%m-%d %H:%M} UTC and names no next update"
    elif next_update < now - CLOCK_SKEW:
        return f"stale: its next update was due on {next_update:%Y-%m-%d %H:%M} UTC"
    return ""


class HttpClient:
    """GET (CRLs) and POST (OCSP requests) through http.client, with everything bounded: size, and time by one
    deadline for the whole exchange, not per socket operation as urllib's timeout is.

    Connections stay open per origin (HTTP/1.1 keep-alive) and are shared by the threads of a run, as a
    browser keeps them to an OCSP responder: checking many certificates of one CA costs as many TCP connections
    as requests were in flight at once. Proxies come from the environment, as for urllib."""

    def __init__(self) -> None:
        self._idle: dict[tuple, list] = {}  # route -> connections kept alive and not in use
        self._lock = threading.Lock()
        self._proxies: dict[str, str] | None = None

    def fetch(
        self, url: str, deadline: float, timeout: float, limit: int, body: bytes | None = None
    ) -> bytes:
        for _hop in range(MAX_REDIRECTS + 1):
            status, reason, location, data = self._request(url, deadline, timeout, limit, body)
            if status in (301, 302, 303, 307, 308) and location and body is None:
                url = urllib.parse.urljoin(url, location)
                continue
            if status != 200:
                raise Unavailable(f"HTTP {status} {reason}".rstrip())
            return data
        raise Unavailable(f"more than {MAX_REDIRECTS} redirects")

    def _request(
        self, url: str, deadline: float, timeout: float, limit: int, body: bytes | None
    ) -> tuple[int, str, str | None, bytes]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unavailable("only http and https URLs are fetched")
        route, target = self._route(parts, url)
        exchange = self._library
        try:
            connection = self._take(route)
            if connection is not None:
                try:
                    return exchange(connection, route, target, deadline, timeout, limit, body)
                except _Stale:
                    pass  # the server closed the idle connection: once more, on a new one
            connection = self._connect(route, parts, deadline)
            return exchange(connection, route, target, deadline, timeout, limit, body)
        except TimeoutError as error:
            raise Unavailable(f"no answer within the revocation timeout of {timeout:g} s") from error
        except http.client.BadStatusLine as error:
            raise Unavailable("the answer is not HTTP") from error
        except (_Stale, OSError, http.client.HTTPException) as error:
            raise Unavailable(f"unreachable ({error or type(error).__name__})") from error

    def _take(self, route: tuple):
        with self._lock:
            idle = self._idle.get(route)
            return idle.pop() if idle else None

    def _keep(self, route: tuple, connection) -> None:
        with self._lock:
            self._idle.setdefault(route, []).append(connection)

    def _library(
        self,
        connection: http.client.HTTPConnection,
        route: tuple,
        target: str,
        deadline: float,
        timeout: float,
        limit: int,
        body: bytes | None,
    ) -> tuple[int, str, str | None, bytes]:
        try:
            try:
                if connection.sock is not None:
                    connection.sock.settimeout(_remaining(deadline, timeout))
                headers = {"Content-Type": CONTENT_OCSP_REQUEST} if body is not None else {}
                connection.request("POST" if body is not None else "GET", target, body=body, headers=headers)
                sock = connection.sock
                sock.settimeout(_remaining(deadline, timeout))
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                raise _Stale(str(error) or type(error).__name__) from error
            data = _read(response, sock, deadline, timeout, limit)
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._keep(route, connection)
        return response.status, response.reason, response.getheader("Location"), data

    def _route(self, parts: urllib.parse.SplitResult, url: str) -> tuple[tuple, str]:
        """(scheme, host, port, proxy) to connect to, and the request target (the whole URL via a proxy)."""
        if self._proxies is None:
            # Imported here: urllib.request costs an import most runs never need.
            from urllib.request import getproxies, proxy_bypass

            self._proxies = {
                scheme: proxy for scheme, proxy in getproxies().items() if scheme in ("http", "https")
            }
            self._bypass = proxy_bypass
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        proxy = self._proxies.get(parts.scheme)
        if proxy and self._bypass(parts.hostname):
            proxy = None
        route = (parts.scheme, parts.hostname, parts.port, proxy)
        return route, url if proxy and parts.scheme == "http" else path

    @staticmethod
    def _connect(route: tuple, parts: urllib.parse.SplitResult, deadline: float):
        """An http.client connection to the origin, or to the proxy for it."""
        scheme, host, port, proxy = route
        remaining = max(deadline - time.monotonic(), 0.001)
        if proxy is None:
            if scheme == "http":
                return http.client.HTTPConnection(host, port, timeout=remaining)
            return http.client.HTTPSConnection(host, port, timeout=remaining)
        via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if scheme == "https":
            connection = http.client.HTTPSConnection(via.hostname, via.port, timeout=remaining)
            connection.set_tunnel(parts.hostname, parts.port)
            return connection
        return http.client.HTTPConnection(via.hostname, via.port, timeout=remaining)


class _Stale(Exception):
    """The connection ended without a complete answer (on a kept-alive one: the server had closed it)."""


def _read(
    response: http.client.HTTPResponse, sock: socket.socket, deadline: float, timeout: float, limit: int
) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Unavailable(f"the answer is larger than {limit} bytes")
    data = bytearray()
    while True:
        if response.length == 0:
            # All of Content-Length is read; read1 would not mark the response done, and the connection
            # takes no new request before it is.
            response.close()
            return bytes(data)
        sock.settimeout(_remaining(deadline, timeout))
        chunk = response.read1(65536)
        if not chunk:
            if response.length:  # fewer bytes than Content-Length said: a cut answer is no answer
                raise Unavailable("unreachable (the connection closed in the middle of the answer)")
            return bytes(data)
        data += chunk
        if len(data) > limit:
            raise Unavailable(f"the answer is larger than {limit} bytes")


def _remaining(deadline: float, timeout: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(f"revocation timeout of {timeout:g} s")
    return remaining


# Every leaf of one CA names the same issuer: its key id is hashed once (certificates hash by their DER).
@functools.lru_cache(maxsize=1024)
def _key_id(cert: x509.Certificate) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
