#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils.CertificateInfo

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
$password = $module.Params.password
if ($null -eq $password) {
    $password = ''
}

function Get-CertificateKind {
    # 'leaf' (not a CA), 'root' (self-signed CA) or 'intermediate'.
    param($Certificate)
    $isCa = $false
    foreach ($extension in $Certificate.Extensions) {
        if ($extension.Oid.Value -eq '2.5.29.19') {
            $constraints = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension -ArgumentList @($extension, $extension.Critical)
            $isCa = [bool]$constraints.CertificateAuthority
        }
    }
    if (-not $isCa) {
        return 'leaf'
    }
    if ($Certificate.Subject -eq $Certificate.Issuer) {
        return 'root'
    }
    return 'intermediate'
}

function Test-InStore {
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
        thumbprint = $Certificate.Thumbprint.ToUpperInvariant()
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

# ---- validate without persisting anything (keys of this probe are ephemeral) ---------------------------
$probeFlags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::DefaultKeySet
if ([enum]::GetNames([System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]) -contains 'EphemeralKeySet') {
    $probeFlags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'EphemeralKeySet'
}
$probe = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
try {
    $probe.Import($bytes, $password, $probeFlags)
}
catch {
    $reason = $_.Exception.Message
    if ($_.Exception.InnerException) {
        $reason = $_.Exception.InnerException.Message
    }
    $module.FailJson("cannot open the PFX ($($reason.Trim())), so nothing was changed. The password is wrong or the data is not a PKCS#12 (PFX) file: check the password, and export the certificate again as PFX including the private key.")
}

$leaves = @()
$intermediates = @()
$roots = @()
foreach ($certificate in $probe) {
    $kind = Get-CertificateKind -Certificate $certificate
    if ($kind -eq 'leaf') {
        $leaves += $certificate
    }
    elseif ($kind -eq 'root') {
        $roots += $certificate
    }
    else {
        $intermediates += $certificate
    }
}
if ($leaves.Count -eq 0) {
    $module.FailJson("the PFX holds no end-entity certificate (only CA certificates: $(($probe | ForEach-Object { $_.Subject }) -join '; ')), so nothing was changed. Export the server certificate itself, with its private key and chain.")
}
if ($leaves.Count -gt 1) {
    $module.FailJson("the PFX holds $($leaves.Count) end-entity certificates ($(($leaves | ForEach-Object { $_.Subject + ' ' + $_.Thumbprint }) -join '; ')), so nothing was changed. Export a PFX with exactly one server certificate and its chain.")
}
$leaf = $leaves[0]
if (-not $leaf.HasPrivateKey) {
    $module.FailJson("the PFX holds the certificate $($leaf.Subject) ($($leaf.Thumbprint)) without its private key, so nothing was changed. Export it again with 'Yes, export the private key'.")
}
$thumbprint = $leaf.Thumbprint.ToUpperInvariant()

# ---- compare with the stores ------------------------------------------------------------------------------
$leafState = Test-InStore -StoreName $storeName -Thumbprint $thumbprint
$leafAdd = ($leafState -ne 2)
$intermediatesAdd = New-Object -TypeName System.Collections.ArrayList
$intermediatesPresent = New-Object -TypeName System.Collections.ArrayList
$caBefore = New-Object -TypeName System.Collections.ArrayList
$caAfter = New-Object -TypeName System.Collections.ArrayList
foreach ($certificate in $intermediates) {
    $present = ((Test-InStore -StoreName 'CA' -Thumbprint $certificate.Thumbprint) -ne 0)
    if ($present) {
        $null = $intermediatesPresent.Add((Get-Summary -Certificate $certificate))
        $null = $caBefore.Add($certificate.Thumbprint.ToUpperInvariant())
        $null = $caAfter.Add($certificate.Thumbprint.ToUpperInvariant())
    }
    elseif ($module.Params.import_intermediates) {
        $null = $intermediatesAdd.Add($certificate)
        $null = $caAfter.Add($certificate.Thumbprint.ToUpperInvariant())
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
        $chainThumbprints[$certificate.Thumbprint.ToUpperInvariant()] = $true
        if ($caAfter.Contains($certificate.Thumbprint.ToUpperInvariant())) {
            $chainSubjects[$certificate.Subject] = $true
        }
    }
    if ($chainSubjects.Count -gt 0) {
        $now = [DateTime]::UtcNow
        $caStore = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @('CA', 'LocalMachine')
        try {
            $caStore.Open('ReadOnly')
            foreach ($candidate in $caStore.Certificates) {
                $candidateThumbprint = $candidate.Thumbprint.ToUpperInvariant()
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
    $present = ((Test-InStore -StoreName 'Root' -Thumbprint $certificate.Thumbprint) -ne 0)
    if ($present) {
        $null = $rootBefore.Add($certificate.Thumbprint.ToUpperInvariant())
        $null = $rootAfter.Add($certificate.Thumbprint.ToUpperInvariant())
    }
    if ($module.Params.import_roots -and -not $present) {
        $null = $rootsAdd.Add($certificate)
        $null = $rootAfter.Add($certificate.Thumbprint.ToUpperInvariant())
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
$module.Result.changed = $changed
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
# Release the probe's ephemeral keys now (the chain certificates are still needed below, without keys).
foreach ($certificate in $probe) {
    if ($certificate.HasPrivateKey) {
        $certificate.Reset()
    }
}

if (-not $changed -or $module.CheckMode) {
    $module.ExitJson()
}

# ---- import: leaf with a machine key (exportable only when asked), chain without keys ------------------
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

try {
    if ($leafAdd) {
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'MachineKeySet, PersistKeySet'
        if ($module.Params.exportable) {
            $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'MachineKeySet, PersistKeySet, Exportable'
        }
        $collection = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
        $collection.Import($bytes, $password, $flags)
        $imported = $collection | Where-Object { $_.Thumbprint -eq $thumbprint } | Select-Object -First 1
        Add-ToStore -StoreName $storeName -Certificate $imported
        if ((Test-InStore -StoreName $storeName -Thumbprint $thumbprint) -ne 2) {
            throw "the certificate is in LocalMachine\$storeName but its private key is not usable"
        }
    }
    foreach ($certificate in $intermediatesAdd) {
        $public = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList (, $certificate.RawData)
        Add-ToStore -StoreName 'CA' -Certificate $public
    }
    foreach ($certificate in $rootsAdd) {
        $public = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList (, $certificate.RawData)
        Add-ToStore -StoreName 'Root' -Certificate $public
    }
}
catch {
    $module.FailJson("importing the PFX failed ($($_.Exception.Message)). Run the module as an administrator; if the key provider refuses the key, export the PFX again with a Microsoft key storage provider.", $_)
}

# Only once the current intermediates are in CA: the expired copies go last.
if ($staleRemove.Count -gt 0) {
    $caStore = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @('CA', 'LocalMachine')
    try {
        $caStore.Open('ReadWrite')
        foreach ($certificate in $staleRemove) {
            $caStore.Remove($certificate)
        }
    }
    catch {
        $names = ($staleRemove | ForEach-Object { $_.Subject + ' ' + $_.Thumbprint }) -join '; '
        $module.FailJson("the certificates of the PFX are in place, but removing the expired intermediates ($names) from LocalMachine\CA failed ($($_.Exception.Message)). Remove them in certlm.msc (Intermediate Certification Authorities), or run the module again as an administrator.", $_)
    }
    finally {
        $caStore.Close()
    }
}

$module.ExitJson()
