# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_util is for internal use only. It is not intended to be used by collections outside of
# mfa_server.tls.

# The report of mfa_server.tls.mfa_server_info as a function, so that mfa_server.tls.host_tls_info can gather
# it and the IIS TLS report in one module execution. Read-only.
# Modules load it with this line (at the start of a line):
# "#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._MfaServerReport"

#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils._IisBinding

function ConvertTo-SnakeCase {
    param([string]$Value)
    return ($Value -creplace '([a-z])([A-Z])', '$1_$2').ToLowerInvariant()
}

function New-WebConfigResult {
    # What is reported of a web.config that is missing or was not read.
    return [ordered]@{
        present = $false
        sdk_url = $null
        sdk_url_key = $null
        use_web_service_sdk = $null
        ssl_required = $null
        sdk_username_set = $false
        sdk_password_set = $false
        app_setting_keys = @()
    }
}

function Read-WebConfig {
    # Non-secret settings of a web.config; credential values never leave this function. When the file
    # exists but cannot be read or parsed, $Status.error is the reason (and present stays false).
    param([string]$Folder, [hashtable]$Status)
    $result = New-WebConfigResult
    $path = Join-Path -Path $Folder -ChildPath 'web.config'
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        return $result
    }
    try {
        $xml = New-Object -TypeName System.Xml.XmlDocument
        $xml.XmlResolver = $null
        $xml.Load($path)
    }
    catch {
        $Status.error = "cannot read $path ($($_.Exception.Message)), so its settings are not reported. Repair the XML of the file, or give the account Ansible uses read access to it."
        return $result
    }
    $result.present = $true
    $settings = [ordered]@{}
    foreach ($node in $xml.SelectNodes('/configuration/appSettings/add')) {
        $key = $node.GetAttribute('key')
        if ($key) {
            $settings[$key] = $node.GetAttribute('value')
        }
    }
    foreach ($node in $xml.SelectNodes('/configuration/applicationSettings/*/setting')) {
        $key = $node.GetAttribute('name')
        if ($key) {
            $valueNode = $node.SelectSingleNode('value')
            $value = $null
            if ($null -ne $valueNode) {
                $value = $valueNode.InnerText
            }
            $settings[$key] = $value
        }
    }
    foreach ($key in $settings.Keys) {
        $value = $settings[$key]
        if ($key -eq 'WEB_SERVICE_SDK_AUTHENTICATION_USERNAME') {
            $result.sdk_username_set = -not [string]::IsNullOrEmpty($value)
        }
        elseif ($key -eq 'WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD') {
            $result.sdk_password_set = -not [string]::IsNullOrEmpty($value)
        }
        elseif ($key -eq 'USE_WEB_SERVICE_SDK') {
            $result.use_web_service_sdk = $value
        }
        elseif ($key -eq 'SSL_REQUIRED') {
            $result.ssl_required = $value
        }
        elseif ($key -like '*pfwssdk*' -and $null -eq $result.sdk_url) {
            $result.sdk_url = $value
            $result.sdk_url_key = $key
        }
    }
    $keys = [string[]]@($settings.Keys)
    [System.Array]::Sort($keys, [System.StringComparer]::Ordinal)
    $result.app_setting_keys = @($keys)
    return $result
}

