# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet reports from host reviews: JSON, CSV, JUnit XML and a static HTML page.

Each host's review is written as its own file under `hosts/`, and the fleet files are rebuilt from
every host file in the folder. A run that sees part of the fleet (an AWX job slice, a --limit) adds
its hosts and never needs the others; slices that share the folder add up. Every file is replaced
atomically (a reader never sees half a file) with the mode the umask gives a new file.
Secrets never reach a review, so none can reach a report.

What the reports read of a host review (the `mfa_tls` fact of host_review.review_host), besides
`compliant`, `endpoints`, `problems`, `mfa_findings` and `http_sys_divergence`. The host's `compliant` is
the review's verdict, which fails the job: a host whose review says false is never shown as passing (a
waived or out-of-scope endpoint alone must not make the review say false).

- `not_applicable` (str): why the collection has nothing to judge on the host, written as it is shown,
  e.g. "not applicable: MFA Server is not installed". The host has that verdict of its own in every
  report; its endpoints are shown as not applicable and never fail. When the review still says
  `compliant: false` (the administrator asked for a missing MFA Server to be a failure), the host fails
  with that text.
- `unreachable` (str): why the host could not be reached; `error` (str): why no review could be made
  (see missing_review()). Either one makes the host a failure in every report: a row, a card, a JUnit
  `<error>`.

And of each endpoint, besides `site`, `binding_information`, `component`, `url`, `public_name`,
`certificate` (`thumbprint`, `subject`, `issuer`, `not_after`), `compliant`, `codes`,
`server_side.findings` and `phone` (`findings`, `protocols`, `cipher_iana`/`cipher`, and
`presented_chain`: the chain as the phone's probe received it, `subject`, `issuer`, `sha1`,
`not_after` per certificate; no PEM):

- `scope` (str): "in" (also when absent) or "out", with an optional `scope_reason` (str). An endpoint
  out of scope is shown, marked "out of scope", never fails and is no JUnit test case.
- `waiver` (dict): `reason` (str), `until` (a date, YYYY-MM-DD, the last day it holds), optional
  `codes` (list: the error codes it covers; all when absent) and `expired` (bool). A waiver that holds
  and covers every error of the endpoint shows "waived until <until>: <reason>", counts as waived, not
  failing, and is a JUnit `<skipped>` case with that message. A waiver marked `expired: true`, or whose
  `until` has passed, is a failure that names its reason.

Endpoints are ordered failures first: unreachable hosts, failing, with warnings, waived, compliant, not
applicable, out of scope; within one status, more errors first, then fewer days left.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

COLUMNS = [
    "host",
    "site",
    "binding",
    "component",
    "public_name",
    "issuer",
    "not_after",
    "verdict",
    "codes",
    # What the phone's side negotiated, as sslyze's summary shows it: the versions accepted and the suite.
    "protocols",
    "cipher",
    # What an administrator acts on: where, why, what to do, which certificate, how long it has left.
    "url",
    "why",
    "fix",
    "thumbprint",
    "days_left",
    # Who reaches the binding by which name (routing): phones by the public name, an MFA component by its SDK URL.
    "called_by",
]

# Statuses, worst first: the order of the to-do list.
UNREACHABLE = "unreachable"
ERROR = "error"
FAILING = "failing"
WARNING = "warning"
WAIVED = "waived"
PASSING = "passing"
NOT_APPLICABLE = "not applicable"
OUT_OF_SCOPE = "out of scope"
STATUS_ORDER = (UNREACHABLE, ERROR, FAILING, WARNING, WAIVED, PASSING, NOT_APPLICABLE, OUT_OF_SCOPE)
FAILED = frozenset({UNREACHABLE, ERROR, FAILING})
LABELS = {
    UNREACHABLE: "UNREACHABLE",
    ERROR: "ERROR",
    FAILING: "NOT COMPLIANT",
    WARNING: "compliant, with warnings",
    WAIVED: "waived",
    PASSING: "compliant",
    NOT_APPLICABLE: "not applicable",
    OUT_OF_SCOPE: "out of scope",
}
SCOPE_GLOSS = {
    "mfa": "the endpoints that serve MFA web components, and every binding that uses the same certificate",
    "all": "every HTTPS binding",
}
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
UNREACHABLE_ADVICE = (
    "Check that the host is up and that its WinRM listener answers the controller (address, port, "
    "certificate and credentials of the inventory), then run the playbook again."
)
ERROR_ADVICE = "Read this host's failure in the job's output, fix what it names, then run the playbook again."


