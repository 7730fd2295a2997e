# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which bindings a remediation changes, from a host's review (see host_review).

By default: the bindings that serve MFA components and are not compliant, and every other binding
that uses one of their certificates (win-acme updated only the first of several sites sharing a
certificate). Narrowed by site names or explicit bindings. Bindings of the Central Certificate Store
are never selected (their certificate is a file share's, not a thumbprint's), nor bindings that
already carry the new certificate.
"""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils.certificates import dns_name_matches


class PlanError(ValueError):
    pass


def plan_bindings(
    review: dict,
    new_thumbprint: str,
    sites: list[str] | None = None,
    bindings: list[dict] | None = None,
) -> list[dict]:
    """The bindings to change, each `{site, binding_information, previous_thumbprint, previous_store_name}`,
    in IIS order."""
    new_thumbprint = new_thumbprint.replace(" ", "").upper()
    by_binding: dict[tuple[str, str], list[dict]] = {}
    for endpoint in review.get("endpoints") or []:
        by_binding.setdefault((endpoint["site"], endpoint["binding_information"]), []).append(endpoint)
    _check_requested(by_binding, sites, bindings)

    if bindings:
        selected = {(b["site"], b["binding_information"]) for b in bindings}
    else:
        mfa_bindings = {
            key
            for key, endpoints in by_binding.items()
            if any(e["component"] and not e["compliant"] for e in endpoints)
        }
        bad_certificates = {by_binding[key][0]["certificate"]["thumbprint"] for key in mfa_bindings} - {""}
        selected = mfa_bindings | {
            key
            for key, endpoints in by_binding.items()
            if endpoints[0]["certificate"]["thumbprint"] in bad_certificates
        }
    if sites:
        selected = {key for key in selected if key[0] in sites}

    plan = []
    for key, endpoints in by_binding.items():
        certificate = endpoints[0]["certificate"]
        if key not in selected or certificate["thumbprint"] == new_thumbprint or endpoints[0]["ccs"]:
            continue
        plan.append(
            {
                "site": key[0],
                "binding_information": key[1],
                "previous_thumbprint": certificate["thumbprint"],
                "previous_store_name": certificate["store_name"] or "My",
            }
        )
    return plan


def _check_requested(by_binding: dict, sites: list[str] | None, bindings: list[dict] | None) -> None:
    """Names that match nothing are mistakes: say so before anything changes."""
    known_sites = {site for site, _ in by_binding}
    for site in sites or []:
        if site not in known_sites:
            raise PlanError(
                f"Site '{site}' has no HTTPS binding on this host (sites with one: {', '.join(sorted(known_sites)) or 'none'}). "
                "Fix mfa_tls_sites."
            )
    for binding in bindings or []:
        key = (binding.get("site"), binding.get("binding_information"))
        if key not in by_binding:
            known = ", ".join(f"{s} {b}" for s, b in by_binding)
            raise PlanError(
                f"No HTTPS binding '{key[1]}' on site '{key[0]}' (HTTPS bindings: {known or 'none'}). Fix mfa_tls_bindings."
            )


def plan_change(
    review: dict,
    new_thumbprint: str,
    subject_alt_names: list[str] | None,
    sites: list[str] | None,
    bindings: list[dict] | None,
) -> dict:
    """The plan as the remediate role uses it: bindings to change, endpoints to verify, how to roll back."""
    new_thumbprint = new_thumbprint.replace(" ", "").upper()
    planned = plan_bindings(review, new_thumbprint, sites, bindings)
    keys = {(b["site"], b["binding_information"]) for b in planned}
    endpoints = [e for e in review.get("endpoints") or [] if (e["site"], e["binding_information"]) in keys]
    if subject_alt_names is not None:
        uncovered = sorted(
            {
                e["public_name"]
                for e in endpoints
                if not any(dns_name_matches(n, e["public_name"]) for n in subject_alt_names)
            }
        )
        if uncovered:
            raise PlanError(
                f"The new certificate ({new_thumbprint}) does not name {', '.join(uncovered)}, which the bindings "
                f"to change serve (it names {', '.join(subject_alt_names) or 'nothing'}). Use a certificate that "
                "covers every public name, or narrow the change with mfa_tls_sites / mfa_tls_bindings."
            )
    rollback: dict[tuple[str, str], list[dict]] = {}
    for binding in planned:
        if binding["previous_thumbprint"]:
            rollback.setdefault((binding["previous_thumbprint"], binding["previous_store_name"]), []).append(
                {"site": binding["site"], "binding_information": binding["binding_information"]}
            )
    return {
        "bindings": [{"site": b["site"], "binding_information": b["binding_information"]} for b in planned],
        "verify_targets": [{"url": e["url"], "address": e["address"]} for e in endpoints],
        # What each verify target served before: after a rollback it must serve it again.
        "previous_thumbprints": [e["certificate"]["thumbprint"] for e in endpoints],
        "rollback": [{"thumbprint": t, "store_name": s, "bindings": b} for (t, s), b in rollback.items()],
        "diff": {
            "before": "".join(
                f"{b['site']} {b['binding_information']}: {b['previous_thumbprint'] or 'none'}\n"
                for b in planned
            ),
            "after": "".join(f"{b['site']} {b['binding_information']}: {new_thumbprint}\n" for b in planned),
        },
    }
