#!/usr/bin/python
# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: change_record
short_description: Say what a host's certificate change did, and record it for the run
version_added: 0.2.0
description:
  - Used by the remediate role after a host's change (verified, or failed and rolled back). Prints, at the
    default verbosity and without C(--diff), one line per changed binding (site, binding, the previous
    certificate's subject, thumbprint and expiry, the new one's, the HTTP.sys entry written and how), then the
    command that undoes the change; after a failure, what each endpoint serves after the rollback and, when the
    rolling change stops with this host's batch, the hosts it never attempted.
  - "Writes the run's change record on the controller into O(report_dir), C(mfa-tls-change-<run>.json) and
    C(.html), rebuilt after each host from the entries of the run (C(changes/<run>/<host>.json)) under a lock:
    who ran it (the controller's user and host, and the AWX job's C(awx_job_id), C(awx_user_name),
    C(awx_job_template_name) when AWX launched it), when, each host's outcome (C(changed), C(rolled back),
    C(failed, rollback not verified), C(nothing to change), C(not attempted)), the bindings before and after,
    the HTTP.sys entries written, the bindings left alone and why, the verification's verdict, the rollback, and
    the undo. Files are replaced atomically, with the mode the umask gives a new file."
  - The undo is the snapshot of the previous HTTP.sys entries the bind module returned (keys, certificate
    hashes, store names, application ids, flags; no secret). C(changes/<run>/<host>.undo.json) holds it as the
    arguments of M(mfa_server.tls.iis_binding_certificate), so that
    C(ansible <host> -m mfa_server.tls.iis_binding_certificate -a "$(cat <file>)") puts the entries back exactly.
  - In check mode it writes nothing and prints what would change. When the bind could not be simulated (the new
    certificate is not imported yet, so the bind task was skipped), it stands in for the bind, reporting
    C(changed) with the plan's diff; otherwise it reports no change (a record is not a change to a host).
  - A record that cannot be written is a warning, never a failure, since the change is done, or rolled back, already.
  - This is an action plugin; it runs on the controller.
author:
  - mfa_server.tls maintainers (@mfa-server-tls)
options:
  report_dir:
    description: The folder for the change record; created when missing.
    type: path
    required: true
  run:
    description: The run, as the remediate role's preflight names it (C(mfa_tls_run)), C(id) (a file name) and C(started).
    type: dict
    required: true
  outcome:
    description: V(changed) after a verified change; V(failed) in the rescue, after the rollback and its probe.
    type: str
    required: true
    choices: [changed, failed]
  plan:
    description: The host's plan (the C(plan) of M(mfa_server.tls.tls_facts), C(mfa_tls_judged.plan)).
    type: dict
    required: true
  review:
    description: The host's review (the C(mfa_tls) fact), for the previous certificates' subjects and expiry.
    type: dict
  replacement:
    description: The new certificate as M(mfa_server.tls.certificate_preflight) described it (C(mfa_tls_replacement)).
    type: dict
    required: true
  bind:
    description: The registered result of M(mfa_server.tls.iis_binding_certificate) (the entries written, the snapshot).
    type: dict
  verify:
    description: The registered result of the verification (M(mfa_server.tls.tls_probe)).
    type: dict
  rollback:
    description: The registered result of the restore (M(mfa_server.tls.iis_binding_certificate) with C(restore)).
    type: dict
  restored:
    description: The registered result of the probe of the restored endpoints.
    type: dict
  failure:
    description: Why the change failed (C(ansible_failed_result.msg)).
    type: str
  judged_var:
    description: The variable the other hosts' discovery registered their plan in, for the hosts not attempted.
    type: str
    default: mfa_tls_judged
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - mfa_server.tls.attributes.controller
attributes:
  check_mode:
    details: In check mode it writes nothing; it reports the bind's change with the plan's diff when the bind was skipped.
  diff_mode:
    support: partial
    details: In check mode, when it stands in for the skipped bind, the plan's diff.
"""

EXAMPLES = r"""
- name: Say what changed on each binding and record it
  mfa_server.tls.change_record:
    report_dir: "{{ mfa_tls_report_dir }}"
    run: "{{ mfa_tls_run }}"
    outcome: changed
    plan: "{{ mfa_tls_judged.plan }}"
    review: "{{ ansible_facts.mfa_tls }}"
    replacement: "{{ mfa_tls_replacement }}"
    bind: "{{ mfa_tls_bind }}"
    verify: "{{ mfa_tls_verify }}"
"""

RETURN = r"""
msg:
  description: The lines printed, one per changed binding, then the undo or the rollback and the rolling change.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      mfa01: Default Web Site *:443:: CN=mfa01.corp.contoso.com (DE0B78C5F759D6237B60508140AE6920E820C0A4,
      expires 2026-03-01) -> CN=mfa.contoso.com (36FD2E009401B90AEAB259BA1B1BADF2EE8524B9, expires 2027-04-02);
      HTTP.sys ipport=0.0.0.0:443 updated (app id {4dc3e181-e14b-4a21-b022-59fc669b0914}, flags 0)
record:
  description: The run's change record, C(json) and C(html).
  returned: when written (not check mode)
  type: dict
"""
