#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils.IisTlsReport

# Read-only. The report itself is Get-IisTlsReport in module_utils/IisTlsReport.psm1, which
# mfa_server.tls.host_tls_info calls too; this module only passes its options in and its results out.

$spec = @{
    options = @{
        sites = @{ type = 'list'; elements = 'str'; default = @() }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$warnings = New-Object -TypeName System.Collections.ArrayList
$report = $null
try {
    $report = Get-IisTlsReport -Sites $module.Params.sites -Warnings $warnings
}
catch {
    # The report's own failure carries what was gathered until then; anything else is unexpected and is
    # left to the module wrapper, as before the report moved into a module util.
    if ($null -eq $_.Exception.Data -or -not $_.Exception.Data.Contains('MfaServerTls.Report')) {
        throw
    }
    foreach ($w in $warnings) {
        $module.Warn($w)
    }
    $partial = $_.Exception.Data['MfaServerTls.Report']
    foreach ($key in @($partial.Keys)) {
        $module.Result[$key] = $partial[$key]
    }
    $module.FailJson($_.Exception.Message, $_)
}

foreach ($w in $warnings) {
    $module.Warn($w)
}
foreach ($key in @($report.Keys)) {
    $module.Result[$key] = $report[$key]
}

$module.ExitJson()