@dataclass(frozen=True)
class RunInfo:
    """What the report says about the run that wrote it: the page's heading, the scope, the --limit and the
    hosts it judged (other host files in the folder come from earlier runs or other slices)."""

    heading: str = "TLS report of the MFA servers"
    scope: str | None = None
    limit: str | None = None
    hosts: tuple[str, ...] = ()
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def generated(self) -> str:
        return self.now.isoformat(timespec="seconds")

    @property
    def scope_text(self) -> str:
        if not self.scope:
            return "every HTTPS binding"
        gloss = SCOPE_GLOSS.get(self.scope)
        return f"{self.scope} ({gloss})" if gloss else self.scope


@dataclass
class Item:
    """One line of the to-do list: an endpoint, or a check about the whole host."""

    host: str
    status: str
    verdict: str  # the CSV's words for the status, with the waiver, scope or host reason where there is one
    kind: str = "endpoint"  # or "host"
    group: str = ""  # for host checks: the JUnit case they belong to
    site: str = ""
    binding: str = ""
    component: str = ""
    public_name: str = ""
    url: str = ""
    issuer: str = ""
    subject: str = ""
    not_after: str = ""
    days_left: int | None = None
    thumbprint: str = ""
    codes: list[str] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)  # errors first, then warnings, then notes
    note: str = ""  # waiver, scope or host reason, shown beside the verdict
    protocols: str = ""
    cipher: str = ""
    called_by: str = ""
    chain: list[dict] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)  # what to do when no finding says it (a host not judged)

    @property
    def title(self) -> str:
        if self.url:
            return self.url
        return f"{self.host}: {self.component or self.group}" if self.component or self.group else self.host

    @property
    def errors(self) -> list[dict]:
        return [f for f in self.findings if f["severity"] == "error"]

    @property
    def why(self) -> list[str]:
        """The sentences that say what is wrong: errors, then warnings (notes need nothing done)."""
        return [f"{f['code']}: {f['message']}" for f in self.findings if f["severity"] != "info"]

    @property
    def fix(self) -> list[str]:
        found = [f["remediation"] for f in self.findings if f["severity"] != "info" and f["remediation"]]
        return list(dict.fromkeys([*self.advice, *found]))

    @property
    def notes(self) -> list[str]:
        return [f"{f['code']}: {f['message']}" for f in self.findings if f["severity"] == "info"]

    def sort_key(self) -> tuple:
        days = self.days_left if self.days_left is not None else 1 << 30
        return (STATUS_ORDER.index(self.status), -len(self.errors), days, self.host, self.site, self.binding)


@dataclass
class HostView:
    name: str
    status: str
    note: str
    items: list[Item]
    reported_at: str = ""

    @property
    def counts(self) -> dict[str, int]:
        result = dict.fromkeys(("failing", "passing", "waived", "out_of_scope", "not_applicable"), 0)
        endpoints = any(item.kind == "endpoint" for item in self.items)
        for item in self.items:
            if endpoints and item.kind == "host" and item.status == NOT_APPLICABLE:
                continue  # the host's own verdict beside its endpoints: they are what is counted
            key = {
                WARNING: "passing",
                PASSING: "passing",
                WAIVED: "waived",
                OUT_OF_SCOPE: "out_of_scope",
                NOT_APPLICABLE: "not_applicable",
            }.get(item.status, "failing")
            result[key] += 1
        return result


def write_host(report_dir: str, host: str, review: dict, now: dt.datetime | None = None) -> None:
    folder = Path(report_dir, "hosts")
    folder.mkdir(parents=True, exist_ok=True)
    # When the review was reported: a host file another run or slice left in the folder says how old it is.
    reported_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    document = {"host": host, **review, "reported_at": reported_at}
    write_atomically(folder / f"{safe_name(host)}.json", json.dumps(document, indent=2, sort_keys=True))


def read_hosts(report_dir: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(report_dir, "hosts").glob("*.json"))]


# ---------------------------------------------------------------------------------------------- the model


def host_views(hosts: list[dict], now: dt.datetime | None = None) -> list[HostView]:
    """Each host's status and items, in the order of `hosts`."""
    now = now or dt.datetime.now(dt.UTC)
    return [_host_view(host, now) for host in hosts]


