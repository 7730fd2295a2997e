#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: remediation_plan
short_description: Decide which IIS bindings get the new certificate
version_added: 0.1.0
description:
  - From a host's C(mfa_tls) fact (see M(mfa_server.tls.tls_facts)), selects the bindings to change. By
    default, the bindings serving MFA web components that are not compliant, and every other binding
    that uses one of their certificates. Bindings that already carry the new certificate are not changed.
  - A selected binding is left as it is, with a warning giving the reason, when it takes its certificate
    from the Central Certificate Store, when the new certificate does not name a name that really reaches it
    (its host name, the public name unless another binding on the port takes it, or a name the MFA
    configuration calls it by, such as the Web Service SDK URL in web.config, that its current certificate
    names; the warning says who calls it by which URL), when no name the new certificate names reaches it
    alone (so the change could not be verified), or when it shares its HTTP.sys entry with a binding that
    stays as it is.
  - Fails before anything changes when a named site or binding does not exist, or when an explicitly
    named binding cannot be changed for one of the reasons above.
  - Returns what M(mfa_server.tls.iis_binding_certificate) needs, the endpoints to verify afterwards, and
    how to roll back. With C(--diff) it shows each binding's certificate before and after.
  - This is an action plugin; it runs on the controller and touches no host.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  review:
    description: The host's C(mfa_tls) fact.
    type: dict
    required: true
extends_documentation_fragment:
  - mfa_server.tls.plan
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mfa_server.tls.attributes.controller
attributes:
  diff_mode:
    support: full
    details: Each planned binding's certificate before and after.
"""

EXAMPLES = r"""
- name: Plan the change
  mfa_server.tls.remediation_plan:
    review: "{{ ansible_facts.mfa_tls }}"
    thumbprint: "{{ replacement.thumbprint }}"
    subject_alt_names: "{{ replacement.subject_alt_names }}"
  register: plan
"""

RETURN = r"""
bindings:
  description: The bindings to change, for M(mfa_server.tls.iis_binding_certificate).
  returned: success
  type: list
  elements: dict
  contains:
    site:
      description: IIS site name.
      type: str
      returned: always
    binding_information:
      description: The binding's C(bindingInformation).
      type: str
      returned: always
verify_targets:
  description: The endpoints to probe after the change, for M(mfa_server.tls.tls_probe).
  returned: success
  type: list
  elements: dict
  contains:
    url:
      description: The URL a phone uses.
      type: str
      returned: always
    address:
      description: Where to connect.
      type: str
      returned: always
    check_http_status:
      description: Whether an HTTP 404 counts (false for a binding that serves no MFA component).
      type: bool
      returned: always
    send_name:
      description:
        - Whether the probe sends the URL's host; false for a binding no known name reaches, probed as a
          client reaching it by address (see the C(send_name) target option of M(mfa_server.tls.tls_probe)).
        - Every target reaches its binding and no other binding.
      type: bool
      returned: always
verify_baseline:
  description:
    - For each of RV(verify_targets), in the same order, its URL and the finding codes of its phone verdict before
      the change, for the C(baseline) option of M(mfa_server.tls.tls_probe) (verification by regression).
  returned: success
  type: list
  elements: dict
  contains:
    url:
      description: The target's URL.
      type: str
      returned: always
    codes:
      description: Its finding codes before the change.
      type: list
      elements: str
      returned: always
left_alone:
  description: Selected bindings left as they are, each with C(site), C(binding_information) and C(reason).
  returned: success
  type: list
  elements: dict
previous_thumbprints:
  description: For each of RV(verify_targets), in the same order, the thumbprint it served before the change.
  returned: success
  type: list
  elements: str
rollback:
  description:
    - The undo of the change, for the C(restore) option of M(mfa_server.tls.iis_binding_certificate) every
      planned HTTP.sys entry exactly as discovery read it (certificate, store, application id, flags and
      check settings), or C(exists=false) for an entry the change creates, which the restore deletes again.
    - The remediate role restores the snapshot the binding module returned when it has one, else this.
  returned: success
  type: list
  elements: dict
  contains:
    key:
      description: The HTTP.sys key, for example C(ipport=0.0.0.0:443).
      type: str
      returned: always
    exists:
      description: Whether the entry existed before the change.
      type: bool
      returned: always
"""
