# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_util is for internal use only. It is not intended to be used by collections outside of
# mfa_server.tls.

# What a read-only module of mfa_server.tls whose whole work is one report function does with it: the report's
# warnings and result into the module's result, or its failure with what it had gathered until then (a report
# throws with the partial result in Exception.Data['MfaServerTls.Report']). iis_tls_info and mfa_server_info
# are that thin: they call this, then ExitJson.
# Modules load it with this line (at the start of a line):
# "#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._ReportModule"

function Set-ReportResult {
    # Runs $Report with the warnings list as its one argument; its result becomes the module's.
    param($Module, [scriptblock]$Report)
    $warnings = New-Object -TypeName System.Collections.ArrayList
    $result = $null
    try {
        $result = & $Report $warnings
    }
    catch {
        # Anything but the report's own failure is unexpected and left to the module wrapper.
        if ($null -eq $_.Exception.Data -or -not $_.Exception.Data.Contains('MfaServerTls.Report')) {
            throw
        }
        foreach ($warning in $warnings) {
            $Module.Warn($warning)
        }
        $partial = $_.Exception.Data['MfaServerTls.Report']
        foreach ($key in @($partial.Keys)) {
            $Module.Result[$key] = $partial[$key]
        }
        $Module.FailJson($_.Exception.Message, $_)
    }
    foreach ($warning in $warnings) {
        $Module.Warn($warning)
    }
    foreach ($key in @($result.Keys)) {
        $Module.Result[$key] = $result[$key]
    }
}

$exportMembers = @{
    Function = @(
        'Set-ReportResult'
    )
}
Export-ModuleMember @exportMembers
