"""The change record: what each host's change did, the lines people read, where a rolling change stops, and
the run's files (no secret, the umask's mode, every host listed)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import change_record

OLD, NEW, HAND = "A1" * 20, "B2" * 20, "C3" * 20
KEY = "ipport=0.0.0.0:443"
SNAPSHOT_ROW = {
    "key": KEY,
    "exists": True,
    "certificate_hash": OLD,
    "certificate_store_name": "MY",
    "app_id": "{4dc3e181-e14b-4a21-b022-59fc669b0914}",
    "default_flags": 0,
    "cert_check_mode": 0,
    "revocation_freshness_time": 0,
    "revocation_url_retrieval_timeout": 0,
    "ctl_identifier": "",
    "ctl_store_name": "",
}
PLAN = {
    "bindings": [{"site": "Default Web Site", "binding_information": "*:443:"}],
    "left_alone": [
        {
            "site": "Reports",
            "binding_information": "*:8443:",
            "reason": "it takes its certificate from the CCS",
        }
    ],
    "previous_thumbprints": [OLD, OLD],
    "rollback": [dict(SNAPSHOT_ROW, certificate_hash=HAND)],
    "diff": {"before": f"Default Web Site *:443:: {OLD}\n", "after": f"Default Web Site *:443:: {NEW}\n"},
}
REVIEW = {
    "endpoints": [
        {
            "site": "Default Web Site",
            "binding_information": "*:443:",
            "http_sys_key": KEY,
            "certificate": {
                "thumbprint": OLD,
                "subject": "CN=mfa01.corp",
                "not_after": "2026-03-01T00:00:00Z",
            },
        }
    ]
}
REPLACEMENT = {
    "thumbprint": NEW,
    "subject": "CN=mfa.contoso.com",
    "issuer": "CN=R11,O=Let's Encrypt",
    "not_after": "2027-04-02T00:00:00+00:00",
    "intermediates": [
        {"thumbprint": "D4" * 20, "pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
    ],
}
BIND = {
    "changed": True,
    "bindings": [
        {
            "site": "Default Web Site",
            "binding_information": "*:443:",
            "http_sys_key": KEY,
            "previous_thumbprint": OLD,
            "changed": True,
        }
    ],
    "http_sys": [
        {
            "key": KEY,
            "action": "updated",
            "previous_hash": OLD,
            "new_hash": NEW,
            "new_store_name": "My",
            "app_id": "{4dc3e181-e14b-4a21-b022-59fc669b0914}",
            "default_flags": 0,
        }
    ],
    "snapshot": [SNAPSHOT_ROW],
}


def _probe(*served: str, failed: bool = False) -> dict:
    return {
        "failed": failed,
        "results": [
            {
                "url": f"https://mfa.contoso.com/{i}",
                "compliant": not failed,
                "findings": [],
                "presented_chain": [{"sha1": s}],
            }
            for i, s in enumerate(served)
        ],
    }


def _changed_entry(**results) -> dict:
    results = {"bind": BIND, "verify": _probe(NEW, NEW)} | results
    return change_record.host_entry("mfa01", "changed", PLAN, REVIEW, REPLACEMENT, results)


def test_a_verified_change_records_each_binding_before_and_after_and_its_undo():
    entry = _changed_entry()
    assert entry["outcome"] == change_record.CHANGED
    [binding] = entry["bindings"]
    assert binding["before"] == {
        "thumbprint": OLD,
        "subject": "CN=mfa01.corp",
        "not_after": "2026-03-01T00:00:00Z",
    }
    assert binding["after"]["thumbprint"] == NEW and binding["after"]["subject"] == "CN=mfa.contoso.com"
    assert binding["http_sys_key"] == KEY
    assert entry["http_sys"][0]["action"] == "updated"
    # The undo is what the bind module found when it wrote, not what discovery read (the plan's rollback).
    assert entry["undo"] == {"restore": [SNAPSHOT_ROW]}
    assert entry["verification"]["verdict"] == "passed"
    assert [e["serves"] for e in entry["verification"]["endpoints"]] == [NEW, NEW]
    assert entry["left_alone"] == PLAN["left_alone"]


def test_an_entry_changed_since_discovery_is_not_described_by_what_discovery_read():
    """An administrator renewed the entry by hand between the plan and the write: the record names the
    certificate the bind module replaced, without the subject and expiry of the one discovery saw."""
    bind = dict(BIND, bindings=[dict(BIND["bindings"][0], previous_thumbprint=HAND)])
    [binding] = _changed_entry(bind=bind)["bindings"]
    assert binding["before"] == {"thumbprint": HAND, "subject": None, "not_after": None}


def test_without_a_snapshot_from_the_bind_the_undo_is_the_entries_discovery_read():
    entry = _changed_entry(bind=dict(BIND, snapshot=[]))
    assert entry["undo"] == {"restore": PLAN["rollback"]}


def test_the_record_holds_no_secret_and_no_certificate_material():
    text = json.dumps(_changed_entry())
    assert "BEGIN" not in text and "pfx" not in text.lower() and "password" not in text.lower()
    assert set(SNAPSHOT_ROW) == set(_changed_entry()["undo"]["restore"][0])


def test_one_line_per_changed_binding_with_both_certificates_the_entry_and_the_undo(tmp_path):
    entry = _changed_entry()
    undo = change_record.undo_command("mfa01", tmp_path / "mfa01.undo.json", "inventory.yml")
    lines = change_record.change_lines(entry, undo)
    assert len(lines) == 2
    assert lines[0] == (
        f"mfa01: binding '*:443:' of site 'Default Web Site': CN=mfa01.corp ({OLD}, expires 2026-03-01) -> "
        f"CN=mfa.contoso.com ({NEW}, expires 2027-04-02); HTTP.sys {KEY} updated "
        "(app id {4dc3e181-e14b-4a21-b022-59fc669b0914}, flags 0)"
    )
    assert lines[1].endswith(
        f'ansible mfa01 -i inventory.yml -m mfa_server.tls.iis_binding_certificate -a "$(cat {tmp_path / "mfa01.undo.json"})"'
    )


def test_what_remained_as_before_the_change_is_said_after_a_verified_change():
    verify = dict(_probe(NEW), warnings=["https://mfa.contoso.com/x: HTTP_NOT_FOUND, as before the change"])
    lines = change_record.change_lines(_changed_entry(verify=verify), None)
    assert (
        lines[-1]
        == "mfa01: verified as a phone sees it; still as before the change: https://mfa.contoso.com/x: HTTP_NOT_FOUND, as before the change"
    )


@pytest.mark.parametrize(
    ("served", "outcome", "verified"),
    [((OLD, OLD), change_record.ROLLED_BACK, True), ((OLD, NEW), change_record.ROLLBACK_UNVERIFIED, False)],
)
def test_a_failed_change_records_what_each_endpoint_serves_after_the_rollback(served, outcome, verified):
    results = {
        "bind": BIND,
        "verify": _probe(NEW, NEW, failed=True),
        "rollback": {"changed": True},
        "restored": _probe(*served),
    }
    entry = change_record.host_entry(
        "mfa01", "failed", PLAN, REVIEW, REPLACEMENT, results, "verification failed"
    )
    assert entry["outcome"] == outcome
    assert entry["rollback"]["verified"] is verified and entry["rollback"]["restore"] == "done"
    assert entry["failure"] == "verification failed" and entry["verification"]["verdict"] == "failed"
    lines = change_record.change_lines(entry, None)
    assert lines[-1] == f"mfa01: the change failed; {outcome}."
    assert "verification failed" not in " ".join(lines), "the cause is printed by the failing task, once"
    assert ("not its previous certificate" in lines[1]) is not verified


def test_a_rollback_without_a_probe_is_not_verified():
    entry = change_record.host_entry(
        "mfa01", "failed", PLAN, REVIEW, REPLACEMENT, {"rollback": {"failed": True, "msg": "gone"}}
    )
    assert entry["outcome"] == change_record.ROLLBACK_UNVERIFIED
    assert entry["rollback"]["restore"] == "failed: gone"


def test_check_mode_says_what_would_change():
    [line] = change_record.planned_lines("mfa01", PLAN, REVIEW, REPLACEMENT)
    assert line.startswith("mfa01: would change binding '*:443:' of site 'Default Web Site': CN=mfa01.corp (")
    assert line.endswith(f"HTTP.sys {KEY}")


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ([1], [["a"], ["b"], ["c"], ["d"]]),
        (["1"], [["a"], ["b"], ["c"], ["d"]]),
        (["50%"], [["a", "b"], ["c", "d"]]),
        ([1, "3"], [["a"], ["b", "c", "d"]]),
        ([], [["a", "b", "c", "d"]]),
        (["10%"], [["a"], ["b"], ["c"], ["d"]]),
    ],
)
def test_batches_are_cut_as_ansible_playbook_cuts_them(serial, expected):
    assert change_record.batches(["a", "b", "c", "d"], serial) == expected


def test_a_failure_in_a_batch_of_one_stops_the_rolling_change_and_names_the_hosts_not_attempted():
    rollout = change_record.rollout("b", ["a", "b", "c", "d"], ["b"], [1], 0.0, set())
    assert rollout["stops"] and rollout["after"] == ["c", "d"]
    line = change_record.rollout_line("b", rollout)
    assert (
        "stops with this batch (1 of 1 host(s) failed, max_fail_percentage 0%); not attempted: c, d." in line
    )


def test_a_tolerated_failure_says_the_rolling_change_goes_on():
    rollout = change_record.rollout("a", ["a", "b", "c", "d"], ["a", "b"], [2], 50.0, set())
    assert not rollout["stops"] and rollout["failed"] == ["a"]
    assert change_record.rollout_line("a", rollout) == (
        "a: the rolling change goes on with c, d unless more than 50% of this batch (2 hosts) fail."
    )


def test_a_batch_whose_other_host_failed_already_stops():
    # b left the batch (failed or unreachable); a's failure makes the whole batch failed.
    rollout = change_record.rollout("a", ["a", "b", "c"], ["a"], [2], 50.0, set())
    assert rollout["stops"] and rollout["failed"] == ["a", "b"] and rollout["after"] == ["c"]


def test_the_last_batch_names_no_host_after_it():
    assert (
        change_record.rollout_line("c", change_record.rollout("c", ["a", "b", "c"], ["c"], [1], 0.0, set()))
        is None
    )


def test_the_runs_record_lists_every_host_with_its_outcome():
    run = {"id": "20261201T101500Z-0a1b", "started": "2026-12-01T10:15:00Z"}
    plans = {"mfa01": PLAN, "mfa02": PLAN, "mfa03": {"bindings": [], "left_alone": []}}
    record = change_record.run_record(
        run, REPLACEMENT, ["mfa01", "mfa02", "mfa03"], {"mfa01": _changed_entry()}, plans
    )
    assert record["summary"][change_record.CHANGED] == ["mfa01"]
    assert record["summary"][change_record.NOT_ATTEMPTED] == ["mfa02"]
    assert record["summary"][change_record.NOTHING_TO_CHANGE] == ["mfa03"]
    assert record["hosts"]["mfa02"]["planned"] == PLAN["bindings"]
    assert "intermediates" not in record["certificate"]


def test_who_ran_it_names_the_awx_job_when_awx_launched_it():
    found = change_record.who(
        {"awx_job_id": 42, "awx_user_name": "admin", "awx_schedule_name": ""}, "awx", "ee-7f"
    )
    assert found == {
        "controller_user": "awx",
        "controller_host": "ee-7f",
        "awx_job_id": 42,
        "awx_user_name": "admin",
    }


def test_the_files_of_a_run_follow_the_umask_and_add_up_across_hosts(tmp_path):
    run = {"id": "20261201T101500Z-0a1b", "started": "2026-12-01T10:15:00Z", "who": {"controller_user": "me"}}
    folder = change_record.RecordFolder(str(tmp_path), run["id"])
    plans = {"mfa01": PLAN, "mfa02": PLAN}

    def build(entries):
        return change_record.run_record(run, REPLACEMENT, ["mfa01", "mfa02"], entries, plans)

    previous = os.umask(0o027)
    try:
        folder.write(_changed_entry(), build)
        second = dict(_changed_entry(), host="mfa02")
        record = folder.write(second, build)
    finally:
        os.umask(previous)
    assert record["summary"][change_record.CHANGED] == ["mfa01", "mfa02"]
    written = json.loads((tmp_path / f"mfa-tls-change-{run['id']}.json").read_text())
    assert written == json.loads(json.dumps(record))
    assert json.loads(folder.undo_path("mfa02").read_text()) == {"restore": [SNAPSHOT_ROW]}
    for path in (tmp_path / f"mfa-tls-change-{run['id']}.html", folder.undo_path("mfa01")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    assert not [p for p in folder.folder.iterdir() if p.name.startswith(".") and p.name != ".lock"], (
        "a temporary file was left"
    )


def test_a_run_id_that_is_no_file_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a file name"):
        change_record.RecordFolder(str(tmp_path), "../elsewhere")


def test_the_page_escapes_what_it_shows_and_lists_the_worst_outcome_first():
    run = {"id": "r1", "started": "2026-12-01T10:15:00Z", "who": {"controller_user": "<me>"}}
    entry = dict(
        _changed_entry(), bindings=[dict(_changed_entry()["bindings"][0], site="<script>x</script>")]
    )
    failed = change_record.host_entry(
        "mfa02", "failed", PLAN, REVIEW, REPLACEMENT, {"rollback": {}, "restored": _probe(OLD, OLD)}, "boom"
    )
    record = change_record.run_record(
        run, REPLACEMENT, ["mfa01", "mfa02"], {"mfa01": entry, "mfa02": failed}, {}
    )
    page = change_record.render_html(record)
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page and "&lt;me&gt;" in page
    assert page.index("<h2>mfa02</h2>") < page.index("<h2>mfa01</h2>")
    assert "Attempted (rolled back)" in page and "Hosts: 1 rolled back, 1 changed" in page
    assert "BEGIN CERTIFICATE" not in page
