# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet reports from host reviews: JSON, CSV, JUnit XML and a static HTML page.

Each host's review is written as its own file under `hosts/`, and the fleet files are rebuilt from
every host file in the folder. A run that sees part of the fleet (an AWX job slice, a --limit) adds
its hosts and never needs the others; slices that share the folder add up.
Secrets never reach a review, so none can reach a report.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import os
import re
import tempfile
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
]


def write_host(report_dir: str, host: str, review: dict) -> None:
    folder = Path(report_dir, "hosts")
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(
        folder / f"{_safe_name(host)}.json", json.dumps({"host": host, **review}, indent=2, sort_keys=True)
    )


def read_hosts(report_dir: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(report_dir, "hosts").glob("*.json"))]


def rows(hosts: list[dict]) -> list[dict]:
    """One row per host and endpoint; a host without endpoints still gets a row."""
    result = []
    for host in hosts:
        for endpoint in host.get("endpoints") or []:
            result.append(
                {
                    "host": host["host"],
                    "site": endpoint["site"],
                    "binding": endpoint["binding_information"],
                    "component": endpoint["component"] or "",
                    "public_name": endpoint["public_name"],
                    "issuer": endpoint["certificate"].get("issuer") or "",
                    "not_after": endpoint["certificate"].get("not_after") or "",
                    "verdict": "compliant" if endpoint["compliant"] else "NOT COMPLIANT",
                    "codes": " ".join(endpoint["codes"]),
                    **_connection(endpoint.get("phone") or {}),
                    "fix": " ".join(
                        dict.fromkeys(
                            f["remediation"] for f in _findings(endpoint) if f["severity"] == "error"
                        )
                    ),
                }
            )
        result += [_mfa_row(host["host"], f) for f in host.get("mfa_findings") or []]
        if not host.get("endpoints"):
            verdict = host.get("error") or "no HTTPS binding"
            result.append(dict.fromkeys([*COLUMNS, "fix"], "") | {"host": host["host"], "verdict": verdict})
    return result


def _mfa_row(host: str, found: dict) -> dict:
    """A finding of the MFA Server's own checks (retirement, SDK path): about the host, not one binding."""
    verdict = "NOT COMPLIANT" if found["severity"] == "error" else found["severity"]
    return dict.fromkeys([*COLUMNS, "fix"], "") | {
        "host": host,
        "site": found.get("where") or "",
        "component": "MFA Server",
        "verdict": verdict,
        "codes": found["code"],
        "fix": found["remediation"],
    }


def _connection(phone: dict) -> dict:
    """Protocols accepted and the suite negotiated (IANA name where known); empty for reviews from before
    the probe recorded them."""
    return {
        "protocols": " ".join(phone.get("protocols") or []),
        "cipher": phone.get("cipher_iana") or phone.get("cipher") or "",
    }


def summary(hosts: list[dict]) -> dict:
    return {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hosts": len(hosts),
        "compliant_hosts": sum(1 for h in hosts if h["compliant"]),
        "endpoints": sum(len(h.get("endpoints") or []) for h in hosts),
        "compliant": all(h["compliant"] for h in hosts),
    }


def write_fleet(report_dir: str, title: str) -> tuple[dict[str, str], dict]:
    """Rebuilds the fleet files from the host files; returns their paths by format and the summary."""
    hosts = read_hosts(report_dir)
    table = rows(hosts)
    paths = {fmt: str(Path(report_dir, f"{title}.{fmt}")) for fmt in ("json", "csv", "html", "xml")}
    document = {
        "summary": summary(hosts),
        "hosts": {
            h["host"]: {
                "compliant": h["compliant"],
                "endpoints": [
                    {
                        k: e[k]
                        for k in ("site", "binding_information", "component", "url", "compliant", "codes")
                    }
                    for e in h.get("endpoints") or []
                ],
                "details": h,
            }
            for h in hosts
        },
    }
    _write_atomically(Path(paths["json"]), json.dumps(document, indent=2, sort_keys=True))
    _write_atomically(Path(paths["csv"]), _csv(table))
    _write_atomically(Path(paths["html"]), _html(title, document["summary"], table))
    _write_atomically(Path(paths["xml"]), _junit(title, hosts))
    return paths, document["summary"]


