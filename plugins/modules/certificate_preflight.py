#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: certificate_preflight
short_description: Check a replacement certificate (PFX) before any server sees it
version_added: 0.1.0
description:
  - Opens a PFX file on the controller (this is an action plugin, it always runs there) and checks that it can
    replace a private-CA certificate for phones. It must hold a private key and an end-entity certificate
    that key belongs to; the chain IIS will send (the certificate and the PFX's intermediates) must be
    trusted by the trust bundle for every public name; key and signature must meet the policy; its
    validity period and Certificate Transparency must meet Apple's rules (V(VALIDITY_TOO_LONG),
    V(CT_MISSING)); and it must stay valid for at least O(min_days).
  - Fails with every reason at once when the certificate is not fit, so that nothing is changed on any
    host with it.
  - Problems are reported with the finding codes of M(mfa_server.tls.tls_probe), and V(TOO_SHORT) when
    the remaining validity is under O(min_days).
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  path:
    description:
      - The PFX (PKCS#12) file. Give this, O(content) or O(thumbprint).
    type: path
  content:
    description:
      - Instead of O(path), the PFX as base64, for a certificate made on the controller that is never written
        to a file (the remediate role's C(acme) source), or handed over by an AWX credential (the role's
        C(mfa_tls_pfx_content)). Line breaks and spaces in it are ignored. It is key material, never logged or returned.
      - An empty O(path), O(content) or O(thumbprint) counts as not given (an AWX survey answer left blank).
    type: str
  thumbprint:
    description:
      - Instead of O(path), the thumbprint of a certificate already in the hosts' machine store with its key.
        Only its form is checked here (the hosts hold the certificate); it is returned normalised as
        RV(thumbprint).
    type: str
  password:
    description: The PFX password. Never logged or returned.
    type: str
  public_names:
    description:
      - Host names the certificate will serve (the names phones use). With O(hosts), the names of both count.
    type: list
    elements: str
    default: []
  hosts:
    description:
      - Inventory hosts whose public names the certificate will serve, each by its C(mfa_tls_public_name),
        else by its inventory name, so that one run (C(run_once)) checks the certificate for a whole play.
    type: list
    elements: str
    default: []
  min_days:
    description: The least number of days the certificate must stay valid.
    type: int
    default: 30
  return_content:
    description:
      - Also return the PFX file as base64 in RV(pfx_base64), for M(mfa_server.tls.certificate_import).
      - "It is key material: register the result of a task that sets this with C(no_log: true)."
    type: bool
    default: false
extends_documentation_fragment:
  - mfa_server.tls.trust
  - mfa_server.tls.trust.revocation
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mfa_server.tls.attributes.controller
requirements:
  - cryptography >= 42
"""

EXAMPLES = r"""
- name: Check the new certificate before anything changes
  mfa_server.tls.certificate_preflight:
    path: files/mfa-2027.pfx
    password: "{{ vault_mfa_pfx_password }}"
    public_names:
      - mfa.contoso.com
  register: replacement

- name: Keep the PFX content for the import, without ever showing it
  mfa_server.tls.certificate_preflight:
    path: files/mfa-2027.pfx
    password: "{{ vault_mfa_pfx_password }}"
    public_names: [mfa.contoso.com]
    return_content: true
  no_log: true
  register: replacement_content
"""

RETURN = r"""
thumbprint:
  description: SHA-1 thumbprint of the certificate, upper-case hex, as Windows shows it.
  returned: success
  type: str
  sample: 3B1EFD3A66EA28B16697394703A72CA340A05BD5
subject:
  description: Subject distinguished name (RFC 4514).
  returned: success, with O(path) or O(content)
  type: str
  sample: CN=mfa.contoso.com
issuer:
  description: Issuer distinguished name (RFC 4514).
  returned: success, with O(path) or O(content)
  type: str
  sample: CN=R11,O=Let's Encrypt,C=US
subject_alt_names:
  description: DNS names and IP addresses the certificate names.
  returned: success, with O(path) or O(content)
  type: list
  elements: str
  sample: [mfa.contoso.com]
not_after:
  description: End of validity (ISO 8601, UTC).
  returned: success, with O(path) or O(content)
  type: str
  sample: "2027-03-01T00:00:00+00:00"
key:
  description: Key type and size.
  returned: success, with O(path) or O(content)
  type: str
  sample: RSA 2048
intermediates:
  description: The intermediate CA certificates in the PFX, which the import puts in LocalMachine\CA.
  returned: success, with O(path) or O(content)
  type: list
  elements: dict
  contains:
    thumbprint:
      description: SHA-1 thumbprint.
      type: str
      returned: always
    subject:
      description: Subject distinguished name.
      type: str
      returned: always
    pem:
      description: The certificate, PEM (public; lets a probe name a missing intermediate).
      type: str
      returned: always
problems:
  description: Every reason the certificate is not fit (the module fails when there is any).
  returned: failure
  type: list
  elements: str
  sample: ["PRIVATE_CA: The chain of 'mfa.contoso.com' (3B1EFD3A66EA28B1...) ends at ..."]
pfx_base64:
  description: The PFX file, base64. Key material.
  returned: success and O(return_content=true)
  type: str
"""
