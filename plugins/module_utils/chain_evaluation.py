# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The trust engine: judge a certificate chain the way a phone does, and say why it fails.

`trusted` comes from cryptography's WebPKI path validation of the chain exactly as the server sent
it. Its error text does not say why, so the causes are computed separately by walking the chain from
the leaf towards a root: through the certificates the server sent, then the trust store, then
intermediates found elsewhere (supplied files or the AIA URL), which a phone would not fetch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import Finding, finding, has_error
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore

try:
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, VerificationError
except ImportError:  # reported by the module with missing_required_lib
    pass

MAX_CHAIN_DEPTH = 8
WEAK_HASHES = frozenset({"sha1", "md5"})
# cryptography's WebPKI profile accepts some keys phones refuse (RSA 1024 leaves): these findings
# make a chain untrusted even when path validation passes.
PHONE_REFUSES = frozenset({"WEAK_KEY", "WEAK_SIGNATURE"})

# Looks up a missing issuer: given the certificate whose issuer is missing, returns candidates.
IssuerLookup = Callable[["x509.Certificate"], list["x509.Certificate"]]


@dataclass(frozen=True)
class Policy:
    expiry_warning_days: int = 30
    min_rsa_bits: int = 2048
    min_ec_bits: int = 256


@dataclass
class Evaluation:
    trusted: bool
    findings: list[Finding]
    path: list[x509.Certificate] = field(default_factory=list)

    @property
    def compliant(self) -> bool:
        return not has_error(self.findings)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]


@dataclass
class _Walk:
    """The issuing path from the leaf as far as it could be followed."""

    path: list[x509.Certificate]
    anchored: bool  # ends at a certificate the trust store holds
    added: list[x509.Certificate]  # issuers the server did not send, found elsewhere
    unknown_issuer_of: x509.Certificate | None  # dead end: nobody found who issued this one


def evaluate_chain(
    presented: list[x509.Certificate],
    host: str,
    store: TrustStore,
    at: dt.datetime | None = None,
    policy: Policy | None = None,
    find_missing_issuer: IssuerLookup | None = None,
) -> Evaluation:
    """Judge the chain a server sent (leaf first, as sent) for a client that asked for `host`.

    `trusted`: the chain as sent validates for `host` against `store` at `at` (WebPKI profile), and
    no key or signature in it is one phones refuse.
    """
    if not presented:
        raise ValueError("the server sent no certificate")
    at = at or dt.datetime.now(dt.UTC)
    policy = policy or Policy()
    leaf = presented[0]
    trusted, validation_error = _validate(presented, host, store, at)
    walk = _walk(presented, store, find_missing_issuer)

    findings: list[Finding] = []
    findings += _trust_findings(leaf, walk, store)
    findings += _name_findings(leaf, host)
    findings += _validity_findings(leaf, _unique(presented + walk.path), at, policy)
    findings += _strength_findings(leaf, _unique(presented + walk.path), policy)
    if not certificates.allows_server_auth(leaf):
        findings.append(
            finding(
                "NO_SERVER_AUTH",
                f"The certificate {certificates.label(leaf)} is not allowed for server authentication (EKU).",
            )
        )
    findings += _presentation_findings(presented, walk)
    trusted = trusted and not any(f.code in PHONE_REFUSES for f in findings)
    if not trusted and not has_error(findings):
        findings.append(
            finding(
                "UNTRUSTED", f"The chain of {certificates.label(leaf)} fails validation: {validation_error}."
            )
        )
    return Evaluation(trusted=trusted, findings=findings, path=walk.path)


def _validate(
    presented: list[x509.Certificate], host: str, store: TrustStore, at: dt.datetime
) -> tuple[bool, str]:
    address = certificates.host_as_ip(host)
    try:
        subject = x509.IPAddress(address) if address is not None else x509.DNSName(host)
        verifier = PolicyBuilder().store(store.store).time(at).build_server_verifier(subject)
        verifier.verify(presented[0], presented[1:])
    except (VerificationError, ValueError) as error:
        return False, str(error)
    return True, ""


def _walk(
    presented: list[x509.Certificate], store: TrustStore, find_missing_issuer: IssuerLookup | None
) -> _Walk:
    path = [presented[0]]
    added: list[x509.Certificate] = []
    sent = presented[1:]
    while len(path) <= MAX_CHAIN_DEPTH:
        current = path[-1]
        if store.holds(current):
            return _Walk(path, True, added, None)
        if certificates.is_self_signed(current):
            return _Walk(path, False, added, None)
        from_store = store.issuers_of(current)
        if from_store:
            path.append(from_store[0])
            return _Walk(path, True, added, None)
        issuer = _first_issuer(current, sent, path)
        if issuer is None and find_missing_issuer is not None:
            issuer = _first_issuer(current, find_missing_issuer(current), path)
            if issuer is not None:
                added.append(issuer)
        if issuer is None:
            return _Walk(path, False, added, current)
        path.append(issuer)
    return _Walk(path, False, added, None)


