"""Reports built from real reviews: the compliance playbook run against the lab's `traps` fleet, then the
same reviews with the states that scope, waivers and host checks give added as extra hosts.

mfa01 (traps: catch-all and SNI bindings, an IPv6 and a shared IP binding, an intranet site, an orphaned
HTTP.sys entry), mfa02 (compliant, with warnings) and mfa03 (IIS without MFA Server) are the real reviews, as
written by fleet_report. mfa04 is mfa01's review with a waiver that holds (Portal's IP binding), a waiver past
its date (Reports) and the intranet site out of scope (as the default scope marks it); mfa05 is a host without
MFA Server marked not applicable; mfa06 could not be reached.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import reports
from tests.support.playbook_runs import compliance

ABSENT = "not applicable: MFA Server is not installed"
WAIVER_REASON = "the intranet site moves to the new reverse proxy; tracked in CHG-1042"
EXPIRED_REASON = "reports server decommissioning was planned for November"


@pytest.fixture(scope="module")
def traps_reviews(traps_lab, tmp_path_factory) -> dict[str, dict]:
    """Each traps host's review, as the compliance playbook wrote it into its report folder."""
    folder = tmp_path_factory.mktemp("traps-reports")
    run = compliance(traps_lab, folder)
    assert run.returncode == 2, "the traps fleet is not compliant: " + run.stdout[-3000:]
    reviews = {p.stem: json.loads(p.read_text()) for p in sorted((folder / "hosts").glob("*.json"))}
    assert set(reviews) == {"mfa01", "mfa02", "mfa03"}
    assert all(reviews[h]["endpoints"] for h in ("mfa01", "mfa02")), "real reviews have endpoints"
    return reviews


def _binding(review: dict, binding: str) -> dict:
    (endpoint,) = [e for e in review["endpoints"] if e["binding_information"] == binding]
    return endpoint


def every_state(reviews: dict[str, dict], today: dt.date) -> dict[str, dict]:
    """The real reviews plus the states the scope, waivers and host checks give (see the module's doc)."""
    states = {name: {k: v for k, v in review.items() if k != "host"} for name, review in reviews.items()}
    waived = copy.deepcopy(states["mfa01"])
    _binding(waived, "10.20.0.2:8443:").update(
        {
            "scope": "in",
            "waiver": {"reason": WAIVER_REASON, "until": (today + dt.timedelta(days=60)).isoformat()},
        }
    )
    _binding(waived, "10.20.0.2:8443:reports.corp.contoso.com").update(
        {
            "scope": "in",
            "waiver": {
                "reason": EXPIRED_REASON,
                "until": (today - dt.timedelta(days=5)).isoformat(),
                "expired": True,
            },
        }
    )
    intranet = _binding(waived, "*:443:intranet.corp.contoso.com")
    if intranet.get("scope") != "out":
        intranet |= {
            "scope": "out",
            "scope_reason": "serves no MFA web component and shares no certificate with one",
        }
    states["mfa04"] = waived
    states["mfa05"] = {"compliant": True, "endpoints": [], "not_applicable": ABSENT}
    states["mfa06"] = reports.unreachable_review(
        "Task failed: ntlm: HTTPSConnectionPool(host='mfa06', port=5986): Max retries exceeded with url: /wsman"
    )
    return states


@dataclass(frozen=True)
class Fleet:
    paths: dict[str, str]  # the fleet files by format
    summary: dict
    states: dict[str, dict]  # the reviews written, by host
    waiver_reason: str = WAIVER_REASON
    expired_reason: str = EXPIRED_REASON
    absent: str = ABSENT


@pytest.fixture
def fleet_report(traps_reviews, tmp_path) -> Fleet:
    """The fleet files for every state, written as fleet_report writes them."""
    now = dt.datetime.now(dt.UTC)
    folder = tmp_path / "report"
    run = reports.RunInfo(
        heading="TLS compliance of the MFA servers",
        scope="mfa",
        hosts=("mfa01", "mfa02", "mfa03", "mfa04", "mfa05", "mfa06"),
        now=now,
    )
    states = every_state(traps_reviews, now.date())
    for host, review in states.items():
        reports.write_host(str(folder), host, review, now)
    paths, summary = reports.write_fleet(str(folder), "mfa-tls-compliance", run)
    return Fleet(paths, summary, states)


SHOWN = Path("/tmp/report-screenshots")


@pytest.fixture
def keep():
    """Copies a file where people look at the screenshots and reports the tests made."""

    def copy_to_shown(path: Path, name: str) -> None:
        SHOWN.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOWN / name)

    return copy_to_shown
