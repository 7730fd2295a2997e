# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone's-eye probe: handshake, HTTP status and trust verdict for many endpoints at once."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates, tls_client
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import Policy, evaluate_chain
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import Finding, finding, has_error
from ansible_collections.mfa_server.tls.plugins.module_utils.issuer_lookup import IssuerLookup
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore


@dataclass(frozen=True)
class ProbeSettings:
    store: TrustStore
    issuer_lookup: IssuerLookup
    policy: Policy
    timeout: float = 10.0
    concurrency: int = 16


def probe_all(targets: list[tls_client.Target], settings: ProbeSettings) -> list[dict]:
    """Results in the order of `targets`."""
    workers = max(1, min(settings.concurrency, len(targets)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda target: probe_one(target, settings), targets))


def probe_one(target: tls_client.Target, settings: ProbeSettings) -> dict:
    shake = tls_client.handshake(target, settings.timeout)
    findings: list[Finding] = []
    trusted = False
    chain = [certificates.load_der(der) for der in shake.chain_der]
    if shake.error:
        findings.append(finding("UNREACHABLE", f"{target.url}: {shake.error}."))
    elif not chain:
        findings.append(
            finding("UNREACHABLE", f"{target.url}: the server completed the handshake without a certificate.")
        )
    if shake.legacy_only:
        findings.append(
            finding(
                "LEGACY_TLS_ONLY",
                f"{target.url} answers only with {shake.tls_version}; no TLS 1.2 or 1.3 handshake is possible.",
            )
        )
    if chain:
        evaluation = evaluate_chain(
            chain,
            target.host,
            settings.store,
            at=dt.datetime.now(dt.UTC),
            policy=settings.policy,
            find_missing_issuer=settings.issuer_lookup,
        )
        # A phone cannot connect at all over legacy TLS, whatever the chain.
        trusted = evaluation.trusted and not shake.legacy_only
        findings += evaluation.findings
    if shake.http_status == 404 and target.check_http_status:
        findings.append(
            finding(
                "HTTP_NOT_FOUND",
                f"{target.url} answers HTTP 404: this is the app's 'The remote server returned an error: NotFound'.",
            )
        )
    return {
        "url": target.url,
        "host": target.host,
        "address": target.address,
        "tls_version": shake.tls_version,
        "http_status": shake.http_status,
        "http_error": shake.http_error,
        "presented_chain": [_chain_entry(cert) for cert in chain],
        "trusted": trusted,
        "compliant": not has_error(findings),
        "findings": [f.as_dict() for f in findings],
    }


def _chain_entry(cert) -> dict:
    described = certificates.describe(cert)
    return {key: described[key] for key in ("subject", "issuer", "sha1", "sha256", "not_before", "not_after")}
