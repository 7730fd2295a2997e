# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a host's verdict counts: one scope for facts, compliance and remediation.

"Compliant" must mean "remediation has nothing left to do", so the verdict and the remediation plan's default
selection read the same set of bindings, made by one function (mfa_bindings):

- scope `mfa` (the default): the bindings that serve an MFA web component, plus every binding that uses the
  same certificate as one of them (remediation replaces a certificate everywhere it is bound, as win-acme
  failed to);
- scope `all`: every HTTPS binding.

`include` adds sites or bindings to the scope, `exclude` takes them out (and wins). An endpoint out of scope is
still reported, marked `scope: "out"` with a `scope_reason`, and never fails. A waiver (`{host?, site,
binding?, codes?, reason, until}`) stops an in-scope endpoint's errors counting until the end of its `until`
day; once past, the endpoint fails with the error finding WAIVER_EXPIRED, which names the waiver's reason.
A waiver covers the error codes it lists (all when it lists none); an error it does not list still fails.

A host without MFA Server has its own verdict, `not_applicable`, and is compliant unless
`fail_when_not_applicable`. A Mobile App Web Service that phones need (MFA Server before 8.0: "Mobile App Web
Service must be accessible via a public URL" and "must be secured with an SSL certificate", azure-docs
`multi-factor-authentication-get-started-server-webservice.md`; from 8.0 activation goes without it, entra-docs
`howto-mfaserver-deploy-mobileapp.md`) with no HTTPS binding at all is the host finding
MFA_COMPONENT_WITHOUT_HTTPS, whatever the other endpoints say. The User Portal is reached by a browser, not by
the Authenticator app, so it is not held to that.

The fields written are those plugins/module_utils/reports.py reads (its module docstring).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ansible_collections.mfa_server.tls.plugins.module_utils.findings import CATALOGUE, ERROR, finding

SCOPES = ("mfa", "all")
NOT_INSTALLED = "not applicable: MFA Server is not installed"
OUT_OF_MFA_SCOPE = "serves no MFA web component and shares no certificate with one (mfa_tls_scope: mfa)"
EXCLUDED = "excluded by mfa_tls_exclude"

# The options of tls_facts that set the scope (the discover, compliance and remediate roles pass their
# mfa_tls_scope, mfa_tls_include, mfa_tls_exclude, mfa_tls_waivers and mfa_tls_fail_when_not_applicable).
SCOPE_OPTIONS = {
    "scope": {"type": "str", "choices": list(SCOPES), "default": "mfa"},
    # Site names, or {site, binding}: `raw`, so that an AWX survey's "Portal, Intranet" arrives as text.
    "include": {"type": "list", "elements": "raw"},
    "exclude": {"type": "list", "elements": "raw"},
    "waivers": {"type": "list", "elements": "dict", "default": []},
    "fail_when_not_applicable": {"type": "bool", "default": False},
}


class ScopeError(ValueError):
    """A scope setting that cannot be used; the message names the variable and the entry."""


@dataclass(frozen=True)
class Selector:
    """A site, or one binding of it (`binding` None: every binding of the site)."""

    site: str
    binding: str | None = None

    def matches(self, site: str, binding: str) -> bool:
        # IIS compares site names and binding host names without regard to case.
        return self.site.casefold() == site.casefold() and (
            self.binding is None or self.binding.casefold() == binding.casefold()
        )


@dataclass(frozen=True)
class Waiver:
    selector: Selector
    reason: str
    until: dt.date  # the last day it holds
    codes: tuple[str, ...] = ()  # the error codes it covers; empty: every error

    def as_mark(self, expired: bool) -> dict:
        """The endpoint's `waiver` field, as the reports read it."""
        mark: dict = {"reason": self.reason, "until": self.until.isoformat()}
        if self.codes:
            mark["codes"] = list(self.codes)
        if expired:
            mark["expired"] = True
        return mark


