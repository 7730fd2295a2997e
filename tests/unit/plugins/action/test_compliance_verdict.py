"""compliance_verdict: what it says of each host, from what tls_facts registered."""

from __future__ import annotations

import pytest

from ansible_collections.mfa_server.tls.plugins.action.compliance_verdict import ActionModule

ARGS = {"judged_var": "mfa_tls_judged", "report_dir": "/srv/reports"}
PROBLEMS = [
    "https://mfa01.contoso.com/MultiFactorAuth/ (Default Web Site *:443:): PRIVATE_CA",
    "Default Web Site/MultiFactorAuthMobileAppWebService: MFA_COMPONENT_WITHOUT_HTTPS",
]


def _verdict(judged: object, facts: dict | None = None) -> dict:
    # `act` reads only its arguments: no connection, no task.
    action = object.__new__(ActionModule)
    task_vars = {"inventory_hostname": "mfa01", "mfa_tls_judged": judged, "ansible_facts": facts or {}}
    return action.act(ARGS, task_vars)


def test_a_host_that_is_not_compliant_fails_with_one_line_per_problem():
    result = _verdict({"ansible_facts": {"mfa_tls": {"compliant": False, "problems": PROBLEMS}}})
    assert result["failed"] is True and result["problems"] == PROBLEMS
    assert result["msg"] == (
        "mfa01 is not compliant: 2 problems, one per line in 'problems'; the reports in /srv/reports say why "
        "and how to fix each"
    )
    assert result["_ansible_verbose_always"] is True, "the default output prints the list one item per line"


def test_one_problem_is_said_in_the_message():
    result = _verdict({}, facts={"mfa_tls": {"compliant": False, "problems": PROBLEMS[:1]}})
    assert result["msg"].startswith(f"mfa01 is not compliant: {PROBLEMS[0]}; the reports")


def test_a_compliant_host_passes():
    result = _verdict({}, facts={"mfa_tls": {"compliant": True, "problems": []}})
    assert not result.get("failed") and result["compliant"] is True and result["changed"] is False


@pytest.mark.parametrize(
    ("judged", "said"),
    [
        (
            {"unreachable": True, "msg": "ntlm: connection refused"},
            "mfa01 unreachable: ntlm: connection refused",
        ),
        (None, "mfa01 was not judged: no 'mfa_tls_judged' registered"),
        ({"failed": True, "msg": "host_tls_info failed"}, "mfa01 was not judged: host_tls_info failed"),
    ],
)
def test_a_host_not_judged_fails_saying_why(judged, said):
    result = _verdict(judged)
    assert result["failed"] is True and result["msg"].startswith(said), result["msg"]