def _host_view(host: dict, now: dt.datetime) -> HostView:
    name = host["host"]
    reported_at = host.get("reported_at") or ""
    trouble = host.get("unreachable") or host.get("error")
    if trouble is True:  # a flag without the why
        trouble = "the host could not be reached" if host.get("unreachable") else "the host was not judged"
    if trouble:
        status = UNREACHABLE if host.get("unreachable") else ERROR
        verdict = f"unreachable: {trouble}" if status == UNREACHABLE else str(trouble)
        item = Item(
            host=name,
            status=status,
            verdict=verdict,
            kind="host",
            group="reached and judged",
            component="could not be reached" if status == UNREACHABLE else "not judged",
            note=verdict,
            advice=[UNREACHABLE_ADVICE if status == UNREACHABLE else ERROR_ADVICE],
        )
        return HostView(name, status, verdict, [item], reported_at)
    absent = host.get("not_applicable")
    items = [_endpoint_item(name, endpoint, now, absent) for endpoint in host.get("endpoints") or []]
    items += [
        _host_finding_item(name, f, "MFA Server checks", "MFA Server") for f in host.get("mfa_findings") or []
    ]
    items += [
        _host_finding_item(name, f, "HTTP.sys checks", "HTTP.sys") for f in _unattached_divergence(host)
    ]
    if absent:
        if host.get("compliant") is False:  # made a failure by the administrator's choice
            items.append(
                Item(
                    host=name,
                    status=FAILING,
                    verdict=f"NOT COMPLIANT: {absent}",
                    kind="host",
                    group="applicable",
                    note=absent,
                )
            )
            return HostView(name, FAILING, absent, items, reported_at)
        # Its own verdict: a row, a card and a (skipped) JUnit case, also beside the endpoints IIS has.
        items.append(
            Item(
                host=name, status=NOT_APPLICABLE, verdict=absent, kind="host", group="applicable", note=absent
            )
        )
        return HostView(name, NOT_APPLICABLE, absent, items, reported_at)
    if any(item.status in FAILED for item in items):
        return HostView(name, FAILING, "", items, reported_at)
    if host.get("compliant") is False:
        # The review says so for a reason no item shows: say the review's own words rather than show green.
        problems = host.get("problems") or ["the review says the host is not compliant"]
        found = [
            {"code": "NOT_COMPLIANT", "severity": "error", "message": p, "remediation": ""} for p in problems
        ]
        items.append(
            Item(
                host=name,
                status=FAILING,
                verdict="NOT COMPLIANT",
                kind="host",
                group="host verdict",
                findings=found,
            )
        )
        return HostView(name, FAILING, "", items, reported_at)
    if not host.get("endpoints"):
        note = "no HTTPS binding: nothing was judged"
        items.append(
            Item(
                host=name,
                status=WARNING,
                verdict="no HTTPS binding",
                kind="host",
                group="host verdict",
                note=note,
            )
        )
        return HostView(name, WARNING, note, items, reported_at)
    status = WARNING if any(item.status == WARNING for item in items) else PASSING
    return HostView(name, status, "", items, reported_at)


def _endpoint_item(host: str, endpoint: dict, now: dt.datetime, not_applicable: str | None) -> Item:
    certificate = endpoint.get("certificate") or {}
    phone = endpoint.get("phone") or {}
    chain = phone.get("presented_chain") or []
    not_after = certificate.get("not_after") or (chain[0].get("not_after") if chain else "") or ""
    item = Item(
        host=host,
        status=PASSING,
        verdict="compliant",
        site=endpoint["site"],
        binding=endpoint["binding_information"],
        component=endpoint.get("component") or "",
        public_name=endpoint.get("public_name") or "",
        url=endpoint.get("url") or "",
        issuer=certificate.get("issuer") or (chain[0].get("issuer") if chain else "") or "",
        subject=certificate.get("subject") or (chain[0].get("subject") if chain else "") or "",
        not_after=not_after,
        days_left=_days_left(not_after, now),
        thumbprint=(certificate.get("thumbprint") or (chain[0].get("sha1") if chain else "") or "").upper(),
        codes=list(endpoint.get("codes") or []),
        findings=_findings(endpoint),
        protocols=" ".join(phone.get("protocols") or []),
        cipher=phone.get("cipher_iana") or phone.get("cipher") or "",
        called_by=_called_by(endpoint),
        chain=[{k: c.get(k) or "" for k in ("subject", "issuer", "not_after", "sha1")} for c in chain],
    )
    item.status, item.verdict, item.note = _endpoint_status(endpoint, item, now, not_applicable)
    return item


def _called_by(endpoint: dict) -> str:
    """Who calls the endpoint by which name, as routing found it: "phones by mfa.contoso.com; the Mobile App Web
    Service as https://mfa-sdk.corp/…/PfWsSdk.asmx"; a binding no known name reaches is reached by address."""
    callers = endpoint.get("reached_by") or []
    if not callers:
        return (
            "no known name reaches it: clients by address" if endpoint.get("reached_by") is not None else ""
        )
    return "; ".join(
        f"{c.get('who')} as {c['url']}" if c.get("url") else f"{c.get('who')} by {c.get('name')}"
        for c in callers
    )