def _csv(table: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def _junit(title: str, hosts: list[dict]) -> str:
    """One test case per endpoint, grouped per host; a non-compliant endpoint is a failure."""
    suites = ET.Element("testsuites", name=title)
    for host in hosts:
        endpoints = host.get("endpoints") or []
        failures = [e for e in endpoints if not e["compliant"]]
        suite = ET.SubElement(
            suites, "testsuite", name=host["host"], tests=str(len(endpoints)), failures=str(len(failures))
        )
        for endpoint in endpoints:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{host['host']}.{endpoint['site']}",
                name=f"{endpoint['binding_information']} {endpoint['url']}",
            )
            errors = [f for f in _findings(endpoint) if f["severity"] == "error"]
            if errors:
                failure = ET.SubElement(
                    case, "failure", message=" ".join(endpoint["codes"]), type="NOT_COMPLIANT"
                )
                failure.text = "\n".join(
                    f"{f['code']}: {f['message']} Fix: {f['remediation']}" for f in errors
                )
        _junit_mfa_case(suite, host)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _junit_mfa_case(suite: ET.Element, host: dict) -> None:
    """The MFA Server's own checks as one test case of the host, failed by their errors."""
    found = host.get("mfa_findings") or []
    if not found:
        return
    case = ET.SubElement(suite, "testcase", classname=f"{host['host']}.mfa_server", name="MFA Server checks")
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    errors = [f for f in found if f["severity"] == "error"]
    if errors:
        suite.set("failures", str(int(suite.get("failures", "0")) + 1))
        failure = ET.SubElement(
            case, "failure", message=" ".join(f["code"] for f in errors), type="NOT_COMPLIANT"
        )
        failure.text = "\n".join(f"{f['code']}: {f['message']} Fix: {f['remediation']}" for f in errors)
    # Warnings (MFA_SERVER_RETIRED) do not fail the case; a JUnit reader shows them as the case's output.
    notes = [f for f in found if f["severity"] != "error"]
    if notes:
        ET.SubElement(case, "system-out").text = "\n".join(f"{f['code']}: {f['message']}" for f in notes)


def _findings(endpoint: dict) -> list[dict]:
    seen, result = set(), []
    for f in endpoint["server_side"]["findings"] + endpoint["phone"]["findings"]:
        if (f["code"], f["message"]) not in seen:
            seen.add((f["code"], f["message"]))
            result.append(f)
    return result


HTML_COLUMNS = [*COLUMNS, "fix"]


def _html(title: str, summary_: dict, table: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in HTML_COLUMNS)
    body = []
    for row in table:
        css = "ok" if row["verdict"] == "compliant" else "bad"
        shown = row | {"not_after": row["not_after"][:10]}  # the day is what an administrator plans by
        cells = "".join(f"<td>{html.escape(str(shown[c]))}</td>" for c in HTML_COLUMNS)
        body.append(f'<tr class="{css}">{cells}</tr>')
    verdict = "All hosts compliant" if summary_["compliant"] else "Not compliant"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }}
th {{ background: #f1f1f1; }}
tr.bad td {{ background: #fde8e8; }}
tr.ok td {{ background: #eaf7ea; }}
.summary {{ font-size: 1.1rem; margin-bottom: 1rem; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="summary"><strong>{verdict}</strong>: {summary_["compliant_hosts"]} of {summary_["hosts"]} host(s) compliant,
{summary_["endpoints"]} endpoint(s), generated {html.escape(summary_["generated"])}.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""


def _safe_name(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", host)


def _write_atomically(path: Path, text: str) -> None:
    """Slices and hosts writing into one folder never see a half-written file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


def missing_review() -> dict:
    """What a host that gave no facts (unreachable, failed before discovery) is reported as."""
    return {
        "compliant": False,
        "endpoints": [],
        "error": "no facts: the host was unreachable or failed before discovery",
    }


def host_summary(review: dict) -> dict:
    """A host's verdict in a few words: what AWX shows per host."""
    return {
        "compliant": review["compliant"],
        "codes": sorted(
            {code for endpoint in review.get("endpoints") or [] for code in endpoint["codes"]}
            | {f["code"] for f in review.get("mfa_findings") or []}
        ),
    }
