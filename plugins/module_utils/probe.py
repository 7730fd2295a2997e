# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The phone's-eye probe: handshake, HTTP status and trust verdict for many endpoints at once."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ansible_collections.mfa_server.tls.plugins.module_utils import (
    certificates,
    option_specs,
    tls_client,
    trust_store,
    verification,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import (
    Policy,
    evaluate_chain,
    resolve_require_ct,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import Finding, finding, has_error
from ansible_collections.mfa_server.tls.plugins.module_utils.issuer_lookup import IssuerLookup
from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import RevocationChecker
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore

# tls_probe's, module and action plugin alike; every option and default is in option_specs.
ARGUMENT_SPEC = option_specs.TLS_PROBE


class ProbeInputError(ValueError):
    """A probe option is wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class ProbeSettings:
    store: TrustStore
    issuer_lookup: IssuerLookup
    policy: Policy
    # A ProbeSettings built by hand (the benchmarks) takes tls_probe's defaults.
    timeout: float = option_specs.PROBE["timeout"]["default"]
    concurrency: int = option_specs.SETTINGS["concurrency"]["default"]
    # One per run: its cache makes each certificate's revocation lookup happen once. None: not checked.
    revocation: RevocationChecker | None = None


def run_probe(params: dict) -> dict:
    """The tls_probe module's work, from its validated parameters to its result."""
    settings = settings_from(params)
    baseline = params.get("baseline")
    try:
        targets = [
            tls_client.parse_target(
                t["url"], t.get("address"), t["check_http_status"], t.get("send_name") is not False
            )
            for t in params["targets"]
        ]
        if baseline is not None:
            verification.check_baseline(baseline, [t.url for t in targets])
    except (tls_client.TargetError, verification.BaselineError) as error:
        raise ProbeInputError(str(error)) from error
    results = probe_all(targets, settings)
    result = {"changed": False, "compliant": all(r["compliant"] for r in results), "results": results}
    if baseline is not None:
        return result | _against_baseline(results, baseline, params.get("fail_when_noncompliant"))
    if params.get("fail_when_noncompliant") and not result["compliant"]:
        # The verdict itself fails the task: no second task on every host only to assert it.
        result |= {"failed": True, "msg": noncompliant_message(results)}
    return result


def _against_baseline(results: list[dict], baseline: list[dict], fail: bool | None) -> dict:
    """Each result judged against its target's codes before a change (verification.regression): the task
    fails on a regression, and what remains as it was is a warning."""
    for result, before in zip(results, baseline, strict=True):
        result["regression"] = verification.regression(result, before.get("codes") or [])
    regressed = any(r["regression"]["regressed"] for r in results)
    answer: dict = {"regressed": regressed}
    warnings = verification.remaining_warnings(results)
    if warnings:
        answer["warnings"] = warnings
    if fail and regressed:
        answer |= {"failed": True, "msg": verification.regression_message(results)}
    return answer


def noncompliant_message(results: list[dict]) -> str:
    """One line per endpoint that is not compliant, with its error findings."""
    lines = []
    for result in results:
        if result["compliant"]:
            continue
        errors = " ".join(
            f"{f['code']}: {f['message']}" for f in result["findings"] if f["severity"] == "error"
        )
        lines.append(f"{result['url']}: {errors}")
    return "not compliant as a phone sees it: " + "; ".join(lines)


def settings_from(params: dict) -> ProbeSettings:
    """Probe settings from options named as tls_probe names them; absent or null ones take the defaults of
    option_specs.SETTINGS."""
    options = option_specs.with_defaults(params, option_specs.SETTINGS)
    for name in ("timeout", "concurrency"):
        _require_positive(options, name)
    if options["expiry_warning_days"] < 0:
        raise ProbeInputError(f"expiry_warning_days must be 0 or more, got {options['expiry_warning_days']}.")
    store, require_ct = trust_from(options)
    extra = [cert for path in options["extra_intermediates"] for cert in _read_pem_file(path)]
    extra += [cert for pem in options["intermediates_pem"] for cert in _parse_pem(pem, "intermediates_pem")]
    return ProbeSettings(
        store=store,
        issuer_lookup=IssuerLookup(extra, options["fetch_aia"], options["timeout"]),
        policy=Policy(expiry_warning_days=options["expiry_warning_days"], require_ct=require_ct),
        timeout=options["timeout"],
        concurrency=options["concurrency"],
        revocation=revocation_from(options),
    )


def trust_from(params: dict) -> tuple[TrustStore, bool]:
    """The trust store and whether Certificate Transparency is required, from the options of
    option_specs.TRUST (certificate_preflight's as well as the probe's)."""
    options = option_specs.with_defaults(params, option_specs.TRUST)
    try:
        store = trust_store.load(options["trust_bundle"])
    except trust_store.TrustStoreError as error:
        raise ProbeInputError(str(error)) from error
    return store, resolve_require_ct(options["require_ct"], options["trust_bundle"])


def revocation_from(params: dict) -> RevocationChecker | None:
    """The revocation checker the options of option_specs.REVOCATION ask for, None when they turn it off."""
    options = option_specs.with_defaults(params, option_specs.REVOCATION)
    _require_positive(options, "revocation_timeout")  # also when off: a wrong value is a mistake either way
    return RevocationChecker(options["revocation_timeout"]) if options["check_revocation"] else None


def _require_positive(options: dict, name: str) -> None:
    if options[name] <= 0:
        raise ProbeInputError(f"{name} must be greater than 0, got {options[name]}.")


def _read_pem_file(path: str) -> list:
    try:
        with open(path, "rb") as handle:
            return _parse_pem(handle.read(), path)
    except OSError as error:
        raise ProbeInputError(f"Cannot read intermediates from {path}: {error.strerror}.") from error


def _parse_pem(data: str | bytes, source: str) -> list:
    try:
        return certificates.load_pem_bundle(data.encode() if isinstance(data, str) else data)
    except ValueError as error:
        raise ProbeInputError(f"{source} is not PEM certificates: {error}.") from error


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
    findings += _protocol_findings(target, shake)
    if chain:
        evaluation = evaluate_chain(
            chain,
            target.host,
            settings.store,
            at=dt.datetime.now(dt.UTC),
            policy=settings.policy,
            find_missing_issuer=settings.issuer_lookup,
            revocation=settings.revocation,
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
        "cipher": shake.cipher,
        "cipher_iana": shake.cipher_iana,
        "protocols": shake.protocols,
        "forward_secrecy": shake.forward_secrecy,
        "http_status": shake.http_status,
        "http_error": shake.http_error,
        "presented_chain": [certificates.describe(cert) for cert in chain],
        "trusted": trusted,
        "compliant": not has_error(findings),
        "findings": [f.as_dict() for f in findings],
    }


def _protocol_findings(target: tls_client.Target, shake: tls_client.Handshake) -> list[Finding]:
    """NO_FORWARD_SECRECY and LEGACY_TLS_ENABLED (a legacy-only server has LEGACY_TLS_ONLY instead)."""
    result = []
    if shake.forward_secrecy is False:
        if shake.legacy_only:
            why = f"it answers only with {', '.join(shake.protocols)}"
        else:
            suite = shake.cipher_iana or shake.cipher
            why = (
                f"TLS 1.3 is not accepted, TLS 1.2 negotiates {suite} and refuses a ClientHello offering only "
                "the ECDHE suites on the ATS list"
            )
        message = f"{target.url} offers no forward-secret handshake App Transport Security accepts: {why}."
        result.append(finding("NO_FORWARD_SECRECY", message))
    legacy = [v for v in shake.protocols if v in tls_client.LEGACY_VERSIONS]
    if legacy and not shake.legacy_only:
        modern = [v for v in shake.protocols if v not in tls_client.LEGACY_VERSIONS]
        result.append(
            finding(
                "LEGACY_TLS_ENABLED",
                f"{target.url} still accepts {' and '.join(legacy)} besides {' and '.join(modern)}; phones need only "
                "TLS 1.2 or 1.3.",
            )
        )
    return result