def _first_issuer(
    cert: x509.Certificate, candidates: list[x509.Certificate], path: list[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate not in path and certificates.signed_by(cert, candidate):
            return candidate
    return None


def _trust_findings(leaf: x509.Certificate, walk: _Walk, store: TrustStore) -> list[Finding]:
    if walk.anchored:
        if not walk.added:
            return []
        missing = ", ".join(certificates.label(c) for c in walk.added)
        return [
            finding(
                "INCOMPLETE_CHAIN",
                f"The server does not send the intermediate certificate(s) {missing} needed to link "
                f"{certificates.label(leaf)} to a trusted root.",
            )
        ]
    if len(walk.path) == 1 and certificates.is_self_signed(leaf):
        return [finding("SELF_SIGNED", f"The certificate {certificates.label(leaf)} is self-signed.")]
    end = walk.path[-1]
    if walk.unknown_issuer_of is not None:
        issuer = certificates.common_name(walk.unknown_issuer_of.issuer)
        message = (
            f"The chain of {certificates.label(leaf)} ends at '{issuer}' (issuer of "
            f"{certificates.label(walk.unknown_issuer_of)}), a CA that the trust store ({store.source}) "
            "does not hold and that is not a known intermediate."
        )
    else:
        message = (
            f"The chain of {certificates.label(leaf)} ends at the root {certificates.label(end)}, "
            f"which the trust store ({store.source}) does not hold."
        )
    return [finding("PRIVATE_CA", message)]


def _name_findings(leaf: x509.Certificate, host: str) -> list[Finding]:
    if certificates.matches_host(leaf, host):
        return []
    names = certificates.subject_alt_names(leaf)
    listed = ", ".join(names) if names else "none"
    return [
        finding(
            "HOSTNAME_MISMATCH",
            f"The certificate {certificates.label(leaf)} does not name '{host}' (Subject Alternative Names: {listed}).",
        )
    ]


def _validity_findings(
    leaf: x509.Certificate, chain: list[x509.Certificate], at: dt.datetime, policy: Policy
) -> list[Finding]:
    findings = []
    for cert in chain:
        if certificates.not_after(cert) < at:
            findings.append(
                finding(
                    "EXPIRED",
                    f"The certificate {certificates.label(cert)} expired on {certificates.not_after(cert):%Y-%m-%d}.",
                )
            )
        elif certificates.not_before(cert) > at:
            findings.append(
                finding(
                    "NOT_YET_VALID",
                    f"The certificate {certificates.label(cert)} is not valid before {certificates.not_before(cert):%Y-%m-%d %H:%M} UTC.",
                )
            )
    remaining = certificates.not_after(leaf) - at
    if dt.timedelta(0) <= remaining < dt.timedelta(days=policy.expiry_warning_days):
        findings.append(
            finding(
                "EXPIRING_SOON",
                f"The certificate {certificates.label(leaf)} expires on {certificates.not_after(leaf):%Y-%m-%d}, "
                f"in {remaining.days} day(s).",
            )
        )
    return findings


def _strength_findings(
    leaf: x509.Certificate, chain: list[x509.Certificate], policy: Policy
) -> list[Finding]:
    findings = []
    for cert in chain:
        hash_name = certificates.signature_hash_name(cert)
        # A root's own signature is not checked by clients; a self-signed leaf's is all there is.
        if hash_name in WEAK_HASHES and (cert is leaf or not certificates.is_self_signed(cert)):
            findings.append(
                finding(
                    "WEAK_SIGNATURE",
                    f"The certificate {certificates.label(cert)} is signed with {hash_name.upper()}.",
                )
            )
        kind, bits = certificates.key_type_and_bits(cert)
        minimum = {"RSA": policy.min_rsa_bits, "EC": policy.min_ec_bits}.get(kind)
        if minimum is not None and bits < minimum:
            findings.append(
                finding(
                    "WEAK_KEY",
                    f"The certificate {certificates.label(cert)} has a {kind} key of {bits} bits (minimum {minimum}).",
                )
            )
    return findings


def _presentation_findings(presented: list[x509.Certificate], walk: _Walk) -> list[Finding]:
    findings = []
    in_issuing_order = [c for c in walk.path if c in presented]
    if presented != in_issuing_order:
        findings.append(
            finding(
                "CHAIN_ORDER",
                "The server sends its certificates out of issuing order or sends certificates that are not "
                "part of the chain: " + " > ".join(certificates.label(c) for c in presented) + ".",
            )
        )
    for cert in presented[1:]:
        if certificates.is_self_signed(cert):
            findings.append(
                finding("ROOT_SENT", f"The server sends the root certificate {certificates.label(cert)}.")
            )
    return findings


def _unique(chain: list[x509.Certificate]) -> list[x509.Certificate]:
    seen: list[x509.Certificate] = []
    for cert in chain:
        if cert not in seen:
            seen.append(cert)
    return seen
