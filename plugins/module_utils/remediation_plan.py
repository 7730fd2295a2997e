# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which bindings a remediation changes, from a host's review (see host_review).

By default: the bindings that serve MFA components and are not compliant, and every other binding
that uses one of their certificates (win-acme updated only the first of several sites sharing a
certificate). Narrowed by site names, or replaced by an explicit list of bindings.

A binding is left alone, with the reason, when changing it would break or be impossible: it takes its
certificate from the Central Certificate Store; the new certificate does not name its public name; or it
shares its HTTP.sys entry with a binding that is not changed (one entry serves one certificate, so one
cannot change without the other: the "IP binding shared by several sites" trap). For an explicit
binding each of these is an error instead, reported before anything changes.
"""

from __future__ import annotations

import re

from ansible_collections.mfa_server.tls.plugins.module_utils import iis_bindings
from ansible_collections.mfa_server.tls.plugins.module_utils.certificates import dns_name_matches


class PlanError(ValueError):
    pass


# The options of a plan, one source for the remediation_plan action and tls_facts' `plan` option.
PLAN_OPTIONS = {
    "thumbprint": {"type": "str", "required": True},
    "subject_alt_names": {"type": "list", "elements": "str"},
    "sites": {"type": "list", "elements": "str", "default": []},
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
        uncovered = sorted(
            {e["public_name"] for e in endpoints if not _covers(subject_alt_names, e["public_name"])}
        )
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
        elif uncovered:
            leave(key, f"the new certificate does not name {', '.join(uncovered)}")
        else:
            selected.append(key)
    selected = _whole_http_sys_entries(by_binding, selected, new_thumbprint, leave)

    planned = [(key, by_binding[key][0]["certificate"]) for key in selected]
    verify = [e for key in selected for e in by_binding[key]]
    planned_keys = list(dict.fromkeys(by_binding[key][0]["http_sys_key"] for key in selected))
    entries = review.get("http_sys_entries") or []
    return {
        "bindings": [
            {"site": site, "binding_information": information} for (site, information), _endpoint in planned
        ],
        "left_alone": left_alone,
        "verify_targets": [
            {"url": e["url"], "address": e["address"], "check_http_status": e["component"] is not None}
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
    mfa = {
        key
        for key, endpoints in by_binding.items()
        if any(e["component"] and not e["compliant"] for e in endpoints)
    }
    bad_certificates = {by_binding[key][0]["certificate"]["thumbprint"] for key in mfa} - {""}
    return mfa | {
        key
        for key, endpoints in by_binding.items()
        if endpoints[0]["certificate"]["thumbprint"] in bad_certificates
    }


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
