#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisBinding

# Removes a replaced certificate from LocalMachine\My or \WebHosting, only when nothing on this host still uses
# it. "In use" is read here, in the same module execution, just before the removal: the host is the ground truth,
# and a controller's picture from earlier in the run may be stale. A certificate is used when an HTTP.sys SSL
# entry holds its hash in that store; the IIS bindings mapping to that entry are named, and an entry no binding
# maps to (an orphaned one, or another program's) counts too.

$spec = @{
    options = @{
        thumbprint = @{ type = 'str'; required = $true }
        store_name = @{ type = 'str'; default = 'My'; choices = @('My', 'WebHosting') }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$thumbprint = [MfaServerTls.WindowsRules]::NormalizeThumbprint([string]$module.Params.thumbprint)
if ($null -eq $thumbprint) {
    $module.FailJson("thumbprint '$($module.Params.thumbprint)' is not a SHA-1 thumbprint (40 hexadecimal digits), so nothing was changed.")
}
$storeName = 'My'
if ($module.Params.store_name -eq 'WebHosting') {
    $storeName = 'WebHosting'
}
$module.Result.thumbprint = $thumbprint
$module.Result.store_name = $storeName
$module.Result.present = $false
$module.Result.removed = $false
$module.Result.in_use = @()

# ---- who uses it: HTTP.sys entries, and the IIS bindings that map to them ------------------------------
$table = @()
try {
    $table = @([MfaServerTls.HttpSys]::List())
}
catch {
    $module.FailJson("cannot read the HTTP.sys SSL configuration ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator ('netsh http show sslcert' shows the same table).", $_)
}
$bindings = @()
if (Import-WebAdministrationAssembly) {
    try {
        $bindings = @(Get-IisHttpsBinding -ServerManager (New-Object -TypeName Microsoft.Web.Administration.ServerManager))
    }
    catch {
        $module.FailJson("cannot read the IIS site configuration ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator; check applicationHost.config with 'appcmd list site'.", $_)
    }
}

$users = New-Object -TypeName System.Collections.ArrayList
foreach ($entry in $table) {
    if ($null -eq $entry -or [MfaServerTls.WindowsRules]::NormalizeThumbprint([string]$entry.Hash) -ne $thumbprint) {
        continue
    }
    if (-not [MfaServerTls.WindowsRules]::SameStore([string]$entry.StoreName, $storeName)) {
        continue
    }
    $entryKey = [MfaServerTls.BindingKey]::Parse([string]$entry.Key)
    $mapped = New-Object -TypeName System.Collections.ArrayList
    foreach ($binding in $bindings) {
        if ($null -ne $binding.key -and $binding.key.SameAs($entryKey)) {
            $null = $mapped.Add([ordered]@{ site = $binding.site; binding_information = $binding.binding_information })
        }
    }
    $null = $users.Add([ordered]@{
            key = [string]$entry.Key
            app_id = ([string]$entry.AppId).ToLowerInvariant()
            bindings = @($mapped)
        })
}
$module.Result.in_use = @($users)

# ---- the certificate ------------------------------------------------------------------------------
# Read-only first: nothing is opened for writing unless the removal happens. ExitJson is never called inside
# the try, so the store is always closed before the module exits.
$found = $null
$store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($storeName, 'LocalMachine')
try {
    $store.Open('ReadOnly')
    $candidates = $store.Certificates.Find('FindByThumbprint', $thumbprint, $false)
    if ($candidates.Count -gt 0) {
        $found = $candidates[0]
    }
}
finally {
    $store.Close()
}
if ($null -eq $found) {
    $module.ExitJson()
}
$module.Result.present = $true
$module.Result.subject = $found.Subject
$module.Result.not_after = $found.NotAfter.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture)
if ($users.Count -gt 0) {
    $who = @($users | ForEach-Object {
            $names = @($_.bindings | ForEach-Object { "site '$($_.site)' binding '$($_.binding_information)'" })
            if ($names.Count -eq 0) {
                "HTTP.sys entry $($_.key) (no IIS binding, application id $($_.app_id))"
            }
            else {
                "HTTP.sys entry $($_.key) ($($names -join ', '))"
            }
        }) -join '; '
    $module.Warn("certificate $thumbprint in LocalMachine\$storeName is kept: it is still used by $who.")
    $module.ExitJson()
}
$module.Diff.before = @{ thumbprint = $thumbprint; store_name = $storeName; present = $true }
$module.Diff.after = @{ thumbprint = $thumbprint; store_name = $storeName; present = $false }
if (-not $module.CheckMode) {
    # Only the certificate leaves the store; its private key container stays (a renewed certificate may share
    # the key), see the module documentation.
    $failure = $null
    $writable = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList @($storeName, 'LocalMachine')
    try {
        $writable.Open('ReadWrite')
        $writable.Remove($found)
    }
    catch {
        $failure = $_
    }
    finally {
        $writable.Close()
    }
    if ($null -ne $failure) {
        $module.FailJson("removing $thumbprint from LocalMachine\$storeName failed ($(Get-ExceptionMessage -ErrorRecord $failure)), so nothing was changed. Run the module as an administrator.", $failure)
    }
}
$module.Result.removed = $true
$module.Result.changed = $true
$module.ExitJson()
