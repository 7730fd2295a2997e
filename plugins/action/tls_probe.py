# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tls_probe: in the controller's process when the task runs there (delegate_to: localhost), which spares
a Python start and a cryptography import per host; the module everywhere else."""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils.probe import (
    ARGUMENT_SPEC,
    ProbeInputError,
    run_probe,
)
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import ControllerAction


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (ProbeInputError,)

    def run(self, tmp=None, task_vars=None):
        if self._connection.transport != "local":
            result = super(ControllerAction, self).run(tmp, task_vars)
            return result | self._execute_module(task_vars=task_vars)
        return super().run(tmp, task_vars)

    def act(self, args: dict, task_vars: dict) -> dict:
        return run_probe(args)
