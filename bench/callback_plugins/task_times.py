# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""task_times: wall seconds of every task (start to the next task's start), fleet-wide, for bench/fleet.py.

Like ansible.posix.profile_tasks (not installed here), but writes JSON to $MFA_TLS_BENCH_TASK_TIMES
instead of printing, so the bench can put the slowest tasks beside its figures.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: Record the wall time of each task into a JSON file (bench only)
description:
  - Writes [{"task", "seconds"}] in play order to the file named by the environment variable MFA_TLS_BENCH_TASK_TIMES.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=task_times and ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._times: list[dict] = []
        self._current: dict | None = None

    def _close(self) -> None:
        if self._current is not None:
            self._current["seconds"] = round(time.perf_counter() - self._current.pop("_start"), 3)
            self._times.append(self._current)
            self._current = None

    def _start(self, name: str) -> None:
        self._close()
        self._current = {"task": name, "_start": time.perf_counter()}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task.get_name())

    def v2_playbook_on_handler_task_start(self, task):
        self._start(f"handler: {task.get_name()}")

    def v2_playbook_on_play_start(self, play):
        self._start(f"play start: {play.get_name()}")

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("MFA_TLS_BENCH_TASK_TIMES")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self._times, handle, indent=1)