def _endpoint_status(
    endpoint: dict, item: Item, now: dt.datetime, not_applicable: str | None
) -> tuple[str, str, str]:
    """(status, CSV verdict, note) of one endpoint, from its scope, its waiver and its findings."""
    if not_applicable:
        return NOT_APPLICABLE, not_applicable, not_applicable
    if (endpoint.get("scope") or "in") == "out":
        reason = endpoint.get("scope_reason") or ""
        text = f"out of scope: {reason}" if reason else "out of scope"
        return OUT_OF_SCOPE, text, text
    failing = not endpoint.get("compliant", not item.errors)
    waiver = endpoint.get("waiver") or None
    if waiver:
        holds, why_not = _waiver_holds(waiver, item.errors, now)
        if waiver.get("expired"):
            note = f"waiver expired on {waiver.get('until')}: {waiver.get('reason')}"
            return FAILING, f"NOT COMPLIANT: {note}", note
        if failing and holds:
            note = f"waived until {waiver.get('until')}: {waiver.get('reason')}"
            return WAIVED, note, note
        if failing:
            return FAILING, f"NOT COMPLIANT: {why_not}", why_not
    if failing:
        return FAILING, "NOT COMPLIANT", ""
    note = "waiver not needed: nothing to waive" if waiver else ""
    return (WARNING if item.why else PASSING), "compliant", note


def _waiver_holds(waiver: dict, errors: list[dict], now: dt.datetime) -> tuple[bool, str]:
    """Whether the waiver covers every error today; if not, why, in the words the report shows."""
    until, reason = waiver.get("until"), waiver.get("reason")
    try:
        last_day = dt.date.fromisoformat(str(until)[:10])
    except ValueError:
        return False, f"waiver without a valid end date ({until!r}): {reason}"
    if last_day < now.date():
        return False, f"waiver expired on {until}: {reason}"
    covered = set(waiver.get("codes") or [f["code"] for f in errors])
    left = sorted({f["code"] for f in errors} - covered)
    if left:
        return False, f"the waiver until {until} ({reason}) does not cover {', '.join(left)}"
    return True, ""


def _host_finding_item(host: str, found: dict, group: str, component: str) -> Item:
    """A finding about the host rather than one binding (MFA Server's own checks, HTTP.sys entries no binding
    shows)."""
    severity = found["severity"]
    status = {"error": FAILING, "warning": WARNING}.get(severity, PASSING)
    return Item(
        host=host,
        status=status,
        verdict="NOT COMPLIANT" if severity == "error" else severity,
        kind="host",
        group=group,
        site=found.get("where") or "",
        component=component,
        codes=[found["code"]],
        findings=[{k: found[k] for k in ("code", "severity", "message", "remediation")}],
    )


def _unattached_divergence(host: dict) -> list[dict]:
    """The HTTP.sys divergences no endpoint carries among its findings (an orphaned entry, an unreadable
    binding): else they would make the host fail, or warn, without a line saying why."""
    carried = {(f["code"], f["message"]) for e in host.get("endpoints") or [] for f in _findings(e)}
    return [d for d in host.get("http_sys_divergence") or [] if (d["code"], d["message"]) not in carried]


def _findings(endpoint: dict) -> list[dict]:
    """Both views' findings, each once, errors first."""
    seen, result = set(), []
    for f in (endpoint.get("server_side") or {}).get("findings", []) + (endpoint.get("phone") or {}).get(
        "findings", []
    ):
        if (f["code"], f["message"]) not in seen:
            seen.add((f["code"], f["message"]))
            result.append(f)
    return sorted(result, key=lambda f: SEVERITY_RANK.get(f["severity"], 3))


def _days_left(not_after: str, now: dt.datetime) -> int | None:
    if not not_after:
        return None
    try:
        moment = dt.datetime.fromisoformat(not_after)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - now) // dt.timedelta(days=1)


def ordered(views: list[HostView]) -> list[Item]:
    """Every item of the fleet, failures first (the to-do list)."""
    return sorted((item for view in views for item in view.items), key=Item.sort_key)


# ---------------------------------------------------------------------------------------------- the files


def rows(hosts: list[dict], now: dt.datetime | None = None) -> list[dict]:
    """One row per host and endpoint, and per check about a host; a host without endpoints still gets a row."""
    return [_row(item) for view in host_views(hosts, now) for item in view.items]


def _row(item: Item) -> dict:
    why = item.why
    if item.note and item.status in (FAILING, WAIVED):
        why = [item.note[0].upper() + item.note[1:] + ".", *why]
    return {
        "host": item.host,
        "site": item.site,
        "binding": item.binding,
        "component": item.component,
        "public_name": item.public_name,
        "issuer": item.issuer,
        "not_after": item.not_after,
        "verdict": item.verdict,
        "codes": " ".join(item.codes),
        "protocols": item.protocols,
        "cipher": item.cipher,
        "url": item.url,
        "why": " ".join(why),
        "fix": " ".join(item.fix),
        "thumbprint": item.thumbprint,
        "days_left": "" if item.days_left is None else str(item.days_left),
        "called_by": item.called_by,
        "status": item.status,
    }


