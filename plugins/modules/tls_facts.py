#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_facts
short_description: One host's TLS verdict, server side and as a phone sees it
version_added: 0.1.0
description:
  - Runs M(mfa_server.tls.host_tls_info) on the Windows host (what M(mfa_server.tls.iis_tls_info) and
    M(mfa_server.tls.mfa_server_info) return, in one module execution and nothing else on the host, since each
    execution costs seconds on Windows), then, on the controller, lists the host's HTTPS
    endpoints (one per binding and MFA web component it serves) and judges each twice.
  - Server side, the chain Schannel will send (the bound certificate and the intermediates in
    LocalMachine\CA) is evaluated with the trust engine. Phone side, the endpoint is probed from the
    controller like M(mfa_server.tls.tls_probe) does. Both use the finding codes documented there.
  - The result is the fact C(mfa_tls). It changes nothing and supports check mode.
  - This is an action plugin; the probes start from the controller.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  public_name:
    description:
      - The host name phones use for this server's bindings that have no host name of their own.
      - Defaults to the inventory host name.
    type: str
  probe_addresses:
    description:
      - Where the controller connects to reach an IIS port, as a mapping of port to C(host:port), when the
        public name does not lead there from the controller (a load balancer, a lab).
    type: dict
    default: {}
  check_sdk_connection:
    description:
      - Ask each Mobile App Web Service to test its own connection to the Web Service SDK (the SOAP operation
        C(TestPfWsSdkConnection) of C(PfPaWs.asmx), POSTed from the controller to the address the probe used,
        with SNI and Host set to the public name; the certificate is not verified for this call). Anything but
        success is V(SDK_CONNECTION_FAILED) in RV(ansible_facts.mfa_tls.mfa_findings), quoting briefly what
        the service answered. Each call waits at most O(timeout) per step.
      - The compliance role turns it on (C(mfa_tls_check_sdk_connection)); the other roles leave it off.
    type: bool
    default: false
  mobile_app_web_service_url:
    description:
      - The "Mobile App Web Service URL" set in the MFA Server console (Mobile App tab, before v8.0), for
        example C(https://mfa.contoso.com/MultiFactorAuthMobileAppWebService/). The console keeps it in the
        MFA Server's own configuration, which M(mfa_server.tls.host_tls_info) does not read, so the
        administrator gives it here (role variable C(mfa_tls_mobile_app_web_service_url)).
      - When given, C(PfPaWs.asmx) under it is requested from the controller; an HTTP 404 while the
        Mobile App Web Service is installed under its other virtual directory name (the upgrade from
        PhoneFactor renamed C(PhoneFactorPhoneAppWebService) to C(MultiFactorAuthMobileAppWebService)) is
        V(COMPONENT_URL_NOT_FOUND), any other 404 V(HTTP_NOT_FOUND), no answer V(UNREACHABLE).
      - Not given, that check is skipped.
    type: str
  plan:
    description:
      - Also plan a certificate change from the verdict, exactly as M(mfa_server.tls.remediation_plan) does
        with the same options, and return it as RV(plan), with its diff in its C(diff). A plan changes
        nothing, so the task reports C(changed=false) whatever it plans. The remediate role uses it to spend
        one task on every host instead of two.
      - The plan's default selection is the failing bindings of the scope below (O(scope), O(include),
        O(exclude), O(waivers)), so that what the verdict fails is what remediation changes.
    type: dict
  scope:
    description:
      - What RV(ansible_facts.mfa_tls.compliant) counts. V(mfa), the endpoints that serve an MFA web component
        and every binding that uses the same certificate as one of them (what remediation changes). V(all),
        every HTTPS binding.
      - An endpoint out of scope is still reviewed and returned, with C(scope=out) and C(scope_reason), and never
        counts.
    type: str
    choices: [mfa, all]
    default: mfa
  include:
    description:
      - Sites (names) or bindings (C({site, binding}), C(binding) the binding information) brought into the
        scope. A text is split at commas and line breaks and each name trimmed. Null (an AWX survey's empty
        answer) or empty, none.
    type: list
    elements: raw
  exclude:
    description:
      - Sites or bindings, written as for O(include), out of the scope whatever else says; excluding a site
        also drops V(MFA_COMPONENT_WITHOUT_HTTPS) for a Mobile App Web Service there. Null or empty, none.
    type: list
    elements: raw
  waivers:
    description:
      - Accepted exceptions, each C({host, site, binding, codes, reason, until}); C(site), C(reason) and
        C(until) (YYYY-MM-DD, the last day it holds) are required. C(host) is an inventory host name (every
        host when absent), C(binding) narrows it to one binding, C(codes) to those error codes.
      - An in-scope endpoint that fails, and whose errors a waiver that holds covers, does not count; past its
        date it counts again with the error finding V(WAIVER_EXPIRED), which names the reason.
      - A waiver without a reason, a valid date, or with an unknown code fails the task before the host is
        asked, naming the entry.
    type: list
    elements: dict
    default: []
  fail_when_not_applicable:
    description:
      - On a host without MFA Server RV(ansible_facts.mfa_tls.not_applicable) is set and the host is compliant;
        true makes it not compliant.
    type: bool
    default: false
