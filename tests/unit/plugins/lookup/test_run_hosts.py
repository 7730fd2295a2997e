"""The run's host pattern and rolling-change settings, refused before any play starts when they would run on
no host or end in a traceback."""

from __future__ import annotations

import pytest
from ansible.parsing.dataloader import DataLoader

from ansible_collections.mfa_server.tls.plugins.lookup import run_hosts

GROUPS = {
    "all": ["mfa01", "mfa02", "web01"],
    "ungrouped": [],
    "mfa_servers": ["mfa01", "mfa02"],
    "web": ["web01"],
}


def _hosts(pattern: str, limit: str | None = None) -> tuple[list[str], list[str]]:
    return run_hosts.LookupModule(loader=DataLoader())._hosts(pattern, GROUPS, limit)


@pytest.mark.parametrize(
    ("pattern", "limit", "expected"),
    [
        ("mfa_servers", None, (["mfa01", "mfa02"], ["mfa01", "mfa02"])),
        ("mfa_servers", "mfa02,web01", (["mfa01", "mfa02"], ["mfa02"])),
        ("mfa_servers:!mfa01", None, (["mfa02"], ["mfa02"])),
        ("mfa_servers", "web", (["mfa01", "mfa02"], [])),
        ("mfa_prod", None, ([], [])),
    ],
)
def test_the_pattern_is_resolved_as_hosts_and_limit_resolve_it(pattern, limit, expected):
    assert _hosts(pattern, limit) == expected


def test_no_host_in_the_inventory_names_the_pattern_and_the_groups_there_are():
    problem = run_hosts.hosts_problem("mfa_prod", [], [], GROUPS, None)
    assert problem.startswith(
        "No host to run on: the host pattern 'mfa_prod' (mfa_tls_hosts) matches no host"
    )
    assert "(its groups: mfa_servers, web; hosts: 3)" in problem
    assert "Put the MFA servers in a group named 'mfa_prod'" in problem


def test_a_pattern_that_is_no_group_name_is_not_offered_as_one():
    problem = run_hosts.hosts_problem("mfa_servers:&site_b", [], [], GROUPS, None)
    assert "group named" not in problem and "Fix the pattern" in problem


def test_a_limit_that_keeps_none_of_the_hosts_is_named():
    problem = run_hosts.hosts_problem("mfa_servers", ["mfa01", "mfa02"], [], GROUPS, "web")
    assert "matches mfa01, mfa02, but the limit 'web'" in problem


def test_hosts_to_run_on_are_no_problem():
    assert run_hosts.hosts_problem("mfa_servers", ["mfa01"], ["mfa01"], GROUPS, None) == ""


@pytest.mark.parametrize("serial", [1, "1", "5", "25%", "100%", [1, "50%"], ["2", 5]])
def test_serial_as_ansible_takes_it(serial):
    assert run_hosts.serial_problems(serial) == []


@pytest.mark.parametrize("serial", ["abc", 0, "0", "-1", "150%", "x%", 2.5, True, [], [1, "abc"], None])
def test_a_serial_ansible_would_crash_on_or_ignore_is_refused(serial):
    [problem] = run_hosts.serial_problems(serial)
    assert problem.startswith(f"mfa_tls_serial is {serial!r}: give the number of hosts")


@pytest.mark.parametrize("value", [0, "0", 10, "25", "25%", 100, 12.5])
def test_max_fail_percentage_from_0_to_100(value):
    assert run_hosts.percentage_problems(value) == []


@pytest.mark.parametrize("value", ["abc", -1, 101, "", True])
def test_a_max_fail_percentage_out_of_range_is_refused(value):
    [problem] = run_hosts.percentage_problems(value)
    assert problem.startswith(f"mfa_tls_max_fail_percentage is {value!r}: give a number from 0 to 100")