@dataclass(frozen=True)
class ScopeSettings:
    scope: str = "mfa"
    include: tuple[Selector, ...] = ()
    exclude: tuple[Selector, ...] = ()
    waivers: tuple[Waiver, ...] = ()  # those for this host only
    fail_when_not_applicable: bool = False
    today: dt.date | None = None  # None: today in UTC, as the reports count days

    @property
    def date(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()


# ---------------------------------------------------------------------------------------------- settings


def settings_from(options: dict, host: str | None, today: dt.date | None = None) -> ScopeSettings:
    """ScopeSettings from validated SCOPE_OPTIONS (absent or null options take their defaults). Every waiver is
    checked, also those for other hosts, so that a mistake fails on every host and not only on the one it names.
    """
    scope = options.get("scope") or "mfa"
    if scope not in SCOPES:
        raise ScopeError(f"mfa_tls_scope is '{scope}'; it must be one of {', '.join(SCOPES)}.")
    waivers = [_waiver(entry, number) for number, entry in enumerate(options.get("waivers") or [], 1)]
    return ScopeSettings(
        scope=scope,
        include=_selectors(options.get("include"), "mfa_tls_include"),
        exclude=_selectors(options.get("exclude"), "mfa_tls_exclude"),
        waivers=tuple(w for w, for_host in waivers if for_host is None or _same_host(for_host, host)),
        fail_when_not_applicable=bool(options.get("fail_when_not_applicable")),
        today=today,
    )


def _same_host(wanted: str, host: str | None) -> bool:
    return host is not None and wanted.strip().casefold() == host.casefold()


def _selectors(values: list | str | None, variable: str) -> tuple[Selector, ...]:
    # remediation_plan imports this module, so its normaliser is imported here, when first needed.
    from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import split_names

    items = [values] if isinstance(values, str) else values or []
    result: list[Selector] = []
    for number, item in enumerate(items, 1):
        if isinstance(item, str):
            result += [Selector(name) for name in split_names(item)]
        elif isinstance(item, dict):
            site, binding = _site_and_binding(item, f"{variable} entry {number} ({_describe(item)})")
            result.append(Selector(site, binding))
        else:
            raise ScopeError(
                f"{variable} entry {number} ({item!r}) is neither a site name nor a mapping with 'site' "
                "(and optionally 'binding')."
            )
    return tuple(dict.fromkeys(result))


def _site_and_binding(item: dict, where: str) -> tuple[str, str | None]:
    site = item.get("site")
    if not isinstance(site, str) or not site.strip():
        raise ScopeError(f"{where}: 'site' is required, the IIS site name.")
    binding = item.get("binding", item.get("binding_information"))
    if binding is not None and (not isinstance(binding, str) or not binding.strip()):
        raise ScopeError(
            f"{where}: 'binding' must be the binding's information, e.g. '*:443:' or '*:443:name'."
        )
    return site.strip(), binding.strip() if binding is not None else None


_WAIVER_KEYS = {"host", "site", "binding", "binding_information", "codes", "reason", "until"}


def _waiver(entry: dict, number: int) -> tuple[Waiver, str | None]:
    """One entry of mfa_tls_waivers, checked, with the host it is for (None: every host)."""
    where = f"mfa_tls_waivers entry {number} ({_describe(entry)})"
    if not isinstance(entry, dict):
        raise ScopeError(f"{where} must be a mapping with site, reason and until.")
    unknown = sorted(set(entry) - _WAIVER_KEYS)
    if unknown:
        raise ScopeError(
            f"{where}: unknown key(s) {', '.join(unknown)}; a waiver has host, site, binding, codes, reason, until."
        )
    site, binding = _site_and_binding(entry, where)
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ScopeError(
            f"{where}: 'reason' is required: say why the exception is accepted and who tracks it."
        )
    host = entry.get("host")
    if host is not None and (not isinstance(host, str) or not host.strip()):
        raise ScopeError(f"{where}: 'host' must be an inventory host name.")
    return (
        Waiver(
            Selector(site, binding), reason.strip(), _until(entry.get("until"), where), _codes(entry, where)
        ),
        host,
    )


def _until(value: object, where: str) -> dt.date:
    # YAML reads an unquoted 2026-12-31 as a date, and -e '{"until": "2026-12-31"}' gives a string.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ScopeError(
        f"{where}: 'until' must be a date, YYYY-MM-DD (the last day the waiver holds), not {value!r}."
    )


def _codes(entry: dict, where: str) -> tuple[str, ...]:
    codes = entry.get("codes")
    if codes is None:
        return ()
    if isinstance(codes, str):
        codes = codes.replace("\n", ",").split(",")
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise ScopeError(f"{where}: 'codes' must be a list of finding codes, e.g. [PRIVATE_CA].")
    cleaned = [c.strip().upper() for c in codes if c.strip()]
    unknown = [c for c in cleaned if c not in CATALOGUE]
    if unknown:
        raise ScopeError(f"{where}: unknown finding code(s) {', '.join(unknown)} (the README lists them).")
    return tuple(dict.fromkeys(cleaned))


def _describe(entry: object) -> str:
    if isinstance(entry, dict):
        return ", ".join(f"{k}={entry[k]}" for k in ("host", "site", "binding", "until") if entry.get(k))
    return repr(entry)


# ---------------------------------------------------------------------------------------------- the set


def _key(endpoint: dict) -> tuple[str, str]:
    return endpoint["site"], endpoint["binding_information"]


