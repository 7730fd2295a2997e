# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""remediation_plan: which bindings to change, decided on the controller from the host's review."""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import (
    PLAN_OPTIONS,
    PlanError,
    plan_from_options,
)
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {"review": {"type": "dict", "required": True}, **PLAN_OPTIONS}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PlanError,)

    def act(self, args: dict, task_vars: dict) -> dict:
        planned = plan_from_options(args["review"], args)
        return planned["plan"] | {"changed": planned["changed"], "warnings": planned["warnings"]}
