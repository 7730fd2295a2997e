# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_report: writes the `mfa_tls` fact of each host of the run, then rebuilds the fleet files, on the controller."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.mfa_server.tls.plugins.module_utils import reports

ARGUMENT_SPEC = {
    "report_dir": {"type": "path", "required": True},
    "hosts": {"type": "list", "elements": "str"},
    "title": {"type": "str", "default": "mfa-tls-report"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if self._task.check_mode:
            return result | {"changed": False, "msg": "check mode: no report written"}
        task_vars = task_vars or {}
        hostvars = task_vars.get("hostvars", {})
        hosts = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_hosts_all", [])
        try:
            for host in hosts:
                review = hostvars[host].get("ansible_facts", {}).get("mfa_tls") if host in hostvars else None
                reports.write_host(args["report_dir"], host, review or reports.missing_review())
            paths, summary = reports.write_fleet(args["report_dir"], args["title"])
        except OSError as error:
            return result | {
                "failed": True,
                "msg": f"Cannot write the report into {args['report_dir']}: {error}. Check mfa_tls_report_dir.",
            }
        # Reports are outputs on the controller, not changes to a managed host.
        return result | {
            "changed": False,
            "files": paths,
            "summary": summary,
        }
