#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compliance_verdict
short_description: Fail a host that is not compliant or could not be reached, one line per problem
version_added: 0.1.0
description:
  - Reads the result that M(mfa_server.tls.tls_facts) registered for the host (O(judged_var)) and fails the host
    when its review is not compliant, with a short message and the review's C(problems), which the default
    output prints one per line; when the host could not be reached, with why.
  - A compliant host passes with C(changed=false). Nothing runs on the managed host.
  - The compliance role calls it after writing the reports, so that a failing host's review is not printed as
    the failed task's result.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  judged_var:
    description: The variable the M(mfa_server.tls.tls_facts) task registered.
    type: str
    default: mfa_tls_judged
  report_dir:
    description: Where the reports were written, named in the message.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mfa_server.tls.attributes.controller
"""

EXAMPLES = r"""
- name: Judge the host
  mfa_server.tls.tls_facts:
    public_name: mfa.contoso.com
  register: mfa_tls_judged

- name: Fail the host when it is not compliant
  mfa_server.tls.compliance_verdict:
    report_dir: /var/lib/mfa-tls/reports
"""

RETURN = r"""
compliant:
  description: Whether the host's review is compliant (absent when it was not judged).
  returned: when judged
  type: bool
problems:
  description: One line per problem that makes the host fail (an endpoint with its codes, or a host finding).
  returned: when not compliant
  type: list
  elements: str
"""
