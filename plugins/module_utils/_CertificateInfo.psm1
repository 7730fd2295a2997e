# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_util is for internal use only. It is not intended to be used by collections outside of
# mfa_server.tls.

# Certificate details the modules of mfa_server.tls report the same way: ISO 8601 UTC dates and the
# subjectAltName read from its DER (no parsing of localised text). Modules load it with this line:
# "#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._CertificateInfo"

function ConvertTo-IsoDate {
    param([DateTime]$Value)
    return $Value.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture)
}

function Read-DerLength {
    # Returns @(length, headerBytes) for the DER length at $Offset.
    param([byte[]]$Data, [int]$Offset)
    $first = [int]$Data[$Offset]
    if ($first -lt 128) {
        return @($first, 1)
    }
    $count = $first - 128
    $length = 0
    for ($i = 1; $i -le $count; $i++) {
        $length = ($length * 256) + [int]$Data[$Offset + $i]
    }
    return @($length, (1 + $count))
}

function Get-CertificateSubjectAltName {
    # DNS names and IP addresses of a certificate's subjectAltName extension (GeneralNames), from its DER.
    param($Certificate)
    $dns = New-Object -TypeName System.Collections.ArrayList
    $ips = New-Object -TypeName System.Collections.ArrayList
    foreach ($extension in $Certificate.Extensions) {
        if ($extension.Oid.Value -ne '2.5.29.17') {
            continue
        }
        $data = [byte[]]$extension.RawData
        if ($null -eq $data -or $data.Length -lt 2 -or $data[0] -ne 0x30) {
            continue
        }
        $outer = Read-DerLength -Data $data -Offset 1
        $position = 1 + $outer[1]
        $end = [Math]::Min($data.Length, $position + $outer[0])
        while ($position + 1 -lt $end) {
            $tag = [int]$data[$position]
            $inner = Read-DerLength -Data $data -Offset ($position + 1)
            $start = $position + 1 + $inner[1]
            $length = $inner[0]
            if ($start + $length -gt $end) {
                break  # truncated or malformed: keep what was read
            }
            if ($tag -eq 0x82) {
                $null = $dns.Add([System.Text.Encoding]::ASCII.GetString($data, $start, $length))
            }
            elseif ($tag -eq 0x87 -and ($length -eq 4 -or $length -eq 16)) {
                $bytes = New-Object -TypeName byte[] -ArgumentList $length
                [System.Array]::Copy($data, $start, $bytes, 0, $length)
                $null = $ips.Add((New-Object -TypeName System.Net.IPAddress -ArgumentList (, $bytes)).ToString())
            }
            $position = $start + $length
        }
    }
    return @{ dns = @($dns); ip = @($ips) }
}

$exportMembers = @{
    Function = 'ConvertTo-IsoDate', 'Get-CertificateSubjectAltName'
}
Export-ModuleMember @exportMembers
