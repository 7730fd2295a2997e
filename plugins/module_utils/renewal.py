# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a host's certificate due for renewal? Decided from what its endpoints serve (the `mfa_tls` fact).

A served leaf is due when less than `remaining_percentage` of its lifetime remains (Let's Encrypt's advice:
renew with a third left), when less than `min_days` remain, when the CA's ARI window (RFC 9773) has been
reached, or when an endpoint serving it has a finding that a new certificate fixes (a private CA, a name
it does not cover, an expired or revoked leaf ...). A renewal replaces every binding that serves a due
leaf, so that bindings sharing a certificate keep sharing one.

ARI: RFC 9773 section 4.2 asks the client to pick a random time in the suggested window. The point here
is derived from the certificate's thumbprint, so that daily runs agree with one another (a run twice in a
row decides the same) while the certificates of a fleet still spread over the window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

# Findings a new certificate from a public CA fixes; other findings (HTTP_NOT_FOUND, LEGACY_TLS_ENABLED...)
# do not make a renewal due, or a daily run would order a certificate every day without fixing them.
CERTIFICATE_CODES = frozenset(
    {
        "PRIVATE_CA",
        "SELF_SIGNED",
        "INCOMPLETE_CHAIN",
        "HOSTNAME_MISMATCH",
        "EXPIRED",
        "NOT_YET_VALID",
        "WEAK_SIGNATURE",
        "WEAK_KEY",
        "NO_SERVER_AUTH",
        "VALIDITY_TOO_LONG",
        "CT_MISSING",
        "REVOKED",
        "UNTRUSTED",
        "CERTIFICATE_MISSING",
        "NO_HTTP_SYS_ENTRY",
    }
)

RENEWAL_OPTIONS = {
    "review": {"type": "dict", "required": True},
    "remaining_percentage": {"type": "float", "default": 33.0},
    "min_days": {"type": "float", "default": 7.0},
    "ari_windows": {"type": "dict", "default": {}},
    "now": {"type": "str"},
}


class RenewalError(ValueError):
    pass


@dataclass(frozen=True)
class Leaf:
    thumbprint: str
    not_before: dt.datetime
    not_after: dt.datetime


def parse_time(value: str) -> dt.datetime:
    """ISO 8601 as the probe and ARI give it (`Z` or an offset); naive times are UTC."""
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def threshold(leaf: Leaf, remaining_percentage: float, min_days: float) -> dt.datetime:
    """The moment from which the dates alone make the leaf due: the earlier of the two rules."""
    lifetime = leaf.not_after - leaf.not_before
    by_share = leaf.not_after - lifetime * (remaining_percentage / 100.0)
    by_days = leaf.not_after - dt.timedelta(days=min_days)
    return min(by_share, by_days)


