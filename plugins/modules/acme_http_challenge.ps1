#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._AcmeHttpChallenge
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisBinding

# Places (state=present) and removes (state=absent) ACME HTTP-01 tokens in the physical path of every IIS site
# that answers http://<name>:<port>/, with a web.config beside them that lets IIS's static file handler serve
# files without an extension. The rules, the plans and the file work are _AcmeHttpChallenge.cs
# ([MfaServerTls.AcmeHttp], run under Mono by tests/windows); this script reads IIS through
# Microsoft.Web.Administration and reports. Every check runs for every name before anything is written.

$spec = @{
    options = @{
        state = @{ type = 'str'; default = 'present'; choices = @('present', 'absent') }
        port = @{ type = 'int'; default = 80 }
        skip_unserved = @{ type = 'bool'; default = $false }
        challenges = @{
            type = 'list'
            elements = 'dict'
            required = $true
            options = @{
                name = @{ type = 'str'; required = $true }
                token = @{ type = 'str'; required = $true }
                key_authorization = @{ type = 'str' }
            }
        }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$present = ($module.Params.state -eq 'present')
$port = [int]$module.Params.port
$module.Result.challenges = @()
$module.Result.folders = @()
$module.Result.unserved = @()
$module.Result.changed = $false

if ($port -lt 1 -or $port -gt 65535) {
    $module.FailJson("port $port is not a TCP port (1 to 65535), so nothing was changed. HTTP-01 is fetched from port 80; give another port only when a load balancer forwards port 80 to it.")
}
foreach ($challenge in $module.Params.challenges) {
    $problem = [MfaServerTls.AcmeHttp]::ChallengeProblem([string]$challenge.name, [string]$challenge.token, $challenge.key_authorization, $present)
    if ($null -ne $problem) {
        $module.FailJson([MfaServerTls.AcmeHttp]::ChallengeMessage($problem, [string]$challenge.name, [string]$challenge.token))
    }
}
if (-not (Import-WebAdministrationAssembly)) {
    $module.FailJson('IIS is not installed on this host (Microsoft.Web.Administration.dll not found in System32\inetsrv), so nothing was changed. Install the Web Server (IIS) role, or place the token on the hosts that serve the name.')
}

# ---- IIS: every site's http bindings, state and physical path ----------------------------------------------
$serverManager = $null
$bindings = New-Object -TypeName System.Collections.ArrayList
$roots = @{}
try {
    $serverManager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
    foreach ($site in $serverManager.Sites) {
        $siteState = 'Unknown'
        try {
            $siteState = [string]$site.State
        }
        catch {
            $siteState = 'Unknown'  # the W3SVC is stopped, or an FTP site: it serves no http request
        }
        $rootPath = $null
        $application = $site.Applications['/']
        if ($null -ne $application -and $null -ne $application.VirtualDirectories['/']) {
            $rootPath = [Environment]::ExpandEnvironmentVariables([string]$application.VirtualDirectories['/'].PhysicalPath)
        }
        $roots[[string]$site.Name] = $rootPath
        foreach ($binding in $site.Bindings) {
            try {
                $null = $bindings.Add((New-Object -TypeName MfaServerTls.AcmeHttpBinding -ArgumentList @([string]$site.Name, $siteState, [string]$binding.Protocol, [string]$binding.GetAttributeValue('bindingInformation'))))
            }
            catch {
                $module.Warn("binding $($site.Name) could not be read ($(Get-ExceptionMessage -ErrorRecord $_)); it was left out")
            }
        }
    }
}
catch {
    $module.FailJson("cannot read the IIS site configuration ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator; check applicationHost.config with 'appcmd list site'.", $_)
}
$bindingArray = $bindings.ToArray([MfaServerTls.AcmeHttpBinding])

# ---- which folders, and the checks, for every name before any write ------------------------------------------
$folders = New-Object -TypeName System.Collections.ArrayList
$rows = New-Object -TypeName System.Collections.ArrayList
foreach ($challenge in $module.Params.challenges) {
    $name = ([string]$challenge.name).ToLowerInvariant()
    $token = [string]$challenge.token
    $choice = [MfaServerTls.AcmeHttp]::SitesFor($bindingArray, $name, $port)
    if ($choice.Sites.Count -eq 0 -and $present) {
        if (-not $module.Params.skip_unserved) {
            $module.FailJson([MfaServerTls.AcmeHttp]::NoSiteMessage($name, $port, $choice, $bindingArray))
        }
        # A fleet run places every token on every host: a host that does not serve the name skips it.
        $module.Result.unserved += $name
    }
    $row = [ordered]@{ name = $name; token = $token; url = [MfaServerTls.AcmeHttp]::UrlFor($name, $token, $port); sites = @($choice.Sites); files = @(); changed = $false }
    foreach ($siteName in $choice.Sites) {
        $root = $roots[$siteName]
        if ([string]::IsNullOrEmpty($root)) {
            $module.FailJson("site '$siteName' has no physical path for its root application, so nothing was changed. Fix the site's root virtual directory in IIS.")
        }
        if ($present) {
            $rootConfig = Join-Path -Path $root -ChildPath 'web.config'
            $text = $null
            try {
                if (Test-Path -LiteralPath $rootConfig -PathType Leaf) {
                    $text = [System.IO.File]::ReadAllText($rootConfig)
                }
            }
            catch {
                $module.FailJson("cannot read $rootConfig ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator.", $_)
            }
            $capture = [MfaServerTls.AcmeHttp]::CapturingRule($text, [MfaServerTls.AcmeHttp]::ChallengeDir + '/' + $token, $name, $port)
            if ($null -ne $capture) {
                $module.FailJson([MfaServerTls.AcmeHttp]::CaptureMessage($capture, $siteName, $rootConfig))
            }
        }
        $folder = $null
        foreach ($candidate in $folders) {
            if ([string]::Equals($candidate.root, $root, [System.StringComparison]::OrdinalIgnoreCase)) {
                $folder = $candidate
            }
        }
        if ($null -eq $folder) {
            $folder = @{ root = $root; sites = (New-Object -TypeName System.Collections.ArrayList); tokens = (New-Object -TypeName 'System.Collections.Generic.Dictionary[string,string]') }
            $null = $folders.Add($folder)
        }
        if (-not $folder.sites.Contains($siteName)) {
            $null = $folder.sites.Add($siteName)
        }
        $folder.tokens[$token] = [string]$challenge.key_authorization
        $row.files += [MfaServerTls.AcmeHttp]::Full($root, [MfaServerTls.AcmeHttp]::ChallengeDir + '/' + $token)
    }
    $null = $rows.Add($row)
}

if ($present) {
    # IIS answers 500.19 for a folder whose web.config sets a section locked above it (overrideMode Deny).
    foreach ($folder in $folders) {
        foreach ($siteName in $folder.sites) {
            foreach ($sectionPath in [MfaServerTls.AcmeHttp]::WebConfigSections) {
                $mode = $null
                try {
                    # The parent's effective mode decides whether a web.config below it may set the section.
                    $parent = $serverManager.GetWebConfiguration($siteName, '/' + [MfaServerTls.AcmeHttp]::WellKnown)
                    $mode = [string]$parent.GetSection($sectionPath).OverrideModeEffective
                }
                catch {
                    $module.Warn("could not tell whether $sectionPath is locked for site '$siteName' ($(Get-ExceptionMessage -ErrorRecord $_))")
                }
                if ($mode -eq 'Deny') {
                    $module.FailJson([MfaServerTls.AcmeHttp]::LockedMessage($sectionPath, $siteName))
                }
            }
        }
    }
}

# ---- plans ---------------------------------------------------------------------------------------------------
foreach ($folder in $folders) {
    $tokenNames = [string[]]@($folder.tokens.Keys)
    try {
        $folder.state = [MfaServerTls.AcmeHttp]::ReadFolder($folder.root, $tokenNames)
    }
    catch {
        $module.FailJson("cannot read $([MfaServerTls.AcmeHttp]::Full($folder.root, [MfaServerTls.AcmeHttp]::ChallengeDir)) ($(Get-ExceptionMessage -ErrorRecord $_)), so nothing was changed. Run the module as an administrator.", $_)
    }
    if ($present) {
        $folder.plan = [MfaServerTls.AcmeHttp]::PlanPresent($folder.state, $folder.tokens)
    }
    else {
        $folder.plan = [MfaServerTls.AcmeHttp]::PlanAbsent($folder.state, $tokenNames)
    }
    if ($null -ne $folder.plan.Problem) {
        $module.FailJson([MfaServerTls.AcmeHttp]::ForeignWebConfigMessage([MfaServerTls.AcmeHttp]::Full($folder.root, [MfaServerTls.AcmeHttp]::WebConfigPath)))
    }
}

# ---- the result, the diff, then the writes -------------------------------------------------------------------
$before = New-Object -TypeName System.Collections.ArrayList
$after = New-Object -TypeName System.Collections.ArrayList
$folderResults = New-Object -TypeName System.Collections.ArrayList
foreach ($folder in $folders) {
    $existing = [MfaServerTls.AcmeHttp]::ExistingPaths($folder.state)
    foreach ($path in $existing) {
        $null = $before.Add([MfaServerTls.AcmeHttp]::Full($folder.root, $path))
    }
    foreach ($path in [MfaServerTls.AcmeHttp]::PathsAfter($existing, $folder.plan)) {
        $null = $after.Add([MfaServerTls.AcmeHttp]::Full($folder.root, $path))
    }
    $written = @()
    $removed = @()
    foreach ($step in $folder.plan.Steps) {
        $full = [MfaServerTls.AcmeHttp]::Full($folder.root, $step.Path)
        if ($step.Action -eq 'mkdir' -or $step.Action -eq 'write') {
            $written += $full
        }
        else {
            $removed += $full
        }
        foreach ($row in $rows) {
            if ($row.files -contains $full) {
                $row.changed = $true
            }
        }
    }
    $null = $folderResults.Add([ordered]@{
        path = [MfaServerTls.AcmeHttp]::Full($folder.root, [MfaServerTls.AcmeHttp]::ChallengeDir)
        sites = @($folder.sites)
        web_config = [string]$folder.plan.WebConfig
        written = $written
        removed = $removed
        changed = ($folder.plan.Steps.Count -gt 0)
    })
}
$changed = $false
foreach ($folder in $folders) {
    if ($folder.plan.Steps.Count -gt 0) {
        $changed = $true
    }
}
$module.Result.challenges = @($rows)
$module.Result.folders = @($folderResults)
if ($changed) {
    $module.Diff.before = @{ paths = @($before) }
    $module.Diff.after = @{ paths = @($after) }
}
if (-not $changed -or $module.CheckMode) {
    $module.Result.changed = $changed
    $module.ExitJson()
}

$applied = New-Object -TypeName System.Collections.ArrayList
foreach ($folder in $folders) {
    try {
        [MfaServerTls.AcmeHttp]::Apply($folder.root, $folder.plan, $present)
        $null = $applied.Add($folder)
    }
    catch {
        $failure = $_.Exception
        while ($null -ne $failure -and -not ($failure -is [MfaServerTls.AcmeHttpFailed])) {
            $failure = $failure.InnerException
        }
        if ($null -eq $failure) {
            throw
        }
        $cause = ([string]$failure.Message).TrimEnd('.')
        $undone = [bool]$failure.RolledBack
        if ($present) {
            foreach ($earlier in $applied) {
                $undone = ([MfaServerTls.AcmeHttp]::Revert($earlier.root, $earlier.plan) -and $undone)
            }
        }
        $module.Result.changed = (-not $undone)
        if ($undone) {
            $module.FailJson("$cause. Nothing was changed. Give the account that runs the module Modify rights on $($folder.root), or close the program that holds the file.")
        }
        $module.FailJson("$cause. Some files or folders of this run may remain: run the module again with state=absent once the cause is fixed (give the account Modify rights on $($folder.root)).")
    }
}
$module.Result.changed = $true
$module.ExitJson()
