# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A module's DOCUMENTATION as ansible-doc shows it: with its `extends_documentation_fragment` merged in.

The merge is ansible-core's own (`ansible.utils.plugin_docs.add_fragments`, which ansible-doc and
validate-modules use), handed a loader that finds this collection's fragments (plugins/doc_fragments) and
ansible-core's, in this process and without a collection finder: a test compares what users read with the
argument spec without starting ansible-doc.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Any

from ansible.utils.plugin_docs import add_fragments

COLLECTION = "mfa_server.tls"
_PACKAGES = {
    f"{COLLECTION}.": f"ansible_collections.{COLLECTION}.plugins.doc_fragments.",
    "ansible.builtin.": "ansible.plugins.doc_fragments.",
}


class _Fragment:
    """A fragment class as ansible's plugin loader hands it out: its attributes, and `ansible_name`."""

    def __init__(self, fragment_class: type, name: str) -> None:
        self._class = fragment_class
        self.ansible_name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._class, attribute)


class _FragmentLoader:
    """What add_fragments asks of ansible's fragment_loader: a fragment by name, or None when there is none
    (then it takes the last part of the name as the fragment's attribute, `trust.revocation` -> REVOCATION)."""

    @staticmethod
    def get(name: str) -> _Fragment | None:
        for prefix, package in _PACKAGES.items():
            if name.startswith(prefix) and "." not in name[len(prefix) :]:
                try:
                    module = importlib.import_module(package + name[len(prefix) :])
                except ModuleNotFoundError:
                    return None
                return _Fragment(module.ModuleDocFragment, name)
        return None


def merged(documentation: dict[str, Any], origin: str | Path) -> dict[str, Any]:
    """A copy of DOCUMENTATION with its fragments merged in; `origin`, the file it comes from, is named in
    error messages."""
    result = copy.deepcopy(documentation)
    add_fragments(result, str(Path(origin).resolve()), fragment_loader=_FragmentLoader(), is_module=True)
    return result


def fragment_names(documentation: dict[str, Any]) -> list[str]:
    """The fragments a DOCUMENTATION extends, as written."""
    fragments = documentation.get("extends_documentation_fragment") or []
    return fragments.split(",") if isinstance(fragments, str) else list(fragments)
