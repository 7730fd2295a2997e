# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_util is for internal use only. It is not intended to be used by collections outside of
# mfa_server.tls.
"""The shape every action plugin of this collection shares: arguments validated against the documented
spec, the work done in the controller's process, and a mistake of the caller reported as a clear failure."""

from __future__ import annotations

from typing import ClassVar

from ansible.plugins.action import ActionBase


class ActionFailure(ValueError):
    """Raised by `act` for a failure whose message says what to fix; nothing has changed."""


class ControllerAction(ActionBase):
    TRANSFERS_FILES = False
    ARGUMENT_SPEC: ClassVar[dict] = {}
    # Exceptions of the domain code that mean "the input is wrong", reported like ActionFailure.
    INPUT_ERRORS: ClassVar[tuple[type[Exception], ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._VALID_ARGS = frozenset(cls.ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            return result | self.act(args, task_vars or {})
        except (ActionFailure, *self.INPUT_ERRORS) as error:
            return result | {"failed": True, "msg": str(error)}

    def act(self, args: dict, task_vars: dict) -> dict:
        raise NotImplementedError