def summary(hosts: list[dict], run: RunInfo | None = None, views: list[HostView] | None = None) -> dict:
    run = run or RunInfo()
    views = views if views is not None else host_views(hosts, run.now)
    statuses = [v.status for v in views]
    counts = {
        key: sum(v.counts[key] for v in views)
        for key in ("failing", "passing", "waived", "out_of_scope", "not_applicable")
    }
    return {
        "generated": run.generated,
        "heading": run.heading,
        "scope": run.scope_text,
        "limit": run.limit,
        "hosts": len(views),
        "compliant_hosts": sum(1 for s in statuses if s in (PASSING, WARNING)),
        "failing_hosts": statuses.count(FAILING),
        "unreachable_hosts": statuses.count(UNREACHABLE) + statuses.count(ERROR),
        "not_applicable_hosts": statuses.count(NOT_APPLICABLE),
        "endpoints": sum(len(h.get("endpoints") or []) for h in hosts),
        **counts,
        "compliant": not any(s in FAILED for s in statuses),
    }


def write_fleet(report_dir: str, title: str, run: RunInfo | None = None) -> tuple[dict[str, str], dict]:
    """Rebuilds the fleet files from the host files; returns their paths by format and the summary."""
    run = run or RunInfo()
    hosts = read_hosts(report_dir)
    views = host_views(hosts, run.now)
    summary_ = summary(hosts, run, views)
    paths = {fmt: str(Path(report_dir, f"{title}.{fmt}")) for fmt in ("json", "csv", "html", "xml")}
    document = {
        "summary": summary_,
        "hosts": {h["host"]: _json_host(h, v) for h, v in zip(hosts, views, strict=True)},
    }
    write_atomically(Path(paths["json"]), json.dumps(document, indent=2, sort_keys=True))
    write_atomically(Path(paths["csv"]), _csv([_row(item) for view in views for item in view.items]))
    write_atomically(Path(paths["html"]), render_html(run, summary_, views))
    write_atomically(Path(paths["xml"]), _junit(title, views))
    return paths, summary_


def _json_host(host: dict, view: HostView) -> dict:
    statuses = iter(item.status for item in view.items if item.kind == "endpoint")
    return {
        "compliant": host["compliant"],
        "status": view.status,
        "note": view.note,
        "counts": view.counts,
        "endpoints": [
            {k: e[k] for k in ("site", "binding_information", "component", "url", "compliant", "codes")}
            | {"status": next(statuses)}
            for e in host.get("endpoints") or []
        ],
        "details": host,
    }


