#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisBinding

# The certificate of an IIS HTTPS binding lives only in HTTP.sys, in the entry whose key the binding derives
# (ipport=IP:port, hostnameport=host:port, ccs=port); applicationHost.config holds none. This module changes
# HTTP.sys only, through [MfaServerTls.HttpSys]::Apply / ::Restore, and never touches the IIS configuration.
# The undo of a change is the returned snapshot of the previous entries, passed back as `restore`.

$spec = @{
    options = @{
        thumbprint = @{ type = 'str' }
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
        force = @{ type = 'bool'; default = $false }
        restore = @{
            type = 'list'
            elements = 'dict'
            options = @{
                key = @{ type = 'str'; required = $true }
                exists = @{ type = 'bool'; required = $true }
                certificate_hash = @{ type = 'str' }
                certificate_store_name = @{ type = 'str' }
                app_id = @{ type = 'str' }
                default_flags = @{ type = 'int' }
                cert_check_mode = @{ type = 'int' }
                revocation_freshness_time = @{ type = 'int' }
                revocation_url_retrieval_timeout = @{ type = 'int' }
                ctl_identifier = @{ type = 'str' }
                ctl_store_name = @{ type = 'str' }
            }
        }
    }
    mutually_exclusive = @(
        , @('restore', 'thumbprint')
        , @('restore', 'bindings')
        , @('restore', 'replace_thumbprint')
    )
    required_one_of = @(
        , @('thumbprint', 'restore')
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$module.Result.thumbprint = $null
$module.Result.store_name = $null
$module.Result.bindings = @()
$module.Result.http_sys = @()
$module.Result.snapshot = @()
$module.Result.rolled_back = $false
$module.Result.rollback_verified = $false
$module.Result.changed = $false

$iisAppId = ([string][MfaServerTls.HttpSys]::IisAppId).ToLowerInvariant()

function Format-BindingName {
    param($Entry)
    return "'" + $Entry.binding_information + "' of site '" + $Entry.site + "'"
}

function ConvertTo-SnapshotRow {
    # One snapshot entry (SslEntry) as a dict with exactly the names of the `restore` sub-options. A key
    # that had no entry is {key, exists: false} with every other field null.
    param($Entry)
    $row = [ordered]@{
        key = [string]$Entry.Key
        exists = [bool]$Entry.Exists
        certificate_hash = $null
        certificate_store_name = $null
        app_id = $null
        default_flags = $null
        cert_check_mode = $null
        revocation_freshness_time = $null
        revocation_url_retrieval_timeout = $null
        ctl_identifier = $null
        ctl_store_name = $null
    }
    if ($row.exists) {
        $row.certificate_hash = ConvertTo-DisplayThumbprint -Value $Entry.Hash
        $row.certificate_store_name = [string]$Entry.StoreName
        $row.app_id = ([string]$Entry.AppId).ToLowerInvariant()
        $row.default_flags = [int64]$Entry.DefaultFlags
        $row.cert_check_mode = [int64]$Entry.CertCheckMode
        $row.revocation_freshness_time = [int64]$Entry.RevocationFreshnessTime
        $row.revocation_url_retrieval_timeout = [int64]$Entry.RevocationUrlRetrievalTimeout
        $row.ctl_identifier = [string]$Entry.CtlIdentifier
        $row.ctl_store_name = [string]$Entry.CtlStoreName
    }
    return $row
}

function ConvertTo-SnapshotRowList {
    param($Entries)
    $rows = New-Object -TypeName System.Collections.ArrayList
    foreach ($entry in $Entries) {
        if ($null -ne $entry) {
            $null = $rows.Add((ConvertTo-SnapshotRow -Entry $entry))
        }
    }
    return , @($rows)
}

function Exit-ChangeFailure {
    # HTTP.sys refused a write. Apply has already put back what it wrote and says whether reading back
    # confirmed it: `changed` is false only when it did. A failed Restore is not rolled back (the entries as
    # they were before the run stay in `snapshot`, which was set before the write).
    param($ErrorRecord, [string]$What, [bool]$Restoring)
    $failure = $null
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception) {
        if ($exception -is [MfaServerTls.HttpSysChangeFailed]) {
            $failure = $exception
            break
        }
        $exception = $exception.InnerException
    }
    $module.Result.rolled_back = $false
    $module.Result.rollback_verified = $false
    $module.Result.changed = $true
    $undo = "The entries as they were before this run are in the returned 'snapshot': pass it to this module as 'restore' once the cause is fixed."
    if ($null -eq $failure) {
        $module.FailJson("$What stopped with an unexpected error ($(Get-ExceptionMessage -ErrorRecord $ErrorRecord)); HTTP.sys may have been partly changed. Compare it with mfa_server.tls.iis_tls_info. $undo", $ErrorRecord)
    }
    $message = [string]$failure.Message
    if (-not $Restoring) {
        if ($null -ne $failure.Snapshot) {
            $module.Result.snapshot = ConvertTo-SnapshotRowList -Entries $failure.Snapshot
        }
        $module.Result.rolled_back = [bool]$failure.Restored
        $module.Result.rollback_verified = [bool]$failure.RestoreVerified
        $module.Result.changed = (-not $module.Result.rollback_verified)
    }
    if ($module.Result.rollback_verified) {
        $message += ' Nothing was changed.'
    }
    else {
        $message += " $undo"
    }
    $module.FailJson($message, $ErrorRecord)
}

function Test-SameBindingInformation {
    # A requested binding_information names a configured one when the text is the same (case-insensitive) or
    # both parse to the same IP, port and host (host case-insensitive): '[0:0:0:0:0:0:0:1]:443:' is '[::1]:443:'.
    param([string]$Requested, [string]$Configured)
    if ([string]::Equals($Requested, $Configured, [System.StringComparison]::OrdinalIgnoreCase)) {
        return $true
    }
    $left = ConvertFrom-BindingInformation -Value $Requested
    $right = ConvertFrom-BindingInformation -Value $Configured
    if ($null -eq $left -or $null -eq $right) {
        return $false
    }
    return ([string]::Equals($left.ip, $right.ip, [System.StringComparison]::OrdinalIgnoreCase) -and
        $left.port -eq $right.port -and
        [string]::Equals($left.host, $right.host, [System.StringComparison]::OrdinalIgnoreCase))
}

function Test-SameEntry {
    # Whether the current entry already is the requested one, field by field, as HttpSys.Restore compares
    # them (store names exactly as HTTP.sys holds them: '' and 'MY' differ, as an exact restore writes either).
    param($Current, $Wanted)
    $currentExists = ($null -ne $Current -and [bool]$Current.Exists)
    if (-not $Wanted.Exists) {
        return (-not $currentExists)
    }
    if (-not $currentExists) {
        return $false
    }
    $exact = [System.StringComparison]::Ordinal
    return ([string]::Equals((ConvertTo-DisplayThumbprint -Value $Current.Hash), (ConvertTo-DisplayThumbprint -Value $Wanted.Hash), $exact) -and
        [string]::Equals([string]$Current.StoreName, [string]$Wanted.StoreName, $exact) -and
        [string]::Equals([string]$Current.AppId, [string]$Wanted.AppId, [System.StringComparison]::OrdinalIgnoreCase) -and
        [int64]$Current.DefaultFlags -eq [int64]$Wanted.DefaultFlags -and
        [int64]$Current.CertCheckMode -eq [int64]$Wanted.CertCheckMode -and
        [int64]$Current.RevocationFreshnessTime -eq [int64]$Wanted.RevocationFreshnessTime -and
        [int64]$Current.RevocationUrlRetrievalTimeout -eq [int64]$Wanted.RevocationUrlRetrievalTimeout -and
        [string]::Equals([string]$Current.CtlIdentifier, [string]$Wanted.CtlIdentifier, $exact) -and
        [string]::Equals([string]$Current.CtlStoreName, [string]$Wanted.CtlStoreName, $exact))
}

function ConvertFrom-RestoreRow {
    # One `restore` item as the SslEntry HttpSys.Restore writes; FailJson (nothing changed) when it is unusable.
    param($Row, [int]$Position)
    $label = "restore[$Position] (key '$($Row.key)')"
    $key = $null
    try {
        $key = [MfaServerTls.BindingKey]::Parse([string]$Row.key)
    }
    catch {
        $module.FailJson("$label is not an HTTP.sys key ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Pass the 'snapshot' this module returned unchanged, or write keys as iis_tls_info reports them: ipport=0.0.0.0:443, ipport=[::1]:443, hostnameport=mfa.contoso.com:443, ccs=443.")
    }
    $entry = New-MissingEntry -Key $key
    $entry.Exists = [bool]$Row.exists
    if (-not $entry.Exists) {
        return $entry
    }
    foreach ($name in @('default_flags', 'cert_check_mode', 'revocation_freshness_time', 'revocation_url_retrieval_timeout')) {
        $number = $Row[$name]
        if ($null -ne $number -and ([int64]$number -lt 0 -or [int64]$number -gt 4294967295)) {
            $module.FailJson("$label has $name $number, which is not a DWORD (0 to 4294967295), so nothing was changed. Pass the 'snapshot' this module returned unchanged.")
        }
    }
    $hash = ''
    if (-not [string]::IsNullOrEmpty([string]$Row.certificate_hash)) {
        $hash = [MfaServerTls.WindowsRules]::NormalizeThumbprint([string]$Row.certificate_hash)
        if ($null -eq $hash) {
            $module.FailJson("$label has certificate_hash '$($Row.certificate_hash)', which is not a SHA-1 thumbprint (40 hexadecimal characters), so nothing was changed. Pass the 'snapshot' this module returned unchanged.")
        }
    }
    if ($hash -eq '' -and [string]$key.Kind -ne 'ccs') {
        $module.FailJson("$label has exists: true but no certificate_hash: an $($key.Kind) entry always holds a certificate, so nothing was changed. Give certificate_hash (and certificate_store_name), or set exists: false to delete the entry.")
    }
    $appId = $iisAppId
    if (-not [string]::IsNullOrEmpty([string]$Row.app_id)) {
        $guid = [System.Guid]::Empty
        if (-not [System.Guid]::TryParse([string]$Row.app_id, [ref]$guid)) {
            $module.FailJson("$label has app_id '$($Row.app_id)', which is not a GUID, so nothing was changed. Write it as HTTP.sys reports it, for example '$iisAppId' (IIS).")
        }
        $appId = $guid.ToString('B').ToLowerInvariant()
    }
    $entry.Hash = $hash
    $entry.StoreName = [string]$Row.certificate_store_name
    $entry.AppId = $appId
    $entry.DefaultFlags = 0
    $entry.CertCheckMode = 0
    $entry.RevocationFreshnessTime = 0
    $entry.RevocationUrlRetrievalTimeout = 0
    if ($null -ne $Row.default_flags) {
        $entry.DefaultFlags = $Row.default_flags
    }
    if ($null -ne $Row.cert_check_mode) {
        $entry.CertCheckMode = $Row.cert_check_mode
    }
    if ($null -ne $Row.revocation_freshness_time) {
        $entry.RevocationFreshnessTime = $Row.revocation_freshness_time
    }
    if ($null -ne $Row.revocation_url_retrieval_timeout) {
        $entry.RevocationUrlRetrievalTimeout = $Row.revocation_url_retrieval_timeout
    }
    $entry.CtlIdentifier = [string]$Row.ctl_identifier
    $entry.CtlStoreName = [string]$Row.ctl_store_name
    return $entry
}

function New-MissingEntry {
    # The snapshot entry of a key that has no HTTP.sys entry (restoring it deletes the entry).
    param($Key)
    $entry = New-Object -TypeName MfaServerTls.SslEntry
    $entry.Key = $Key.Key
    $entry.Kind = $Key.Kind
    $entry.Address = $Key.Address
    $entry.Port = $Key.Port
    $entry.Exists = $false
    return $entry
}

function Get-EntryAppId {
    param($Entry)
    if ($null -eq $Entry -or -not [bool]$Entry.Exists) {
        return $null
    }
    return ([string]$Entry.AppId).ToLowerInvariant()
}

function Get-EntryDefaultFlags {
    param($Entry)
    if ($null -eq $Entry -or -not [bool]$Entry.Exists) {
        return $null
    }
    return [int64]$Entry.DefaultFlags
}

function Invoke-Restore {
    # restore mode: put every listed key back exactly as given (exists: false deletes the entry).
    $rows = @($module.Params.restore)
    $wanted = New-Object -TypeName System.Collections.ArrayList
    $position = 0
    foreach ($row in $rows) {
        $entry = ConvertFrom-RestoreRow -Row $row -Position $position
        $entryKey = [MfaServerTls.BindingKey]::Parse([string]$entry.Key)
        foreach ($earlier in $wanted) {
            if ($entryKey.SameAs([MfaServerTls.BindingKey]::Parse([string]$earlier.Key))) {
                $module.FailJson("restore lists the HTTP.sys key $($entry.Key) twice (restore[$position] and an earlier item), so nothing was changed. Give each key once.")
            }
        }
        $null = $wanted.Add($entry)
        $position++
    }

    $keyList = New-Object -TypeName System.Collections.ArrayList
    foreach ($entry in $wanted) {
        $null = $keyList.Add([MfaServerTls.BindingKey]::Parse([string]$entry.Key))
    }
    $current = @()
    if ($keyList.Count -gt 0) {
        try {
            $current = @([MfaServerTls.HttpSys]::Snapshot($keyList.ToArray([MfaServerTls.BindingKey])))
        }
        catch {
            $module.FailJson("could not read the HTTP.sys entries to restore ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator.", $_)
        }
    }
    # The state before this run, so that a restore can itself be undone.
    $module.Result.snapshot = ConvertTo-SnapshotRowList -Entries $current

    $results = New-Object -TypeName System.Collections.ArrayList
    $toWrite = New-Object -TypeName System.Collections.ArrayList
    $diffBefore = New-Object -TypeName System.Collections.ArrayList
    $diffAfter = New-Object -TypeName System.Collections.ArrayList
    for ($i = 0; $i -lt $wanted.Count; $i++) {
        $entry = $wanted[$i]
        $before = Find-HttpSysEntry -Entries $current -Key $keyList[$i]
        $beforeExists = ($null -ne $before -and [bool]$before.Exists)
        $action = 'restored'
        if (Test-SameEntry -Current $before -Wanted $entry) {
            $action = 'unchanged'
        }
        elseif (-not $entry.Exists) {
            $action = 'deleted'
        }
        $previousHash = ''
        $previousStore = ''
        if ($beforeExists) {
            $previousHash = ConvertTo-DisplayThumbprint -Value $before.Hash
            $previousStore = ConvertTo-DisplayStoreName -Entry $before
        }
        $newHash = ''
        $newStore = ''
        if ($entry.Exists) {
            $newHash = ConvertTo-DisplayThumbprint -Value $entry.Hash
            $newStore = ConvertTo-DisplayStoreName -Entry $entry
        }
        $null = $results.Add([ordered]@{
            key = [string]$entry.Key
            action = $action
            previous_hash = $previousHash
            previous_store_name = $previousStore
            new_hash = $newHash
            new_store_name = $newStore
            app_id = (Get-EntryAppId -Entry $entry)
            default_flags = (Get-EntryDefaultFlags -Entry $entry)
        })
        if ($action -ne 'unchanged') {
            $null = $toWrite.Add($entry)
            if ($null -eq $before) {
                $before = New-MissingEntry -Key $keyList[$i]
            }
            $null = $diffBefore.Add((ConvertTo-SnapshotRow -Entry $before))
            $null = $diffAfter.Add((ConvertTo-SnapshotRow -Entry $entry))
        }
    }
    $module.Result.http_sys = @($results)
    $changed = ($toWrite.Count -gt 0)
    if ($changed) {
        $module.Diff.before = @{ http_sys = @($diffBefore) }
        $module.Diff.after = @{ http_sys = @($diffAfter) }
    }
    if (-not $changed -or $module.CheckMode) {
        $module.Result.changed = $changed
        $module.ExitJson()
    }
    try {
        $null = [MfaServerTls.HttpSys]::Restore($toWrite.ToArray([MfaServerTls.SslEntry]))
    }
    catch {
        Exit-ChangeFailure -ErrorRecord $_ -What 'restoring the HTTP.sys entries' -Restoring $true
    }
    $module.Result.changed = $true
    $module.ExitJson()
}

if ($null -ne $module.Params.restore) {
    Invoke-Restore
}

# ---- validate input ----------------------------------------------------------------------------
$thumbprint = [MfaServerTls.WindowsRules]::NormalizeThumbprint([string]$module.Params.thumbprint)
if ($null -eq $thumbprint) {
    $module.FailJson("thumbprint '$($module.Params.thumbprint)' is not a SHA-1 thumbprint (40 hexadecimal characters), so nothing was changed. Copy it from the certificate's Thumbprint field or from the 'thumbprint' that mfa_server.tls.certificate_import returned.")
}
$replaceThumbprint = $null
if ($null -ne $module.Params.replace_thumbprint) {
    $replaceThumbprint = [MfaServerTls.WindowsRules]::NormalizeThumbprint([string]$module.Params.replace_thumbprint)
    if ($null -eq $replaceThumbprint) {
        $module.FailJson("replace_thumbprint '$($module.Params.replace_thumbprint)' is not a SHA-1 thumbprint (40 hexadecimal characters), so nothing was changed. Take it from the certificate_hash that mfa_server.tls.iis_tls_info reports.")
    }
}
$requested = @()
if ($null -ne $module.Params.bindings) {
    $requested = @($module.Params.bindings)
}
if ($requested.Count -eq 0 -and $null -eq $replaceThumbprint) {
    $module.FailJson("thumbprint needs a selection of bindings, so nothing was changed. Set bindings (a list of site and binding_information), replace_thumbprint (every binding whose HTTP.sys entry holds that certificate), or both.")
}
$storeName = 'My'
if ($module.Params.store_name -eq 'WebHosting') {
    $storeName = 'WebHosting'
}
$module.Result.thumbprint = $thumbprint
$module.Result.store_name = $storeName
$force = [bool]$module.Params.force

if (-not (Import-WebAdministrationAssembly)) {
    $module.FailJson('IIS is not installed on this host (Microsoft.Web.Administration.dll not found in System32\inetsrv), so nothing was changed. Install the Web Server (IIS) role, or run this module only against IIS servers.')
}

# ---- the certificate must be there, with its private key -----------------------------------------
$found = $null
$store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($storeName, 'LocalMachine')
try {
    $store.Open('ReadOnly')
    $found = $store.Certificates.Find('FindByThumbprint', $thumbprint, $false)
}
catch {
    $module.FailJson("cannot open the certificate store LocalMachine\$storeName ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator.", $_)
}
finally {
    $store.Close()
}
if ($null -eq $found -or $found.Count -eq 0) {
    $module.FailJson("certificate $thumbprint is not in LocalMachine\$storeName, so nothing was changed. Import it first with mfa_server.tls.certificate_import (store_name: $storeName), or set store_name to the store that holds it.")
}
if (-not $found[0].HasPrivateKey) {
    $module.FailJson("certificate $thumbprint in LocalMachine\$storeName has no private key, so HTTP.sys cannot use it; nothing was changed. Import the PFX that holds the key with mfa_server.tls.certificate_import.")
}
if ($found[0].NotAfter.ToUniversalTime() -lt [DateTime]::UtcNow) {
    $module.Warn("certificate $thumbprint expired on $($found[0].NotAfter.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture))")
}

# ---- IIS bindings and the HTTP.sys table ---------------------------------------------------------
$serverManager = $null
$allBindings = $null
try {
    $serverManager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
    $allBindings = Get-IisHttpsBinding -ServerManager $serverManager
}
catch {
    $module.FailJson("cannot read the IIS site configuration ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator; check applicationHost.config with 'appcmd list site'.", $_)
}
$table = @()
try {
    $table = @([MfaServerTls.HttpSys]::List())
}
catch {
    $module.FailJson("cannot read the HTTP.sys SSL configuration ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator ('netsh http show sslcert' shows the same table).", $_)
}

# ---- select the bindings --------------------------------------------------------------------------
$selected = New-Object -TypeName System.Collections.ArrayList
foreach ($request in $requested) {
    $site = $null
    foreach ($candidateSite in $serverManager.Sites) {
        if ([string]::Equals([string]$candidateSite.Name, [string]$request.site, [System.StringComparison]::OrdinalIgnoreCase)) {
            $site = $candidateSite
            break
        }
    }
    if ($null -eq $site) {
        $names = ($serverManager.Sites | Sort-Object -Property Id | ForEach-Object { "'" + $_.Name + "'" }) -join ', '
        $module.FailJson("site '$($request.site)' does not exist, so nothing was changed. Existing sites: $names. Fix the site name (mfa_server.tls.iis_tls_info lists sites and bindings).")
    }
    $match = $null
    foreach ($candidate in $allBindings) {
        if ($candidate.site_id -eq [int64]$site.Id -and (Test-SameBindingInformation -Requested $request.binding_information -Configured $candidate.binding_information)) {
            $match = $candidate
            break
        }
    }
    if ($null -eq $match) {
        foreach ($other in $site.Bindings) {
            $otherProtocol = [string]$other.Protocol
            if ($otherProtocol -ne 'https' -and (Test-SameBindingInformation -Requested $request.binding_information -Configured ([string]$other.GetAttributeValue('bindingInformation')))) {
                $module.FailJson("binding '$($request.binding_information)' of site '$($site.Name)' is a $otherProtocol binding, not https, so nothing was changed. Add an https binding first, or select an existing https binding.")
            }
        }
        $existing = ($allBindings | Where-Object { $_.site_id -eq [int64]$site.Id } | ForEach-Object { "'" + $_.binding_information + "'" }) -join ', '
        if (-not $existing) {
            $existing = 'none'
        }
        $module.FailJson("site '$($site.Name)' has no https binding '$($request.binding_information)', so nothing was changed. Its https bindings: $existing. Fix binding_information, written as IIS does ('*:443:', '*:443:mfa.contoso.com', '10.0.0.5:443:', '[::1]:443:'); mfa_server.tls.iis_tls_info lists every binding.")
    }
    if ($null -eq $match.key) {
        $module.FailJson("binding $(Format-BindingName -Entry $match) cannot be mapped to an HTTP.sys entry ($($match.key_error)), so nothing was changed. Fix the binding information in IIS as that message says, or leave this binding out.")
    }
    if ([string]$match.key.Kind -eq 'ccs') {
        $module.FailJson("binding $(Format-BindingName -Entry $match) uses the Central Certificate Store (sslFlags $($match.ssl_flags)): IIS takes its certificate from the CCS share by host name, not from a thumbprint, so nothing was changed. Put the new certificate into the Central Certificate Store instead, or leave this binding out.")
    }
    if (-not $selected.Contains($match)) {
        $null = $selected.Add($match)
    }
}
if ($null -ne $replaceThumbprint) {
    foreach ($candidate in $allBindings) {
        if ($selected.Contains($candidate)) {
            continue
        }
        if ($null -eq $candidate.key) {
            $module.Warn("binding $(Format-BindingName -Entry $candidate) cannot be mapped to an HTTP.sys entry ($($candidate.key_error)), so replace_thumbprint cannot tell whether it uses $replaceThumbprint; it was left out")
            continue
        }
        if ([string]$candidate.key.Kind -eq 'ccs') {
            continue
        }
        $entry = Find-HttpSysEntry -Entries $table -Key $candidate.key
        if ($null -ne $entry -and (ConvertTo-DisplayThumbprint -Value $entry.Hash) -eq $replaceThumbprint) {
            $null = $selected.Add($candidate)
        }
    }
}

# HTTP.sys holds one certificate per entry: every binding that derives the same key must be selected, or
# the change would silently reach the ones that were not (the catch-all trap).
foreach ($entry in $selected) {
    foreach ($candidate in $allBindings) {
        if ($selected.Contains($candidate) -or $null -eq $candidate.key) {
            continue
        }
        if ($candidate.key.SameAs($entry.key)) {
            $module.FailJson("binding $(Format-BindingName -Entry $entry) shares the HTTP.sys entry $($entry.key.Key) with binding $(Format-BindingName -Entry $candidate), which is not selected. HTTP.sys holds one certificate per entry, so the change would reach that binding too; nothing was changed. Select that binding as well, or give the bindings their own entries (SNI with a host name, or a dedicated IP).")
        }
    }
}

# A binding with no entry of its own is served by the next entry HTTP.sys tries: an SNI binding the port's
# ccs entry, then its address's, then the wildcard; an address binding the wildcard ([::] first for IPv6).
# Changing that entry would reach it unseen (the rule of plugins/module_utils/iis_bindings.py fallback_entry).
foreach ($entry in $selected) {
    foreach ($candidate in $allBindings) {
        if ($selected.Contains($candidate) -or $null -eq $candidate.key -or $candidate.key.Kind -eq 'ccs') {
            continue
        }
        if ($null -ne (Find-HttpSysEntry -Entries $table -Key $candidate.key)) {
            continue
        }
        $port = $candidate.key.Port
        $address = '0.0.0.0'
        if ($candidate.ip -and $candidate.ip -ne '*') {
            $address = $candidate.ip
        }
        $next = New-Object -TypeName System.Collections.ArrayList
        if ($candidate.key.Kind -eq 'hostnameport') {
            $null = $next.Add("ccs=$port")
        }
        if ($address.Contains(':')) {
            $null = $next.Add("ipport=[$address]:$port")
            $null = $next.Add("ipport=[::]:$port")
        }
        elseif ($address -ne '0.0.0.0') {
            $null = $next.Add("ipport=${address}:$port")
        }
        $null = $next.Add("ipport=0.0.0.0:$port")
        foreach ($keyText in $next) {
            $fallbackKey = [MfaServerTls.BindingKey]::Parse($keyText)
            if ($null -ne (Find-HttpSysEntry -Entries $table -Key $fallbackKey)) {
                if ($fallbackKey.SameAs($entry.key)) {
                    $module.FailJson("binding $(Format-BindingName -Entry $candidate) has no HTTP.sys entry of its own ($($candidate.key.Key)), so HTTP.sys serves it with $($fallbackKey.Key), the entry of binding $(Format-BindingName -Entry $entry); the change would reach it too, so nothing was changed. Select that binding as well (it then gets an entry of its own), or leave this binding out.")
                }
                break
            }
        }
    }
}

# ---- compute the change per HTTP.sys key ------------------------------------------------------------
$groups = New-Object -TypeName System.Collections.ArrayList
foreach ($entry in $selected) {
    $group = $null
    foreach ($candidate in $groups) {
        if ($candidate.key.SameAs($entry.key)) {
            $group = $candidate
            break
        }
    }
    if ($null -eq $group) {
        $group = @{ key = $entry.key; bindings = (New-Object -TypeName System.Collections.ArrayList) }
        $null = $groups.Add($group)
    }
    $null = $group.bindings.Add($entry)
}

$current = @()
if ($groups.Count -gt 0) {
    $keyList = New-Object -TypeName System.Collections.ArrayList
    foreach ($group in $groups) {
        $null = $keyList.Add($group.key)
    }
    try {
        $current = @([MfaServerTls.HttpSys]::Snapshot($keyList.ToArray([MfaServerTls.BindingKey])))
    }
    catch {
        $module.FailJson("cannot read the HTTP.sys entries of the selected bindings ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator.", $_)
    }
}

$changes = New-Object -TypeName System.Collections.ArrayList
$snapshotEntries = New-Object -TypeName System.Collections.ArrayList
$httpSysResults = New-Object -TypeName System.Collections.ArrayList
foreach ($group in $groups) {
    $first = $group.bindings[0]
    $before = Find-HttpSysEntry -Entries $current -Key $group.key
    $exists = ($null -ne $before -and [bool]$before.Exists)
    $previousHash = ''
    $previousStore = ''
    $action = 'created'
    $appId = $iisAppId
    $defaultFlags = [int64][MfaServerTls.WindowsRules]::DefaultFlagsFor([int]$first.ssl_flags)
    if ($exists) {
        $previousHash = ConvertTo-DisplayThumbprint -Value $before.Hash
        $previousStore = ConvertTo-DisplayStoreName -Entry $before
        $appId = ([string]$before.AppId).ToLowerInvariant()
        $defaultFlags = [int64]$before.DefaultFlags
        $action = 'updated'
        if ($previousHash -eq $thumbprint -and [MfaServerTls.WindowsRules]::SameStore([string]$before.StoreName, $storeName)) {
            $action = 'unchanged'
        }
    }
    else {
        foreach ($binding in $group.bindings) {
            if ([int64][MfaServerTls.WindowsRules]::DefaultFlagsFor([int]$binding.ssl_flags) -ne $defaultFlags) {
                $module.Warn("bindings $(Format-BindingName -Entry $first) and $(Format-BindingName -Entry $binding) share the new HTTP.sys entry $($group.key.Key) but their sslFlags ($($first.ssl_flags), $($binding.ssl_flags)) ask for different entry flags; the entry is created with those of the first ($defaultFlags)")
            }
        }
    }
    if ($action -eq 'updated' -and -not $force -and -not [string]::Equals($appId, $iisAppId, [System.StringComparison]::OrdinalIgnoreCase)) {
        $module.FailJson("the HTTP.sys entry $($group.key.Key) (binding $(Format-BindingName -Entry $first)) belongs to application id $appId, not to IIS ($iisAppId): another program manages it, so nothing was changed. Set force: true to take it over, or leave this binding out.")
    }
    $group.action = $action
    $null = $httpSysResults.Add([ordered]@{
        key = [string]$group.key.Key
        action = $action
        previous_hash = $previousHash
        previous_store_name = $previousStore
        new_hash = $thumbprint
        new_store_name = $storeName
        app_id = $appId
        default_flags = $defaultFlags
    })
    if ($action -ne 'unchanged') {
        if ($null -eq $before) {
            $before = New-MissingEntry -Key $group.key
        }
        $null = $snapshotEntries.Add($before)
        $change = New-Object -TypeName MfaServerTls.EntryChange
        $change.Key = $group.key
        $change.Hash = $thumbprint
        $change.StoreName = $storeName
        $change.SslFlags = [int]$first.ssl_flags
        $null = $changes.Add($change)
    }
    foreach ($binding in $group.bindings) {
        $binding.previous_thumbprint = $previousHash
        $binding.previous_store_name = $previousStore
        $binding.changed = ($action -ne 'unchanged')
    }
}

$bindingResults = New-Object -TypeName System.Collections.ArrayList
$diffBefore = New-Object -TypeName System.Collections.ArrayList
$diffAfter = New-Object -TypeName System.Collections.ArrayList
foreach ($entry in $selected) {
    $null = $bindingResults.Add([ordered]@{
        site = $entry.site
        site_id = $entry.site_id
        binding_information = $entry.binding_information
        ip = $entry.ip
        port = $entry.port
        host = $entry.host
        ssl_flags = $entry.ssl_flags
        http_sys_key = [string]$entry.key.Key
        previous_thumbprint = $entry.previous_thumbprint
        previous_store_name = $entry.previous_store_name
        new_thumbprint = $thumbprint
        new_store_name = $storeName
        changed = $entry.changed
    })
    $null = $diffBefore.Add([ordered]@{ site = $entry.site; binding_information = $entry.binding_information; http_sys_key = [string]$entry.key.Key; thumbprint = $entry.previous_thumbprint; store_name = $entry.previous_store_name })
    $null = $diffAfter.Add([ordered]@{ site = $entry.site; binding_information = $entry.binding_information; http_sys_key = [string]$entry.key.Key; thumbprint = $thumbprint; store_name = $storeName })
}

$changed = ($changes.Count -gt 0)
$module.Result.bindings = @($bindingResults)
$module.Result.http_sys = @($httpSysResults)
$module.Result.snapshot = ConvertTo-SnapshotRowList -Entries $snapshotEntries
if ($changed) {
    $module.Diff.before = @{ bindings = @($diffBefore) }
    $module.Diff.after = @{ bindings = @($diffAfter) }
}
if (-not $changed -or $module.CheckMode) {
    $module.Result.changed = $changed
    $module.ExitJson()
}

# ---- change: HTTP.sys only. Apply restores what it wrote if any write fails. ------------------------
try {
    $applied = [MfaServerTls.HttpSys]::Apply($changes.ToArray([MfaServerTls.EntryChange]))
}
catch {
    Exit-ChangeFailure -ErrorRecord $_ -What 'changing the HTTP.sys entries' -Restoring $false
}
if ($null -ne $applied) {
    $module.Result.snapshot = ConvertTo-SnapshotRowList -Entries $applied
}
$module.Result.changed = $true
$module.ExitJson()
