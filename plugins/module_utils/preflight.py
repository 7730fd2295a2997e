# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether a replacement certificate will satisfy phones on every name it is to serve, before it is used."""

from __future__ import annotations

import datetime as dt

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import Policy, evaluate_chain
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import ERROR
from ansible_collections.mfa_server.tls.plugins.module_utils.pfx import Pfx
from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import RevocationChecker
from ansible_collections.mfa_server.tls.plugins.module_utils.trust_store import TrustStore


def replacement_problems(
    pfx: Pfx,
    public_names: list[str],
    store: TrustStore,
    min_days: int,
    at: dt.datetime | None = None,
    policy: Policy | None = None,
    revocation: RevocationChecker | None = None,
) -> list[str]:
    """Every reason the certificate must not be bound, judged on the chain IIS will send once the PFX's
    intermediates are imported (leaf first). Empty when it is fit for every name."""
    at = at or dt.datetime.now(dt.UTC)
    problems: list[str] = []
    chain = [pfx.leaf, *pfx.intermediates]
    for name in public_names:
        # One checker for every name: the leaf's revocation is looked up once (REVOKED is refused).
        evaluation = evaluate_chain(chain, name, store, at=at, policy=policy, revocation=revocation)
        for finding in evaluation.findings:
            if finding.severity == ERROR:
                problem = f"{finding.code}: {finding.message}"
                if problem not in problems:
                    problems.append(problem)
    remaining = certificates.not_after(pfx.leaf) - at
    if dt.timedelta(0) <= remaining < dt.timedelta(days=min_days):
        problems.append(
            f"TOO_SHORT: {certificates.label(pfx.leaf)} expires on {certificates.not_after(pfx.leaf):%Y-%m-%d}, "
            f"in {remaining.days} day(s); at least {min_days} day(s) of validity are required."
        )
    return problems


def describe_replacement(pfx: Pfx) -> dict:
    return {
        "thumbprint": certificates.sha1_thumbprint(pfx.leaf),
        "subject": pfx.leaf.subject.rfc4514_string(),
        "issuer": pfx.leaf.issuer.rfc4514_string(),
        "subject_alt_names": certificates.subject_alt_names(pfx.leaf),
        "not_after": certificates.not_after(pfx.leaf).isoformat(),
        "key": certificates.key_description(pfx.leaf),
        "intermediates": [
            {
                "thumbprint": certificates.sha1_thumbprint(c),
                "subject": c.subject.rfc4514_string(),
                "pem": certificates.pem(c),
            }
            for c in pfx.intermediates
        ],
    }
