# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The trust engine: judge a certificate chain the way a phone does, and say why it fails.

`trusted` comes from cryptography's WebPKI path validation of the chain exactly as the server sent
it. Its error text does not say why, so the causes are computed separately by walking the chain from
the leaf towards a root: through the certificates the server sent, then the trust store, then
intermediates found elsewhere (supplied files or the AIA URL), which a phone would not fetch.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import Finding, finding, has_error
from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import (
    RevocationChecker,
    revocation_findings,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore

try:
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, VerificationError
except ImportError:  # reported by the module with missing_required_lib
    pass

MAX_CHAIN_DEPTH = 8
WEAK_HASHES = frozenset({"sha1", "md5"})
# cryptography's WebPKI profile accepts some certificates phones refuse (RSA 1024 leaves, Apple's validity
# and Certificate Transparency rules) and knows nothing of revocation: these findings make a chain untrusted
# even when path validation passes.
PHONE_REFUSES = frozenset({"WEAK_KEY", "WEAK_SIGNATURE", "VALIDITY_TOO_LONG", "CT_MISSING", "REVOKED"})

# Apple's rules (docs/phone-rules.md), compared with the leaf's notBefore in UTC. Apple gives "after <day>"
# without a time; the day itself is counted (from 00:00 UTC), as for the 398-day rule, which names the time.
MAX_825_DAYS_FROM = dt.datetime(2019, 7, 1, tzinfo=dt.UTC)  # support.apple.com 103769, any CA
MAX_398_DAYS_FROM = dt.datetime(2020, 9, 1, tzinfo=dt.UTC)  # 102028, preinstalled (trust store) roots only
CT_REQUIRED_FROM = dt.datetime(2018, 10, 15, tzinfo=dt.UTC)  # 103214, publicly trusted certificates
CT_TABLE_IN_DAYS_FROM = dt.datetime(2021, 4, 21, tzinfo=dt.UTC)  # 103214: earlier ones are counted in months

# Looks up a missing issuer: given the certificate whose issuer is missing, returns candidates.
IssuerLookup = Callable[["x509.Certificate"], list["x509.Certificate"]]


@dataclass(frozen=True)
class Policy:
    expiry_warning_days: int = 30
    min_rsa_bits: int = 2048
    min_ec_bits: int = 256
    # Certificate Transparency is only knowable for the public roots; modules resolve their `require_ct`
    # option with resolve_require_ct, a Policy built by hand does not check it unless asked.
    require_ct: bool = False


def resolve_require_ct(require_ct: bool | None, trust_bundle: str | None) -> bool:
    """The modules' `require_ct` option: unset means true with the default (Mozilla) store, whose roots are
    public CAs bound by CT, and false with a custom bundle, whose roots' CT status we cannot know."""
    return not trust_bundle if require_ct is None else require_ct


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
    revocation: RevocationChecker | None = None,
) -> Evaluation:
    """Judge the chain a server sent (leaf first, as sent) for a client that asked for `host`.

    `trusted`: the chain as sent validates for `host` against `store` at `at` (WebPKI profile), and
    nothing in it is one phones refuse (weak keys and signatures, Apple's validity and CT rules).
    """
    if not presented:
        raise ValueError("the server sent no certificate")
    at = at or dt.datetime.now(dt.UTC)
    policy = policy or Policy()
    leaf = presented[0]
    verified_path, validation_error = _validate(presented, host, store, at)
    trusted = bool(verified_path)
    walk = _walk(presented, store, find_missing_issuer, _links(verified_path))

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
    findings += _phone_rule_findings(leaf, walk, policy)
    findings += _presentation_findings(presented, walk)
    # Only a chain anchored in the trust store: a private CA's responder is not what phones ask.
    if revocation is not None and walk.anchored and len(walk.path) > 1:
        findings += revocation_findings(revocation, leaf, walk.path[1])
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
) -> tuple[list[x509.Certificate], str]:
    """(the validated path, leaf first, or [] when validation fails; why it failed)."""
    address = certificates.host_as_ip(host)
    try:
        subject = x509.IPAddress(address) if address is not None else x509.DNSName(host)
        verifier = PolicyBuilder().store(store.store).time(at).build_server_verifier(subject)
        return verifier.verify(presented[0], presented[1:]), ""
    except (VerificationError, ValueError) as error:
        return [], str(error)


