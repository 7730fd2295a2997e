# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a remediation run did, as people read it: one line per changed binding in the run's output, and a
change record of the run (JSON and HTML) in the report folder.

A host's entry is made from what the remediate role registered: the plan (mfa_tls_judged.plan), the host's
review (the previous certificate's subject and expiry), the new certificate (mfa_tls_replacement: its
description, no key, no PFX), the bind module's result (the HTTP.sys entries written and the snapshot of the
entries it replaced), the verification and, after a failure, the rollback and the probe of the restored
endpoints. The undo is that snapshot: HTTP.sys keys, certificate hashes, store names, application ids and
flags, no secret.

Files under the report folder, each replaced atomically with the mode the umask gives a new file:
- `changes/<run>/<host>.json`: the host's entry; `changes/<run>/<host>.undo.json`: `{"restore": snapshot}`,
  the argument of mfa_server.tls.iis_binding_certificate that puts the previous entries back;
- `mfa-tls-change-<run>.json` and `.html`: the run's record, rebuilt from the entry files of the run after
  each host, listing every host of the run, those not attempted (yet) included, so that a rolling change that
  stopped says which hosts it never reached.
Hosts of one batch record at the same time: the rebuild holds a lock on the run's folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import html
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

from ansible_collections.mfa_server.tls.plugins.module_utils.reports import safe_name, write_atomically

CHANGED = "changed"
ROLLED_BACK = "rolled back"
ROLLBACK_UNVERIFIED = "failed, rollback not verified"
NOT_ATTEMPTED = "not attempted"
NOTHING_TO_CHANGE = "nothing to change"
FAILED_OUTCOMES = (ROLLED_BACK, ROLLBACK_UNVERIFIED)
# Worst first, the order of the summary.
OUTCOMES = (ROLLBACK_UNVERIFIED, ROLLED_BACK, NOT_ATTEMPTED, CHANGED, NOTHING_TO_CHANGE)
# The AWX job's own variables (automation controller sets them; not for callback or scheduled jobs: user).
AWX_VARIABLES = (
    "awx_job_id",
    "awx_job_template_name",
    "awx_user_name",
    "awx_schedule_name",
    "awx_job_launch_type",
)
UNDO_MODULE = "mfa_server.tls.iis_binding_certificate"


# ---------------------------------------------------------------------------------------------- one host


