# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_util is for internal use only. It is not intended to be used by collections outside of
# mfa_server.tls.

# The report of mfa_server.tls.iis_tls_info as a function, so that mfa_server.tls.host_tls_info can gather it
# and the MFA Server report in one module execution. Read-only. The certificate of an IIS HTTPS binding lives
# only in HTTP.sys, in the entry whose key the binding derives (ipport=IP:port, hostnameport=host:port,
# ccs=port); applicationHost.config holds none. So every certificate reported here comes from the HTTP.sys
# table, looked up by the key each binding derives.
# Modules load it with this line (at the start of a line):
# "#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisTlsReport"

#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisBinding
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._CertificateInfo

function Get-RegistryDword {
    # A DWORD as an unsigned number, or $null when the key or value is not there.
    param([string]$Path, [string]$Name)
    if (-not (Test-Path -LiteralPath $Path)) {
        return $null
    }
    $value = (Get-Item -LiteralPath $Path).GetValue($Name, $null)
    if ($null -eq $value) {
        return $null
    }
    # A value written with the wrong type by hand (REG_SZ text, REG_BINARY) is reported as absent, not fatal:
    # SCHANNEL reads only DWORDs.
    $number = [int64]0
    if ($value -is [int] -or $value -is [long]) {
        $number = [int64]$value
    }
    elseif (-not [int64]::TryParse([string]$value, [System.Globalization.NumberStyles]::Integer, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$number)) {
        return $null
    }
    if ($number -lt 0) {
        $number += 4294967296
    }
    return $number
}

