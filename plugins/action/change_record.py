# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""change_record: what a host's certificate change did, as lines in the run's output and as the run's change
record on the controller (module_utils/change_record); in check mode, what it would do."""

from __future__ import annotations

import getpass
import os
import socket

from ansible_collections.mfa_server.tls.plugins.module_utils import change_record
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {
    "report_dir": {"type": "path", "required": True},
    "run": {"type": "dict", "required": True},
    "outcome": {"type": "str", "required": True, "choices": ["changed", "failed"]},
    "plan": {"type": "dict", "required": True},
    "review": {"type": "dict"},
    "replacement": {"type": "dict", "required": True},
    "bind": {"type": "dict"},
    "verify": {"type": "dict"},
    "rollback": {"type": "dict"},
    "restored": {"type": "dict"},
    "failure": {"type": "str"},
    "judged_var": {"type": "str", "default": "mfa_tls_judged"},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (ValueError,)

    def act(self, args: dict, task_vars: dict) -> dict:
        host = str(task_vars.get("inventory_hostname"))
        # Shown at the default verbosity, as debug's output is: these lines are the point of the task.
        result: dict = {"changed": False, "_ansible_verbose_always": True}
        if self._task.check_mode:
            return result | self._planned(host, args)
        results = {name: args[name] for name in ("bind", "verify", "rollback", "restored")}
        entry = change_record.host_entry(
            host, args["outcome"], args["plan"], args["review"], args["replacement"], results, args["failure"]
        )
        folder = change_record.RecordFolder(args["report_dir"], str(args["run"]["id"]))
        run = dict(args["run"], who=change_record.who(task_vars, _user(), socket.gethostname()))
        hosts = [str(h) for h in task_vars.get("ansible_play_hosts_all") or [host]]
        plans = self._plans(hosts, task_vars, args["judged_var"])
        try:
            record = folder.write(
                entry,
                lambda entries: change_record.run_record(run, args["replacement"], hosts, entries, plans),
            )
        except OSError as error:
            # The change is done (or rolled back) whatever happens to its record: say so, fail nothing.
            record = change_record.run_record(run, args["replacement"], hosts, {host: entry}, plans)
            result["warnings"] = [
                f"The change record could not be written into {args['report_dir']}: {error}."
            ]
        else:
            result["record"] = folder.paths
        undo = None
        if entry["outcome"] == change_record.CHANGED and entry["undo"]["restore"]:
            undo = change_record.undo_command(host, folder.undo_path(host), task_vars.get("inventory_file"))
        lines = change_record.change_lines(entry, undo)
        if entry["outcome"] != change_record.CHANGED:
            line = self._rollout_line(host, hosts, task_vars, record)
            if line:
                lines.append(line)
        return result | {"msg": lines}

    def _planned(self, host: str, args: dict) -> dict:
        """Check mode: the lines of what would change, and, when the bind could not be simulated (the
        certificate is not imported yet, so the bind task was skipped), this task stands in for it: it
        reports the change the bind would make, with the plan's diff."""
        lines = change_record.planned_lines(host, args["plan"], args["review"], args["replacement"])
        bind_skipped = not args["bind"] or bool(args["bind"].get("skipped"))
        stands_in = bool(args["plan"].get("bindings")) and bind_skipped
        answer: dict = {
            "msg": [*lines, f"{host}: check mode: nothing was changed and no change record written."]
        }
        if stands_in:
            answer |= {"changed": True, "diff": args["plan"].get("diff") or {}}
        return answer

    def _rollout_line(self, host: str, hosts: list[str], task_vars: dict, record: dict) -> str | None:
        play = self._task.get_play()
        if play is None:
            return None
        failed = {
            h for h, entry in record["hosts"].items() if entry["outcome"] in change_record.FAILED_OUTCOMES
        }
        maximum = play.max_fail_percentage
        rollout = change_record.rollout(
            host,
            hosts,
            [str(h) for h in task_vars.get("ansible_play_batch") or []],
            play.serial,
            float(maximum) if maximum is not None else None,
            failed,
        )
        return change_record.rollout_line(host, rollout)

    @staticmethod
    def _plans(hosts: list[str], task_vars: dict, judged_var: str) -> dict[str, dict | None]:
        """Each host's plan as the preflight play made it (its registered discovery), None when it has none."""
        hostvars = task_vars.get("hostvars") or {}
        plans: dict[str, dict | None] = {}
        for host in hosts:
            judged = (hostvars.get(host) or {}).get(judged_var) if host in hostvars else None
            plan = judged.get("plan") if isinstance(judged, dict) else None
            plans[host] = plan if isinstance(plan, dict) else None
        return plans


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry and no LOGNAME/USER
        return str(os.getuid())