def _csv(table: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def _junit(title: str, views: list[HostView]) -> str:
    """One test suite per host: a test case per in-scope endpoint (a non-compliant one fails, a waived one is
    skipped with the waiver) and one per group of host checks; an unreachable host is one case in error, a
    host that is not applicable one skipped case with the reason."""
    suites = ET.Element("testsuites", name=title)
    for view in views:
        suite = ET.SubElement(suites, "testsuite", name=view.name)
        for item in view.items:
            if item.kind == "endpoint" and item.status not in (OUT_OF_SCOPE, NOT_APPLICABLE):
                name = f"{item.binding} {item.url}"
                _junit_case(suite, f"{view.name}.{item.site}", name, [item])
        groups: dict[str, list[Item]] = {}
        for item in view.items:
            if item.kind == "host":
                groups.setdefault(item.group, []).append(item)
        for group, members in groups.items():
            _junit_case(suite, f"{view.name}.{safe_name(group)}", group, members)
        _count(suite)
    _count(suites, "testsuite")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _junit_case(suite: ET.Element, classname: str, name: str, items: list[Item]) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    worst = min(items, key=Item.sort_key)
    if worst.status in (UNREACHABLE, ERROR):
        ET.SubElement(case, "error", message=worst.note, type=worst.status.upper())
    elif worst.status == FAILING:
        failed = [i for i in items if i.status == FAILING]
        codes = (
            " ".join(dict.fromkeys(c for i in failed for f in i.errors for c in [f["code"]]))
            or "NOT_COMPLIANT"
        )
        failure = ET.SubElement(
            case, "failure", message=" ".join(filter(None, [codes, worst.note])), type="NOT_COMPLIANT"
        )
        lines = [worst.note] if worst.note else []
        lines += [_failure_line(f) for i in failed for f in i.errors]
        failure.text = "\n".join(lines)
    elif worst.status in (WAIVED, NOT_APPLICABLE):
        ET.SubElement(case, "skipped", message=worst.note)
    # Warnings do not fail the case; a JUnit reader shows them as the case's output.
    notes = [line for i in items if i.status != FAILING for line in i.why]
    if notes:
        ET.SubElement(case, "system-out").text = "\n".join(notes)


def _failure_line(found: dict) -> str:
    line = f"{found['code']}: {found['message']}"
    return f"{line} Fix: {found['remediation']}" if found.get("remediation") else line


def _count(parent: ET.Element, child: str = "testcase") -> None:
    """The counts JUnit readers show (tests, failures, errors, skipped), from the cases themselves."""
    if child == "testcase":
        cases = parent.findall("testcase")
        totals = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
    else:
        totals = {
            key: sum(int(s.get(key, "0")) for s in parent.findall(child))
            for key in ("tests", "failures", "errors", "skipped")
        }
    for key, value in totals.items():
        parent.set(key, str(value))


# ---------------------------------------------------------------------------------------------- the page

_CSS = """
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
  background: #f4f5f7; line-height: 1.45; }
main { max-width: 1360px; margin: 0 auto; padding: 1.25rem 1.5rem 3rem; }
h1 { font-size: 1.55rem; margin: 0 0 .2rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .6rem; }
.meta { color: #4b5563; margin: 0 0 .8rem; overflow-wrap: anywhere; }
.verdict { margin: 0; padding: .6rem .9rem; border-radius: 6px; font-weight: 600; }
.verdict.bad { background: #fde8e8; color: #7f1d1d; }
.verdict.ok { background: #e6f4ea; color: #14532d; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .78rem; font-weight: 700;
  letter-spacing: .02em; white-space: nowrap; color: #fff; background: var(--tone); }
.s-unreachable, .s-error { --tone: #7f1d1d; }
.s-failing { --tone: #b91c1c; }
.s-warning { --tone: #b45309; }
.s-waived { --tone: #6d28d9; }
.s-passing { --tone: #15803d; }
.s-not-applicable { --tone: #4b5563; }
.s-out-of-scope { --tone: #64748b; }
table.hosts { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d8dbe0; }
table.hosts th, table.hosts td { padding: .4rem .65rem; border-bottom: 1px solid #e5e7eb; text-align: left;
  vertical-align: top; }
table.hosts th { background: #eef0f3; font-size: .85rem; }
table.hosts td.num { text-align: right; font-variant-numeric: tabular-nums; width: 7.5rem; }
table.hosts td.num.zero { color: #9ca3af; }
table.hosts td.host-note { overflow-wrap: anywhere; color: #374151; }
.card { background: #fff; border: 1px solid #d8dbe0; border-left: 6px solid var(--tone); border-radius: 6px;
  padding: .7rem 1rem; margin: 0 0 .7rem; }
.card > header { display: flex; flex-wrap: wrap; gap: .35rem .7rem; align-items: baseline; }
.card h3 { font-size: 1rem; margin: 0; overflow-wrap: anywhere; font-weight: 600; }
.where { color: #4b5563; font-size: .85rem; overflow-wrap: anywhere; }
.note { margin: .35rem 0 0; font-weight: 600; color: var(--tone); overflow-wrap: anywhere; }
.body { display: grid; grid-template-columns: minmax(0, 4fr) minmax(0, 9fr); gap: .4rem 1.6rem; margin-top: .45rem; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .1rem .8rem; margin: 0;
  font-size: .88rem; align-content: start; }
dl.facts dt { color: #4b5563; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.todo h4 { margin: 0 0 .15rem; font-size: .78rem; text-transform: uppercase; letter-spacing: .05em; color: #4b5563; }
.todo { font-size: .92rem; line-height: 1.38; }
.todo ul, .todo ol { margin: 0 0 .45rem; padding-left: 1.2rem; }
.todo li { overflow-wrap: anywhere; margin-bottom: .1rem; }
.fix li { font-weight: 500; }
.nothing { color: #4b5563; margin: 0; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85em;
  overflow-wrap: anywhere; }
details { margin-top: .45rem; font-size: .88rem; }
summary { cursor: pointer; color: #1d4ed8; }
ol.chain { margin: .35rem 0 0; padding-left: 1.4rem; }
ol.chain li { margin-bottom: .3rem; overflow-wrap: anywhere; }
.days-low { color: #b91c1c; font-weight: 600; }
@media (max-width: 760px) {
  main { padding: .8rem .7rem 2rem; }
  h1 { font-size: 1.3rem; }
  .body { grid-template-columns: minmax(0, 1fr); }
  /* Each host a card: name and status on one line, then only the counts that are not zero. */
  table.hosts, table.hosts tbody { display: block; width: 100%; border: 0; background: none; }
  table.hosts thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.hosts tr { display: flex; flex-wrap: wrap; align-items: baseline; gap: .15rem .9rem; background: #fff;
    border: 1px solid #d8dbe0; border-left: 6px solid var(--tone); border-radius: 6px; margin: 0 0 .5rem;
    padding: .4rem .7rem; }
  table.hosts td { display: block; border: 0; padding: 0; width: auto; }
  table.hosts td.num { text-align: left; width: auto; }
  table.hosts td.num::after { content: " " attr(data-label); color: #4b5563; font-size: .85rem; }
  table.hosts td.num.zero { display: none; }
  table.hosts td.host-note { flex-basis: 100%; font-size: .88rem; }
  table.hosts td.host-note:empty { display: none; }
}
"""


def render_html(run: RunInfo, summary_: dict, views: list[HostView]) -> str:
    """The page: the fleet's verdict, a summary per host, then every endpoint and host check, failures first.
    Static: inline CSS, no script, no external resource; every value escaped."""
    e = html.escape
    bad = not summary_["compliant"]
    verdict = _verdict_sentence(summary_)
    meta = [f"Scope: {run.scope_text}", f"generated {_when(run.now)}"]
    if run.limit:
        meta.insert(1, f"limit: {run.limit}")
    if run.hosts:
        meta.insert(1, f"{len(run.hosts)} host(s) judged in this run, {summary_['hosts']} in the report")
    title = f"{run.heading}: {'not compliant' if bad else 'compliant'} · scope {run.scope or 'all'} · {_when(run.now)}"
    items = ordered(views)
    cards = "\n".join(_card(item) for item in items) or '<p class="nothing">No endpoint in this report.</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{_CSS}</style></head>
<body><main>
<header id="top">
<h1>{e(run.heading)}</h1>
<p class="meta">{e(" · ".join(meta))}</p>
<p class="verdict {"bad" if bad else "ok"}">{e(verdict)}</p>
</header>
<section id="hosts"><h2>Hosts</h2>
{_hosts_table(views, run)}
</section>
<section id="endpoints"><h2>Endpoints and checks, failures first</h2>
{cards}
</section>
</main></body></html>
"""


def _verdict_sentence(s: dict) -> str:
    parts = [f"{s['compliant_hosts']} of {s['hosts']} host(s) compliant"]
    for key, words in (
        ("failing_hosts", "failing"),
        ("unreachable_hosts", "unreachable or not judged"),
        ("not_applicable_hosts", "not applicable"),
    ):
        if s[key]:
            parts.append(f"{s[key]} {words}")
    endpoints = f"{s['failing']} item(s) to fix, {s['passing']} compliant, {s['waived']} waived, {s['out_of_scope']} out of scope"
    head = "All hosts compliant" if s["compliant"] else "Not compliant"
    return f"{head}: {', '.join(parts)}; {endpoints}."


def _hosts_table(views: list[HostView], run: RunInfo) -> str:
    e = html.escape
    labels = ("Failing", "Passing", "Waived", "Out of scope", "Not applicable")
    keys = ("failing", "passing", "waived", "out_of_scope", "not_applicable")
    head = "".join(f"<th>{label}</th>" for label in ("Host", "Status", *labels, "Note"))
    body = []
    for view in sorted(views, key=lambda v: (STATUS_ORDER.index(v.status), v.name)):
        counts = view.counts
        cells = [
            f'<td data-label="Host"><strong>{e(view.name)}</strong></td>',
            f'<td data-label="Status"><span class="badge">{e(LABELS[view.status])}</span></td>',
            *(
                f'<td class="num{"" if counts[key] else " zero"}" data-label="{label.lower()}">{counts[key]}</td>'
                for label, key in zip(labels, keys, strict=True)
            ),
            f'<td class="host-note">{e(_host_note(view, run))}</td>',
        ]
        body.append(f'<tr class="{_css(view.status)}">{"".join(cells)}</tr>')
    return (
        f'<table class="hosts"><thead><tr>{head}</tr></thead><tbody>\n{chr(10).join(body)}\n</tbody></table>'
    )


def _host_note(view: HostView, run: RunInfo) -> str:
    note = view.note
    if run.hosts and view.name not in run.hosts and view.reported_at:
        note = " ".join(filter(None, [note, f"(from an earlier run or another slice, {view.reported_at})"]))
    return note


def _card(item: Item) -> str:
    e = html.escape
    parts = (
        [item.host, item.site, item.binding, item.component]
        if item.kind == "endpoint"
        else [item.host, item.site]
    )
    where = " · ".join(filter(None, parts))
    heading = item.title
    note = f'<p class="note">{e(item.note)}</p>' if item.note else ""
    return f"""<article class="card {_css(item.status)}" data-status="{e(item.status)}">
<header><span class="badge">{e(LABELS[item.status])}</span><h3>{e(heading)}</h3><span class="where">{e(where)}</span></header>
{note}<div class="body">{_facts(item)}{_todo(item)}</div>{_chain(item)}
</article>"""


def _facts(item: Item) -> str:
    e = html.escape
    facts = [("Codes", " ".join(item.codes) or "none")]
    if item.kind == "endpoint":
        facts += [
            ("Issuer", item.issuer or "unknown"),
            ("Expires", _expiry(item)),
            ("Thumbprint", item.thumbprint or "none"),
            ("Protocols", item.protocols or "not negotiated"),
            ("Cipher", item.cipher or "not negotiated"),
        ]
        if item.called_by:
            facts.append(("Called by", item.called_by))
    rows_ = []
    for label, value in facts:
        shown = (
            value
            if label == "Expires"
            else f"<code>{e(value)}</code>"
            if label in ("Codes", "Thumbprint")
            else e(value)
        )
        rows_.append(f"<dt>{e(label)}</dt><dd>{shown}</dd>")
    return f'<dl class="facts">{"".join(rows_)}</dl>'


def _expiry(item: Item) -> str:
    e = html.escape
    if item.days_left is None:
        return e(item.not_after[:10] or "unknown")
    left = item.days_left
    words = f"expired {-left} day(s) ago" if left < 0 else f"{left} day(s) left"
    low = ' class="days-low"' if item.days_left < 30 else ""
    return f"{e(item.not_after[:10])} (<span{low}>{e(words)}</span>)"


def _todo(item: Item) -> str:
    e = html.escape
    if not item.why and not item.fix and not item.notes:
        return '<div class="todo"><p class="nothing">Nothing to do.</p></div>'
    parts = []
    if item.why:
        parts.append(
            '<h4>Why</h4><ul class="why">' + "".join(f"<li>{e(line)}</li>" for line in item.why) + "</ul>"
        )
    if item.fix:
        parts.append(
            '<h4>Fix</h4><ol class="fix">' + "".join(f"<li>{e(line)}</li>" for line in item.fix) + "</ol>"
        )
    if item.notes:
        parts.append(
            '<h4>Notes</h4><ul class="notes">'
            + "".join(f"<li>{e(line)}</li>" for line in item.notes)
            + "</ul>"
        )
    return f'<div class="todo">{"".join(parts)}</div>'


def _chain(item: Item) -> str:
    e = html.escape
    if item.kind != "endpoint":
        return ""
    if not item.chain:
        return "<details><summary>Chain as sent: no certificate was received</summary><p>The phone's probe got no certificate from this endpoint.</p></details>"
    entries = "".join(
        f"<li><strong>{e(c['subject'])}</strong><br>issued by {e(c['issuer'])}<br>"
        f"valid until {e(c['not_after'][:10])} · SHA-1 <code>{e(c['sha1'])}</code></li>"
        for c in item.chain
    )
    return f'<details><summary>Chain as sent ({len(item.chain)} certificate(s))</summary><ol class="chain">{entries}</ol></details>'


def _css(status: str) -> str:
    return "s-" + status.replace(" ", "-")


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------- files and hosts


def safe_name(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", host)


def write_atomically(path: Path, text: str) -> None:
    """Slices and hosts writing into one folder never see a half-written file, and the file gets the mode
    any new file gets under the umask (os.open applies it; tempfile.mkstemp would make it 0600)."""
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}"
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def missing_review() -> dict:
    """What a host that gave no facts (unreachable, failed before discovery) is reported as."""
    return {
        "compliant": False,
        "endpoints": [],
        "error": "no facts: the host was unreachable or failed before discovery",
    }


def registered_review(variables: dict, judged_var: str) -> dict | None:
    """A host's review from its variables: its `mfa_tls` fact, or, when tls_facts failed the host (and so set no
    fact), the review in the result it registered in `judged_var`; for a host tls_facts could not reach (a play
    that ignores unreachable hosts so that the reports still cover them), why. None: not judged."""
    fact = (variables.get("ansible_facts") or {}).get("mfa_tls")
    if fact:
        return fact
    judged = variables.get(judged_var)
    if not isinstance(judged, dict):
        return None
    if judged.get("unreachable"):
        return unreachable_review(str(judged.get("msg") or ""))
    return (judged.get("ansible_facts") or {}).get("mfa_tls")


def unreachable_review(message: str) -> dict:
    """What a host Ansible could not reach is reported as: the first line of why, without the rest."""
    lines = (message or "").strip().splitlines()
    # ansible-core puts "Task failed: " before every task's message; the report says "unreachable: " instead.
    first = lines[0].removeprefix("Task failed: ") if lines else "the connection failed"
    return {"compliant": False, "endpoints": [], "unreachable": first[:300]}


def host_summary(review: dict) -> dict:
    """A host's verdict in a few words: what AWX shows per host."""
    return {
        "compliant": review["compliant"],
        "status": _host_view({"host": "", **review}, dt.datetime.now(dt.UTC)).status,
        "codes": sorted(
            {code for endpoint in review.get("endpoints") or [] for code in endpoint["codes"]}
            | {f["code"] for f in review.get("mfa_findings") or []}
        ),
    }
