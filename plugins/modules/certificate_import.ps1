#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._CertificateInfo

$spec = @{
    options = @{
        content = @{ type = 'str'; no_log = $true }
        path = @{ type = 'path' }
        password = @{ type = 'str'; no_log = $true }
        store_name = @{ type = 'str'; default = 'My'; choices = @('My', 'WebHosting') }
        exportable = @{ type = 'bool'; default = $false }
        import_intermediates = @{ type = 'bool'; default = $true }
        import_roots = @{ type = 'bool'; default = $false }
        remove_stale_intermediates = @{ type = 'bool'; default = $true }
    }
    mutually_exclusive = @(
        , @('content', 'path')
    )
    required_one_of = @(
        , @('content', 'path')
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$storeName = 'My'
if ($module.Params.store_name -eq 'WebHosting') {
    $storeName = 'WebHosting'
}
# PFXImportCertStore needs exactly the password the PFX was made with: NULL and '' are different. Without a
# password (or with an empty one) try NULL, then ''. PowerShell passes $null to a [string] parameter of a
# .NET method as '', so NULL is [NullString]::Value.
$nullPassword = [System.Management.Automation.Language.NullString]::Value
$passwordCandidates = @($module.Params.password)
if ([string]::IsNullOrEmpty($module.Params.password)) {
    $passwordCandidates = @($nullPassword, '')
}
$module.Result.written = @()

function Get-ChainKind {
    # Kind of a certificate WITHOUT a private key (the leaf is the one with the key): 'root' (self-signed,
    # with or without BasicConstraints: a v1 root has none), 'intermediate' (CA=true, or no BasicConstraints
    # and not self-signed) or 'end-entity' (BasicConstraints CA=false).
    param($Certificate)
    $isCa = $null
    foreach ($extension in $Certificate.Extensions) {
        if ($extension.Oid.Value -eq '2.5.29.19') {
            $constraints = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension -ArgumentList @($extension, $extension.Critical)
            $isCa = [bool]$constraints.CertificateAuthority
        }
    }
    if ($false -eq $isCa) {
        return 'end-entity'
    }
    if ($Certificate.Subject -eq $Certificate.Issuer) {
        return 'root'
    }
    return 'intermediate'
}

function Format-Thumbprint {
    # One form for every thumbprint, the shared rule (tests/vectors/windows_rules.json); $null when invalid.
    param($Value)
    return [MfaServerTls.WindowsRules]::NormalizeThumbprint([string]$Value)
}

function Get-CertificatePresence {
    # 0 = absent, 1 = present without private key, 2 = present with private key
    param([string]$StoreName, [string]$Thumbprint)
    $store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($StoreName, 'LocalMachine')
    try {
        $store.Open('ReadOnly')
        $found = $store.Certificates.Find('FindByThumbprint', $Thumbprint, $false)
        if ($found.Count -eq 0) {
            return 0
        }
        if ($found[0].HasPrivateKey) {
            return 2
        }
        return 1
    }
    finally {
        $store.Close()
    }
}

function Get-Summary {
    param($Certificate)
    return [ordered]@{
        thumbprint = Format-Thumbprint -Value $Certificate.Thumbprint
        subject = $Certificate.Subject
        not_after = ConvertTo-IsoDate -Value $Certificate.NotAfter
    }
}

# ---- read the PFX into memory ---------------------------------------------------------------------
$bytes = $null
if ($null -ne $module.Params.content) {
    try {
        $bytes = [System.Convert]::FromBase64String(($module.Params.content -replace '\s', ''))
    }
    catch {
        $module.FailJson("content is not valid base64, so nothing was changed. Pass the PFX file base64 encoded, for example with the b64encode filter or lookup('file', 'cert.pfx.b64').")
    }
}
else {
    if (-not (Test-Path -LiteralPath $module.Params.path -PathType Leaf)) {
        $module.FailJson("path '$($module.Params.path)' is not a file on this host, so nothing was changed. Copy the PFX there first, or pass it as content.")
    }
    $bytes = [System.IO.File]::ReadAllBytes($module.Params.path)
}

# ---- validate without persisting anything ------------------------------------------------------------
# MachineKeySet and NOT PersistKeySet: the probe's key lives in a temporary machine key container that is
# deleted when its certificate is released (Reset below). Never the user key set: over WinRM there is no
# profile, and without EphemeralKeySet (.NET Framework < 4.7.2, stock Server 2016) a user key set import
# fails with "The specified network password is not correct.".
$probeFlags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'MachineKeySet'
$probe = $null
$password = $null
$reason = $null
foreach ($candidate in $passwordCandidates) {
    $attempt = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
    try {
        $attempt.Import($bytes, $candidate, $probeFlags)
        $probe = $attempt
        $password = $candidate
        break
    }
    catch {
        $reason = $_.Exception.Message
        if ($_.Exception.InnerException) {
            $reason = $_.Exception.InnerException.Message
        }
    }
}
if ($null -eq $probe) {
    $tried = ''
    if ([string]::IsNullOrEmpty($module.Params.password)) {
        $tried = ' (no password was given: both a NULL and an empty password were tried)'
    }
    $module.FailJson("cannot open the PFX ($($reason.Trim()))$tried, so nothing was changed. The password is wrong or the data is not a PKCS#12 (PFX) file: check the password, and export the certificate again as PFX including the private key.")
}

# The leaf is the one certificate with the private key. Keep key-less copies of everything and release the
# probe's certificates (and so its temporary keys) at once.
$keyed = @()
$keyless = @()
foreach ($certificate in $probe) {
    $copy = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList (, $certificate.RawData)
    if ($certificate.HasPrivateKey) {
        $keyed += $copy
    }
    else {
        $keyless += $copy
    }
}
foreach ($certificate in $probe) {
    $certificate.Reset()
}
$probe.Clear()

$intermediates = @()
$roots = @()
$others = @()
foreach ($certificate in $keyless) {
    $kind = Get-ChainKind -Certificate $certificate
    if ($kind -eq 'root') {
        $roots += $certificate
    }
    elseif ($kind -eq 'intermediate') {
        $intermediates += $certificate
    }
    else {
        $others += $certificate
    }
}
if ($keyed.Count -eq 0) {
    # A key-less certificate that is not a CA (CA=false, or no BasicConstraints and not self-signed) is a
    # server certificate exported without its key.
    $withoutKey = @($others) + @($intermediates | Where-Object { -not ($_.Extensions | Where-Object { $_.Oid.Value -eq '2.5.29.19' }) })
    if ($withoutKey.Count -eq 0) {
        $module.FailJson("the PFX holds no end-entity certificate (only CA certificates: $(($keyless | ForEach-Object { $_.Subject }) -join '; ')), so nothing was changed. Export the server certificate itself, with its private key and chain.")
    }
    $module.FailJson("the PFX holds the certificate $($withoutKey[0].Subject) ($(Format-Thumbprint -Value $withoutKey[0].Thumbprint)) without its private key, so nothing was changed. Export it again with 'Yes, export the private key'.")
}
if ($keyed.Count -gt 1) {
    $module.FailJson("the PFX holds $($keyed.Count) certificates with a private key ($(($keyed | ForEach-Object { $_.Subject + ' ' + (Format-Thumbprint -Value $_.Thumbprint) }) -join '; ')), so nothing was changed. Export a PFX with exactly one server certificate, its key and its chain.")
}
if ($others.Count -gt 0) {
    $module.FailJson("the PFX holds, besides the certificate with the private key, end-entity certificates without a key ($(($others | ForEach-Object { $_.Subject + ' ' + (Format-Thumbprint -Value $_.Thumbprint) }) -join '; ')), so nothing was changed. Export a PFX with exactly one server certificate and its chain.")
}
$leaf = $keyed[0]
$thumbprint = Format-Thumbprint -Value $leaf.Thumbprint

# ---- compare with the stores ------------------------------------------------------------------------------
$leafState = Get-CertificatePresence -StoreName $storeName -Thumbprint $thumbprint
$leafAdd = ($leafState -ne 2)
$intermediatesAdd = New-Object -TypeName System.Collections.ArrayList
$intermediatesPresent = New-Object -TypeName System.Collections.ArrayList
$caBefore = New-Object -TypeName System.Collections.ArrayList
$caAfter = New-Object -TypeName System.Collections.ArrayList
foreach ($certificate in $intermediates) {
    $certificateThumbprint = Format-Thumbprint -Value $certificate.Thumbprint
    $present = ((Get-CertificatePresence -StoreName 'CA' -Thumbprint $certificateThumbprint) -ne 0)
    if ($present) {
        $null = $intermediatesPresent.Add((Get-Summary -Certificate $certificate))
        $null = $caBefore.Add($certificateThumbprint)
        $null = $caAfter.Add($certificateThumbprint)
    }
    elseif ($module.Params.import_intermediates) {
        $null = $intermediatesAdd.Add($certificate)
        $null = $caAfter.Add($certificateThumbprint)
    }
}

# ---- stale intermediates (win-acme #1162) ---------------------------------------------------------------
# Schannel builds the chain it sends from LocalMachine\CA and can pick an expired certificate that has the
# same subject as the current intermediate (an old issuance, or a copy from a retired root): clients then
# see an expired chain to an unknown root. Candidates: certificates in CA with the subject of one of this
# PFX's intermediates that is in CA after the run, a thumbprint that is none of the PFX's, and NotAfter in
# the past. A currently valid certificate (a cross-signed copy, say) is never removed; My, WebHosting and
# Root are never touched.
$staleRemove = New-Object -TypeName System.Collections.ArrayList
$staleBefore = New-Object -TypeName System.Collections.ArrayList
if ($module.Params.remove_stale_intermediates) {
    $chainSubjects = @{}
    $chainThumbprints = @{}
    foreach ($certificate in $intermediates) {
        $certificateThumbprint = Format-Thumbprint -Value $certificate.Thumbprint
        $chainThumbprints[$certificateThumbprint] = $true
        if ($caAfter.Contains($certificateThumbprint)) {
            $chainSubjects[$certificate.Subject] = $true
        }
    }
    if ($chainSubjects.Count -gt 0) {
        $now = [DateTime]::UtcNow
        $caStore = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @('CA', 'LocalMachine')
        try {
            $caStore.Open('ReadOnly')
            foreach ($candidate in $caStore.Certificates) {
                $candidateThumbprint = Format-Thumbprint -Value $candidate.Thumbprint
                if (-not $chainSubjects.ContainsKey($candidate.Subject) -or $chainThumbprints.ContainsKey($candidateThumbprint)) {
                    continue
                }
                if ($candidate.NotAfter.ToUniversalTime() -lt $now) {
                    $null = $staleRemove.Add($candidate)
                    $null = $staleBefore.Add($candidateThumbprint)
                }
            }
        }
        catch {
            $module.FailJson("cannot read LocalMachine\CA to look for expired copies of the chain's intermediates ($($_.Exception.Message)), so nothing was changed. Run the module as an administrator, or set remove_stale_intermediates to false.", $_)
        }
        finally {
            $caStore.Close()
        }
    }
}

$rootsAdd = New-Object -TypeName System.Collections.ArrayList
$rootsSkipped = New-Object -TypeName System.Collections.ArrayList
$rootBefore = New-Object -TypeName System.Collections.ArrayList
$rootAfter = New-Object -TypeName System.Collections.ArrayList
foreach ($certificate in $roots) {
    $certificateThumbprint = Format-Thumbprint -Value $certificate.Thumbprint
    $present = ((Get-CertificatePresence -StoreName 'Root' -Thumbprint $certificateThumbprint) -ne 0)
    if ($present) {
        $null = $rootBefore.Add($certificateThumbprint)
        $null = $rootAfter.Add($certificateThumbprint)
    }
    if ($module.Params.import_roots -and -not $present) {
        $null = $rootsAdd.Add($certificate)
        $null = $rootAfter.Add($certificateThumbprint)
    }
    else {
        $null = $rootsSkipped.Add((Get-Summary -Certificate $certificate))
    }
}

$module.Result.thumbprint = $thumbprint
$module.Result.subject = $leaf.Subject
$module.Result.issuer = $leaf.Issuer
$module.Result.san_dns_names = @((Get-CertificateSubjectAltName -Certificate $leaf).dns)
$module.Result.not_before = ConvertTo-IsoDate -Value $leaf.NotBefore
$module.Result.not_after = ConvertTo-IsoDate -Value $leaf.NotAfter
$module.Result.store_name = $storeName
$module.Result.leaf_added = $leafAdd
$module.Result.has_private_key = $true
$module.Result.intermediates_added = @($intermediatesAdd | ForEach-Object { Get-Summary -Certificate $_ })
$module.Result.intermediates_present = @($intermediatesPresent)
$module.Result.roots_added = @($rootsAdd | ForEach-Object { Get-Summary -Certificate $_ })
$module.Result.roots_skipped = @($rootsSkipped)
$module.Result.stale_intermediates_removed = @($staleRemove | ForEach-Object { Get-Summary -Certificate $_ })

$changed = $leafAdd -or $intermediatesAdd.Count -gt 0 -or $rootsAdd.Count -gt 0 -or $staleRemove.Count -gt 0
if ($changed) {
    $module.Diff.before = @{
        leaf = @{ thumbprint = $thumbprint; store_name = $storeName; present = ($leafState -ne 0); has_private_key = ($leafState -eq 2) }
        intermediates_in_ca = @($caBefore)
        stale_intermediates_in_ca = @($staleBefore)
        roots_in_root = @($rootBefore)
    }
    $module.Diff.after = @{
        leaf = @{ thumbprint = $thumbprint; store_name = $storeName; present = $true; has_private_key = $true }
        intermediates_in_ca = @($caAfter)
        stale_intermediates_in_ca = @()
        roots_in_root = @($rootAfter)
    }
}

if (-not $changed) {
    $module.ExitJson()
}
if ($module.CheckMode) {
    $module.Result.changed = $true
    $module.ExitJson()
}

# ---- write: leaf with a machine key (exportable only when asked), chain without keys, stale copies last ----
# `changed` becomes true only once a write succeeded; `written` lists every write, also on a failure.
$written = New-Object -TypeName System.Collections.ArrayList

function Add-Written {
    param([string]$StoreName, [string]$Thumbprint, [string]$Action)
    $null = $written.Add([ordered]@{ store = $StoreName; thumbprint = $Thumbprint; action = $Action })
    $module.Result.written = @($written)
    $module.Result.changed = $true
}

function Stop-WithWriteFailure {
    param([string]$What, $ErrorRecord)
    $message = $ErrorRecord.Exception.Message
    $module.Result.written = @($written)
    $module.Result.changed = ($written.Count -gt 0)
    if ($written.Count -eq 0) {
        $module.FailJson("importing the PFX failed ($message) while $What, so nothing was changed. Run the module as an administrator; if the key provider refuses the key, export the PFX again with a Microsoft key storage provider.", $ErrorRecord)
    }
    $done = ($written | ForEach-Object { $_.action + ' ' + $_.thumbprint + ' in LocalMachine\' + $_.store }) -join '; '
    $module.FailJson("importing the PFX failed ($message) while $What, after these changes were made: $done (listed in written). Run the module as an administrator and run the module again: it adds only what is still missing.", $ErrorRecord)
}

function Add-ToStore {
    param([string]$StoreName, $Certificate)
    $store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($StoreName, 'LocalMachine')
    try {
        $store.Open('ReadWrite')
        $store.Add($Certificate)
    }
    finally {
        $store.Close()
    }
}

if ($leafAdd) {
    try {
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'MachineKeySet, PersistKeySet'
        if ($module.Params.exportable) {
            $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'MachineKeySet, PersistKeySet, Exportable'
        }
        $collection = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
        $collection.Import($bytes, $password, $flags)
        $imported = $collection | Where-Object { $_.HasPrivateKey -and (Format-Thumbprint -Value $_.Thumbprint) -eq $thumbprint } | Select-Object -First 1
        if ($null -eq $imported) {
            throw "the certificate $thumbprint came back from the PFX without its private key"
        }
        Add-ToStore -StoreName $storeName -Certificate $imported
    }
    catch {
        Stop-WithWriteFailure -What "adding $thumbprint to LocalMachine\$storeName" -ErrorRecord $_
    }
    Add-Written -StoreName $storeName -Thumbprint $thumbprint -Action 'added'
    if ((Get-CertificatePresence -StoreName $storeName -Thumbprint $thumbprint) -ne 2) {
        $module.Result.has_private_key = $false
        $module.FailJson("the certificate $thumbprint is in LocalMachine\$storeName but its private key is not usable (listed in written). Run the module as an administrator; if the key provider refuses the key, export the PFX again with a Microsoft key storage provider.")
    }
}
function Add-ChainCertificate {
    param([string]$StoreName, $Certificate)
    $certificateThumbprint = Format-Thumbprint -Value $Certificate.Thumbprint
    try {
        Add-ToStore -StoreName $StoreName -Certificate $Certificate
    }
    catch {
        Stop-WithWriteFailure -What "adding $certificateThumbprint to LocalMachine\$StoreName" -ErrorRecord $_
    }
    Add-Written -StoreName $StoreName -Thumbprint $certificateThumbprint -Action 'added'
}

foreach ($certificate in $intermediatesAdd) {
    Add-ChainCertificate -StoreName 'CA' -Certificate $certificate
}
foreach ($certificate in $rootsAdd) {
    Add-ChainCertificate -StoreName 'Root' -Certificate $certificate
}

# Only once the current intermediates are in CA: the expired copies go last.
foreach ($certificate in $staleRemove) {
    $certificateThumbprint = Format-Thumbprint -Value $certificate.Thumbprint
    $caStore = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @('CA', 'LocalMachine')
    try {
        $caStore.Open('ReadWrite')
        $caStore.Remove($certificate)
    }
    catch {
        Stop-WithWriteFailure -What "removing the expired intermediate $($certificate.Subject) $certificateThumbprint from LocalMachine\CA (remove it in certlm.msc, Intermediate Certification Authorities, if this persists)" -ErrorRecord $_
    }
    finally {
        $caStore.Close()
    }
    Add-Written -StoreName 'CA' -Thumbprint $certificateThumbprint -Action 'removed'
}

$module.ExitJson()
