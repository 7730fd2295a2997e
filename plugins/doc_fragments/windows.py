# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """What the modules that run on a Windows host share: a note on how far they are tested, and the options
    several of them take (their PowerShell argument specs hold the same types and defaults;
    tests/unit/plugins/modules/test_powershell_modules.py compares each with its documentation)."""

    # mfa_server.tls.windows: every PowerShell module
    DOCUMENTATION = r"""
options: {}
notes:
  - Nothing in this module has been run on a real Windows host by its authors yet; see
    C(docs/windows-modules.md) in the collection.
"""

    # mfa_server.tls.windows.sites: iis_tls_info, host_tls_info, and tls_facts, which passes it on
    SITES = r"""
options:
  sites:
    description:
      - Report only the HTTPS bindings of these IIS sites (names, case-insensitive). Empty means every site.
      - The HTTP.sys SSL entries, the legacy C(customMetadata) and the certificates are always those of the
        whole machine, and HTTP.sys entries are always mapped to the bindings of every site, so a filter never
        makes an entry look orphaned.
    type: list
    elements: str
    default: []
"""

    # mfa_server.tls.windows.install_path: mfa_server_info and host_tls_info
    INSTALL_PATH = r"""
options:
  install_path:
    description:
      - Install folder of MFA Server, when it is not where the Uninstall entry, the registry or the usual
        folders (C(C:\Program Files\Multi-Factor Authentication Server), C(C:\Program Files\PhoneFactor),
        C(C:\Program Files\Azure Multi-Factor Authentication)) say.
    type: path
"""

    # mfa_server.tls.windows.store_name: certificate_import, certificate_remove, iis_binding_certificate
    STORE_NAME = r"""
options:
  store_name:
    description:
      - The local machine's certificate store of the end-entity certificate and its key, V(My)
        (C(LocalMachine\My)) or V(WebHosting) (C(LocalMachine\WebHosting)), which scales better when IIS holds
        many certificates.
    type: str
    choices: [My, WebHosting]
    default: My
"""