def _thumbprint(endpoint: dict) -> str:
    return ((endpoint.get("certificate") or {}).get("thumbprint") or "").upper()


def mfa_bindings(endpoints: list[dict]) -> set[tuple[str, str]]:
    """The bindings of scope `mfa`: those serving an MFA web component, and every binding that uses the same
    certificate as one of them. The one definition of that set: the verdict's scope and the remediation plan's
    default selection both come from it."""
    serving = {_key(e) for e in endpoints if e.get("component")}
    certificates = {_thumbprint(e) for e in endpoints if _key(e) in serving} - {""}
    return serving | {_key(e) for e in endpoints if _thumbprint(e) in certificates}


def in_scope(endpoint: dict) -> bool:
    return (endpoint.get("scope") or "in") != "out"


def _error_codes(endpoint: dict) -> set[str]:
    found = (endpoint.get("server_side") or {}).get("findings", []) + (endpoint.get("phone") or {}).get(
        "findings", []
    )
    return {f["code"] for f in found if f.get("severity") == ERROR and f["code"] != "WAIVER_EXPIRED"}


def _uncovered(endpoint: dict) -> list[str]:
    """The errors of the endpoint its waiver does not cover."""
    codes = (endpoint.get("waiver") or {}).get("codes")
    return sorted(_error_codes(endpoint) - set(codes)) if codes else []


def waived(endpoint: dict) -> bool:
    """Whether the endpoint fails but a waiver that holds covers every error it has."""
    waiver = endpoint.get("waiver")
    return (
        bool(waiver)
        and not waiver.get("expired")
        and not endpoint.get("compliant")
        and not _uncovered(endpoint)
    )


def fails(endpoint: dict) -> bool:
    """Whether the endpoint counts against its host: in scope, not compliant, not waived."""
    return in_scope(endpoint) and not endpoint.get("compliant") and not waived(endpoint)


def remediation_selection(by_binding: dict[tuple[str, str], list[dict]]) -> set[tuple[str, str]]:
    """The bindings a remediation changes when none are named: every in-scope binding that fails, and every
    in-scope binding using the certificate of a failing binding that serves MFA (the certificate is replaced
    wherever it is bound). A review that carries no scope marks (one made without tls_facts) is taken as
    scope `mfa`."""
    default = mfa_bindings([e for group in by_binding.values() for e in group])
    scoped = {key for key, group in by_binding.items() if _binding_in_scope(key, group, default)}
    failing = {key for key in scoped if any(fails(e) for e in by_binding[key])}
    certificates = {
        _thumbprint(by_binding[key][0]) for key in failing if any(e.get("component") for e in by_binding[key])
    } - {""}
    return failing | {key for key in scoped if _thumbprint(by_binding[key][0]) in certificates}


def _binding_in_scope(key: tuple[str, str], group: list[dict], default: set[tuple[str, str]]) -> bool:
    if all("scope" in e for e in group):  # marked by apply(): the settings given to tls_facts decided
        return all(in_scope(e) for e in group)
    return key in default


# ---------------------------------------------------------------------------------------------- the marks


def apply(review: dict, mfa: dict, settings: ScopeSettings, host_errors: list[dict]) -> dict:
    """Marks the review's endpoints with `scope` and `waiver`, adds the host's own MFA findings, and sets its
    `compliant`, `problems` and (for a host without MFA Server) `not_applicable`. `host_errors` are the host's
    error findings that belong to no endpoint (each with `where`). Returns the review."""
    endpoints = review["endpoints"]
    if not mfa.get("installed"):
        for endpoint in endpoints:
            endpoint |= {"scope": "out", "scope_reason": NOT_INSTALLED}
        review["not_applicable"] = NOT_INSTALLED
        review["compliant"] = not settings.fail_when_not_applicable
        review["problems"] = (
            [] if review["compliant"] else [f"{NOT_INSTALLED} (mfa_tls_fail_when_not_applicable is true)"]
        )
        return review
    default = mfa_bindings(endpoints) if settings.scope == "mfa" else None
    for endpoint in endpoints:
        _mark(endpoint, settings, default)
    review["mfa_findings"] = list(review.get("mfa_findings") or []) + component_findings(mfa, settings)
    errors = [d for d in host_errors if _host_error_in_scope(d, settings, endpoints)]
    errors += [f for f in review["mfa_findings"] if f["severity"] == ERROR]
    review["compliant"] = not any(fails(e) for e in endpoints) and not errors
    review["problems"] = [_problem(e) for e in endpoints if fails(e)] + [
        f"{d['where']}: {d['code']}" for d in errors
    ]
    return review