function Get-OwnAddressSet {
    # This machine's unicast addresses (loopback included), lower case, as IPAddress.ToString() writes them.
    $own = @{}
    foreach ($interface in [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces()) {
        foreach ($unicast in $interface.GetIPProperties().UnicastAddresses) {
            $own[$unicast.Address.ToString().ToLowerInvariant()] = $true
        }
    }
    return $own
}

function Resolve-SdkUrlHost {
    # Where a component's SDK URL leads from this host: the addresses its host name resolves to here (as the
    # component's own web request resolves it, hosts file included) and whether every one is this machine's
    # own or a loopback address. $null when no SDK URL is set.
    param([string]$Url, [hashtable]$OwnAddresses)
    if ([string]::IsNullOrEmpty($Url)) {
        return $null
    }
    $uri = $null
    if (-not [System.Uri]::TryCreate($Url.Trim(), [System.UriKind]::Absolute, [ref]$uri) -or [string]::IsNullOrEmpty($uri.Host)) {
        return [ordered]@{ host = $null; addresses = @(); local = $null; error = 'not an absolute URL' }
    }
    $result = [ordered]@{ host = $uri.DnsSafeHost; addresses = @(); local = $null; error = $null }
    try {
        $resolved = @([System.Net.Dns]::GetHostAddresses($uri.DnsSafeHost))
    }
    catch {
        $cause = $_.Exception
        if ($null -ne $cause.InnerException) {
            $cause = $cause.InnerException
        }
        $result.error = $cause.Message
        return $result
    }
    $result.addresses = @($resolved | ForEach-Object { $_.ToString() })
    $foreign = @($resolved | Where-Object { -not ([System.Net.IPAddress]::IsLoopback($_) -or $OwnAddresses.ContainsKey($_.ToString().ToLowerInvariant())) })
    $result.local = ($resolved.Count -gt 0) -and ($foreign.Count -eq 0)
    return $result
}

function New-ComponentEntry {
    param($Site, $Application, [string]$Component, [string]$Folder, $Https, $Http, $WebConfig, $Reason, [hashtable]$OwnAddresses)
    $markers = @{
        'mobile_app_web_service' = 'PfPaWs.asmx'
        'web_service_sdk' = 'PfWsSdk.asmx'
    }
    $marker = $null
    $markerPresent = $null
    if ($markers.ContainsKey($Component)) {
        $marker = $markers[$Component]
        if (-not [string]::IsNullOrWhiteSpace($Folder)) {
            try {
                $markerPresent = Test-Path -LiteralPath (Join-Path -Path $Folder -ChildPath $marker)
            }
            catch {
                $markerPresent = $null
            }
        }
    }
    return [ordered]@{
        component = $Component
        site = $Site.Name
        site_id = [int]$Site.Id
        virtual_path = $Application.Path
        physical_path = $Folder
        app_pool = $Application.ApplicationPoolName
        marker_file = $marker
        marker_file_present = $markerPresent
        https_bindings = $Https
        http_bindings = $Http
        web_config = $WebConfig
        sdk_url_resolution = (Resolve-SdkUrlHost -Url $WebConfig.sdk_url -OwnAddresses $OwnAddresses)
        skipped_reason = $Reason
    }
}

function Get-MfaServerReport {
    # What mfa_server.tls.mfa_server_info returns (its .yml documents every key), as an ordered dictionary:
    # installed, version, version_source, product_name, install_path, registry_key_present, service,
    # components, end_of_support, end_of_support_reached, mobile_app_web_service_required. $InstallPath is
    # the folder to try first ($null or empty: none). Warnings are added to $Warnings (the calling module
    # passes each to Warn), in the order they arise. When the IIS configuration cannot be read, throws a
    # System.Exception whose Message is the module's failure message, whose InnerException is the cause and
    # whose Data['MfaServerTls.Report'] holds what was gathered until then; any other exception is unexpected
    # and is left as it is.
    param([string]$InstallPath, [System.Collections.ArrayList]$Warnings)
    if ($null -eq $Warnings) {
        $Warnings = New-Object -TypeName System.Collections.ArrayList
    }

    $endOfSupport = '2024-09-30'
    $report = [ordered]@{
        installed = $false
        version = $null
        version_source = 'none'
        product_name = $null
        install_path = $null
        registry_key_present = $false
        service = [ordered]@{ found = $false; name = $null; display_name = $null; state = $null; start_mode = $null }
        components = @()
        end_of_support = $endOfSupport
        end_of_support_reached = ([DateTime]::UtcNow.Date -ge [DateTime]::ParseExact($endOfSupport, 'yyyy-MM-dd', [System.Globalization.CultureInfo]::InvariantCulture))
        mobile_app_web_service_required = $null
    }

    $defaultFolders = @(
        'C:\Program Files\Multi-Factor Authentication Server',
        'C:\Program Files\PhoneFactor',
        'C:\Program Files\Azure Multi-Factor Authentication'
    )
    $knownPaths = @{
        'multifactorauth' = 'user_portal'
        'phonefactor' = 'user_portal'
        'multifactorauthmobileappwebservice' = 'mobile_app_web_service'
        'phonefactorphoneappwebservice' = 'mobile_app_web_service'
        'multifactorauthwebservicesdk' = 'web_service_sdk'
        'phonefactorwebservicesdk' = 'web_service_sdk'
    }

    # ---- install ---------------------------------------------------------------------------------------
    $uninstallRoots = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
        'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall'
    )
    $product = $null
    foreach ($root in $uninstallRoots) {
        if (-not (Test-Path -LiteralPath $root)) {
            continue
        }
        foreach ($key in (Get-ChildItem -LiteralPath $root -ErrorAction SilentlyContinue)) {
            $name = [string]$key.GetValue('DisplayName', '')
            if ($name -match 'Multi-Factor Authentication Server|PhoneFactor' -and $name -notmatch 'Portal|Mobile|Web Service|SDK|AD FS|Adapter') {
                $product = @{
                    name = $name
                    version = [string]$key.GetValue('DisplayVersion', '')
                    location = [string]$key.GetValue('InstallLocation', '')
                }
                break
            }
        }
        if ($null -ne $product) {
            break
        }
    }
    $registryPresent = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Wow6432Node\Positive Networks\PhoneFactor'
    $report.registry_key_present = $registryPresent

    $installFolder = $null
    $candidates = @()
    if ($InstallPath) {
        $candidates += $InstallPath
    }
    if ($null -ne $product -and $product.location) {
        $candidates += $product.location
    }
    $candidates += $defaultFolders
    foreach ($candidate in $candidates) {
        if ($candidate -and (Test-Path -LiteralPath $candidate -PathType Container)) {
            $installFolder = (Get-Item -LiteralPath $candidate).FullName.TrimEnd('\')
            break
        }
    }
    $report.install_path = $installFolder

    if ($null -ne $product) {
        $report.product_name = $product.name
        if ($product.version) {
            $report.version = $product.version
            $report.version_source = 'uninstall'
        }
    }
    if ($null -eq $report.version -and $null -ne $installFolder) {
        $exe = Join-Path -Path $installFolder -ChildPath 'MultiFactorAuthSvc.exe'
        if (Test-Path -LiteralPath $exe -PathType Leaf) {
            $fileVersion = (Get-Item -LiteralPath $exe).VersionInfo.FileVersion
            if ($fileVersion) {
                $report.version = ([string]$fileVersion).Trim()
                $report.version_source = 'file'
            }
        }
    }
    $report.installed = ($null -ne $product) -or $registryPresent -or ($null -ne $installFolder)

    if ($report.installed -and $null -ne $report.version) {
        $parsedVersion = $null
        if ([System.Version]::TryParse(($report.version -replace '[^0-9.]', ''), [ref]$parsedVersion)) {
            $report.mobile_app_web_service_required = ($parsedVersion.Major -lt 8)
        }
    }

    # ---- service ---------------------------------------------------------------------------------------
    $service = Get-Service -ErrorAction SilentlyContinue | Where-Object {
        $_.Name -eq 'MultiFactorAuthSvc' -or $_.Name -eq 'pfsvc' -or $_.DisplayName -like '*Multi-Factor Authentication Server*'
    } | Select-Object -First 1
    if ($null -ne $service) {
        $startMode = $null
        if ($null -ne $service.PSObject.Properties['StartType']) {
            $startMode = [string]$service.StartType
            if ($startMode -eq 'Automatic') {
                $startMode = 'auto'
            }
            $startMode = $startMode.ToLowerInvariant()
        }
        $report.service = [ordered]@{
            found = $true
            name = $service.Name
            display_name = $service.DisplayName
            state = ConvertTo-SnakeCase -Value $service.Status.ToString()
            start_mode = $startMode
        }
    }

    # ---- IIS web components ------------------------------------------------------------------------------
    # One application that cannot be looked at (no physical path, an unreadable folder, a web.config that does
    # not parse) is reported with a skipped_reason and a warning; it never stops the module.
    $components = New-Object -TypeName System.Collections.ArrayList
    $ownAddresses = Get-OwnAddressSet

    if (Import-WebAdministrationAssembly) {
        try {
            $serverManager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
            $siteList = @($serverManager.Sites)
            $siteIds = [long[]]@($siteList | ForEach-Object { [long]$_.Id })
            [System.Array]::Sort($siteIds, $siteList)
        }
        catch {
            # The module fails with exactly this message, and with what was gathered so far as its other results.
            $failure = New-Object -TypeName System.Exception -ArgumentList @("cannot read the IIS configuration ($($_.Exception.Message)). Run the module as an administrator.", $_.Exception)
            $failure.Data['MfaServerTls.Report'] = $report
            throw $failure
        }
        foreach ($site in $siteList) {
            $https = @($site.Bindings | Where-Object { $_.Protocol -eq 'https' } | ForEach-Object { [string]$_.BindingInformation })
            $http = @($site.Bindings | Where-Object { $_.Protocol -eq 'http' } | ForEach-Object { [string]$_.BindingInformation })
            $applications = @($site.Applications)
            $applicationPaths = [string[]]@($applications | ForEach-Object { [string]$_.Path })
            [System.Array]::Sort($applicationPaths, $applications, [System.StringComparer]::Ordinal)
            foreach ($application in $applications) {
                $where = "$($site.Name)$($application.Path)"
                $leafName = ([string]$application.Path).TrimStart('/').ToLowerInvariant()
                $byPath = $null
                if ($knownPaths.ContainsKey($leafName)) {
                    $byPath = $knownPaths[$leafName]
                }
                $folder = ''
                try {
                    $root = $application.VirtualDirectories | Where-Object { $_.Path -eq '/' } | Select-Object -First 1
                    if ($null -eq $root) {
                        continue
                    }
                    $folder = [System.Environment]::ExpandEnvironmentVariables([string]$root.PhysicalPath)
                    if ([string]::IsNullOrWhiteSpace($folder)) {
                        $reason = "the IIS application $where has no physical path, so its folder and web.config were not read. Set the application's physical path in IIS Manager (Basic Settings) to the component's folder."
                        $null = $Warnings.Add($reason)
                        if ($null -ne $byPath) {
                            $null = $components.Add((New-ComponentEntry -Site $site -Application $application -Component $byPath -Folder $folder -Https $https -Http $http -OwnAddresses $ownAddresses -WebConfig (New-WebConfigResult) -Reason $reason))
                        }
                        continue
                    }
                    $component = $null
                    if (Test-Path -LiteralPath (Join-Path -Path $folder -ChildPath 'PfPaWs.asmx')) {
                        $component = 'mobile_app_web_service'
                    }
                    elseif (Test-Path -LiteralPath (Join-Path -Path $folder -ChildPath 'PfWsSdk.asmx')) {
                        $component = 'web_service_sdk'
                    }
                    $status = @{ error = $null }
                    $webConfig = Read-WebConfig -Folder $folder -Status $status
                    if ($null -eq $component) {
                        if ($webConfig.app_setting_keys -contains 'USE_WEB_SERVICE_SDK' -or $webConfig.app_setting_keys -contains 'pfup_pfwssdk_PfWsSdk') {
                            $component = 'user_portal'
                        }
                        else {
                            $component = $byPath
                        }
                    }
                    if ($null -ne $status.error) {
                        $null = $Warnings.Add("IIS application ${where}: $($status.error)")
                    }
                    if ($null -eq $component) {
                        continue
                    }
                    $null = $components.Add((New-ComponentEntry -Site $site -Application $application -Component $component -Folder $folder -Https $https -Http $http -OwnAddresses $ownAddresses -WebConfig $webConfig -Reason $status.error))
                }
                catch {
                    $reason = "cannot read the folder '$folder' of the IIS application $where ($($_.Exception.Message)), so it was skipped. Check the application's physical path in IIS Manager, and that the account Ansible uses can read it."
                    $null = $Warnings.Add($reason)
                    if ($null -ne $byPath) {
                        $null = $components.Add((New-ComponentEntry -Site $site -Application $application -Component $byPath -Folder $folder -Https $https -Http $http -OwnAddresses $ownAddresses -WebConfig (New-WebConfigResult) -Reason $reason))
                    }
                }
            }
        }
    }
    $report.components = @($components)

    return $report
}

$exportMembers = @{
    Function = @(
        'Get-MfaServerReport'
    )
}
Export-ModuleMember @exportMembers
