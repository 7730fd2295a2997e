# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renewal_due: is the certificate a host serves due for renewal? Decided on the controller from its review."""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils.renewal import (
    RENEWAL_OPTIONS,
    RenewalError,
    decide,
)
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = RENEWAL_OPTIONS


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (RenewalError,)

    def act(self, args: dict, task_vars: dict) -> dict:
        # A decision, not a change: `changed` stays false, so a run that renews nothing reports changed=0.
        return decide(args["review"], args) | {"changed": False}
