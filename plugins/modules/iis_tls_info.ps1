#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils.HttpSysSsl
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils.IisBinding
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils.CertificateInfo

$spec = @{
    options = @{
        sites = @{ type = 'list'; elements = 'str'; default = @() }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$module.Result.computer_name = $env:COMPUTERNAME
$module.Result.iis_installed = $false
$module.Result.iis_version = $null
$module.Result.sites = @()
$module.Result.http_sys = @()
$module.Result.certificates = @()
$module.Result.schannel = @()
$module.Result.dotnet_tls = @()

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
    $number = [int64]$value
    if ($number -lt 0) {
        $number += 4294967296
    }
    return $number
}

function Test-SameStoreName {
    # IIS says 'My', HTTP.sys stores 'MY' or nothing for the personal store: compare without case, empty = My.
    param([string]$Left, [string]$Right)
    if ([string]::IsNullOrEmpty($Left)) {
        $Left = 'My'
    }
    if ([string]::IsNullOrEmpty($Right)) {
        $Right = 'My'
    }
    return [string]::Equals($Left, $Right, [System.StringComparison]::OrdinalIgnoreCase)
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

function Test-InStore {
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
    param([string]$Thumbprint, [string]$StoreName)
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
        $module.Warn("cannot read LocalMachine\$StoreName for certificate ${Thumbprint}: $($_.Exception.Message)")
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

    # The chain Schannel would build: machine context, no revocation (no network needed).
    $chain = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Chain -ArgumentList $true
    $chain.ChainPolicy.RevocationMode = 'NoCheck'
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
    $report.chain_der_b64 = @($ders)
    $report.chain_subjects = @($subjects)
    $report.chain_status = @($statuses | Sort-Object)
    $intermediates = New-Object -TypeName System.Collections.ArrayList
    $allInCa = $true
    for ($i = 1; $i -lt $elements.Count; $i++) {
        $element = $elements[$i]
        if ($element.Subject -eq $element.Issuer) {
            continue
        }
        $inCa = Test-InStore -StoreName 'CA' -Thumbprint $element.Thumbprint
        if (-not $inCa) {
            $allInCa = $false
        }
        $null = $intermediates.Add(@{ thumbprint = $element.Thumbprint.ToUpperInvariant(); subject = $element.Subject; in_ca_store = $inCa })
    }
    $report.intermediates = @($intermediates)
    $report.intermediates_in_ca_store = $allInCa
    $chain.Reset()
    return $report
}

# ---- SCHANNEL and .NET -------------------------------------------------------------------------------
$schannelRoot = 'HKLM:\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols'
$schannel = New-Object -TypeName System.Collections.ArrayList
foreach ($protocol in @('SSL 2.0', 'SSL 3.0', 'TLS 1.0', 'TLS 1.1', 'TLS 1.2', 'TLS 1.3')) {
    foreach ($side in @('Server', 'Client')) {
        $path = $schannelRoot + '\' + $protocol + '\' + $side
        $null = $schannel.Add(@{
            protocol = $protocol
            side = $side
            enabled = (Get-RegistryDword -Path $path -Name 'Enabled')
            disabled_by_default = (Get-RegistryDword -Path $path -Name 'DisabledByDefault')
        })
    }
}
$module.Result.schannel = @($schannel)

$dotnet = New-Object -TypeName System.Collections.ArrayList
foreach ($framework in @('v2.0.50727', 'v4.0.30319')) {
    foreach ($wow in @($false, $true)) {
        $path = 'HKLM:\SOFTWARE\Microsoft\.NETFramework\' + $framework
        if ($wow) {
            $path = 'HKLM:\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\' + $framework
        }
        $null = $dotnet.Add(@{
            framework = $framework
            wow6432 = $wow
            sch_use_strong_crypto = (Get-RegistryDword -Path $path -Name 'SchUseStrongCrypto')
            system_default_tls_versions = (Get-RegistryDword -Path $path -Name 'SystemDefaultTlsVersions')
        })
    }
}
$module.Result.dotnet_tls = @($dotnet)

# ---- HTTP.sys ----------------------------------------------------------------------------------------
$httpSysEntries = @()
try {
    $httpSysEntries = @([MfaServerTls.HttpSys]::List())
}
catch {
    $module.Warn("could not read the HTTP.sys SSL table: $($_.Exception.Message)")
}

# ---- IIS ---------------------------------------------------------------------------------------------
$allBindings = New-Object -TypeName System.Collections.ArrayList
$serverManager = $null
if (Import-WebAdministrationAssembly) {
    $module.Result.iis_installed = $true
    $versionString = (Get-Item -LiteralPath 'HKLM:\SOFTWARE\Microsoft\InetStp' -ErrorAction SilentlyContinue)
    if ($null -ne $versionString) {
        $module.Result.iis_version = $versionString.GetValue('VersionString', $null)
    }
    try {
        $serverManager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
        $allBindings = Get-IisHttpsBinding -ServerManager $serverManager
    }
    catch {
        $module.FailJson("cannot read the IIS configuration ($($_.Exception.Message)). Run the module as an administrator; check applicationHost.config with 'appcmd list site'.", $_)
    }
}

$httpSysByKey = @{}
foreach ($entry in $httpSysEntries) {
    $httpSysByKey[$entry.Key.ToLowerInvariant()] = $entry
}

$siteFilter = @($module.Params.sites)
$sites = New-Object -TypeName System.Collections.ArrayList
if ($null -ne $serverManager) {
    foreach ($site in ($serverManager.Sites | Sort-Object -Property Id)) {
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
            if ($binding.site -ne $site.Name) {
                continue
            }
            $ip = ''
            $port = 0
            $hostName = ''
            $key = ''
            $status = 'missing'
            if ($null -ne $binding.parsed) {
                $ip = $binding.parsed.ip
                $port = $binding.parsed.port
                $hostName = $binding.parsed.host
                $key = $binding.key_parts.key
                $current = $httpSysByKey[$key.ToLowerInvariant()]
                if ($null -ne $current) {
                    $status = 'mismatch'
                    if ($binding.key_parts.kind -eq 'ccs') {
                        $status = 'consistent'
                    }
                    elseif ($current.Hash -eq $binding.hash -and (Test-SameStoreName -Left $current.StoreName -Right $binding.store)) {
                        $status = 'consistent'
                    }
                }
            }
            $null = $bindings.Add([ordered]@{
                binding_information = $binding.binding_information
                ip = $ip
                port = $port
                host = $hostName
                ssl_flags = $binding.ssl_flags
                sni = (($binding.ssl_flags -band 1) -ne 0)
                ccs = (($binding.ssl_flags -band 2) -ne 0)
                certificate_hash = $binding.hash
                certificate_store_name = $binding.store
                http_sys_key = $key
                http_sys_status = $status
            })
        }
        $null = $sites.Add([ordered]@{ name = $site.Name; id = [int]$site.Id; state = $state; bindings = @($bindings) })
    }
}
$module.Result.sites = @($sites)

$httpSys = New-Object -TypeName System.Collections.ArrayList
foreach ($entry in ($httpSysEntries | Sort-Object -Property Key)) {
    $mapped = New-Object -TypeName System.Collections.ArrayList
    $status = 'orphaned'
    foreach ($binding in $allBindings) {
        if ($null -eq $binding.key_parts -or $binding.key_parts.key -ne $entry.Key) {
            continue
        }
        $null = $mapped.Add(@{ site = $binding.site; binding_information = $binding.binding_information })
        if ($status -eq 'orphaned') {
            $status = 'consistent'
        }
        if ($entry.Kind -ne 'ccs' -and ($binding.hash -ne $entry.Hash -or -not (Test-SameStoreName -Left $binding.store -Right $entry.StoreName))) {
            $status = 'mismatch'
        }
    }
    $null = $httpSys.Add([ordered]@{
        key = $entry.Key
        kind = $entry.Kind
        ip = $entry.Ip
        host = $entry.Host
        port = $entry.Port
        certificate_hash = $entry.Hash.ToUpperInvariant()
        certificate_store_name = $entry.StoreName
        app_id = $entry.AppId.ToLowerInvariant()
        iis_bindings = @($mapped)
        status = $status
    })
}
$module.Result.http_sys = @($httpSys)

# ---- certificates in use ---------------------------------------------------------------------------
$references = [ordered]@{}
foreach ($binding in $allBindings) {
    if ($binding.hash) {
        $storeName = $binding.store
        if (-not $storeName) {
            $storeName = 'My'
        }
        $id = $binding.hash + '|' + $storeName.ToLowerInvariant()
        if (-not $references.Contains($id)) {
            $references[$id] = @{ thumbprint = $binding.hash; store = $storeName; used_by = (New-Object -TypeName System.Collections.ArrayList); keys = (New-Object -TypeName System.Collections.ArrayList) }
        }
        $null = $references[$id].used_by.Add(@{ site = $binding.site; binding_information = $binding.binding_information })
    }
}
foreach ($entry in $httpSysEntries) {
    if ($entry.Hash) {
        $storeName = $entry.StoreName
        if (-not $storeName) {
            $storeName = 'My'
        }
        $id = $entry.Hash.ToUpperInvariant() + '|' + $storeName.ToLowerInvariant()
        if (-not $references.Contains($id)) {
            $references[$id] = @{ thumbprint = $entry.Hash.ToUpperInvariant(); store = $storeName; used_by = (New-Object -TypeName System.Collections.ArrayList); keys = (New-Object -TypeName System.Collections.ArrayList) }
        }
        $null = $references[$id].keys.Add($entry.Key)
    }
}
$certificates = New-Object -TypeName System.Collections.ArrayList
foreach ($id in ($references.Keys | Sort-Object)) {
    $reference = $references[$id]
    $report = Get-CertificateReport -Thumbprint $reference.thumbprint -StoreName $reference.store
    $report.used_by = @($reference.used_by)
    $report.http_sys_keys = @($reference.keys | Sort-Object)
    $null = $certificates.Add($report)
}
$module.Result.certificates = @($certificates)

$module.ExitJson()
