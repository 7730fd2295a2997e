# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remediation_plan: which bindings to change, decided on the controller from the host's review."""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import PlanError, plan_change
from ansible_collections.mfa_server.tls.plugins.plugin_utils.controller_action import ControllerAction

ARGUMENT_SPEC = {
    "review": {"type": "dict", "required": True},
    "thumbprint": {"type": "str", "required": True},
    "subject_alt_names": {"type": "list", "elements": "str"},
    "sites": {"type": "list", "elements": "str", "default": []},
    "bindings": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "site": {"type": "str", "required": True},
            "binding_information": {"type": "str", "required": True},
        },
    },
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PlanError,)

    def act(self, args: dict, task_vars: dict) -> dict:
        plan = plan_change(
            args["review"], args["thumbprint"], args["subject_alt_names"], args["sites"], args["bindings"]
        )
        warnings = [
            f"Left as it is: binding '{s['binding_information']}' of site '{s['site']}': {s['reason']}."
            for s in plan["left_alone"]
        ]
        return plan | {"changed": bool(plan["bindings"]), "warnings": warnings}
