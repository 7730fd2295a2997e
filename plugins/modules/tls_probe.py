#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_probe
short_description: Judge HTTPS endpoints the way a phone does
version_added: 0.1.0
description:
  - Connects to each target like the Microsoft Authenticator app on a phone would (SNI, TLS 1.2 at least,
    only the trust store's roots, no fetching of missing intermediates), records the certificate chain
    exactly as the server sent it, judges it and requests the URL's path to record the HTTP status.
  - Every problem found is a finding with a stable C(code), a C(severity), a message naming the
    certificate involved and a remediation sentence. One cause does not hide another; a private-CA
    chain that is also expired reports both.
  - Runs on the controller (or wherever it is delegated) and changes nothing.
  - The same codes are used by the server-side review of IIS bindings, which adds V(CERTIFICATE_MISSING)
    (a binding refers to a certificate the machine store does not hold) and the codes for where IIS and
    HTTP.sys part ways (V(NO_HTTP_SYS_ENTRY), V(OVERRIDDEN_BY_HIDDEN_ENTRY), V(BINDING_UNREADABLE),
    V(ORPHANED_HTTP_SYS_ENTRY), V(SERVED_BY_FALLBACK_ENTRY), V(FOREIGN_APP_ID), V(LEGACY_METADATA)) and the MFA Server
    checks of the host review (V(MFA_SERVER_RETIRED), V(SDK_URL_UNSAFE), V(SDK_CONNECTION_FAILED),
    V(COMPONENT_URL_NOT_FOUND), V(MFA_COMPONENT_WITHOUT_HTTPS), and V(CALLED_ONLY_BY_MFA_SERVER) for a binding only
    the MFA Server's own components call, whose phone-trust findings it leaves out) and its scope
    (V(WAIVER_EXPIRED)); a probe never reports them.
  - "Finding codes: V(PRIVATE_CA), V(SELF_SIGNED), V(INCOMPLETE_CHAIN), V(HOSTNAME_MISMATCH), V(EXPIRED),
    V(NOT_YET_VALID), V(WEAK_SIGNATURE), V(WEAK_KEY), V(NO_SERVER_AUTH), V(LEGACY_TLS_ONLY), V(UNREACHABLE),
    V(HTTP_NOT_FOUND), V(UNTRUSTED), V(CERTIFICATE_MISSING), V(NO_HTTP_SYS_ENTRY), V(OVERRIDDEN_BY_HIDDEN_ENTRY),
    V(BINDING_UNREADABLE), V(VALIDITY_TOO_LONG), V(CT_MISSING), V(NO_FORWARD_SECRECY), V(REVOKED), V(SDK_URL_UNSAFE),
    V(SDK_CONNECTION_FAILED), V(COMPONENT_URL_NOT_FOUND), V(MFA_COMPONENT_WITHOUT_HTTPS), V(WAIVER_EXPIRED) (errors);
    V(EXPIRING_SOON), V(ORPHANED_HTTP_SYS_ENTRY),
    V(SERVED_BY_FALLBACK_ENTRY), V(FOREIGN_APP_ID), V(LEGACY_METADATA), V(LEGACY_TLS_ENABLED), V(MFA_SERVER_RETIRED) (warning);
    V(CHAIN_ORDER), V(ROOT_SENT), V(REVOCATION_UNKNOWN), V(CALLED_ONLY_BY_MFA_SERVER) (info)."
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  targets:
    description:
      - The endpoints to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description:
          - The https URL a phone would use, for example the Mobile App Web Service URL.
          - Its host is sent as SNI and in the Host header and must be named by the certificate.
        type: str
        required: true
      address:
        description:
          - Where to connect, as C(host:port) or C([v6address]:port), when DNS for the URL's host would not
            lead to the server (a load balancer, a lab, a server not yet in DNS).
          - Defaults to the URL's host and port.
        type: str
      check_http_status:
        description:
          - Report V(HTTP_NOT_FOUND) when the URL answers HTTP 404. Set V(false) for a URL whose path means
            nothing (the root of a site that serves no MFA component); the status is still recorded.
        type: bool
        default: true
      send_name:
        description:
          - Send the URL's host as SNI and in the Host header. V(false) connects as a client that reaches the
            server by its address does (no SNI, the address connected to as the Host header), while the chain is
            still judged for the URL's host.
          - For an IIS binding without a host name that no known name reaches (another binding on the port takes
            the public name), only so does the probe land on that binding; M(mfa_server.tls.tls_facts) sets it.
        type: bool
        default: true
  baseline:
    description:
      - The finding codes each target had before a change, one entry per target in the order of O(targets)
        (M(mfa_server.tls.remediation_plan) returns them as C(verify_baseline)). With it, each result is judged
        against its past (RV(results[].regression)), RV(regressed) says whether the change made any target worse,
        and O(fail_when_noncompliant) fails the task on a regression instead of on every error.
      - A regression is a certificate finding left (V(PRIVATE_CA), V(INCOMPLETE_CHAIN), V(HOSTNAME_MISMATCH) ...),
        an error finding the target did not have before, or no certificate sent at all. An error finding it had
        before that no certificate causes (V(HTTP_NOT_FOUND) on a component that answered 404 before) is not;
        it is returned as remaining and shown as a warning.
    type: list
    elements: dict
    suboptions:
      url:
        description: The target's URL, to check that the entries are in the order of O(targets).
        type: str
      codes:
        description: The finding codes the target had before.
        type: list
        elements: str
        default: []
  intermediates_pem:
    description:
      - Intermediate certificates as PEM text, used like O(extra_intermediates).
    type: list
    elements: str
    default: []
  concurrency:
    description:
      - How many targets are probed at the same time.
    type: int
    default: 16
extends_documentation_fragment:
  - mfa_server.tls.trust
  - mfa_server.tls.trust.intermediates
  - mfa_server.tls.trust.revocation
  - mfa_server.tls.probe
  - mfa_server.tls.probe.verdict
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mfa_server.tls.attributes.controller
attributes:
  action:
    details:
      - "With the task on the controller (C(delegate_to: localhost)) the probe runs in the controller's process;
        elsewhere it runs as a Python module on that host."
  platform:
    platforms: posix
    details: The controller, or the POSIX host with Python the task is delegated to.
requirements:
  - cryptography >= 42
  - certifi (for the default trust store)
seealso:
  - name: Microsoft Authenticator activation fails with NotFound
    description: The private-CA certificate problem this collection fixes.
    link: https://learn.microsoft.com/entra/identity/authentication/howto-mfaserver-deploy-mobileapp
"""

EXAMPLES = r"""
- name: Judge the Mobile App Web Service as a phone would
  mfa_server.tls.tls_probe:
    targets:
      - url: https://mfa.contoso.com/MultiFactorAuthMobileAppWebService/PfPaWs.asmx
  delegate_to: localhost
  register: probe

- name: Probe a server that is not in DNS yet, against a private trust bundle
  mfa_server.tls.tls_probe:
    targets:
      - url: https://mfa.contoso.com/MultiFactorAuth/
        address: 192.0.2.10:443
    trust_bundle: /etc/pki/phone-roots.pem
    expiry_warning_days: 45
  delegate_to: localhost

- name: Fail when any endpoint is not compliant
  ansible.builtin.assert:
    that: probe.compliant
    fail_msg: "{{ probe.results | map(attribute='findings') | flatten | map(attribute='message') | list }}"
"""

RETURN = r"""
compliant:
  description: Whether every target is compliant (no finding of severity error).
  returned: always
  type: bool
  sample: false
regressed:
  description: Whether any target is worse than its O(baseline) (see RV(results[].regression)).
  returned: when O(baseline) is given
  type: bool
  sample: false
results:
  description: One entry per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The URL probed.
      type: str
      returned: always
      sample: https://mfa.contoso.com/MultiFactorAuthMobileAppWebService/PfPaWs.asmx
    host:
      description: The host name asked for (SNI, Host header, name matched against the certificate).
      type: str
      returned: always
      sample: mfa.contoso.com
    address:
      description: Where the probe connected, C(host:port).
      type: str
      returned: always
      sample: 192.0.2.10:443
    tls_version:
      description: The TLS version negotiated, or null when no handshake completed.
      type: str
      returned: always
      sample: TLSv1.3
    cipher:
      description:
        - The cipher suite negotiated, by its OpenSSL name (for TLS 1.3 the same as the IANA name), or null when
          no handshake completed.
      type: str
      returned: always
      sample: ECDHE-RSA-AES256-GCM-SHA384
    cipher_iana:
      description:
        - The IANA name of RV(results[].cipher), as Windows names suites, for the suites the probe knows (every TLS 1.3
          suite, those on App Transport Security's list and the common ones without forward secrecy); null otherwise.
      type: str
      returned: always
      sample: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    protocols:
      description:
        - The TLS versions the server accepts, oldest first, among V(TLSv1), V(TLSv1.1), V(TLSv1.2) and V(TLSv1.3).
        - Learned from the handshake and from ClientHellos whose answer is read only up to the ServerHello (or the
          alert). A version whose check got no answer in time is left out. Empty when no handshake completed.
      type: list
      elements: str
      returned: always
      sample: [TLSv1.2, TLSv1.3]
    forward_secrecy:
      description:
        - Whether a phone gets forward secrecy as App Transport Security requires it, TLS 1.3 or a TLS 1.2 ECDHE suite
          on Apple's list. V(false) comes with V(NO_FORWARD_SECRECY).
        - Null when it could not be told (no handshake, or the check got no answer).
      type: bool
      returned: always
      sample: true
    http_status:
      description: The HTTP status of a GET for the URL's path, or null when there was no HTTP answer.
      type: int
      returned: always
      sample: 200
    http_error:
      description: Why there is no HTTP status, or null.
      type: str
      returned: always
      sample: null
    presented_chain:
      description: The certificates exactly as the server sent them, leaf first.
      type: list
      elements: dict
      returned: always
      contains:
        subject:
          description: Subject distinguished name (RFC 4514).
          type: str
          returned: always
          sample: CN=mfa.contoso.com
        issuer:
          description: Issuer distinguished name (RFC 4514).
          type: str
          returned: always
          sample: CN=Contoso Issuing CA,DC=contoso,DC=com
        sha1:
          description: SHA-1 thumbprint, upper-case hex, as Windows shows it.
          type: str
          returned: always
          sample: 3B1EFD3A66EA28B16697394703A72CA340A05BD5
        sha256:
          description: SHA-256 fingerprint, upper-case hex.
          type: str
          returned: always
        not_before:
          description: Start of validity (ISO 8601, UTC).
          type: str
          returned: always
          sample: "2026-01-01T00:00:00+00:00"
        not_after:
          description: End of validity (ISO 8601, UTC).
          type: str
          returned: always
          sample: "2027-01-01T00:00:00+00:00"
    trusted:
      description:
        - Whether the chain as sent validates for the host name against the trust store over TLS 1.2 or later, with no
          key, signature, validity period or missing SCTs that phones refuse, and the leaf not revoked.
      type: bool
      returned: always
      sample: false
    compliant:
      description: Whether no finding of severity error was made.
      type: bool
      returned: always
      sample: false
    findings:
      description: Every problem found.
      type: list
      elements: dict
      returned: always
      contains:
        code:
          description: Stable finding code (see the module description).
          type: str
          returned: always
          sample: PRIVATE_CA
        severity:
          description: One of V(error), V(warning), V(info).
          type: str
          returned: always
          sample: error
        message:
          description: What is wrong, naming the certificate involved.
          type: str
          returned: always
          sample: "The chain of 'mfa.contoso.com' (3B1EFD3A66EA28B1...) ends at the root 'Contoso Root CA' ..."
        remediation:
          description: What to do about it.
          type: str
          returned: always
          sample: Replace the certificate with one issued by a publicly trusted CA.
    regression:
      description: The result compared with the target's codes in O(baseline).
      type: dict
      returned: when O(baseline) is given
      contains:
        codes_before:
          description: The codes of the baseline.
          type: list
          elements: str
          returned: always
          sample: [HTTP_NOT_FOUND, PRIVATE_CA]
        certificate_findings:
          description: The certificate error findings left; each is a regression.
          type: list
          elements: str
          returned: always
          sample: []
        introduced:
          description: Error findings no certificate causes that the target did not have before; each is a regression.
          type: list
          elements: str
          returned: always
          sample: []
        remaining:
          description: Error findings no certificate causes that the target already had; not a regression.
          type: list
          elements: str
          returned: always
          sample: [HTTP_NOT_FOUND]
        regressed:
          description: Whether this target is worse (a certificate or an introduced finding, or no certificate sent).
          type: bool
          returned: always
          sample: false
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mfa_server.tls.plugins.module_utils.option_specs import TLS_PROBE as ARGUMENT_SPEC

try:
    from ansible_collections.mfa_server.tls.plugins.module_utils import certificates
    from ansible_collections.mfa_server.tls.plugins.module_utils.probe import ProbeInputError, run_probe

    IMPORT_ERROR = None
except ImportError:
    # The arguments are still checked against the full spec (option_specs needs no library) before the
    # failure names the missing one.
    IMPORT_ERROR = traceback.format_exc()


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if IMPORT_ERROR or not certificates.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography >= 42"), exception=IMPORT_ERROR)
    try:
        module.exit_json(**run_probe(module.params))
    except ProbeInputError as error:
        module.fail_json(msg=str(error))


if __name__ == "__main__":
    main()
