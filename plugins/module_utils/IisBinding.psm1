# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# IIS HTTPS bindings as the modules of mfa_server.tls see them: binding information parsed (IPv6 in
# brackets), the HTTP.sys key that serves each binding, and every HTTPS binding of every site.
# Modules load it with this line (at the start of a line):
# "#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils.IisBinding"

function ConvertFrom-BindingInformation {
    # 'IP:port:host' with IPv6 in brackets ('[::1]:443:'); returns $null when it does not parse.
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
    if (-not [int]::TryParse($portText, [ref]$port)) {
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

function Get-HttpSysKeyParts {
    # The HTTP.sys entry serving a binding: kind, the IP or host part, and the key string.
    param($Parsed, [int]$SslFlags)
    if (($SslFlags -band 2) -ne 0) {
        return @{ kind = 'ccs'; name = ''; port = $Parsed.port; key = 'ccs=' + $Parsed.port }
    }
    if (($SslFlags -band 1) -ne 0) {
        return @{ kind = 'hostnameport'; name = $Parsed.host; port = $Parsed.port; key = 'hostnameport=' + $Parsed.host + ':' + $Parsed.port }
    }
    $ip = $Parsed.ip
    if ($ip -eq '*') {
        $ip = '0.0.0.0'
    }
    $keyIp = $ip
    if ($ip.Contains(':')) {
        $keyIp = '[' + $ip + ']'
    }
    return @{ kind = 'ipport'; name = $ip; port = $Parsed.port; key = 'ipport=' + $keyIp + ':' + $Parsed.port }
}

function ConvertTo-HexString {
    param($Bytes)
    if ($null -eq $Bytes -or $Bytes.Length -eq 0) {
        return ''
    }
    return [System.BitConverter]::ToString([byte[]]$Bytes).Replace('-', '')
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
    # Every HTTPS binding of every site, in site id and configuration order.
    param($ServerManager)
    $all = New-Object -TypeName System.Collections.ArrayList
    foreach ($site in ($ServerManager.Sites | Sort-Object -Property Id)) {
        $index = 0
        foreach ($binding in $site.Bindings) {
            $index++
            if ($binding.Protocol -ne 'https') {
                continue
            }
            $info = [string]$binding.BindingInformation
            $flags = 0
            $flagValue = $binding.GetAttributeValue('sslFlags')
            if ($null -ne $flagValue) {
                $flags = [int]$flagValue
            }
            $parsed = ConvertFrom-BindingInformation -Value $info
            $keyParts = $null
            if ($null -ne $parsed) {
                $keyParts = Get-HttpSysKeyParts -Parsed $parsed -SslFlags $flags
            }
            $null = $all.Add(@{
                site = $site.Name
                site_id = [int]$site.Id
                index = $index
                binding = $binding
                binding_information = $info
                parsed = $parsed
                ssl_flags = $flags
                key_parts = $keyParts
                hash = (ConvertTo-HexString -Bytes $binding.CertificateHash)
                store = [string]$binding.CertificateStoreName
            })
        }
    }
    return , $all
}

$exportMembers = @{
    Function = 'ConvertFrom-BindingInformation', 'Get-IisHttpsBinding', 'Import-WebAdministrationAssembly'
}
Export-ModuleMember @exportMembers
