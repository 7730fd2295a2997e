# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: run_hosts
short_description: The host pattern of a run, refused before any play starts when it matches no host
version_added: 0.2.0
description:
  - For the C(hosts) keyword of a playbook's first play. Returns the host pattern it is given, unchanged, once it
    has checked that the pattern matches at least one host of the inventory, and at least one that the run's
    C(--limit) (an AWX job's limit) keeps.
  - When it matches none, the run stops before any play starts, with a message that names the pattern and says
    which groups the inventory has, or which hosts the limit left out. Without this, Ansible skips a play that
    matches no host and the run ends green, having checked nothing.
  - Also checks, when given, the rolling-change settings a later play of the run takes, O(serial) and
    O(max_fail_percentage), so that a wrong value stops the run with a message naming it before anything
    happens, rather than with a Python traceback once the rolling play starts.
  - A play keyword is templated with the run's extra variables and play variables only, not inventory
    variables, so give the pattern (C(mfa_tls_hosts)) and the settings with C(-e) or in the job template.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  _terms:
    description: The host pattern, as C(hosts) takes it (a group, a host, C(mfa_servers:&site_a), C(mfa01,mfa02)).
    required: true
    type: list
    elements: str
  serial:
    description:
      - The C(serial) of the run's rolling play (C(mfa_tls_serial)) to check. A number of hosts (at least 1), a
        percentage of the hosts (C(25%)), or a list of them (C([1, "50%"])), as Ansible takes it.
    type: raw
  max_fail_percentage:
    description:
      - The C(max_fail_percentage) of the run's rolling play (C(mfa_tls_max_fail_percentage)) to check, a number
        from 0 to 100.
    type: raw
seealso:
  - name: Patterns, targeting hosts and groups
    description: The host patterns C(hosts) and C(--limit) take.
    link: https://docs.ansible.com/ansible/latest/inventory_guide/intro_patterns.html
"""

EXAMPLES = r"""
- name: Check the TLS compliance of the MFA servers
  hosts: "{{ lookup('mfa_server.tls.run_hosts', mfa_tls_hosts | default('mfa_servers')) }}"
  gather_facts: false
  roles:
    - role: mfa_server.tls.compliance

- name: Check the certificate and plan every host before the rolling change
  hosts: >-
    {{ lookup('mfa_server.tls.run_hosts', mfa_tls_hosts | default('mfa_servers'),
              serial=mfa_tls_serial | default(1), max_fail_percentage=mfa_tls_max_fail_percentage | default(0)) }}
  gather_facts: false
  tasks:
    - name: Preflight
      ansible.builtin.import_role:
        name: mfa_server.tls.remediate
        tasks_from: preflight
"""

RETURN = r"""
_raw:
  description: The host pattern, unchanged.
  type: list
  elements: str
"""

import re  # noqa: E402
from collections.abc import Mapping  # noqa: E402

from ansible import context  # noqa: E402
from ansible.errors import AnsibleError  # noqa: E402
from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        pattern = ",".join(str(term) for term in terms)
        if context.CLIARGS.get("syntax"):
            # --syntax-check (ansible-lint runs it) reads the playbook without an inventory and runs nothing.
            return [pattern]
        problems = []
        if self.get_option("serial") is not None:
            problems += serial_problems(self.get_option("serial"))
        if self.get_option("max_fail_percentage") is not None:
            problems += percentage_problems(self.get_option("max_fail_percentage"))
        matched, kept = self._hosts(pattern, variables.get("groups") or {}, variables.get("ansible_limit"))
        problem = hosts_problem(
            pattern, matched, kept, variables.get("groups") or {}, variables.get("ansible_limit")
        )
        if problem:
            problems.append(problem)
        if problems:
            raise AnsibleError(" ".join(problems) + " Nothing was run.")
        return [pattern]

    def _hosts(self, pattern: str, groups: Mapping, limit: str | None) -> tuple[list[str], list[str]]:
        """The hosts the pattern matches in the inventory, and those of them the --limit keeps (the
        inventory_hostnames lookup's way: an inventory rebuilt from the `groups` variable)."""
        manager = InventoryManager(self._loader, parse=False)
        for group, hosts in groups.items():
            manager.add_group(group)
            for host in hosts:
                manager.add_host(host, group=group)
        matched = _matching(manager, pattern)
        if not limit:
            return matched, matched
        manager.subset(limit)
        return matched, _matching(manager, pattern)


def hosts_problem(
    pattern: str, matched: list[str], kept: list[str], groups: Mapping, limit: str | None
) -> str:
    """Why a run of `pattern` would run on no host, or '' when it runs on some."""
    if kept:
        return ""
    if matched:
        return (
            f"No host to run on: the host pattern '{pattern}' (mfa_tls_hosts) matches {_names(matched)}, but the "
            f"limit '{limit}' (--limit, or the job template's limit) keeps none of them. Fix the limit or mfa_tls_hosts."
        )
    own = sorted(name for name in groups if name not in ("all", "ungrouped"))
    fix = (
        f"Put the MFA servers in a group named '{pattern}', or name their group"
        if re.fullmatch(r"[\w.-]+", pattern)
        else "Fix the pattern, or name the group of the MFA servers"
    )
    return (
        f"No host to run on: the host pattern '{pattern}' (mfa_tls_hosts) matches no host of the inventory "
        f"(its groups: {', '.join(own) or 'none'}; hosts: {len(set(groups.get('all') or []))}). {fix}: "
        "-e mfa_tls_hosts=<group or pattern>."
    )


def serial_problems(serial) -> list[str]:
    """What is wrong with a `serial` value as Ansible reads it (a number, 'N%', or a list of those)."""
    values = serial if isinstance(serial, list) else [serial]
    wrong = [value for value in values if not _batch_size(value)]
    if not values or wrong:
        return [
            f"mfa_tls_serial is {serial!r}: give the number of hosts to change at a time (1, 5), a percentage of "
            "the hosts ('25%'), or a list of them ([1, '50%'])."
        ]
    return []


def percentage_problems(value) -> list[str]:
    try:
        number = float(str(value).strip().removesuffix("%"))
    except ValueError:
        number = -1.0
    if isinstance(value, bool) or not 0 <= number <= 100:
        return [
            f"mfa_tls_max_fail_percentage is {value!r}: give a number from 0 to 100, the percentage of a batch's "
            "hosts that may fail before the rolling change stops (0: any failure stops it)."
        ]
    return []


def _batch_size(value) -> bool:
    """Whether a serial item is a positive host count or a percentage from 1% to 100%."""
    if isinstance(value, bool):
        return False
    text = str(value).strip()
    percent = text.endswith("%")
    digits = text.removesuffix("%").strip()
    if not digits.isdigit():
        return False
    return 1 <= int(digits) <= 100 if percent else int(digits) >= 1


def _matching(manager: InventoryManager, pattern: str) -> list[str]:
    # As the inventory_hostnames lookup does: a pattern that matches nothing is no host, also where
    # host_pattern_mismatch is `error` (ansible.cfg; ansible-test sets it), which raises instead of warning.
    try:
        return [host.name for host in manager.get_hosts(pattern=pattern)]
    except AnsibleError:
        return []


def _names(hosts: list[str], shown: int = 5) -> str:
    listed = ", ".join(hosts[:shown])
    return listed + (f" and {len(hosts) - shown} more" if len(hosts) > shown else "")
