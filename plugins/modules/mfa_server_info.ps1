#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._MfaServerReport
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._ReportModule

# Read-only. The report itself is Get-MfaServerReport in module_utils/_MfaServerReport.psm1, which
# mfa_server.tls.host_tls_info calls too; this module only passes its options in and its results out.

$spec = @{
    options = @{
        install_path = @{ type = 'path' }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

Set-ReportResult -Module $module -Report { Get-MfaServerReport -InstallPath $module.Params.install_path -Warnings $args[0] }

$module.ExitJson()
