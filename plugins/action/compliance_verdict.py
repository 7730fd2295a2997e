# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""compliance_verdict: fails a host that is not compliant or was not reached, one line per problem.

A task Ansible fails prints its whole result, so tls_facts failing a host would print the host's review (every
endpoint, chain and finding) as one line of JSON. The compliance role lets tls_facts set the fact, writes the
reports, and fails each host here instead: a short message and the `problems` list, which the default output
shows one problem per line (`_ansible_verbose_always`, as ansible.builtin.debug asks). No module runs on the
host: it reads what tls_facts registered.
"""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils import reports
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {
    "judged_var": {"type": "str", "default": "mfa_tls_judged"},
    "report_dir": {"type": "path"},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args: dict, task_vars: dict) -> dict:
        host = task_vars.get("inventory_hostname")
        review = reports.registered_review(task_vars, args["judged_var"])
        if review is None:
            judged = task_vars.get(args["judged_var"])
            why = (
                judged.get("msg") or "no review"
                if isinstance(judged, dict)
                else f"no '{args['judged_var']}' registered (run tls_facts first)."
            )
            return {"failed": True, "msg": f"{host} was not judged: {why}"}
        if review.get("unreachable"):
            return {"failed": True, "msg": f"{host} unreachable: {review['unreachable']}"}
        if review.get("compliant"):
            return {"changed": False, "compliant": True, "msg": f"{host} is compliant"}
        problems = list(review.get("problems") or ["the review says the host is not compliant"])
        where = (
            f"; the reports in {args['report_dir']} say why and how to fix each" if args["report_dir"] else ""
        )
        if len(problems) == 1:
            msg = f"{host} is not compliant: {problems[0]}{where}"
        else:
            msg = f"{host} is not compliant: {len(problems)} problems, one per line in 'problems'{where}"
        return {
            "failed": True,
            "changed": False,
            "compliant": False,
            "msg": msg,
            "problems": problems,
            "_ansible_verbose_always": True,
        }
