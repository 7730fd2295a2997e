# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report: writes the `mfa_tls` fact of each host of the run, then rebuilds the fleet files, on the controller."""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils import reports
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import (
    ActionFailure,
    ControllerAction,
)

ARGUMENT_SPEC = {
    "report_dir": {"type": "path", "required": True},
    "hosts": {"type": "list", "elements": "str"},
    "title": {"type": "str", "default": "mfa-tls-report"},
    "heading": {"type": "str", "default": "TLS report of the MFA servers"},
    "scope": {"type": "str"},
    "set_stats": {"type": "bool", "default": False},
    "judged_var": {"type": "str", "default": "mfa_tls_judged"},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args: dict, task_vars: dict) -> dict:
        hostvars = task_vars.get("hostvars", {})
        hosts = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_hosts_all", [])
        reviews = {
            host: (host in hostvars and reports.registered_review(hostvars[host], args["judged_var"]))
            or reports.missing_review()
            for host in hosts
        }
        run = reports.RunInfo(
            heading=args["heading"],
            scope=args["scope"],
            limit=str(task_vars["ansible_limit"]) if task_vars.get("ansible_limit") else None,
            hosts=tuple(hosts),
        )
        result: dict = {
            "changed": False
        }  # reports are outputs on the controller, not changes to a managed host
        if args["set_stats"]:
            # What ansible.builtin.set_stats hands to AWX, for every host of the run in one task.
            summaries = {host: reports.host_summary(review) for host, review in reviews.items()}
            result["ansible_stats"] = {
                "data": {"mfa_tls_compliance": summaries},
                "per_host": False,
                "aggregate": True,
            }
        if self._task.check_mode:
            return result | {"msg": "check mode: no report written"}
        try:
            for host, review in reviews.items():
                reports.write_host(args["report_dir"], host, review, run.now)
            paths, summary = reports.write_fleet(args["report_dir"], args["title"], run)
        except OSError as error:
            raise ActionFailure(
                f"Cannot write the report into {args['report_dir']}: {error}. Check mfa_tls_report_dir."
            ) from error
        return result | {"files": paths, "summary": summary}
