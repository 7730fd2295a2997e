# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remediation_plan: which bindings to change, decided on the controller from the host's review."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import PlanError, plan_change

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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            plan = plan_change(
                args["review"], args["thumbprint"], args["subject_alt_names"], args["sites"], args["bindings"]
            )
        except PlanError as error:
            return result | {"failed": True, "msg": str(error)}
        result["diff"] = plan.pop("diff")
        result.update(plan)
        result["changed"] = bool(plan["bindings"])
        result["warnings"] = [
            f"Left as it is: binding '{s['binding_information']}' of site '{s['site']}': {s['reason']}."
            for s in plan["left_alone"]
        ]
        return result
