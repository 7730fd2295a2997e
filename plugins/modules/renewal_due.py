#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: renewal_due
short_description: Decide from what a host serves whether its certificate is due for renewal
version_added: 0.2.0
description:
  - From a host's C(mfa_tls) fact (see M(mfa_server.tls.tls_facts)), takes the leaf certificate each
    endpoint in scope actually serves (as the probe received it, not a file on the controller) and decides
    whether it is due for renewal.
  - In scope are the endpoints that serve an MFA component, and every endpoint serving the same certificate;
    on a host serving no MFA component, every endpoint. Central Certificate Store bindings are never in scope.
  - A leaf is due when less than O(remaining_percentage) of its lifetime (C(notAfter - notBefore)) remains,
    when less than O(min_days) days remain, when the CA's ARI window given in O(ari_windows) has been reached,
    or when one of its endpoints reports a finding a new certificate fixes (C(PRIVATE_CA), C(SELF_SIGNED),
    C(INCOMPLETE_CHAIN), C(HOSTNAME_MISMATCH), C(EXPIRED), C(NOT_YET_VALID), C(WEAK_SIGNATURE), C(WEAK_KEY),
    C(NO_SERVER_AUTH), C(VALIDITY_TOO_LONG), C(CT_MISSING), C(REVOKED), C(UNTRUSTED), C(CERTIFICATE_MISSING),
    C(NO_HTTP_SYS_ENTRY)). An endpoint that serves no certificate at all is due.
  - "ARI (RFC 9773): the CA suggests a window; the client should pick a random time in it. This module picks
    a point derived from the certificate's thumbprint, so that two runs decide the same while a fleet's
    certificates spread over the window. The window is read with community.crypto's
    C(acme_certificate_renewal_info) by C(playbooks/renew.yml) when the ACME directory offers C(renewalInfo)
    (Pebble 2.4 does not)."
  - Returns the bindings to renew (every binding serving a due leaf, so shared certificates stay shared),
    and when the host would next be due.
  - This is an action plugin; it runs on the controller, touches no host, and never reports a change.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  review:
    description: The host's C(mfa_tls) fact.
    type: dict
    required: true
  remaining_percentage:
    description: Renew when less than this share of the lifetime remains (Let's Encrypt renews with a third left).
    type: float
    default: 33.0
  min_days:
    description: Renew when fewer days than this remain, whatever the lifetime.
    type: float
    default: 7.0
  ari_windows:
    description:
      - Thumbprint (SHA-1, hexadecimal) to the CA's suggested renewal window, C({start, end}) in ISO 8601, as in
        the C(suggestedWindow) of an ARI response. Thumbprints not listed are decided from their dates only.
    type: dict
    default: {}
  now:
    description: The moment to decide for (ISO 8601); the controller's clock when omitted. For tests and dry planning.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mfa_server.tls.attributes.controller
"""

EXAMPLES = r"""
- name: Decide whether the served certificate is due
  mfa_server.tls.renewal_due:
    review: "{{ ansible_facts.mfa_tls }}"
    remaining_percentage: 33
    min_days: 7
  register: renewal

- name: Say when it would renew
  ansible.builtin.debug:
    msg: "{{ renewal.msg }}"
"""

RETURN = r"""
due:
  description: Whether the host is due for renewal.
  returned: success
  type: bool
  sample: false
renew_on:
  description: The date (UTC, C(YYYY-MM-DD)) from which the host is due; today when due; null when it serves nothing in scope.
  returned: success
  type: str
  sample: "2027-02-28"
msg:
  description: One line saying whether the host is due and why, or from when it will be.
  returned: success
  type: str
  sample: "not due: the next renewal is due on 2027-02-28 (9F2C...45, valid until 2027-03-30, served at 3 endpoints)"
bindings:
  description: The bindings to renew (for the remediate role's C(mfa_tls_bindings)); empty when not due.
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
certificates:
  description: Each distinct leaf the endpoints in scope serve, with its verdict.
  returned: success
  type: list
  elements: dict
  contains:
    thumbprint:
      description: SHA-1 thumbprint, upper-case hexadecimal.
      type: str
      returned: always
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      returned: always
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      returned: always
    due:
      description: Whether this leaf is due.
      type: bool
      returned: always
    reasons:
      description: Why it is due (empty when not).
      type: list
      elements: str
      returned: always
    renew_on:
      description: The date from which it is due.
      type: str
      returned: always
    urls:
      description: The endpoints that serve it.
      type: list
      elements: str
      returned: always
"""
