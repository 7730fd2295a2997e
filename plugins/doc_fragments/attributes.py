# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """How far each kind of module supports check mode, diff mode and which platforms, written once per
    kind. The attributes' own descriptions are ansible-core's (ansible.builtin.action_common_attributes, and
    its .flow for `action`), which a module extends before these, as ansible.windows does. A module whose
    support differs (a diff, a platform) states that attribute itself; its own keys win over a fragment's."""

    # mfa_server.tls.attributes.windows_info: reads a Windows host, changes nothing
    WINDOWS_INFO = r"""
attributes:
  check_mode:
    support: full
    details: The module only reads the host; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: windows
"""

    # mfa_server.tls.attributes.windows_change: changes a Windows host, predicts the change in check mode
    WINDOWS_CHANGE = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: windows
"""

    # mfa_server.tls.attributes.controller: an action plugin doing its work in the controller's process
    CONTROLLER = r"""
attributes:
  action:
    support: full
    details: An action plugin; its work is done in the controller's process.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: It changes nothing on any host and runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: all
    details: It runs on the controller, whatever the managed host's system.
"""
