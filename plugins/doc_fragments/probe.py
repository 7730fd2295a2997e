# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The options of the phone's-eye probe, for tls_probe and tls_facts (which probes every endpoint it
    finds). The types and defaults are those of module_utils/option_specs.py (PROBE, VERDICT). Both modules
    also take mfa_server.tls.trust, .trust.intermediates and .trust.revocation, which these refer to."""

    # mfa_server.tls.probe
    DOCUMENTATION = r"""
options:
  expiry_warning_days:
    description:
      - Report V(EXPIRING_SOON), a warning, when a leaf certificate expires within this many days.
    type: int
    default: 30
  timeout:
    description:
      - Seconds allowed for each step (connection, TLS handshake, HTTP answer) of every request made to judge an
        endpoint, each step on its own. This covers the probe, the download of missing intermediates
        (O(fetch_aia)) and the MFA Server checks of M(mfa_server.tls.tls_facts).
      - Revocation requests have O(revocation_timeout) instead.
    type: float
    default: 10
"""

    # mfa_server.tls.probe.verdict
    VERDICT = r"""
options:
  fail_when_noncompliant:
    description:
      - Fail the task when what it judged is not compliant, with one line per problem and its error findings
        in the message, so that no second task on every host is needed only to fail it.
      - The result is returned in full either way. Ansible does not set the C(ansible_facts) of a failed task
        as facts; the registered result still carries them (M(mfa_server.tls.fleet_report) reads the review
        of M(mfa_server.tls.tls_facts) there).
    type: bool
    default: false
"""
