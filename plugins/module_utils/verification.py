# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Verification by regression: was a certificate change right, judged against each endpoint's verdict before it.

A change of certificate can fix only what a certificate causes. So, for every endpoint the change touched:

- every certificate finding (renewal.CERTIFICATE_CODES: a private CA, a missing intermediate, a name not
  covered ...) must be gone: the new certificate is served and phones accept it;
- an error finding that is not about the certificate and that the endpoint already had before the change (an
  HTTP 404 on a component that answered 404 before: MFA 8.0's leftover Mobile App application) is not the
  change's doing: the change stands and the finding is reported as a problem that remains;
- any other error finding is one the change introduced, and the change is rolled back;
- an endpoint that sent no certificate at all cannot show that the change is right: rolled back too.
"""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils.findings import ERROR
from ansible_collections.mfa_server.tls.plugins.module_utils.renewal import CERTIFICATE_CODES


class BaselineError(ValueError):
    """The baseline does not match the targets; the message says how."""


def check_baseline(baseline: list[dict], urls: list[str]) -> None:
    """One baseline entry per target, in the same order, for the same URL: a plan's pair of lists mixed up
    would otherwise judge one endpoint by another's past."""
    if len(baseline) != len(urls):
        raise BaselineError(
            f"baseline has {len(baseline)} entries for {len(urls)} targets; give one per target, in the order of "
            "targets (remediation_plan returns both as verify_targets and verify_baseline)."
        )
    for position, (entry, url) in enumerate(zip(baseline, urls, strict=True)):
        if entry.get("url") and entry["url"] != url:
            raise BaselineError(
                f"baseline entry {position + 1} is for {entry['url']}, but target {position + 1} is {url}; give them "
                "in the same order."
            )


def regression(result: dict, codes_before: list[str]) -> dict:
    """How one probe result compares with the codes its target had before the change: the certificate
    findings left, the error findings the change introduced, those that remain as they were, and whether the
    change regressed (either of the first two, or no certificate seen)."""
    before = set(codes_before or [])
    errors = sorted({f["code"] for f in result["findings"] if f["severity"] == ERROR})
    certificate = [code for code in errors if code in CERTIFICATE_CODES]
    others = [code for code in errors if code not in CERTIFICATE_CODES]
    remaining = [code for code in others if code in before]
    introduced = [code for code in others if code not in before]
    no_certificate = not result.get("presented_chain")
    return {
        "codes_before": sorted(before),
        "certificate_findings": certificate,
        "introduced": introduced,
        "remaining": remaining,
        "regressed": bool(certificate or introduced or no_certificate),
    }


def regression_message(results: list[dict]) -> str:
    """One line per regressed target: what is wrong now, and what the change introduced."""
    lines = []
    for result in results:
        verdict = result.get("regression") or {}
        if not verdict.get("regressed"):
            continue
        bad = set(verdict["certificate_findings"]) | set(verdict["introduced"])
        errors = " ".join(f"{f['code']}: {f['message']}" for f in result["findings"] if f["code"] in bad)
        if not result.get("presented_chain") and not errors:
            errors = "no certificate was sent."
        lines.append(f"{result['url']}: {errors}")
    return "the change did not verify as a phone sees it: " + "; ".join(lines)


def remaining_warnings(results: list[dict]) -> list[str]:
    """One warning per target whose problems the change did not cause and did not fix (they stay)."""
    warnings = []
    for result in results:
        verdict = result.get("regression") or {}
        if verdict.get("regressed") or not verdict.get("remaining"):
            continue
        messages = " ".join(f["message"] for f in result["findings"] if f["code"] in verdict["remaining"])
        warnings.append(
            f"Remaining after the change, as before it (not caused by the certificate, so the change stays): "
            f"{result['url']}: {', '.join(verdict['remaining'])}. {messages}"
        )
    return warnings
