#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Write the fleet's TLS verdicts as JSON, CSV, JUnit XML and HTML
version_added: 0.1.0
description:
  - Writes the C(mfa_tls) fact (see M(mfa_server.tls.tls_facts)) of each host in O(hosts) as
    C(hosts/<host>.json) under O(report_dir),
    then rebuilds C(<title>.json), C(<title>.csv), C(<title>.xml) (JUnit) and C(<title>.html) from every host
    file there. Each file is replaced atomically, with the mode the umask gives a new file.
  - A run that sees only part of the fleet (an AWX job slice, C(--limit)) adds its hosts; runs that share
    the folder add up. No step needs to see the whole fleet.
  - The HTML page is titled with O(heading), the scope (O(scope)) and the time; it shows a summary per host
    first (status; counts of failing, passing, waived, out of scope and not applicable endpoints), then every
    endpoint and host check, failures first (unreachable, failing, with warnings, waived, compliant, not
    applicable, out of scope; more errors and fewer days left first), each with its URL, verdict, codes, why
    (the findings' messages), fix (their remediations), issuer, days left and, in a collapsible detail, the
    chain as the phone's probe received it. Static and responsive (no script, no external resource).
  - The CSV has one row per endpoint and per host check, with the columns C(host), C(site), C(binding),
    C(component), C(public_name), C(issuer), C(not_after), C(verdict), C(codes), C(protocols), C(cipher),
    C(url), C(why), C(fix), C(thumbprint), C(days_left) and C(called_by) (who reaches the binding by which
    name or URL).
  - The JUnit XML has a test suite per host and a test case per in-scope endpoint (a non-compliant one fails,
    a waived one is skipped with the waiver's words) and per group of host checks (MFA Server, HTTP.sys).
  - "What the reports read of each host's review, besides the verdicts and findings: the host's
    C(not_applicable) (a text such as C(not applicable: MFA Server is not installed): the host's own verdict,
    its endpoints never fail; with C(compliant: false) the host fails with that text, and JUnit has one
    skipped, or failed, case with it); C(unreachable) and C(error) (texts: the host fails in every report,
    as a row and a JUnit C(<error>))."
  - "And of each endpoint: C(scope), C(in) (also when absent) or C(out), with C(scope_reason): an endpoint out
    of scope is shown and marked, never fails, and is no JUnit test case; C(waiver), a dict of C(reason),
    C(until) (YYYY-MM-DD, the last day it holds), optional C(codes) (the error codes it covers, all when
    absent) and C(expired): while it holds and covers every error the endpoint shows
    C(waived until <until>: <reason>), counts as waived, and is a skipped JUnit case; marked C(expired: true)
    or past C(until), it fails naming its reason. The chain shown is C(phone.presented_chain)."
  - A host without the fact (failed before discovery) is reported as an error, and a host whose judging task
    could not reach it (registered in O(judged_var) with C(unreachable)) as unreachable, both failing.
  - This is an action plugin; it writes on the controller. In check mode it writes nothing.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  report_dir:
    description: The folder for the reports; created when missing.
    type: path
    required: true
  hosts:
    description:
      - The hosts to report; defaults to every host of the play (C(ansible_play_hosts_all)), unreachable and
        failed ones included.
    type: list
    elements: str
  title:
    description: The base name of the fleet files.
    type: str
    default: mfa-tls-report
  heading:
    description: The HTML page's title and heading, which the run's scope and time follow.
    type: str
    default: TLS report of the MFA servers
  scope:
    description:
      - What the run judged, shown under the heading and in the JSON summary, for example C(mfa) (the
        endpoints that serve MFA web components and every binding that uses the same certificate) or C(all)
        (every HTTPS binding).
      - When not set, the report says every HTTPS binding.
    type: str
  set_stats:
    description:
      - Also hand each host's summary (C(compliant), C(status), C(codes)) to AWX under C(mfa_tls_compliance), as
        M(ansible.builtin.set_stats) with C(aggregate=true) would, for every host of the run in this one task.
      - Done in check mode too; only the files are not written then.
    type: bool
    default: false
  judged_var:
    description:
      - The variable M(mfa_server.tls.tls_facts) registered its result in. A host that tls_facts failed
        (O(mfa_server.tls.tls_facts#module:fail_when_noncompliant)) or could not reach has no C(mfa_tls) fact;
        its review, or why it has none, is read from there instead.
    type: str
    default: mfa_tls_judged
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mfa_server.tls.attributes.controller
attributes:
  check_mode:
    details: In check mode it writes no file; O(set_stats) hands the summaries to AWX all the same.
"""

EXAMPLES = r"""
- name: Write the reports for every host of this run
  mfa_server.tls.fleet_report:
    report_dir: reports
  run_once: true
"""

RETURN = r"""
files:
  description: The fleet files by format (json, csv, html, xml).
  returned: success and not check mode
  type: dict
summary:
  description:
    - Over every host file, C(hosts), C(compliant_hosts), C(failing_hosts), C(unreachable_hosts) (unreachable
      or not judged), C(not_applicable_hosts), C(endpoints), the item counts C(failing), C(passing), C(waived),
      C(out_of_scope), C(not_applicable), and C(compliant) (no host fails).
    - Also C(generated) (the time), C(heading), C(scope) and C(limit) (the run's C(--limit), or null).
  returned: success and not check mode
  type: dict
"""
