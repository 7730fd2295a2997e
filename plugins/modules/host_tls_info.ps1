#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisTlsReport
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._MfaServerReport

# Read-only. What mfa_server.tls.iis_tls_info and mfa_server.tls.mfa_server_info return, in one module
# execution: every execution on a Windows host costs seconds (a new powershell.exe, the exec wrapper,
# compiling Ansible.Basic and the C# utils), and a verdict on a host needs both reports.

$spec = @{
    options = @{
        sites = @{ type = 'list'; elements = 'str'; default = @() }
        install_path = @{ type = 'path' }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$warnings = New-Object -TypeName System.Collections.ArrayList
$iis = $null
$mfaServer = $null
$failure = $null
$failureRecord = $null
try {
    $iis = Get-IisTlsReport -Sites $module.Params.sites -Warnings $warnings
}
catch {
    $failure = $_.Exception.Message
    $failureRecord = $_
}
if ($null -eq $failure) {
    try {
        $mfaServer = Get-MfaServerReport -InstallPath $module.Params.install_path -Warnings $warnings
    }
    catch {
        # A verdict needs both reports: say which one failed, its own message does not.
        $failure = "mfa_server: $($_.Exception.Message)"
        $failureRecord = $_
    }
}

foreach ($w in $warnings) {
    $module.Warn($w)
}
if ($null -ne $failure) {
    $module.FailJson($failure, $failureRecord)
}

$module.Result.iis = $iis
$module.Result.mfa_server = $mfaServer

$module.ExitJson()