function Get-KeyDetail {
    param($Certificate)
    $oid = $Certificate.PublicKey.Oid.Value
    $algorithm = 'unknown'
    $size = $null
    $machine = $false
    try {
        if ($oid -eq '1.2.840.113549.1.1.1') {
            $algorithm = 'RSA'
            $size = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPublicKey($Certificate).KeySize
        }
        elseif ($oid -eq '1.2.840.10045.2.1') {
            $algorithm = 'ECDSA'
            $size = [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPublicKey($Certificate).KeySize
        }
        elseif ($oid -eq '1.2.840.10040.4.1') {
            $algorithm = 'DSA'
            $size = $Certificate.PublicKey.Key.KeySize
        }
    }
    catch {
        $size = $null
    }
    if ($Certificate.HasPrivateKey) {
        try {
            $key = $null
            if ($algorithm -eq 'RSA') {
                $key = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($Certificate)
            }
            elseif ($algorithm -eq 'ECDSA') {
                $key = [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPrivateKey($Certificate)
            }
            if ($null -ne $key -and $null -ne $key.PSObject.Properties['Key']) {
                $machine = [bool]$key.Key.IsMachineKey
            }
            elseif ($null -ne $key -and $null -ne $key.PSObject.Properties['CspKeyContainerInfo']) {
                $machine = [bool]$key.CspKeyContainerInfo.MachineKeyStore
            }
        }
        catch {
            $machine = $false
        }
    }
    return @{ algorithm = $algorithm; size = $size; machine = $machine }
}

function Test-CertificateInStore {
    param([string]$StoreName, [string]$Thumbprint)
    $store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($StoreName, 'LocalMachine')
    try {
        $store.Open('ReadOnly')
        return ($store.Certificates.Find('FindByThumbprint', $Thumbprint, $false).Count -gt 0)
    }
    catch {
        return $false
    }
    finally {
        $store.Close()
    }
}

function Get-CertificateReport {
    param([string]$Thumbprint, [string]$StoreName, [System.Collections.ArrayList]$Warnings)
    $report = [ordered]@{
        thumbprint = $Thumbprint
        store_name = $StoreName
        found = $false
        subject = $null
        issuer = $null
        serial_number = $null
        friendly_name = $null
        san_dns_names = @()
        san_ip_addresses = @()
        not_before = $null
        not_after = $null
        key_algorithm = $null
        key_size = $null
        signature_algorithm = $null
        signature_algorithm_oid = $null
        has_private_key = $false
        private_key_machine = $false
        der_b64 = $null
        chain_der_b64 = @()
        chain_subjects = @()
        chain_status = @()
        chain_trusted = $false
        intermediates = @()
        intermediates_in_ca_store = $false
        used_by = @()
        http_sys_keys = @()
    }
    $store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($StoreName, 'LocalMachine')
    $certificate = $null
    try {
        $store.Open('ReadOnly')
        $foundCertificates = $store.Certificates.Find('FindByThumbprint', $Thumbprint, $false)
        if ($foundCertificates.Count -gt 0) {
            $certificate = $foundCertificates[0]
        }
    }
    catch {
        $null = $Warnings.Add("cannot read LocalMachine\$StoreName for certificate ${Thumbprint}: $(Get-ExceptionMessage -ErrorRecord $_)")
    }
    finally {
        $store.Close()
    }
    if ($null -eq $certificate) {
        return $report
    }
    $report.found = $true
    $report.subject = $certificate.Subject
    $report.issuer = $certificate.Issuer
    $report.serial_number = $certificate.SerialNumber.ToUpperInvariant()
    $report.friendly_name = [string]$certificate.FriendlyName
    $names = Get-CertificateSubjectAltName -Certificate $certificate
    $report.san_dns_names = $names.dns
    $report.san_ip_addresses = $names.ip
    $report.not_before = ConvertTo-IsoDate -Value $certificate.NotBefore
    $report.not_after = ConvertTo-IsoDate -Value $certificate.NotAfter
    $key = Get-KeyDetail -Certificate $certificate
    $report.key_algorithm = $key.algorithm
    $report.key_size = $key.size
    $report.signature_algorithm = $certificate.SignatureAlgorithm.FriendlyName
    $report.signature_algorithm_oid = $certificate.SignatureAlgorithm.Value
    $report.has_private_key = [bool]$certificate.HasPrivateKey
    $report.private_key_machine = [bool]$key.machine
    $report.der_b64 = [System.Convert]::ToBase64String($certificate.RawData)

    # The chain Schannel would build: machine context, no revocation check. .NET Framework cannot turn off
    # AIA downloads (DisableCertificateDownloads is .NET 5+), so URL retrieval is bounded to 2 seconds instead.
    $chain = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Chain -ArgumentList $true
    $chain.ChainPolicy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
    $chain.ChainPolicy.UrlRetrievalTimeout = [System.TimeSpan]::FromSeconds(2)
    try {
        $report.chain_trusted = [bool]$chain.Build($certificate)
    }
    catch {
        $report.chain_trusted = $false
    }
    $ders = New-Object -TypeName System.Collections.ArrayList
    $subjects = New-Object -TypeName System.Collections.ArrayList
    $elements = New-Object -TypeName System.Collections.ArrayList
    foreach ($element in $chain.ChainElements) {
        $null = $elements.Add($element.Certificate)
        $null = $ders.Add([System.Convert]::ToBase64String($element.Certificate.RawData))
        $null = $subjects.Add($element.Certificate.Subject)
    }
    $statuses = New-Object -TypeName System.Collections.ArrayList
    foreach ($status in $chain.ChainStatus) {
        foreach ($flag in ($status.Status.ToString() -split ',\s*')) {
            if ($flag -and $flag -ne 'NoError' -and -not $statuses.Contains($flag)) {
                $null = $statuses.Add($flag)
            }
        }
    }
    $statuses.Sort([System.StringComparer]::Ordinal)
    $report.chain_der_b64 = @($ders)
    $report.chain_subjects = @($subjects)
    $report.chain_status = @($statuses)
    $intermediates = New-Object -TypeName System.Collections.ArrayList
    $allInCa = $true
    for ($i = 1; $i -lt $elements.Count; $i++) {
        $element = $elements[$i]
        if ($element.Subject -eq $element.Issuer) {
            continue
        }
        $inCa = Test-CertificateInStore -StoreName 'CA' -Thumbprint $element.Thumbprint
        if (-not $inCa) {
            $allInCa = $false
        }
        $null = $intermediates.Add([ordered]@{ thumbprint = $element.Thumbprint.ToUpperInvariant(); subject = $element.Subject; in_ca_store = $inCa })
    }
    $report.intermediates = @($intermediates)
    $report.intermediates_in_ca_store = $allInCa
    $chain.Reset()
    return $report
}

function Get-BindingReport {
    # One IIS HTTPS binding and the HTTP.sys entry its key names. Never throws: what cannot be read is
    # reported as http_sys_status 'unreadable' with the reason in 'error'.
    param($Binding, $Entries, [bool]$TableRead)
    $flags = [int]$Binding.ssl_flags
    $row = [ordered]@{
        binding_information = $Binding.binding_information
        ip = $Binding.ip
        port = $Binding.port
        host = $Binding.host
        ssl_flags = $flags
        sni = (($flags -band 1) -ne 0)
        ccs = (($flags -band 2) -ne 0)
        http_sys_key = $null
        certificate_hash = ''
        certificate_store_name = ''
        http_sys_status = 'unreadable'
        error = $null
    }
    try {
        if ($null -eq $Binding.key) {
            $row.error = [string]$Binding.key_error
            return $row
        }
        $row.http_sys_key = [string]$Binding.key.Key
        $entry = $null
        if ($TableRead) {
            $entry = Find-HttpSysEntry -Entries $Entries -Key $Binding.key
        }
        else {
            # The table could not be listed: read this binding's entry alone.
            $entry = [MfaServerTls.HttpSys]::Get($Binding.key)
        }
        if ($null -eq $entry) {
            $row.http_sys_status = 'missing'
        }
        elseif ([string]$Binding.key.Kind -eq 'ccs') {
            $row.http_sys_status = 'ccs'
        }
        else {
            $row.certificate_hash = ConvertTo-DisplayThumbprint -Value $entry.Hash
            $row.certificate_store_name = ConvertTo-DisplayStoreName -Entry $entry
            if ($row.certificate_hash) {
                $row.http_sys_status = 'bound'
            }
            else {
                $row.http_sys_status = 'missing'
            }
        }
    }
    catch {
        $row.certificate_hash = ''
        $row.certificate_store_name = ''
        $row.http_sys_status = 'unreadable'
        $row.error = "could not read the HTTP.sys entry $($row.http_sys_key): $(Get-ExceptionMessage -ErrorRecord $_)"
    }
    return $row
}

function Get-CustomMetadata {
    # The legacy metabase properties 5506 (certificate hash, Binary = base64) and 5511 (store name, String)
    # from system.applicationHost/customMetadata. The IIS 6 compatibility component (ABO mapper) uses them to
    # rewrite or delete HTTP.sys entries (Microsoft IIS support blog 376396, 1094102). Read-only.
    param($ServerManager, $SiteNames, [System.Collections.ArrayList]$Warnings)
    $rows = New-Object -TypeName System.Collections.ArrayList
    $section = $ServerManager.GetApplicationHostConfiguration().GetSection('system.applicationHost/customMetadata')
    foreach ($keyElement in $section.GetCollection()) {
        $path = [string]$keyElement.GetAttributeValue('path')
        $siteId = $null
        $siteName = $null
        $match = [System.Text.RegularExpressions.Regex]::Match($path, '^/?LM/W3SVC/([0-9]+)(/|$)', [System.Text.RegularExpressions.RegexOptions]::IgnoreCase)
        if ($match.Success) {
            $number = [int64]0
            if ([int64]::TryParse($match.Groups[1].Value, [System.Globalization.NumberStyles]::None, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$number)) {
                $siteId = $number
                if ($SiteNames.ContainsKey($number)) {
                    $siteName = $SiteNames[$number]
                }
            }
        }
        foreach ($property in $keyElement.GetCollection()) {
            $id = [int64]$property.GetAttributeValue('id')
            if ($id -ne 5506 -and $id -ne 5511) {
                continue
            }
            $raw = [string]$property.GetAttributeValue('value')
            $value = $raw
            if ($id -eq 5506) {
                try {
                    $value = ConvertTo-DisplayThumbprint -Value (ConvertTo-HexString -Bytes ([System.Convert]::FromBase64String($raw.Trim())))
                }
                catch {
                    $null = $Warnings.Add("customMetadata path '$path' property 5506 is not base64 ($(Get-ExceptionMessage -ErrorRecord $_)); reported as written")
                    $value = $raw
                }
            }
            $null = $rows.Add([ordered]@{
                path = $path
                site_id = $siteId
                site = $siteName
                property_id = [int]$id
                value = $value
                sort_key = $path + [char]0 + $id.ToString('D10', [System.Globalization.CultureInfo]::InvariantCulture)
            })
        }
    }
    $sorted = ConvertTo-OrdinalSortedList -Items $rows -Property 'sort_key'
    foreach ($row in $sorted) {
        $row.Remove('sort_key')
    }
    return , $sorted
}

function Get-IisTlsReport {
    # What mfa_server.tls.iis_tls_info returns (its .yml documents every key), as an ordered dictionary:
    # computer_name, iis_installed, iis_version, sites, http_sys, custom_metadata, certificates, schannel,
    # dotnet_tls. $Sites filters the sites reported in 'sites' (case-insensitive; empty means every site).
    # Warnings are added to $Warnings (the calling module passes each to Warn), in the order they arise.
    # When the IIS site configuration cannot be read, throws a System.Exception whose Message is the module's
    # failure message, whose InnerException is the cause and whose Data['MfaServerTls.Report'] holds what was
    # gathered until then; any other exception is unexpected and is left as it is.
    param([string[]]$Sites = @(), [System.Collections.ArrayList]$Warnings)
    if ($null -eq $Warnings) {
        $Warnings = New-Object -TypeName System.Collections.ArrayList
    }

    $result = [ordered]@{
        computer_name = $env:COMPUTERNAME
        iis_installed = $false
        iis_version = $null
        sites = @()
        http_sys = @()
        custom_metadata = @()
        certificates = @()
        schannel = @()
        dotnet_tls = @()
    }

    $iisAppId = [string][MfaServerTls.HttpSys]::IisAppId

    # ---- SCHANNEL and .NET -------------------------------------------------------------------------------
    $schannelRoot = 'HKLM:\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols'
    $schannel = New-Object -TypeName System.Collections.ArrayList
    foreach ($protocol in @('SSL 2.0', 'SSL 3.0', 'TLS 1.0', 'TLS 1.1', 'TLS 1.2', 'TLS 1.3')) {
        foreach ($side in @('Server', 'Client')) {
            $path = $schannelRoot + '\' + $protocol + '\' + $side
            $null = $schannel.Add([ordered]@{
                protocol = $protocol
                side = $side
                enabled = (Get-RegistryDword -Path $path -Name 'Enabled')
                disabled_by_default = (Get-RegistryDword -Path $path -Name 'DisabledByDefault')
            })
        }
    }
    $result.schannel = @($schannel)

    $dotnet = New-Object -TypeName System.Collections.ArrayList
    foreach ($framework in @('v2.0.50727', 'v4.0.30319')) {
        foreach ($wow in @($false, $true)) {
            $path = 'HKLM:\SOFTWARE\Microsoft\.NETFramework\' + $framework
            if ($wow) {
                $path = 'HKLM:\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\' + $framework
            }
            $null = $dotnet.Add([ordered]@{
                framework = $framework
                wow6432 = $wow
                sch_use_strong_crypto = (Get-RegistryDword -Path $path -Name 'SchUseStrongCrypto')
                system_default_tls_versions = (Get-RegistryDword -Path $path -Name 'SystemDefaultTlsVersions')
            })
        }
    }
    $result.dotnet_tls = @($dotnet)

    # ---- HTTP.sys: the one store of binding certificates --------------------------------------------------
    $httpSysEntries = @()
    $tableRead = $true
    try {
        $httpSysEntries = @([MfaServerTls.HttpSys]::List())
    }
    catch {
        $tableRead = $false
        $null = $Warnings.Add("could not list the HTTP.sys SSL configuration ($(Get-ExceptionMessage -ErrorRecord $_)); each binding's entry is read on its own and http_sys is empty. Run the module as an administrator.")
    }

    # ---- IIS ---------------------------------------------------------------------------------------------
    $allBindings = New-Object -TypeName System.Collections.ArrayList
    $serverManager = $null
    if (Import-WebAdministrationAssembly) {
        $result.iis_installed = $true
        $versionKey = (Get-Item -LiteralPath 'HKLM:\SOFTWARE\Microsoft\InetStp' -ErrorAction SilentlyContinue)
        if ($null -ne $versionKey) {
            $result.iis_version = $versionKey.GetValue('VersionString', $null)
        }
        try {
            $serverManager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
            $allBindings = Get-IisHttpsBinding -ServerManager $serverManager
        }
        catch {
            # The module fails with exactly this message, and with what was gathered so far as its other results.
            $failure = New-Object -TypeName System.Exception -ArgumentList @("cannot read the IIS site configuration ($(Get-ExceptionMessage -ErrorRecord $_)); nothing was changed. Run the module as an administrator; check applicationHost.config with 'appcmd list site'.", $_.Exception)
            $failure.Data['MfaServerTls.Report'] = $result
            throw $failure
        }
    }

    $siteFilter = @()
    if ($null -ne $Sites) {
        $siteFilter = @($Sites)
    }
    $siteRows = New-Object -TypeName System.Collections.ArrayList
    $siteNames = @{}
    if ($null -ne $serverManager) {
        foreach ($site in ($serverManager.Sites | Sort-Object -Property Id)) {
            $siteNames[[int64]$site.Id] = [string]$site.Name
            if ($siteFilter.Count -gt 0 -and -not ($siteFilter -contains $site.Name)) {
                continue
            }
            $state = 'Unknown'
            try {
                $state = $site.State.ToString()
            }
            catch {
                $state = 'Unknown'
            }
            $bindings = New-Object -TypeName System.Collections.ArrayList
            foreach ($binding in $allBindings) {
                if ($binding.site_id -ne [int64]$site.Id) {
                    continue
                }
                $null = $bindings.Add((Get-BindingReport -Binding $binding -Entries $httpSysEntries -TableRead $tableRead))
            }
            $null = $siteRows.Add([ordered]@{ name = [string]$site.Name; id = [int64]$site.Id; state = $state; bindings = @($bindings) })
        }
    }
    $result.sites = @($siteRows)

    # ---- the HTTP.sys table, each entry with the IIS bindings whose key it is ---------------------------
    $httpSys = New-Object -TypeName System.Collections.ArrayList
    $references = @{}
    $referenceOrder = New-Object -TypeName System.Collections.ArrayList
    foreach ($entry in (ConvertTo-OrdinalSortedList -Items $httpSysEntries -Property 'Key')) {
        $mapped = New-Object -TypeName System.Collections.ArrayList
        $entryKey = $null
        try {
            $entryKey = [MfaServerTls.BindingKey]::Parse([string]$entry.Key)
        }
        catch {
            $null = $Warnings.Add("HTTP.sys entry '$($entry.Key)' has a key the module cannot parse ($(Get-ExceptionMessage -ErrorRecord $_)); no IIS binding is matched to it")
        }
        if ($null -ne $entryKey) {
            foreach ($binding in $allBindings) {
                if ($null -ne $binding.key -and $entryKey.SameAs($binding.key)) {
                    $null = $mapped.Add([ordered]@{ site = $binding.site; binding_information = $binding.binding_information })
                }
            }
        }
        $status = 'orphaned'
        if ($mapped.Count -gt 0) {
            $status = 'in_use'
        }
        $kind = [string]$entry.Kind
        $ip = ''
        $hostName = ''
        if ($kind -eq 'ipport') {
            $ip = [string]$entry.Address
        }
        elseif ($kind -eq 'hostnameport') {
            $hostName = [string]$entry.Address
        }
        $appId = ([string]$entry.AppId).ToLowerInvariant()
        $hash = ConvertTo-DisplayThumbprint -Value $entry.Hash
        $null = $httpSys.Add([ordered]@{
            key = [string]$entry.Key
            kind = $kind
            ip = $ip
            host = $hostName
            port = [int]$entry.Port
            certificate_hash = $hash
            certificate_store_name = [string]$entry.StoreName
            app_id = $appId
            default_flags = [int64]$entry.DefaultFlags
            cert_check_mode = [int64]$entry.CertCheckMode
            revocation_freshness_time = [int64]$entry.RevocationFreshnessTime
            revocation_url_retrieval_timeout = [int64]$entry.RevocationUrlRetrievalTimeout
            ctl_identifier = [string]$entry.CtlIdentifier
            ctl_store_name = [string]$entry.CtlStoreName
            iis_bindings = @($mapped)
            status = $status
            foreign_app_id = (-not [string]::Equals($appId, $iisAppId, [System.StringComparison]::OrdinalIgnoreCase))
        })

        # The certificate this entry points at, once per thumbprint and store (store names as SameStore sees them).
        if ($hash) {
            $storeName = ConvertTo-DisplayStoreName -Entry $entry
            $id = $hash + '|' + $storeName.ToUpperInvariant()
            if (-not $references.ContainsKey($id)) {
                $references[$id] = @{
                    thumbprint = $hash
                    store = $storeName
                    sort_key = $hash + [char]0 + $storeName
                    used_by = (New-Object -TypeName System.Collections.ArrayList)
                    entry_keys = (New-Object -TypeName System.Collections.ArrayList)
                }
                $null = $referenceOrder.Add($references[$id])
            }
            $null = $references[$id].entry_keys.Add([string]$entry.Key)
            foreach ($binding in $mapped) {
                $null = $references[$id].used_by.Add($binding)
            }
        }
    }
    $result.http_sys = @($httpSys)

    # ---- customMetadata: legacy certificate properties IIS can write back into HTTP.sys -----------------
    if ($null -ne $serverManager) {
        try {
            # Get-CustomMetadata returns its list whole (return , $list): @() around it would nest it.
            $result.custom_metadata = Get-CustomMetadata -ServerManager $serverManager -SiteNames $siteNames -Warnings $Warnings
        }
        catch {
            $result.custom_metadata = @()
            $null = $Warnings.Add("could not read system.applicationHost/customMetadata ($(Get-ExceptionMessage -ErrorRecord $_)); custom_metadata is empty")
        }
    }

    # ---- every certificate an HTTP.sys entry points at ---------------------------------------------------
    $certificates = New-Object -TypeName System.Collections.ArrayList
    foreach ($reference in (ConvertTo-OrdinalSortedList -Items $referenceOrder -Property 'sort_key')) {
        $report = Get-CertificateReport -Thumbprint $reference.thumbprint -StoreName $reference.store -Warnings $Warnings
        $report.used_by = @($reference.used_by)
        $reference.entry_keys.Sort([System.StringComparer]::Ordinal)
        $report.http_sys_keys = @($reference.entry_keys)
        $null = $certificates.Add($report)
    }
    $result.certificates = @($certificates)

    return $result
}

$exportMembers = @{
    Function = @(
        'Get-IisTlsReport'
    )
}
Export-ModuleMember @exportMembers
