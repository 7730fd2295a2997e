# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """What a certificate change is planned from (module_utils/remediation_plan.py PLAN_OPTIONS): the options
    of remediation_plan, and the sub-options of tls_facts' `plan`, which plans in the same task."""

    # mfa_server.tls.plan
    DOCUMENTATION = r"""
options:
  thumbprint:
    description: The new certificate's thumbprint.
    type: str
    required: true
  subject_alt_names:
    description: The new certificate's DNS names; when given, every public name served must be covered.
    type: list
    elements: str
  sites:
    description: Change only bindings of these sites; null (an AWX survey's empty answer) or empty, of every site.
    type: list
    elements: str
  bindings:
    description: Change exactly these bindings instead of the default selection.
    type: list
    elements: dict
    default: []
    suboptions:
      site:
        description: IIS site name.
        type: str
        required: true
      binding_information:
        description: The binding's C(bindingInformation), for example C(*:443:).
        type: str
        required: true
"""


def _as_suboptions_of(option: str, documentation: str) -> str:
    """The options of a fragment, as the sub-options of `option`: what a module documenting `option` itself
    (its description and type) merges in."""
    head, _sep, options = documentation.partition("options:\n")
    indented = "".join(f"    {line}" if line.strip() else line for line in options.splitlines(keepends=True))
    return f"{head}options:\n  {option}:\n    suboptions:\n{indented}"


# mfa_server.tls.plan.suboptions: built from DOCUMENTATION, so the plan options are written once. It is set
# after the class because ansible-test's yamllint sanity test reads every assignment in the class body as a
# string literal.
ModuleDocFragment.SUBOPTIONS = _as_suboptions_of("plan", ModuleDocFragment.DOCUMENTATION)
