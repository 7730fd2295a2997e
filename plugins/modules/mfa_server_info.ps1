#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.mfa_server.tls.plugins.module_utils.IisBinding

$spec = @{
    options = @{
        install_path = @{ type = 'path' }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$endOfSupport = '2024-09-30'
$module.Result.installed = $false
$module.Result.version = $null
$module.Result.version_source = 'none'
$module.Result.product_name = $null
$module.Result.install_path = $null
$module.Result.registry_key_present = $false
$module.Result.service = [ordered]@{ found = $false; name = $null; display_name = $null; state = $null; start_mode = $null }
$module.Result.components = @()
$module.Result.end_of_support = $endOfSupport
$module.Result.end_of_support_reached = ([DateTime]::UtcNow.Date -ge [DateTime]::ParseExact($endOfSupport, 'yyyy-MM-dd', [System.Globalization.CultureInfo]::InvariantCulture))
$module.Result.mobile_app_web_service_required = $null

$secretKeys = @('WEB_SERVICE_SDK_AUTHENTICATION_USERNAME', 'WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD')
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
$markers = @{
    'mobile_app_web_service' = 'PfPaWs.asmx'
    'web_service_sdk' = 'PfWsSdk.asmx'
}

function ConvertTo-SnakeCase {
    param([string]$Value)
    return ($Value -creplace '([a-z])([A-Z])', '$1_$2').ToLowerInvariant()
}

function Read-WebConfig {
    # Non-secret settings of a web.config; credential values never leave this function.
    param([string]$Folder)
    $result = [ordered]@{
        present = $false
        sdk_url = $null
        sdk_url_key = $null
        use_web_service_sdk = $null
        ssl_required = $null
        sdk_username_set = $false
        sdk_password_set = $false
        app_setting_keys = @()
    }
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
        $module.Warn("cannot read ${path}: $($_.Exception.Message)")
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
    $result.app_setting_keys = @($settings.Keys | Sort-Object)
    return $result
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
$module.Result.registry_key_present = $registryPresent

$installPath = $null
$candidates = @()
if ($module.Params.install_path) {
    $candidates += $module.Params.install_path
}
if ($null -ne $product -and $product.location) {
    $candidates += $product.location
}
$candidates += $defaultFolders
foreach ($candidate in $candidates) {
    if ($candidate -and (Test-Path -LiteralPath $candidate -PathType Container)) {
        $installPath = (Get-Item -LiteralPath $candidate).FullName.TrimEnd('\')
        break
    }
}
$module.Result.install_path = $installPath

if ($null -ne $product) {
    $module.Result.product_name = $product.name
    if ($product.version) {
        $module.Result.version = $product.version
        $module.Result.version_source = 'uninstall'
    }
}
if ($null -eq $module.Result.version -and $null -ne $installPath) {
    $exe = Join-Path -Path $installPath -ChildPath 'MultiFactorAuthSvc.exe'
    if (Test-Path -LiteralPath $exe -PathType Leaf) {
        $fileVersion = (Get-Item -LiteralPath $exe).VersionInfo.FileVersion
        if ($fileVersion) {
            $module.Result.version = ([string]$fileVersion).Trim()
            $module.Result.version_source = 'file'
        }
    }
}
$module.Result.installed = ($null -ne $product) -or $registryPresent -or ($null -ne $installPath)

if ($module.Result.installed -and $null -ne $module.Result.version) {
    $parsedVersion = $null
    if ([System.Version]::TryParse(($module.Result.version -replace '[^0-9.]', ''), [ref]$parsedVersion)) {
        $module.Result.mobile_app_web_service_required = ($parsedVersion.Major -lt 8)
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
    $module.Result.service = [ordered]@{
        found = $true
        name = $service.Name
        display_name = $service.DisplayName
        state = ConvertTo-SnakeCase -Value $service.Status.ToString()
        start_mode = $startMode
    }
}

# ---- IIS web components ------------------------------------------------------------------------------
$components = New-Object -TypeName System.Collections.ArrayList
if (Import-WebAdministrationAssembly) {
    try {
        $serverManager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
        $siteList = @($serverManager.Sites | Sort-Object -Property Id)
    }
    catch {
        $module.FailJson("cannot read the IIS configuration ($($_.Exception.Message)). Run the module as an administrator.", $_)
    }
    foreach ($site in $siteList) {
        $https = @($site.Bindings | Where-Object { $_.Protocol -eq 'https' } | ForEach-Object { [string]$_.BindingInformation })
        foreach ($application in ($site.Applications | Sort-Object -Property Path)) {
            $root = $application.VirtualDirectories | Where-Object { $_.Path -eq '/' } | Select-Object -First 1
            if ($null -eq $root) {
                continue
            }
            $folder = [System.Environment]::ExpandEnvironmentVariables([string]$root.PhysicalPath)
            $component = $null
            if (Test-Path -LiteralPath (Join-Path -Path $folder -ChildPath 'PfPaWs.asmx')) {
                $component = 'mobile_app_web_service'
            }
            elseif (Test-Path -LiteralPath (Join-Path -Path $folder -ChildPath 'PfWsSdk.asmx')) {
                $component = 'web_service_sdk'
            }
            $webConfig = Read-WebConfig -Folder $folder
            if ($null -eq $component) {
                if ($webConfig.app_setting_keys -contains 'USE_WEB_SERVICE_SDK' -or $webConfig.app_setting_keys -contains 'pfup_pfwssdk_PfWsSdk') {
                    $component = 'user_portal'
                }
                else {
                    $leafName = $application.Path.TrimStart('/').ToLowerInvariant()
                    if ($knownPaths.ContainsKey($leafName)) {
                        $component = $knownPaths[$leafName]
                    }
                }
            }
            if ($null -eq $component) {
                continue
            }
            $marker = $null
            $markerPresent = $null
            if ($markers.ContainsKey($component)) {
                $marker = $markers[$component]
                $markerPresent = Test-Path -LiteralPath (Join-Path -Path $folder -ChildPath $marker)
            }
            $null = $components.Add([ordered]@{
                component = $component
                site = $site.Name
                site_id = [int]$site.Id
                virtual_path = $application.Path
                physical_path = $folder
                app_pool = $application.ApplicationPoolName
                marker_file = $marker
                marker_file_present = $markerPresent
                https_bindings = $https
                web_config = $webConfig
            })
        }
    }
}
$module.Result.components = @($components)

$module.ExitJson()
