# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_util is for internal use only. It is not intended to be used by collections outside of
# mfa_server.tls.

# IIS HTTPS bindings as the modules of mfa_server.tls see them. applicationHost.config holds no certificate:
# a binding there is protocol, bindingInformation and sslFlags only. Its certificate lives in HTTP.sys, in
# the entry whose key the binding derives (WindowsRules.DeriveKey in _HttpSysSsl.cs). Nothing here reads
# Binding.CertificateHash / CertificateStoreName: those getters are an HTTP.sys read by Microsoft.Web.Administration
# and throw for a malformed binding (win-acme #1532); the modules read HTTP.sys by key instead.
# Modules load it with this line (at the start of a line):
# "#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisBinding"

#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl

function ConvertFrom-BindingInformation {
    # 'IP:port:host' with IPv6 in brackets ('[::1]:443:'), for display and for matching a requested binding
    # with a configured one; returns $null when it does not parse. The HTTP.sys key comes from DeriveKey only.
    param([string]$Value)
    if ($null -eq $Value) {
        return $null
    }
    $ip = ''
    $rest = ''
    if ($Value.StartsWith('[')) {
        $close = $Value.IndexOf(']')
        if ($close -lt 1) {
            return $null
        }
        $ip = $Value.Substring(1, $close - 1)
        $rest = $Value.Substring($close + 1)
        if (-not $rest.StartsWith(':')) {
            return $null
        }
        $rest = $rest.Substring(1)
    }
    else {
        $first = $Value.IndexOf(':')
        if ($first -lt 0) {
            return $null
        }
        $ip = $Value.Substring(0, $first)
        $rest = $Value.Substring($first + 1)
    }
    $second = $rest.IndexOf(':')
    if ($second -lt 0) {
        return $null
    }
    $portText = $rest.Substring(0, $second)
    $hostName = $rest.Substring($second + 1)
    $port = 0
    if (-not [int]::TryParse($portText, [System.Globalization.NumberStyles]::None, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$port)) {
        return $null
    }
    if ($port -lt 1 -or $port -gt 65535) {
        return $null
    }
    if ($ip -eq '' -or $ip -eq '*') {
        $ip = '*'
    }
    else {
        $address = $null
        if (-not [System.Net.IPAddress]::TryParse($ip, [ref]$address)) {
            return $null
        }
        $ip = $address.ToString()
    }
    return @{ ip = $ip; port = $port; host = $hostName }
}

function Get-ExceptionMessage {
    # The message of what a .NET method threw, without PowerShell's 'Exception calling "X" with "n" argument(s)' wrapper.
    param($ErrorRecord)
    $exception = $ErrorRecord
    if ($ErrorRecord -is [System.Management.Automation.ErrorRecord]) {
        $exception = $ErrorRecord.Exception
    }
    while ($exception -is [System.Management.Automation.MethodInvocationException] -and $null -ne $exception.InnerException) {
        $exception = $exception.InnerException
    }
    if ($null -eq $exception) {
        return 'unknown error'
    }
    return [string]$exception.Message
}

function ConvertTo-HexString {
    param($Bytes)
    if ($null -eq $Bytes -or $Bytes.Length -eq 0) {
        return ''
    }
    return [System.BitConverter]::ToString([byte[]]$Bytes).Replace('-', '')
}

function ConvertTo-DisplayThumbprint {
    # A hash as the modules report it: upper-case hex without separators (NormalizeThumbprint), '' for none.
    # A value NormalizeThumbprint refuses (not 20 bytes) is returned in upper case rather than lost.
    param($Value)
    $text = [string]$Value
    if ([string]::IsNullOrEmpty($text)) {
        return ''
    }
    $normal = [MfaServerTls.WindowsRules]::NormalizeThumbprint($text)
    if ($null -eq $normal) {
        return $text.ToUpperInvariant()
    }
    return [string]$normal
}

function ConvertTo-DisplayStoreName {
    # The store of an HTTP.sys entry as the modules report it: StoreDisplayName ('' and 'MY' -> 'My') when the
    # entry holds a certificate, '' when there is no entry or it holds none (a ccs entry).
    param($Entry)
    if ($null -eq $Entry) {
        return ''
    }
    if ([string]::IsNullOrEmpty([string]$Entry.Hash) -and [string]::IsNullOrEmpty([string]$Entry.StoreName)) {
        return ''
    }
    return [string][MfaServerTls.WindowsRules]::StoreDisplayName([string]$Entry.StoreName)
}