def ari_point(thumbprint: str, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A fixed point of the ARI window for this certificate (see the module docstring)."""
    if end <= start:
        return start
    fraction = int(hashlib.sha256(thumbprint.upper().encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return start + (end - start) * fraction


def _served_leaf(endpoint: dict) -> Leaf | None:
    chain = (endpoint.get("phone") or {}).get("presented_chain") or []
    if not chain:
        return None
    first = chain[0]
    return Leaf(str(first["sha1"]).upper(), parse_time(first["not_before"]), parse_time(first["not_after"]))


def in_scope(endpoints: list[dict]) -> list[dict]:
    """The endpoints that serve MFA components, and every endpoint serving the same certificate; all of them
    on a host that serves no MFA component. Central Certificate Store bindings are never ours to renew."""
    own = [e for e in endpoints if not e.get("ccs")]
    mfa = [e for e in own if e.get("component")]
    if not mfa:
        return own
    thumbprints = {_served_thumbprint(e) for e in mfa} - {""}
    return [e for e in own if e.get("component") or _served_thumbprint(e) in thumbprints]


def _served_thumbprint(endpoint: dict) -> str:
    leaf = _served_leaf(endpoint)
    return leaf.thumbprint if leaf else ""


def _window(ari_windows: dict, thumbprint: str) -> tuple[dt.datetime, dt.datetime] | None:
    for key, window in (ari_windows or {}).items():
        if key.upper() == thumbprint and window:
            try:
                return parse_time(window["start"]), parse_time(window["end"])
            except (KeyError, TypeError, ValueError) as error:
                raise RenewalError(
                    f"ari_windows[{key}] must be {{start, end}} in ISO 8601, as the CA's suggestedWindow: {error}"
                ) from error
    return None


def _leaf_verdict(
    leaf: Leaf, codes: set[str], options: dict, now: dt.datetime
) -> tuple[list[str], dt.datetime]:
    """(reasons it is due now, the moment it will be due) for one served leaf."""
    reasons = []
    fixed_by_certificate = sorted(codes & CERTIFICATE_CODES)
    if fixed_by_certificate:
        reasons.append(f"its endpoints report {', '.join(fixed_by_certificate)}")
    lifetime = leaf.not_after - leaf.not_before
    left = leaf.not_after - now
    share_left = 100.0 * left / lifetime if lifetime.total_seconds() > 0 else 0.0
    if share_left < options["remaining_percentage"]:
        reasons.append(
            f"{max(share_left, 0.0):.1f} % of its lifetime remains (renewal below {options['remaining_percentage']:g} %)"
        )
    if left < dt.timedelta(days=options["min_days"]):
        reasons.append(
            f"{left.total_seconds() / 86400:.1f} days remain (renewal below {options['min_days']:g})"
        )
    due_at = threshold(leaf, options["remaining_percentage"], options["min_days"])
    window = _window(options.get("ari_windows") or {}, leaf.thumbprint)
    if window:
        point = ari_point(leaf.thumbprint, *window)
        if now >= point:
            reasons.append(f"the CA's renewal window (ARI) opened on {window[0].isoformat()}")
        due_at = min(due_at, point)
    return reasons, due_at


def decide(review: dict, options: dict, now: dt.datetime | None = None) -> dict:
    """The renewal verdict of one host from its `mfa_tls` fact; see RENEWAL_OPTIONS for `options`."""
    if not isinstance(review.get("endpoints"), list):
        raise RenewalError(
            "review must be the host's mfa_tls fact (mfa_server.tls.tls_facts, the discover role): it has no endpoints"
        )
    if not 0 < options["remaining_percentage"] <= 100 or options["min_days"] < 0:
        raise RenewalError(
            "remaining_percentage must be in (0, 100] and min_days at least 0 "
            "(mfa_tls_renew_remaining_percentage, mfa_tls_renew_min_days)"
        )
    now = now or (parse_time(options["now"]) if options.get("now") else dt.datetime.now(dt.UTC))
    endpoints = in_scope(review["endpoints"])
    leaves: dict[str, dict] = {}
    due_bindings: list[dict] = []
    unserved: list[str] = []
    for endpoint in endpoints:
        leaf = _served_leaf(endpoint)
        if leaf is None:
            unserved.append(endpoint.get("url") or endpoint.get("binding_information", ""))
            due_bindings.append(_binding(endpoint))
            continue
        entry = leaves.setdefault(leaf.thumbprint, {"leaf": leaf, "codes": set(), "endpoints": []})
        entry["codes"].update(endpoint.get("codes") or [])
        entry["endpoints"].append(endpoint)
    certificates = []
    for thumbprint, entry in leaves.items():
        reasons, due_at = _leaf_verdict(entry["leaf"], entry["codes"], options, now)
        certificates.append(
            {
                "thumbprint": thumbprint,
                "not_before": entry["leaf"].not_before.isoformat(),
                "not_after": entry["leaf"].not_after.isoformat(),
                "due": bool(reasons),
                "reasons": reasons,
                "renew_on": due_at.date().isoformat(),
                "urls": sorted({e.get("url", "") for e in entry["endpoints"]}),
            }
        )
        if reasons:
            due_bindings += [_binding(e) for e in entry["endpoints"]]
    return _verdict(certificates, _unique(due_bindings), unserved, now)


def _binding(endpoint: dict) -> dict:
    return {"site": endpoint["site"], "binding_information": endpoint["binding_information"]}


def _unique(bindings: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for binding in bindings:
        key = (binding["site"].lower(), binding["binding_information"].lower())
        if key not in seen:
            seen.add(key)
            unique.append(binding)
    return unique


def _verdict(certificates: list[dict], bindings: list[dict], unserved: list[str], now: dt.datetime) -> dict:
    due = bool(bindings)
    upcoming = [c["renew_on"] for c in certificates]
    renew_on = now.date().isoformat() if due else (min(upcoming) if upcoming else None)
    if unserved:
        message = f"due: no certificate is served at {', '.join(unserved)}"
    elif due:
        message = "due: " + "; ".join(
            f"{c['thumbprint']} (until {c['not_after'][:10]}): {', '.join(c['reasons'])}"
            for c in certificates
            if c["due"]
        )
    elif renew_on:
        first = min(certificates, key=lambda c: c["renew_on"])
        message = (
            f"not due: the next renewal is due on {renew_on} "
            f"({first['thumbprint']}, valid until {first['not_after'][:10]}, served at {len(first['urls'])} endpoints)"
        )
    else:
        message = "not due: the host serves no endpoint in scope"
    return {
        "due": due,
        "renew_on": renew_on,
        "bindings": bindings,
        "certificates": certificates,
        "msg": message,
    }