def _links(path: list[x509.Certificate]) -> frozenset[tuple[x509.Certificate, x509.Certificate]]:
    """(certificate, its issuer) for every link of a path that path validation built, and so verified: the
    walk need not verify those signatures a second time."""
    return frozenset(itertools.pairwise(path))


def _walk(
    presented: list[x509.Certificate],
    store: TrustStore,
    find_missing_issuer: IssuerLookup | None,
    verified: frozenset[tuple[x509.Certificate, x509.Certificate]] = frozenset(),
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
        issuer = _first_issuer(current, sent, path, verified)
        if issuer is None and find_missing_issuer is not None:
            issuer = _first_issuer(current, find_missing_issuer(current), path, verified)
            if issuer is not None:
                added.append(issuer)
        if issuer is None:
            return _Walk(path, False, added, current)
        path.append(issuer)
    return _Walk(path, False, added, None)


def _first_issuer(
    cert: x509.Certificate,
    candidates: list[x509.Certificate],
    path: list[x509.Certificate],
    verified: frozenset[tuple[x509.Certificate, x509.Certificate]],
) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate not in path and (
            (cert, candidate) in verified or certificates.signed_by(cert, candidate)
        ):
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


def _phone_rule_findings(leaf: x509.Certificate, walk: _Walk, policy: Policy) -> list[Finding]:
    """Apple's limits on the leaf's validity period and its Certificate Transparency (docs/phone-rules.md).

    "Publicly trusted" is read as: the issuing walk ends in the trust store."""
    findings = _validity_period_findings(leaf, walk.anchored)
    if policy.require_ct and walk.anchored and certificates.not_before(leaf) >= CT_REQUIRED_FROM:
        findings += _ct_findings(leaf)
    return findings


def _validity_period_findings(leaf: x509.Certificate, anchored: bool) -> list[Finding]:
    days = certificates.validity_days(leaf)
    limit, since = _validity_limit(leaf, anchored)
    if limit is None or days <= limit:
        return []
    return [
        finding(
            "VALIDITY_TOO_LONG",
            f"The certificate {certificates.label(leaf)} is valid for {days} days "
            f"({certificates.not_before(leaf):%Y-%m-%d} to {certificates.not_after(leaf):%Y-%m-%d}); "
            f"Apple devices accept at most {limit} days for a certificate issued on or after {since}.",
        )
    ]


def _ct_findings(leaf: x509.Certificate) -> list[Finding]:
    log_ids = certificates.embedded_sct_log_ids(leaf)
    distinct, required = len(set(log_ids)), _required_sct_logs(leaf)
    if distinct >= required:
        return []
    return [
        finding(
            "CT_MISSING",
            f"The certificate {certificates.label(leaf)} embeds {len(log_ids)} SCT(s) from {distinct} distinct "
            f"Certificate Transparency log(s); Apple requires SCTs from {required} distinct logs for a "
            f"certificate valid for {certificates.validity_days(leaf)} days (SCTs are counted, not verified).",
        )
    ]


def _validity_limit(leaf: x509.Certificate, anchored: bool) -> tuple[int | None, str]:
    """The most days Apple allows the leaf, and since when; None when no limit applies to it."""
    issued = certificates.not_before(leaf)
    if anchored and issued >= MAX_398_DAYS_FROM:
        return 398, f"{MAX_398_DAYS_FROM:%Y-%m-%d} under a root of the trust store"
    if issued >= MAX_825_DAYS_FROM:
        return 825, f"{MAX_825_DAYS_FROM:%Y-%m-%d} by any CA"
    return None, ""


def _required_sct_logs(leaf: x509.Certificate) -> int:
    """Apple's number of embedded SCTs from distinct logs for the leaf's lifetime (support.apple.com 103214)."""
    issued, expires = certificates.not_before(leaf), certificates.not_after(leaf)
    if issued >= CT_TABLE_IN_DAYS_FROM:
        return 2 if certificates.validity_days(leaf) <= 180 else 3
    # The earlier table: under 15 months 2, under 27 months 3, under 39 months 4, else 5.
    return 2 + sum(1 for months in (15, 27, 39) if expires >= _months_later(issued, months))


def _months_later(start: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months later (the month's last day when it is shorter)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


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