function Find-HttpSysEntry {
    # The entry of $Entries (SslEntry objects) whose key is $Key (a BindingKey, compared with SameAs), or $null.
    param($Entries, $Key)
    if ($null -eq $Key -or $null -eq $Entries) {
        return $null
    }
    foreach ($entry in $Entries) {
        if ($null -eq $entry) {
            continue
        }
        $entryKey = $null
        try {
            $entryKey = [MfaServerTls.BindingKey]::Parse([string]$entry.Key)
        }
        catch {
            $entryKey = $null
        }
        if ($null -ne $entryKey -and $Key.SameAs($entryKey)) {
            return $entry
        }
    }
    return $null
}

function ConvertTo-OrdinalSortedList {
    # $Items (dictionaries or objects) sorted by the string in $Property with ordinal comparison ([StringComparer]::Ordinal),
    # stable: ties keep their order.
    param($Items, [string]$Property)
    $list = @($Items)
    if ($list.Count -lt 2) {
        return , $list
    }
    $sortKeys = New-Object -TypeName 'string[]' -ArgumentList $list.Count
    $values = New-Object -TypeName 'object[]' -ArgumentList $list.Count
    for ($i = 0; $i -lt $list.Count; $i++) {
        $sortKeys[$i] = [string]$list[$i].$Property + [char]0 + $i.ToString('D9', [System.Globalization.CultureInfo]::InvariantCulture)
        $values[$i] = $list[$i]
    }
    [System.Array]::Sort($sortKeys, $values, [System.StringComparer]::Ordinal)
    return , $values
}

function Import-WebAdministrationAssembly {
    # Loads Microsoft.Web.Administration; returns $false when IIS is not installed.
    $path = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\Microsoft.Web.Administration.dll'
    if (-not (Test-Path -LiteralPath $path)) {
        return $false
    }
    if (-not ('Microsoft.Web.Administration.ServerManager' -as [type])) {
        Add-Type -LiteralPath $path
    }
    return $true
}

function Get-IisHttpsBinding {
    # Every HTTPS binding of every site, sites by id, bindings in configuration order. Per binding: site,
    # site_id, index (position among the site's bindings, all protocols), binding_information, ssl_flags,
    # key (the BindingKey DeriveKey returns, or $null) and key_error (DeriveKey's message, or $null), and
    # ip/port/host for display ($null when the binding information does not parse). Each binding is read in
    # its own try/catch: a malformed binding yields key_error and never stops the others.
    param($ServerManager)
    $all = New-Object -TypeName System.Collections.ArrayList
    foreach ($site in ($ServerManager.Sites | Sort-Object -Property Id)) {
        $index = 0
        foreach ($binding in $site.Bindings) {
            $index++
            $protocol = ''
            try {
                $protocol = [string]$binding.Protocol
            }
            catch {
                $protocol = ''
            }
            if (-not [string]::Equals($protocol, 'https', [System.StringComparison]::OrdinalIgnoreCase)) {
                continue
            }
            $row = [ordered]@{
                site = [string]$site.Name
                site_id = [int64]$site.Id
                index = $index
                binding_information = ''
                ssl_flags = 0
                key = $null
                key_error = $null
                ip = $null
                port = $null
                host = $null
            }
            try {
                $row.binding_information = [string]$binding.GetAttributeValue('bindingInformation')
                $flagValue = $binding.GetAttributeValue('sslFlags')
                if ($null -ne $flagValue) {
                    $row.ssl_flags = [int]$flagValue
                }
                $parsed = ConvertFrom-BindingInformation -Value $row.binding_information
                if ($null -ne $parsed) {
                    $row.ip = $parsed.ip
                    $row.port = $parsed.port
                    $row.host = $parsed.host
                }
                $row.key = [MfaServerTls.WindowsRules]::DeriveKey($row.binding_information, $row.ssl_flags)
            }
            catch {
                $row.key = $null
                $row.key_error = Get-ExceptionMessage -ErrorRecord $_
            }
            $null = $all.Add($row)
        }
    }
    return , $all
}

$exportMembers = @{
    Function = @(
        'ConvertFrom-BindingInformation'
        'ConvertTo-DisplayStoreName'
        'ConvertTo-DisplayThumbprint'
        'ConvertTo-HexString'
        'ConvertTo-OrdinalSortedList'
        'Find-HttpSysEntry'
        'Get-ExceptionMessage'
        'Get-IisHttpsBinding'
        'Import-WebAdministrationAssembly'
    )
}
Export-ModuleMember @exportMembers