extends_documentation_fragment:
  - mfa_server.tls.windows.sites
  - mfa_server.tls.trust
  - mfa_server.tls.trust.intermediates
  - mfa_server.tls.trust.revocation
  - mfa_server.tls.probe
  - mfa_server.tls.probe.verdict
  - mfa_server.tls.plan.suboptions
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
  - mfa_server.tls.attributes.controller
attributes:
  action:
    details: An action plugin; it runs M(mfa_server.tls.host_tls_info) on the host once and does the rest in the controller's process.
  diff_mode:
    support: none
    details: A plan changes nothing; its diff (each planned binding's certificate before and after) is in the C(diff) of RV(plan).
  facts:
    support: full
  platform:
    platforms: windows
    details: M(mfa_server.tls.host_tls_info) runs on the Windows host; the rest on the controller.
seealso:
  - module: mfa_server.tls.tls_probe
  - module: mfa_server.tls.host_tls_info
  - module: mfa_server.tls.iis_tls_info
  - module: mfa_server.tls.mfa_server_info
"""

EXAMPLES = r"""
- name: Judge every HTTPS binding of the MFA servers
  mfa_server.tls.tls_facts:
    public_name: "{{ mfa_tls_public_name | default(inventory_hostname) }}"

- name: Show the endpoints that are not compliant
  ansible.builtin.debug:
    msg: "{{ ansible_facts.mfa_tls.endpoints | rejectattr('compliant') | map(attribute='url') | list }}"
"""

RETURN = r"""
compliant:
  description: Whether the host is compliant (RV(ansible_facts.mfa_tls.compliant)).
  returned: success
  type: bool
msg:
  description: On a host without MFA Server, the line that says so (also given as a warning unless the task fails).
  returned: when RV(ansible_facts.mfa_tls.not_applicable) is set
  type: str
plan:
  description:
    - With O(plan), what M(mfa_server.tls.remediation_plan) returns for it (bindings, left_alone,
      verify_targets, previous_thumbprints, rollback, diff).
  returned: when O(plan) is given
  type: dict
ansible_facts:
  description: Facts set on the host.
  returned: success
  type: dict
  contains:
    mfa_tls:
      description: The host's verdict.
      type: dict
      returned: success
      contains:
        computer_name:
          description: The Windows computer name.
          type: str
          returned: always
        compliant:
          description:
            - Whether no endpoint in scope fails unwaived and no host error of the scope (an MFA finding of severity
              error, a binding that cannot be mapped) is found.
            - On a host without MFA Server, true unless O(fail_when_not_applicable).
          type: bool
          returned: always
        not_applicable:
          description: 'Why the host has nothing to judge: V(not applicable: MFA Server is not installed).'
          type: str
          returned: on a host without MFA Server
        endpoints:
          description:
            - One entry per HTTPS binding, name that really reaches it and MFA component it serves. IIS routes a
              request to the binding whose host name is the Host header, else to the one without a host name on
              that address and port, and HTTP.sys serves the SNI name's entry, else the address's, else the
              wildcard; so a binding without a host name is judged by the public name only when no other binding
              on its port takes it, and by the name of each SDK URL of the MFA configuration routed to it (for the
              Web Service SDK only). A binding no known name reaches is judged for the public name and probed
              without a name, as a client reaching it by address.
          type: list
          elements: dict
          returned: always
          contains:
            site:
              description: IIS site name.
              type: str
              returned: always
            binding_information:
              description: The binding's C(bindingInformation).
              type: str
              returned: always
            ccs:
              description: Whether the binding takes its certificate from the Central Certificate Store.
              type: bool
              returned: always
            component:
              description: The MFA component served (V(mobile_app_web_service), V(user_portal), V(web_service_sdk)) or null.
              type: str
              returned: always
            url:
              description: The URL a phone uses.
              type: str
              returned: always
            public_name:
              description: The host name of the URL, the name the endpoint is judged for.
              type: str
              returned: always
            address:
              description: Where the probe connected.
              type: str
              returned: always
            reached_by:
              description:
                - Who calls the endpoint by its name, each with C(name), C(who) (V(phones), V(clients of its host
                  name), V(the Mobile App Web Service), V(the User Portal)), C(kind) (V(public), V(host_name),
                  V(configuration)), and for a caller of the configuration its C(url) and the web.config C(setting).
                - Empty when no known name reaches the binding.
              type: list
              elements: dict
              returned: always
            routing:
              description:
                - How the probe reached it, C(name) (null when it sent none), the C(address) the binding names (null
                  for C(*)), the C(http_sys_entry) that serves that connection, and C(alone), whether that name and
                  address reach this binding and no other (what a verification after a change needs).
              type: dict
              returned: always
            certificate:
              description: The bound certificate (thumbprint, store_name, subject, issuer, not_after, dns_names).
              type: dict
              returned: always
            server_side:
              description: The verdict on the chain Schannel sends (compliant, findings).
              type: dict
              returned: always
            phone:
              description: The probe's result, as one entry of M(mfa_server.tls.tls_probe)'s RV(mfa_server.tls.tls_probe#module:results).
              type: dict
              returned: always
            compliant:
              description: Neither view found an error.
              type: bool
              returned: always
            codes:
              description: Every finding code of both views, sorted (and V(WAIVER_EXPIRED) for an expired waiver).
              type: list
              elements: str
              returned: always
            scope:
              description: V(in) when the endpoint counts towards the host's verdict (O(scope)), else V(out).
              type: str
              returned: always
            scope_reason:
              description: Why the endpoint is out of scope.
              type: str
              returned: when RV(ansible_facts.mfa_tls.endpoints[].scope) is V(out)
            waiver:
              description:
                - The waiver of O(waivers) for an in-scope endpoint, C(reason), C(until), C(codes) when it lists
                  some, and C(expired=true) when it is past its date and the endpoint fails.
              type: dict
              returned: when a waiver names the endpoint's binding
        problems:
          description:
            - One line per endpoint in scope that fails unwaived, with its URL, binding and finding codes, then one
              per host-level divergence of severity error (a binding that cannot be mapped to HTTP.sys), then
              one per error of RV(ansible_facts.mfa_tls.mfa_findings).
          type: list
          elements: str
          returned: always
        mfa_server:
          description: MFA Server installation facts (installed, version, end of support, components).
          type: dict
          returned: always
        mfa_findings:
          description:
            - The MFA Server's own checks, each a finding (C(code), C(severity), C(message), C(remediation)) with
              C(where) it is (the install folder, a component and its web.config key, a URL). An error counts
              against RV(ansible_facts.mfa_tls.compliant) and is listed in RV(ansible_facts.mfa_tls.problems).
            - V(MFA_SERVER_RETIRED) (warning) on every host with MFA Server installed, with the retirement date
              (2024-09-30) and the migration path.
            - V(SDK_URL_UNSAFE) when the SDK URL of the Mobile App Web Service, or of the User Portal when its
              C(USE_WEB_SERVICE_SDK) is true, is C(http://) to another host, names the SDK by an IP address
              or C(localhost) over HTTPS, leads to a port where no http binding of the SDK's site listens, or
              lands (from the host, by the addresses the host resolved and IIS's and HTTP.sys's own rules) on a
              certificate that does not name its host or on a binding that does not serve the SDK.
            - V(SDK_CONNECTION_FAILED) with O(check_sdk_connection); V(COMPONENT_URL_NOT_FOUND),
              V(HTTP_NOT_FOUND) or V(UNREACHABLE) with O(mobile_app_web_service_url).
            - V(MFA_COMPONENT_WITHOUT_HTTPS) when a Mobile App Web Service that phones need (MFA Server before 8.0,
              or of an unknown version) has no HTTPS binding, whatever the other endpoints say.
          type: list
          elements: dict
          returned: always
        http_sys_divergence:
          description:
            - Where what IIS shows and what HTTP.sys serves part ways, each a finding (C(code), C(severity),
              C(message), C(remediation)) with C(where) it is (an HTTP.sys key, a binding or a site)
            - C(OVERRIDDEN_BY_HIDDEN_ENTRY) (an entry with no binding that wins over a wildcard binding for one
              address), C(ORPHANED_HTTP_SYS_ENTRY), C(NO_HTTP_SYS_ENTRY), C(BINDING_UNREADABLE),
              C(FOREIGN_APP_ID) and C(LEGACY_METADATA) (applicationHost.config C(<customMetadata>) 5506/5511).
            - Those about a binding also appear among that endpoint's server-side findings.
          type: list
          elements: dict
          returned: always
        http_sys_entries:
          description:
            - "The HTTP.sys SSL entries as read (key, certificate_hash, certificate_store_name, app_id,
              default_flags, cert_check_mode, revocation settings, CTL), which the remediation plan restores on undo."
          type: list
          elements: dict
          returned: always
"""
