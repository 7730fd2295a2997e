# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which bindings a remediation changes, from a host's review (see host_review).

By default: the bindings of the review's scope (scope.remediation_selection: with mfa_tls_scope `mfa`, the
bindings that serve MFA components and every binding that uses one of their certificates) that fail, and
every in-scope binding using the certificate of a failing MFA binding (win-acme updated only the first of
several sites sharing a certificate); waived and out-of-scope bindings are not chosen. Narrowed by site names,
or replaced by an explicit list of bindings.

A binding is left alone, with the reason, when changing it would break or be impossible: it takes its
certificate from the Central Certificate Store; the new certificate does not name a name that really reaches
it (routing: its host name or the public name, or a name the MFA configuration calls it by that its current
certificate names: "the Mobile App Web Service calls it as https://mfa-sdk.corp.local/..."); no name the new
certificate names reaches it alone, so the change could not be verified; or it shares its HTTP.sys entry
with a binding that is not changed (one entry serves one certificate, so one cannot change without the
other: the "IP binding shared by several sites" trap). For an explicit binding each of these is an error
instead, reported before anything changes.

Each changed binding is verified through the names and addresses that reach it and no other binding, each
with its phone verdict before the change (`verify_baseline`), which the verification compares against
(verification.regression).
"""

from __future__ import annotations

import re

from ansible_collections.mfa_server.tls.plugins.module_utils import iis_bindings, routing, scope
from ansible_collections.mfa_server.tls.plugins.module_utils.certificates import dns_name_matches


class PlanError(ValueError):
    pass


# The options of a plan, one source for the remediation_plan action and tls_facts' `plan` option.
PLAN_OPTIONS = {
    "thumbprint": {"type": "str", "required": True},
    "subject_alt_names": {"type": "list", "elements": "str"},
    "sites": {"type": "list", "elements": "str"},
    "bindings": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "site": {"type": "str", "required": True},
            "binding_information": {"type": "str", "required": True},
        },
    },
}


def plan_from_options(review: dict, options: dict) -> dict:
    """The plan for validated PLAN_OPTIONS, as the result of a task: the plan, whether it changes
    anything, and a warning per binding left alone."""
    if not (options["thumbprint"] or "").strip():
        raise PlanError(
            "No new certificate to plan with: the remediate role's preflight entry point checks it and sets "
            "mfa_tls_replacement. Run it first, in a play of its own for every host (playbooks/remediate.yml "
            "does), then the main entry point."
        )
    plan = plan_change(
        review,
        options["thumbprint"],
        options.get("subject_alt_names"),
        split_names(options["sites"]),
        options["bindings"],
    )
    warnings = [
        f"Left as it is: binding '{s['binding_information']}' of site '{s['site']}': {s['reason']}."
        for s in plan["left_alone"]
    ]
    return {"plan": plan, "changed": bool(plan["bindings"]), "warnings": warnings}


# IIS Manager refuses a comma in a site name, as it refuses ? : @ & = / \ < > " * | (blogs.iis.net, "Why does
# the IIS7 UI limit certain characters?"), and a name holds no line break: neither separator belongs to a name.
_NAME_SEPARATORS = re.compile(r"[,\r\n]")


def split_names(values: list[str] | str | None) -> list[str]:
    """Site names as people type them. An AWX survey's text field gives one string, "Portal, Default Web
    Site", which Ansible's `type: list` splits at the commas without trimming; a textarea gives one name per
    line. Each item is split at commas and line breaks and trimmed; empty items and repeats are dropped, the
    order is kept. The one place the remediate role's list of sites is read (the plan), so every caller
    (tls_facts' `plan`, remediation_plan) accepts the same forms."""
    items = [values] if isinstance(values, str) else values or []
    names = (name.strip() for item in items for name in _NAME_SEPARATORS.split(str(item)))
    return list(dict.fromkeys(name for name in names if name))


def plan_change(
    review: dict,
    new_thumbprint: str,
    subject_alt_names: list[str] | None = None,
    sites: list[str] | None = None,
    bindings: list[dict] | None = None,
) -> dict:
    """The plan as the remediate role uses it: bindings to change, bindings left alone and why,
    endpoints to verify, how to roll back, and the diff."""
    new_thumbprint = new_thumbprint.replace(" ", "").upper()
    by_binding = _endpoints_by_binding(review)
    _check_requested(by_binding, sites, bindings)
    explicit = bool(bindings)
    candidates = (
        {(b["site"], b["binding_information"]) for b in bindings}
        if explicit
        else _default_selection(by_binding)
    )
    if sites:
        candidates = {key for key in candidates if key[0] in sites}

    left_alone: list[dict] = []

    def covers(name: str) -> bool:
        return _covers(subject_alt_names, name)

    def leave(key: tuple[str, str], reason: str) -> None:
        if explicit:
            raise PlanError(
                f"Binding '{key[1]}' of site '{key[0]}' cannot be changed: {reason}. Fix mfa_tls_bindings."
            )
        left_alone.append({"site": key[0], "binding_information": key[1], "reason": reason})

    selected = []
    for key, endpoints in by_binding.items():  # IIS order
        first = endpoints[0]
        if key not in candidates or first["certificate"]["thumbprint"] == new_thumbprint:
            continue
        # The names that really reach it (routing): those its callers would lose, and those a verification may use.
        left_out = routing.names_left_out(endpoints, covers)
        verifiable = routing.verification_endpoints(endpoints, covers)
        codes = {f["code"] for e in endpoints for f in e.get("server_side", {}).get("findings") or []}
        if first["ccs"]:
            leave(key, "it takes its certificate from the Central Certificate Store")
        elif "OVERRIDDEN_BY_HIDDEN_ENTRY" in codes:
            leave(
                key,
                "a hidden HTTP.sys entry with no IIS binding serves its connections to one address instead "
                "(netsh http show sslcert); delete that entry first",
            )
        elif "FOREIGN_APP_ID" in codes:
            leave(key, f"its HTTP.sys entry {first.get('http_sys_key')} is owned by another program, not IIS")
        elif left_out:
            leave(key, "; ".join(left_out))
        elif not verifiable:
            leave(
                key,
                "no name the new certificate names reaches it alone (every one lands on another binding or "
                "another HTTP.sys entry), so a change could not be verified",
            )
        else:
            selected.append(key)
    selected = _whole_http_sys_entries(by_binding, selected, new_thumbprint, leave)

    planned = [(key, by_binding[key][0]["certificate"]) for key in selected]
    verify = [e for key in selected for e in routing.verification_endpoints(by_binding[key], covers)]
    planned_keys = list(dict.fromkeys(by_binding[key][0]["http_sys_key"] for key in selected))
    entries = review.get("http_sys_entries") or []
    return {
        "bindings": [
            {"site": site, "binding_information": information} for (site, information), _endpoint in planned
        ],
        "left_alone": left_alone,
        # Each through a name and address that reach its binding alone (routing), as the review probed it.
        "verify_targets": [
            {
                "url": e["url"],
                "address": e["address"],
                "check_http_status": e["component"] is not None,
                "send_name": (e.get("routing") or {}).get("name", e["public_name"]) is not None,
            }
            for e in verify
        ],
        # Each target's phone verdict before the change: verification by regression (tls_probe `baseline`).
        "verify_baseline": [
            {"url": e["url"], "codes": sorted({f["code"] for f in e.get("phone", {}).get("findings") or []})}
            for e in verify
        ],
        # What each verify target served before: after a rollback it must serve it again.
        "previous_thumbprints": [e["certificate"]["thumbprint"] for e in verify],
        # The undo: every planned HTTP.sys entry exactly as discovery read it (iis_binding_certificate restore).
        "rollback": [iis_bindings.snapshot_of(entries, key) for key in planned_keys],
        "diff": {
            "before": "".join(f"{s} {i}: {c['thumbprint'] or 'none'}\n" for (s, i), c in planned),
            "after": "".join(f"{s} {i}: {new_thumbprint}\n" for (s, i), _endpoint in planned),
        },
    }


def _endpoints_by_binding(review: dict) -> dict[tuple[str, str], list[dict]]:
    by_binding: dict[tuple[str, str], list[dict]] = {}
    for endpoint in review.get("endpoints") or []:
        by_binding.setdefault((endpoint["site"], endpoint["binding_information"]), []).append(endpoint)
    return by_binding


def _default_selection(by_binding: dict) -> set[tuple[str, str]]:
    # The scope's own set (mfa_tls_scope, include/exclude, waivers), so that what compliance fails is what
    # remediation changes.
    return scope.remediation_selection(by_binding)


def _covers(subject_alt_names: list[str] | None, public_name: str) -> bool:
    return subject_alt_names is None or any(dns_name_matches(name, public_name) for name in subject_alt_names)


def _whole_http_sys_entries(by_binding: dict, selected: list, new_thumbprint: str, leave) -> list:
    """Drops selected bindings whose HTTP.sys entry also serves a binding that stays as it is."""
    by_entry: dict[str, list[tuple[str, str]]] = {}
    for key, endpoints in by_binding.items():
        served = _served_key(endpoints[0])
        if served:
            by_entry.setdefault(served, []).append(key)
    kept = list(selected)
    changed = True
    while changed:  # dropping one binding can strand another that shares its entry
        changed = False
        for key in list(kept):
            entry = _served_key(by_binding[key][0])
            staying = [
                other
                for other in by_entry.get(entry, [])
                if other not in kept and by_binding[other][0]["certificate"]["thumbprint"] != new_thumbprint
            ]
            if staying:
                names = ", ".join(f"'{i}' of site '{s}'" for s, i in staying)
                leave(key, f"it shares the HTTP.sys entry {entry} with {names}, which stays as it is")
                kept.remove(key)
                changed = True
    return kept


def _served_key(endpoint: dict) -> str:
    """The entry that serves a binding: its own, or the one HTTP.sys falls back to when it has none."""
    return (endpoint.get("served_by") or endpoint.get("http_sys_key") or "").lower()


def _check_requested(by_binding: dict, sites: list[str] | None, bindings: list[dict] | None) -> None:
    """Names that match nothing are mistakes: say so before anything changes."""
    known_sites = {site for site, _information in by_binding}
    for site in sites or []:
        if site not in known_sites:
            raise PlanError(
                f"Site '{site}' has no HTTPS binding on this host (sites with one: {', '.join(sorted(known_sites)) or 'none'}). "
                "Fix mfa_tls_sites."
            )
    for binding in bindings or []:
        key = (binding.get("site"), binding.get("binding_information"))
        if key not in by_binding:
            known = ", ".join(f"'{i}' of site '{s}'" for s, i in by_binding)
            raise PlanError(
                f"No HTTPS binding '{key[1]}' on site '{key[0]}' (HTTPS bindings: {known or 'none'}). Fix mfa_tls_bindings."
            )