def _mark(endpoint: dict, settings: ScopeSettings, default: set[tuple[str, str]] | None) -> None:
    site, binding = _key(endpoint)
    if any(s.matches(site, binding) for s in settings.exclude):
        endpoint |= {"scope": "out", "scope_reason": EXCLUDED}
        return
    if (
        default is not None
        and _key(endpoint) not in default
        and not any(s.matches(site, binding) for s in settings.include)
    ):
        endpoint |= {"scope": "out", "scope_reason": OUT_OF_MFA_SCOPE}
        return
    endpoint["scope"] = "in"
    waiver = _waiver_for(endpoint, settings)
    if waiver is None:
        return
    expired = waiver.until < settings.date
    # An expired waiver matters only where there is something to waive: a fixed endpoint passes whatever it says.
    needed = not endpoint.get("compliant")
    endpoint["waiver"] = waiver.as_mark(expired and needed)
    if expired and needed:
        expiry = finding(
            "WAIVER_EXPIRED",
            f"The waiver for '{binding}' of site '{site}' held until {waiver.until.isoformat()} and has expired "
            f"(its reason: {waiver.reason}); its errors count again: {', '.join(sorted(_error_codes(endpoint)))}.",
        ).as_dict()
        # The reports read an endpoint's why and fix from its two views; the waiver is judged on the controller.
        endpoint.setdefault("server_side", {}).setdefault("findings", []).append(expiry)
        endpoint["codes"] = sorted({*endpoint.get("codes", []), "WAIVER_EXPIRED"})


def _waiver_for(endpoint: dict, settings: ScopeSettings) -> Waiver | None:
    """The waiver for the endpoint's binding: one that holds, else the latest that ended."""
    site, binding = _key(endpoint)
    matching = [w for w in settings.waivers if w.selector.matches(site, binding)]
    return max(matching, key=lambda w: w.until, default=None)


def _problem(endpoint: dict) -> str:
    line = f"{endpoint['url']} ({endpoint['site']} {endpoint['binding_information']}): {', '.join(endpoint['codes'])}"
    waiver = endpoint.get("waiver")
    if waiver and waiver.get("expired"):
        return f"{line} (waiver expired on {waiver['until']}: {waiver['reason']})"
    if waiver and _uncovered(endpoint):
        return f"{line} (the waiver until {waiver['until']} does not cover {', '.join(_uncovered(endpoint))})"
    return line


def _host_error_in_scope(error: dict, settings: ScopeSettings, endpoints: list[dict]) -> bool:
    """A host error that names a binding ("<site> <binding>", e.g. BINDING_UNREADABLE) counts when its site is in
    scope: scope `all`, an included site, or a site with an in-scope endpoint; never when excluded."""
    where = str(error.get("where") or "")
    sites = (
        {e["site"] for e in endpoints}
        | {s.site for s in settings.include}
        | {s.site for s in settings.exclude}
    )
    site = next(
        (s for s in sorted(sites, key=len, reverse=True) if where.casefold().startswith(f"{s} ".casefold())),
        None,
    )
    if site is None:
        return True  # not about one binding of a known site: it counts
    binding = where[len(site) + 1 :]
    if any(s.matches(site, binding) for s in settings.exclude):
        return False
    return (
        settings.scope == "all"
        or any(s.matches(site, binding) for s in settings.include)
        or any(in_scope(e) and e["site"].casefold() == site.casefold() for e in endpoints)
    )


def component_findings(mfa: dict, settings: ScopeSettings) -> list[dict]:
    """MFA_COMPONENT_WITHOUT_HTTPS for each Mobile App Web Service that phones need and that no HTTPS binding
    serves. Excluding its site (mfa_tls_exclude) is how an administrator says HTTPS ends elsewhere (SSL offload,
    SSL_REQUIRED false in its web.config)."""
    result = []
    version = mfa.get("version") or "of an unknown version"
    for component in mfa.get("components") or []:
        if component.get("component") != "mobile_app_web_service" or component.get("https_bindings"):
            continue
        if mfa.get("mobile_app_web_service_required") is False:
            continue  # 8.0 and later activate without it
        site = component.get("site") or ""
        if any(s.binding is None and s.matches(site, "") for s in settings.exclude):
            continue
        where = f"{site}{component.get('virtual_path') or ''}"
        http = ", ".join(component.get("http_bindings") or []) or "none"
        message = (
            f"The Mobile App Web Service {where} of MFA Server {version} has no HTTPS binding (site '{site}', "
            f"http bindings: {http}). The Authenticator app reaches it only over HTTPS with a publicly trusted "
            "certificate, so phones cannot activate against this server."
        )
        result.append({**finding("MFA_COMPONENT_WITHOUT_HTTPS", message).as_dict(), "where": where})
    return result