def host_entry(
    host: str,
    outcome_stage: str,
    plan: dict,
    review: dict | None,
    replacement: dict,
    results: Mapping[str, dict | None],
    failure: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """The host's part of the record. `outcome_stage` is "changed" (the change was verified) or "failed" (the
    role's rescue ran); `results` holds what the role registered: bind, verify, rollback, restored."""
    bind = _ran(results.get("bind"))
    rollback = None
    if outcome_stage == "failed":
        rollback = rollback_summary(_ran(results.get("rollback")), _ran(results.get("restored")), plan)
        outcome = ROLLED_BACK if rollback["verified"] else ROLLBACK_UNVERIFIED
    else:
        outcome = CHANGED
    snapshot = (bind or {}).get("snapshot") or plan.get("rollback") or []
    return {
        "host": host,
        "outcome": outcome,
        "recorded": _iso(now),
        "bindings": binding_changes(plan, review, replacement, bind),
        "http_sys": [_entry_written(row) for row in (bind or {}).get("http_sys") or []],
        "left_alone": plan.get("left_alone") or [],
        "verification": verification_summary(_ran(results.get("verify"))),
        "rollback": rollback,
        "failure": failure or None,
        "undo": {"restore": snapshot},
    }


def binding_changes(plan: dict, review: dict | None, replacement: dict, bind: dict | None) -> list[dict]:
    """Each planned binding: its HTTP.sys entry, the certificate before (as the bind module found it when it
    wrote, with the subject and expiry discovery read when it is the same certificate) and after."""
    endpoints = {(e["site"], e["binding_information"]): e for e in (review or {}).get("endpoints") or []}
    written = {_key(b["site"], b["binding_information"]): b for b in (bind or {}).get("bindings") or []}
    after = _certificate(replacement)
    changes = []
    for planned in plan.get("bindings") or []:
        site, information = planned["site"], planned["binding_information"]
        endpoint = endpoints.get((site, information)) or {}
        found = _certificate(endpoint.get("certificate") or {})
        bound = written.get(_key(site, information))
        if bound is not None:
            previous = (bound.get("previous_thumbprint") or "").upper()
            # What discovery read describes the certificate only while the entry still held it.
            found = (
                found
                if found["thumbprint"] == previous
                else {"thumbprint": previous, "subject": None, "not_after": None}
            )
        changes.append(
            {
                "site": site,
                "binding_information": information,
                "http_sys_key": (bound or {}).get("http_sys_key") or endpoint.get("http_sys_key"),
                "before": found,
                "after": after,
                "changed": bool((bound or {}).get("changed", bound is None)),
            }
        )
    return changes


def verification_summary(verify: dict | None) -> dict:
    """The verdict of the phone's-eye probe of the changed endpoints, per endpoint, with what remained as it
    was (a problem no certificate causes, reported and not rolled back)."""
    if verify is None:
        return {"verdict": "not run", "endpoints": [], "remaining": []}
    endpoints = [
        {
            "url": result.get("url"),
            "compliant": bool(result.get("compliant")),
            "codes": sorted(
                {f["code"] for f in result.get("findings") or [] if f.get("severity") == "error"}
            ),
            "serves": _served(result),
        }
        for result in verify.get("results") or []
    ]
    return {
        "verdict": "failed" if verify.get("failed") else "passed",
        "message": verify.get("msg") if verify.get("failed") else None,
        "endpoints": endpoints,
        "remaining": list(verify.get("warnings") or []),
    }


def rollback_summary(rollback: dict | None, restored: dict | None, plan: dict) -> dict:
    """Whether every changed endpoint serves its previous certificate again, as the probe of the restored
    endpoints saw it (the same check as the role's assertion, kept here so the record says it too)."""
    expected = plan.get("previous_thumbprints") or []
    results = (restored or {}).get("results") or []
    endpoints = [
        {
            "url": r.get("url"),
            "serves": _served(r),
            "expected": (want or "").upper(),
            "ok": _served(r) == (want or "").upper(),
        }
        for r, want in zip(results, expected, strict=False)
    ]
    restore = "not run"
    if rollback is not None:
        restore = f"failed: {rollback.get('msg')}" if rollback.get("failed") else "done"
    return {
        "restore": restore,
        "verified": bool(endpoints) and len(endpoints) == len(expected) and all(e["ok"] for e in endpoints),
        "endpoints": endpoints,
    }


# ---------------------------------------------------------------------------------------------- the lines


def change_lines(entry: dict, undo_command: str | None) -> list[str]:
    """The output of a host's change: one line per binding, then how to undo (a verified change) or what the
    rollback did (a failed one)."""
    host = entry["host"]
    if entry["outcome"] == CHANGED:
        lines = [
            f"{host}: {_binding(b)}: {_describe(b['before'])} -> {_describe(b['after'])}; "
            f"HTTP.sys {_written(entry, b)}"
            for b in entry["bindings"]
        ]
        remaining = entry["verification"]["remaining"]
        lines += [f"{host}: verified as a phone sees it; still as before the change: {r}" for r in remaining]
        if undo_command:
            lines.append(f"{host}: undo (puts the previous HTTP.sys entries back exactly): {undo_command}")
        return lines
    rollback = entry["rollback"] or {}
    lines = [
        f"{host}: {e['url']}: serves {e['serves'] or 'no certificate'} after the rollback"
        + (
            " (its previous certificate, verified)"
            if e["ok"]
            else f", not its previous certificate {e['expected']}"
        )
        for e in rollback.get("endpoints") or []
    ]
    # The cause is the failure printed just before (and in the record): not repeated here.
    lines.append(f"{host}: the change failed; {entry['outcome']}.")
    return lines


def planned_lines(host: str, plan: dict, review: dict | None, replacement: dict) -> list[str]:
    """Check mode: what the change would do, one line per binding."""
    return [
        f"{host}: would change {_binding(b)}: {_describe(b['before'])} -> "
        f"{_describe(b['after'])}; HTTP.sys {b['http_sys_key'] or 'entry'}"
        for b in binding_changes(plan, review, replacement, None)
    ]


def rollout_line(host: str, rollout: dict) -> str | None:
    """What a failed host means for the rolling change: where it stops, and the hosts it never reached."""
    if not rollout["after"]:
        return None
    after = ", ".join(rollout["after"])
    if rollout["stops"]:
        return (
            f"{host}: the rolling change stops with this batch ({len(rollout['failed'])} of {len(rollout['batch'])} "
            f"host(s) failed, max_fail_percentage {_percent(rollout['max_fail_percentage'])}); not attempted: "
            f"{after}. They were not changed; run the playbook again once the cause is fixed."
        )
    return (
        f"{host}: the rolling change goes on with {after} unless more than "
        f"{_percent(rollout['max_fail_percentage'])} of this batch ({len(rollout['batch'])} hosts) fail."
    )


def undo_command(host: str, undo_path: Path, inventory: str | None) -> str:
    source = shlex.quote(inventory) if inventory else "<inventory>"
    return (
        f'ansible {shlex.quote(host)} -i {source} -m {UNDO_MODULE} -a "$(cat {shlex.quote(str(undo_path))})"'
    )


# ---------------------------------------------------------------------------------------------- the rollout


def batches(hosts: list[str], serial: list | None) -> list[list[str]]:
    """The play's batches, as ansible-playbook cuts them (PlaybookExecutor._get_serialized_batches): each
    serial item a count or a percentage of all hosts, the last one repeated; none, or one below 1, all hosts."""
    remaining, sizes, cut = list(hosts), list(serial or []), []
    index = 0
    while remaining:
        size = _batch_size(sizes[min(index, len(sizes) - 1)], len(hosts)) if sizes else 0
        if size <= 0:
            cut.append(remaining)
            break
        cut.append(remaining[:size])
        remaining = remaining[size:]
        index += 1
    return cut


def rollout(
    host: str, hosts: list[str], active: list[str], serial, max_fail: float | None, failed: set[str]
) -> dict:
    """Whether the rolling change stops with the failure of `host`, as the linear strategy decides it (more
    than max_fail_percentage of the batch failed, or the whole batch), and the hosts after its batch.
    `active` is ansible_play_batch (failed and unreachable hosts are no longer in it); `failed`, the hosts
    the run's record says failed."""
    cut = batches(hosts, serial)
    position = next((i for i, batch in enumerate(cut) if host in batch), len(cut) - 1)
    batch = cut[position] if cut else [host]
    down = [h for h in batch if h == host or h in failed or h not in active]
    share = len(down) / len(batch)
    stops = len(down) == len(batch) or (max_fail is not None and share > max_fail / 100.0)
    return {
        "batch": batch,
        "failed": down,
        "stops": stops,
        "after": [h for later in cut[position + 1 :] for h in later],
        "max_fail_percentage": max_fail,
    }


# ---------------------------------------------------------------------------------------------- the run's record


def run_record(
    run: dict,
    certificate: dict,
    hosts: list[str],
    entries: Mapping[str, dict],
    plans: Mapping[str, dict | None],
) -> dict:
    """Every host of the run: its entry, or what its plan says when it has none (nothing to change, or not
    attempted)."""
    listed = {}
    for host in hosts:
        plan = plans.get(host)
        if host in entries:
            listed[host] = entries[host]
        elif plan is not None and not plan.get("bindings"):
            listed[host] = {
                "host": host,
                "outcome": NOTHING_TO_CHANGE,
                "left_alone": plan.get("left_alone") or [],
            }
        else:
            listed[host] = {
                "host": host,
                "outcome": NOT_ATTEMPTED,
                "planned": (plan or {}).get("bindings") or [],
                "left_alone": (plan or {}).get("left_alone") or [],
            }
    summary = {
        outcome: [h for h, entry in listed.items() if entry["outcome"] == outcome] for outcome in OUTCOMES
    }
    return {"run": run, "certificate": _certificate(certificate), "summary": summary, "hosts": listed}


def who(task_vars: Mapping, user: str, controller: str) -> dict:
    """Who ran the change: the controller's user and host, and the AWX job when AWX launched it."""
    found = {"controller_user": user, "controller_host": controller}
    for name in AWX_VARIABLES:
        if task_vars.get(name) not in (None, ""):
            found[name] = task_vars[name]
    return found


class RecordFolder:
    """The change record's files of one run in the report folder."""

    def __init__(self, report_dir: str, run_id: str):
        if not re.fullmatch(r"[A-Za-z0-9._-]+", run_id):
            raise ValueError(f"run id {run_id!r} is not a file name")
        self.root = Path(report_dir)
        self.run_id = run_id
        self.folder = self.root / "changes" / run_id

    def undo_path(self, host: str) -> Path:
        return self.folder / f"{safe_name(host)}.undo.json"

    @property
    def paths(self) -> dict[str, str]:
        base = self.root / f"mfa-tls-change-{self.run_id}"
        return {"json": f"{base}.json", "html": f"{base}.html"}

    def write(self, entry: dict, build) -> dict:
        """Writes the host's entry and undo, then rebuilds the run's record with `build(entries)` from every
        entry of the run, under the run's lock. Returns the record."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            host = entry["host"]
            write_atomically(self.folder / f"{safe_name(host)}.json", _json(entry))
            if entry["undo"]["restore"]:
                write_atomically(self.undo_path(host), _json(entry["undo"]))
            record = build(self.entries())
            write_atomically(Path(self.paths["json"]), _json(record))
            write_atomically(Path(self.paths["html"]), render_html(record))
        return record

    def entries(self) -> dict[str, dict]:
        found = {}
        for path in sorted(self.folder.glob("*.json")):
            if path.name.endswith(".undo.json"):
                continue
            entry = json.loads(path.read_text(encoding="utf-8"))
            found[entry["host"]] = entry
        return found

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.folder / ".lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------- the page

_CSS = """
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
  background: #f4f5f7; line-height: 1.45; }
main { max-width: 1360px; margin: 0 auto; padding: 1.25rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .3rem; }
h2 { font-size: 1.1rem; margin: 0; overflow-wrap: anywhere; }
.meta { color: #4b5563; margin: 0 0 .3rem; overflow-wrap: anywhere; }
section.host { background: #fff; border: 1px solid #d8dbe0; border-left: 6px solid var(--tone); border-radius: 6px;
  padding: .7rem 1rem; margin: .8rem 0; }
section.host > header { display: flex; flex-wrap: wrap; gap: .3rem .8rem; align-items: baseline; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .78rem; font-weight: 700;
  color: #fff; background: var(--tone); white-space: nowrap; }
.o-changed { --tone: #15803d; } .o-nothing-to-change { --tone: #4b5563; } .o-not-attempted { --tone: #b45309; }
.o-rolled-back { --tone: #b91c1c; } .o-failed--rollback-not-verified { --tone: #7f1d1d; }
table { border-collapse: collapse; width: 100%; margin-top: .5rem; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #e5e7eb;
  overflow-wrap: break-word; }
td.binding { white-space: nowrap; }
th { background: #eef0f3; font-size: .82rem; }
ul { margin: .4rem 0 0; padding-left: 1.2rem; } li { overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .84em; overflow-wrap: anywhere;
  white-space: pre-wrap; }
details { margin-top: .5rem; } summary { cursor: pointer; color: #1d4ed8; }
@media (max-width: 760px) {
  main { padding: .8rem .7rem 2rem; }
  table, tbody, tr, td { display: block; width: 100%; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tr { border-bottom: 1px solid #d8dbe0; padding: .3rem 0; }
  td { border: 0; padding: .1rem 0; }
  td::before { content: attr(data-label) ": "; color: #4b5563; font-size: .82rem; }
}
"""


def render_html(record: dict) -> str:
    """The record as a static page (inline CSS, no script): who, when, the new certificate, then each host,
    worst outcome first, with its bindings before and after, the verification, the rollback and the undo."""
    e = html.escape
    run, certificate = record["run"], record["certificate"]
    people = ", ".join(f"{k}: {v}" for k, v in (run.get("who") or {}).items())
    summary = record["summary"]
    counts = ", ".join(f"{len(summary[o])} {o}" for o in OUTCOMES if summary.get(o))
    order = {outcome: index for index, outcome in enumerate(OUTCOMES)}
    hosts = sorted(record["hosts"].values(), key=lambda entry: order.get(entry["outcome"], len(order)))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Certificate change {e(run['id'])} of the MFA servers</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Certificate change of the MFA servers, run {e(run['id'])}</h1>",
        f'<p class="meta">Started {e(str(run.get("started") or ""))}; by {e(people)}</p>',
        f'<p class="meta">New certificate: {e(_describe(certificate))}, issued by {e(str(certificate.get("issuer") or "?"))}</p>',
        f'<p class="meta">Hosts: {e(counts)}</p>',
    ]
    parts += [_host_section(entry) for entry in hosts]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _host_section(entry: dict) -> str:
    e = html.escape
    tone = "o-" + re.sub(r"[^a-z]", "-", entry["outcome"])
    parts = [
        f'<section class="host {tone}"><header><h2>{e(entry["host"])}</h2>',
        f'<span class="badge">{e(entry["outcome"])}</span>',
    ]
    if entry.get("recorded"):
        parts.append(f'<span class="meta">recorded {e(entry["recorded"])}</span>')
    parts.append("</header>")
    if entry.get("bindings"):
        # After a rollback the new certificate was only attempted: the endpoints serve the previous one again.
        after = "After" if entry["outcome"] == CHANGED else "Attempted (rolled back)"
        parts.append(
            "<table><thead><tr><th>Site</th><th>Binding</th><th>HTTP.sys entry</th><th>Before</th>"
            f"<th>{after}</th></tr></thead><tbody>"
        )
        for b in entry["bindings"]:
            cells = [
                ("Site", b["site"]),
                ("Binding", b["binding_information"]),
                ("HTTP.sys entry", _written(entry, b)),
                ("Before", _describe(b["before"])),
                (after, _describe(b["after"])),
            ]
            parts.append(
                "<tr>"
                + "".join(
                    f'<td class="{k.split()[0].lower()}" data-label="{e(k)}">{e(str(v))}</td>'
                    for k, v in cells
                )
                + "</tr>"
            )
        parts.append("</tbody></table>")
    if entry.get("planned"):
        planned = ", ".join(_binding(b) for b in entry["planned"])
        parts.append(f"<p>Planned, not attempted: {e(planned)}</p>")
    notes = _notes(entry)
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(note)}</li>" for note in notes) + "</ul>")
    restore = (entry.get("undo") or {}).get("restore")
    if restore:
        parts.append(
            f"<details><summary>Undo: the previous HTTP.sys entries ({UNDO_MODULE} restore)</summary>"
            f"<pre>{e(json.dumps(restore, indent=2))}</pre></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _notes(entry: dict) -> list[str]:
    notes = [
        f"Left as it is: {a['site']} {a['binding_information']}: {a['reason']}"
        for a in entry.get("left_alone") or []
    ]
    verification = entry.get("verification")
    if verification:
        verdict = f"Verification: {verification['verdict']}"
        if verification.get("message"):
            verdict += f": {verification['message']}"
        notes.append(verdict)
        notes += [
            f"{probed['url']}: {'compliant' if probed['compliant'] else 'not compliant ' + ', '.join(probed['codes'])}; "
            f"serves {probed['serves'] or 'nothing'}"
            for probed in verification["endpoints"]
        ]
        notes += [f"Still as before the change: {r}" for r in verification["remaining"]]
    if entry.get("failure"):
        notes.append(f"Cause of the failure: {entry['failure']}")
    rollback = entry.get("rollback")
    if rollback:
        notes.append(
            f"Rollback: restore {rollback['restore']}; {'verified' if rollback['verified'] else 'NOT verified'}"
        )
        notes += [
            f"{probed['url']}: serves {probed['serves'] or 'nothing'}, previously {probed['expected']}"
            for probed in rollback["endpoints"]
        ]
    return notes


# ---------------------------------------------------------------------------------------------- small pieces


def _ran(result: dict | None) -> dict | None:
    """A registered result, or None for a task that was skipped or did not run."""
    if not result or result.get("skipped"):
        return None
    return result


def _key(site: str, information: str) -> tuple[str, str]:
    # The bind module matches site and binding case-insensitively, as IIS does.
    return site.lower(), information.lower()


def _certificate(facts: Mapping) -> dict:
    return {
        "thumbprint": (facts.get("thumbprint") or "").replace(" ", "").upper(),
        "subject": facts.get("subject"),
        "not_after": facts.get("not_after"),
        **({"issuer": facts["issuer"]} if facts.get("issuer") else {}),
    }


def _binding(binding: Mapping) -> str:
    # As the plan's warnings name a binding: its information quoted, since it ends with a colon.
    return f"binding '{binding['binding_information']}' of site '{binding['site']}'"


def _describe(certificate: Mapping) -> str:
    if not certificate.get("thumbprint"):
        return "no certificate"
    expiry = f", expires {str(certificate['not_after'])[:10]}" if certificate.get("not_after") else ""
    subject = certificate.get("subject") or "a certificate discovery did not see"
    return f"{subject} ({certificate['thumbprint']}{expiry})"


def _entry_written(row: Mapping) -> dict:
    return {
        name: row.get(name)
        for name in (
            "key",
            "action",
            "previous_hash",
            "new_hash",
            "new_store_name",
            "app_id",
            "default_flags",
        )
    }


def _written(entry: dict, binding: dict) -> str:
    """The binding's HTTP.sys entry and what the write did to it (created, updated, unchanged)."""
    key = binding.get("http_sys_key") or "entry"
    for row in entry.get("http_sys") or []:
        if (row.get("key") or "").lower() == key.lower():
            return f"{key} {row.get('action')} (app id {row.get('app_id')}, flags {row.get('default_flags')})"
    return key


def _served(result: Mapping) -> str:
    chain = result.get("presented_chain") or []
    return (chain[0].get("sha1") or "").upper() if chain else ""


def _batch_size(value, total: int) -> int:
    text = str(value).strip()
    if text.endswith("%"):
        return int(int(text[:-1]) / 100.0 * total) or 1
    return int(text)


def _percent(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:g}%"


def _iso(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
