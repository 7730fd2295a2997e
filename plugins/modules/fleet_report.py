#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Write the fleet's TLS verdicts as JSON, CSV, JUnit XML and HTML
version_added: 0.1.0
description:
  - Writes the C(mfa_tls) fact (see M(mfa_server.tls.tls_facts)) of each host in O(hosts) as
    C(hosts/<host>.json) under O(report_dir),
    then rebuilds C(<title>.json), C(<title>.csv), C(<title>.xml) (JUnit, one test case per endpoint) and
    C(<title>.html) from every host file there.
  - A run that sees only part of the fleet (an AWX job slice, C(--limit)) adds its hosts; runs that share
    the folder add up. No step needs to see the whole fleet.
  - A host without the fact (unreachable, failed before discovery) is reported as not compliant.
  - This is an action plugin; it writes on the controller. In check mode it writes nothing.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  report_dir:
    description: The folder for the reports; created when missing.
    type: path
    required: true
  hosts:
    description: The hosts to report; defaults to every host of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
  title:
    description: The base name of the fleet files.
    type: str
    default: mfa-tls-report
  set_stats:
    description:
      - Also hand each host's summary (C(compliant), C(codes)) to AWX under C(mfa_tls_compliance), as
        M(ansible.builtin.set_stats) with C(aggregate=true) would, for every host of the run in this one task.
      - Done in check mode too; only the files are not written then.
    type: bool
    default: false
  judged_var:
    description:
      - The variable M(mfa_server.tls.tls_facts) registered its result in. A host that tls_facts failed
        (O(mfa_server.tls.tls_facts#module:fail_when_noncompliant)) has no C(mfa_tls) fact; its review is read
        from there instead.
    type: str
    default: mfa_tls_judged
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
  description: Hosts, compliant hosts, endpoints, and whether all are compliant, over every host file.
  returned: success and not check mode
  type: dict
"""
