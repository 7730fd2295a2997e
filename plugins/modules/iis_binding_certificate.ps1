#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils.HttpSysSsl
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils.IisBinding

$spec = @{
    options = @{
        thumbprint = @{ type = 'str'; required = $true }
        store_name = @{ type = 'str'; default = 'My'; choices = @('My', 'WebHosting') }
        bindings = @{
            type = 'list'
            elements = 'dict'
            options = @{
                site = @{ type = 'str'; required = $true }
                binding_information = @{ type = 'str'; required = $true }
            }
        }
        replace_thumbprint = @{ type = 'str' }
    }
    required_one_of = @(
        , @('bindings', 'replace_thumbprint')
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$module.Result.thumbprint = $null
$module.Result.store_name = $null
$module.Result.backup_name = $null
$module.Result.bindings = @()
$module.Result.http_sys = @()

# The application id IIS gives the HTTP.sys entries it creates; used for an entry this module creates.
$iisAppId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'

function ConvertTo-Thumbprint {
    # Upper-case hex without spaces; also drops the invisible marks the certificate dialog copies.
    param($Value)
    if ($null -eq $Value) {
        return $null
    }
    $clean = ([string]$Value -replace '[\s\u200e\u200f\ufeff:-]', '').ToUpperInvariant()
    if ($clean -notmatch '^[0-9A-F]{40}$') {
        return $null
    }
    return $clean
}


function Get-BackupName {
    return 'mfa_server.tls-' + [DateTime]::UtcNow.ToString('yyyyMMddTHHmmssfff') + 'Z'
}

function Backup-IisConfiguration {
    # Same layout as Backup-WebConfiguration, so Restore-WebConfiguration -Name <name> restores it.
    param([string]$Name)
    $done = $false
    try {
        Import-Module -Name WebAdministration -ErrorAction Stop
        $null = Backup-WebConfiguration -Name $Name -ErrorAction Stop
        $done = $true
    }
    catch {
        $done = $false
    }
    if (-not $done) {
        $inetsrv = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv'
        $target = Join-Path -Path $inetsrv -ChildPath ('backup\' + $Name)
        $null = New-Item -Path $target -ItemType Directory -Force
        foreach ($file in @('applicationHost.config', 'administration.config', 'redirection.config')) {
            $source = Join-Path -Path $inetsrv -ChildPath ('config\' + $file)
            if (Test-Path -LiteralPath $source) {
                Copy-Item -LiteralPath $source -Destination $target -Force
            }
        }
    }
    $check = Join-Path -Path $env:windir -ChildPath ('System32\inetsrv\backup\' + $Name + '\applicationHost.config')
    if (-not (Test-Path -LiteralPath $check)) {
        throw "the backup $Name holds no applicationHost.config"
    }
}

function Format-BindingName {
    param($Entry)
    return "'" + $Entry.binding_information + "' of site '" + $Entry.site + "'"
}

# ---- validate input ----------------------------------------------------------------------------
$thumbprint = ConvertTo-Thumbprint -Value $module.Params.thumbprint
if ($null -eq $thumbprint) {
    $module.FailJson("thumbprint '$($module.Params.thumbprint)' is not a SHA-1 thumbprint (40 hexadecimal characters). Copy it from the certificate's Thumbprint field or from the 'thumbprint' that mfa_server.tls.certificate_import returned.")
}
$replaceThumbprint = $null
if ($null -ne $module.Params.replace_thumbprint) {
    $replaceThumbprint = ConvertTo-Thumbprint -Value $module.Params.replace_thumbprint
    if ($null -eq $replaceThumbprint) {
        $module.FailJson("replace_thumbprint '$($module.Params.replace_thumbprint)' is not a SHA-1 thumbprint (40 hexadecimal characters). Take it from the certificate_hash that mfa_server.tls.iis_tls_info reports.")
    }
}
$storeName = 'My'
if ($module.Params.store_name -eq 'WebHosting') {
    $storeName = 'WebHosting'
}
$module.Result.thumbprint = $thumbprint
$module.Result.store_name = $storeName

$requested = @()
if ($null -ne $module.Params.bindings) {
    $requested = @($module.Params.bindings)
}
foreach ($request in $requested) {
    if ($null -eq (ConvertFrom-BindingInformation -Value $request.binding_information)) {
        $module.FailJson("binding_information '$($request.binding_information)' (site '$($request.site)') is not in IP:port:host form. Write it as IIS does, for example '*:443:', '*:443:mfa.contoso.com', '10.0.0.5:443:' or '[::1]:443:' (IPv6 in brackets).")
    }
}

if (-not (Import-WebAdministrationAssembly)) {
    $module.FailJson('IIS is not installed on this host (Microsoft.Web.Administration.dll not found in System32\inetsrv). Install the Web Server (IIS) role, or run this module only against IIS servers.')
}

# ---- the certificate must be there, with its private key -----------------------------------------
$store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($storeName, 'LocalMachine')
try {
    $store.Open('ReadOnly')
    $found = $store.Certificates.Find('FindByThumbprint', $thumbprint, $false)
}
catch {
    $module.FailJson("cannot open the certificate store LocalMachine\$storeName ($($_.Exception.Message)). Run the module as an administrator.", $_)
}
finally {
    $store.Close()
}
if ($found.Count -eq 0) {
    $module.FailJson("certificate $thumbprint is not in LocalMachine\$storeName. Import it first with mfa_server.tls.certificate_import (store_name: $storeName), or set store_name to the store that holds it.")
}
if (-not $found[0].HasPrivateKey) {
    $module.FailJson("certificate $thumbprint in LocalMachine\$storeName has no private key, so HTTP.sys cannot use it. Import the PFX that holds the key with mfa_server.tls.certificate_import.")
}
if ($found[0].NotAfter.ToUniversalTime() -lt [DateTime]::UtcNow) {
    $module.Warn("certificate $thumbprint expired on $($found[0].NotAfter.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ'))")
}

# ---- select the bindings --------------------------------------------------------------------------
$serverManager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
$allBindings = Get-IisHttpsBinding -ServerManager $serverManager
$selected = New-Object -TypeName System.Collections.ArrayList

foreach ($request in $requested) {
    $wanted = ConvertFrom-BindingInformation -Value $request.binding_information
    $site = $serverManager.Sites | Where-Object { $_.Name -eq $request.site } | Select-Object -First 1
    if ($null -eq $site) {
        $names = ($serverManager.Sites | ForEach-Object { "'" + $_.Name + "'" }) -join ', '
        $module.FailJson("site '$($request.site)' does not exist, so nothing was changed. Existing sites: $names. Fix the site name (mfa_server.tls.iis_tls_info lists sites and bindings).")
    }
    $match = $null
    foreach ($candidate in $allBindings) {
        if ($candidate.site -ne $site.Name -or $null -eq $candidate.parsed) {
            continue
        }
        if ($candidate.parsed.ip -eq $wanted.ip -and $candidate.parsed.port -eq $wanted.port -and $candidate.parsed.host -eq $wanted.host) {
            $match = $candidate
            break
        }
    }
    if ($null -eq $match) {
        $other = $site.Bindings | Where-Object { $_.Protocol -ne 'https' -and $_.BindingInformation -eq $request.binding_information }
        if ($null -ne $other) {
            $module.FailJson("binding '$($request.binding_information)' of site '$($site.Name)' is a $($other[0].Protocol) binding, not https, so nothing was changed. Add an https binding first, or select an existing https binding.")
        }
        $existing = ($allBindings | Where-Object { $_.site -eq $site.Name } | ForEach-Object { "'" + $_.binding_information + "'" }) -join ', '
        if (-not $existing) {
            $existing = 'none'
        }
        $module.FailJson("site '$($site.Name)' has no https binding '$($request.binding_information)', so nothing was changed. Its https bindings: $existing. Fix binding_information (mfa_server.tls.iis_tls_info lists every binding).")
    }
    if (($match.ssl_flags -band 2) -ne 0) {
        $module.FailJson("binding $(Format-BindingName -Entry $match) uses the Central Certificate Store (sslFlags $($match.ssl_flags)): IIS takes its certificate from the CCS share by host name, not from a thumbprint, so nothing was changed. Put the new certificate into the Central Certificate Store instead, or leave this binding out.")
    }
    if (-not $selected.Contains($match)) {
        $null = $selected.Add($match)
    }
}
if ($null -ne $replaceThumbprint) {
    foreach ($candidate in $allBindings) {
        if ($candidate.hash -eq $replaceThumbprint -and (($candidate.ssl_flags -band 2) -eq 0) -and -not $selected.Contains($candidate)) {
            if ($null -eq $candidate.parsed) {
                $module.FailJson("binding $(Format-BindingName -Entry $candidate) uses certificate $replaceThumbprint but its binding information cannot be parsed, so nothing was changed. Fix the binding in IIS Manager first.")
            }
            $null = $selected.Add($candidate)
        }
    }
}

# An SNI binding without a host name would need the HTTP.sys entry 'hostnameport=:port', which HTTP.sys
# cannot hold (the catch-all corrupted with the SNI flag, community.windows #31): refuse before any change.
foreach ($entry in $selected) {
    if ((($entry.ssl_flags -band 1) -ne 0) -and [string]::IsNullOrWhiteSpace($entry.parsed.host)) {
        $example = $entry.binding_information.TrimEnd() + 'mfa.contoso.com'
        $module.FailJson("binding $(Format-BindingName -Entry $entry) has the SNI flag (sslFlags $($entry.ssl_flags)) but no host name, so its HTTP.sys entry would be 'hostnameport=:$($entry.parsed.port)', which HTTP.sys cannot hold; nothing was changed. Give the binding a host name in IIS (for example '$example'), or clear 'Require Server Name Indication' on it in IIS Manager (sslFlags bit 1), then run again.")
    }
}

# A non-SNI binding shares its ipport entry with every binding on the same IP and port: all of them
# must be selected, or the change would silently reach the ones that were not (the catch-all trap).
foreach ($entry in $selected) {
    foreach ($candidate in $allBindings) {
        if ($selected.Contains($candidate) -or $null -eq $candidate.key_parts) {
            continue
        }
        if ($candidate.key_parts.key -eq $entry.key_parts.key) {
            $module.FailJson("binding $(Format-BindingName -Entry $entry) shares the HTTP.sys entry $($entry.key_parts.key) with binding $(Format-BindingName -Entry $candidate), which is not selected. HTTP.sys holds one certificate per entry, so the change would reach that binding too; nothing was changed. Select that binding as well, or give the bindings their own entries (SNI with a host name, or a dedicated IP).")
        }
    }
}

# ---- compute the change ---------------------------------------------------------------------------
$keys = [ordered]@{}
$bindingResults = New-Object -TypeName System.Collections.ArrayList
$diffBefore = New-Object -TypeName System.Collections.ArrayList
$diffAfter = New-Object -TypeName System.Collections.ArrayList
foreach ($entry in $selected) {
    $keyName = $entry.key_parts.key.ToLowerInvariant()
    if (-not $keys.Contains($keyName)) {
        $current = [MfaServerTls.HttpSys]::Get($entry.key_parts.kind, $entry.key_parts.name, $entry.key_parts.port)
        $action = 'unchanged'
        $previousHash = ''
        $previousStore = ''
        $appId = $iisAppId
        if ($null -eq $current) {
            $action = 'created'
        }
        else {
            $previousHash = $current.Hash.ToUpperInvariant()
            $previousStore = $current.StoreName
            $appId = $current.AppId
            if ($previousHash -ne $thumbprint -or $previousStore -ne $storeName) {
                $action = 'updated'
            }
        }
        $keys[$keyName] = @{
            key = $entry.key_parts.key
            kind = $entry.key_parts.kind
            name = $entry.key_parts.name
            port = $entry.key_parts.port
            previous_hash = $previousHash
            previous_store_name = $previousStore
            new_hash = $thumbprint
            new_store_name = $storeName
            app_id = $appId
            action = $action
        }
    }
    $keyState = $keys[$keyName]
    $iisChange = ($entry.hash -ne $thumbprint) -or ($entry.store -ne $storeName)
    $entry.iis_change = $iisChange
    $null = $bindingResults.Add(@{
        site = $entry.site
        site_id = $entry.site_id
        binding_information = $entry.binding_information
        ip = $entry.parsed.ip
        port = $entry.parsed.port
        host = $entry.parsed.host
        ssl_flags = $entry.ssl_flags
        http_sys_key = $entry.key_parts.key
        previous_thumbprint = $entry.hash
        previous_store_name = $entry.store
        new_thumbprint = $thumbprint
        new_store_name = $storeName
        changed = ($iisChange -or $keyState.action -ne 'unchanged')
    })
    $null = $diffBefore.Add(@{ site = $entry.site; binding_information = $entry.binding_information; thumbprint = $entry.hash; store_name = $entry.store })
    $null = $diffAfter.Add(@{ site = $entry.site; binding_information = $entry.binding_information; thumbprint = $thumbprint; store_name = $storeName })
}

$httpSysResults = New-Object -TypeName System.Collections.ArrayList
foreach ($keyState in $keys.Values) {
    $null = $httpSysResults.Add(@{
        key = $keyState.key
        previous_hash = $keyState.previous_hash
        previous_store_name = $keyState.previous_store_name
        new_hash = $keyState.new_hash
        new_store_name = $keyState.new_store_name
        app_id = $keyState.app_id
        action = $keyState.action
    })
}

$changed = $false
foreach ($result in $bindingResults) {
    if ($result.changed) {
        $changed = $true
    }
}
$module.Result.bindings = @($bindingResults)
$module.Result.http_sys = @($httpSysResults)
$module.Result.changed = $changed
if ($changed) {
    $module.Diff.before = @{ bindings = @($diffBefore) }
    $module.Diff.after = @{ bindings = @($diffAfter) }
}

if (-not $changed -or $module.CheckMode) {
    $module.ExitJson()
}

# ---- change: backup, IIS configuration, then HTTP.sys ----------------------------------------------
$backupName = Get-BackupName
try {
    Backup-IisConfiguration -Name $backupName
}
catch {
    $module.FailJson("could not back up applicationHost.config ($($_.Exception.Message)), so nothing was changed. Check free disk space and that the module runs as an administrator.", $_)
}
$module.Result.backup_name = $backupName

$hashBytes = New-Object -TypeName byte[] -ArgumentList 20
for ($i = 0; $i -lt 20; $i++) {
    $hashBytes[$i] = [System.Convert]::ToByte($thumbprint.Substring(2 * $i, 2), 16)
}
try {
    foreach ($entry in $selected) {
        if ($entry.iis_change) {
            $entry.binding.CertificateHash = $hashBytes
            $entry.binding.CertificateStoreName = $storeName
        }
    }
    $serverManager.CommitChanges()
}
catch {
    $module.FailJson("IIS refused the new configuration ($($_.Exception.Message)); applicationHost.config was not changed (backup $backupName). Check the certificate and the bindings with mfa_server.tls.iis_tls_info.", $_)
}

foreach ($keyState in $keys.Values) {
    if ($keyState.action -eq 'unchanged') {
        continue
    }
    try {
        # IIS may already have written the entry when the configuration was committed.
        $current = [MfaServerTls.HttpSys]::Get($keyState.kind, $keyState.name, $keyState.port)
        if ($null -eq $current -or $current.Hash.ToUpperInvariant() -ne $thumbprint -or $current.StoreName -ne $storeName) {
            [MfaServerTls.HttpSys]::SetCertificate($keyState.kind, $keyState.name, $keyState.port, $thumbprint, $storeName, $iisAppId)
        }
        $current = [MfaServerTls.HttpSys]::Get($keyState.kind, $keyState.name, $keyState.port)
        if ($null -eq $current -or $current.Hash.ToUpperInvariant() -ne $thumbprint) {
            throw "the entry does not hold the new certificate after it was written"
        }
    }
    catch {
        $module.FailJson("applicationHost.config now holds $thumbprint but updating the HTTP.sys entry $($keyState.key) failed ($($_.Exception.Message)). Roll back by calling mfa_server.tls.iis_binding_certificate with each binding's previous_thumbprint (see 'bindings'), or restore the configuration with Restore-WebConfiguration -Name $backupName.", $_)
    }
}

$module.ExitJson()
