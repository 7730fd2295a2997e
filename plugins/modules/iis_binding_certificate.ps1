#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

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

# BEGIN shared binding helpers (kept identical in iis_tls_info.ps1 and iis_binding_certificate.ps1)
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

function ConvertFrom-BindingInformation {
    # 'IP:port:host' with IPv6 in brackets ('[::1]:443:'); returns $null when it does not parse.
    param([string]$Value)
    if ($null -eq $Value) {
        return $null
    }
    $ip = ''
    $rest = ''
    if ($Value.StartsWith('[')) {
        $close = $Value.IndexOf(']')
        if ($close -lt 1) {
            return $null
        }
        $ip = $Value.Substring(1, $close - 1)
        $rest = $Value.Substring($close + 1)
        if (-not $rest.StartsWith(':')) {
            return $null
        }
        $rest = $rest.Substring(1)
    }
    else {
        $first = $Value.IndexOf(':')
        if ($first -lt 0) {
            return $null
        }
        $ip = $Value.Substring(0, $first)
        $rest = $Value.Substring($first + 1)
    }
    $second = $rest.IndexOf(':')
    if ($second -lt 0) {
        return $null
    }
    $portText = $rest.Substring(0, $second)
    $hostName = $rest.Substring($second + 1)
    $port = 0
    if (-not [int]::TryParse($portText, [ref]$port)) {
        return $null
    }
    if ($port -lt 1 -or $port -gt 65535) {
        return $null
    }
    if ($ip -eq '' -or $ip -eq '*') {
        $ip = '*'
    }
    else {
        $address = $null
        if (-not [System.Net.IPAddress]::TryParse($ip, [ref]$address)) {
            return $null
        }
        $ip = $address.ToString()
    }
    return @{ ip = $ip; port = $port; host = $hostName }
}

function Get-HttpSysKeyParts {
    # The HTTP.sys entry serving a binding: kind, the IP or host part, and the key string.
    param($Parsed, [int]$SslFlags)
    if (($SslFlags -band 2) -ne 0) {
        return @{ kind = 'ccs'; name = ''; port = $Parsed.port; key = 'ccs=' + $Parsed.port }
    }
    if (($SslFlags -band 1) -ne 0) {
        return @{ kind = 'hostnameport'; name = $Parsed.host; port = $Parsed.port; key = 'hostnameport=' + $Parsed.host + ':' + $Parsed.port }
    }
    $ip = $Parsed.ip
    if ($ip -eq '*') {
        $ip = '0.0.0.0'
    }
    $keyIp = $ip
    if ($ip.Contains(':')) {
        $keyIp = '[' + $ip + ']'
    }
    return @{ kind = 'ipport'; name = $ip; port = $Parsed.port; key = 'ipport=' + $keyIp + ':' + $Parsed.port }
}

function ConvertTo-HexString {
    param($Bytes)
    if ($null -eq $Bytes -or $Bytes.Length -eq 0) {
        return ''
    }
    return [System.BitConverter]::ToString([byte[]]$Bytes).Replace('-', '')
}

function Import-WebAdministrationAssembly {
    # Loads Microsoft.Web.Administration; returns $false when IIS is not installed.
    $path = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\Microsoft.Web.Administration.dll'
    if (-not (Test-Path -LiteralPath $path)) {
        return $false
    }
    if (-not ('Microsoft.Web.Administration.ServerManager' -as [type])) {
        Add-Type -LiteralPath $path
    }
    return $true
}

function Get-IisHttpsBinding {
    # Every HTTPS binding of every site, in site id and configuration order.
    param($ServerManager)
    $all = New-Object -TypeName System.Collections.ArrayList
    foreach ($site in ($ServerManager.Sites | Sort-Object -Property Id)) {
        $index = 0
        foreach ($binding in $site.Bindings) {
            $index++
            if ($binding.Protocol -ne 'https') {
                continue
            }
            $info = [string]$binding.BindingInformation
            $flags = 0
            $flagValue = $binding.GetAttributeValue('sslFlags')
            if ($null -ne $flagValue) {
                $flags = [int]$flagValue
            }
            $parsed = ConvertFrom-BindingInformation -Value $info
            $keyParts = $null
            if ($null -ne $parsed) {
                $keyParts = Get-HttpSysKeyParts -Parsed $parsed -SslFlags $flags
            }
            $null = $all.Add(@{
                site = $site.Name
                site_id = [int]$site.Id
                index = $index
                binding = $binding
                binding_information = $info
                parsed = $parsed
                ssl_flags = $flags
                key_parts = $keyParts
                hash = (ConvertTo-HexString -Bytes $binding.CertificateHash)
                store = [string]$binding.CertificateStoreName
            })
        }
    }
    return , $all
}
# END shared binding helpers
# BEGIN shared HTTP.sys helper (kept identical in iis_tls_info.ps1 and iis_binding_certificate.ps1;
# tests/unit/plugins/modules/test_powershell_modules.py checks the copies match)
$httpSysSource = @'
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Net;
using System.Runtime.InteropServices;

namespace MfaServerTls
{
    public class SslEntry
    {
        public string Kind = "";
        public string Ip = "";
        public string Host = "";
        public int Port;
        public string Hash = "";
        public string StoreName = "";
        public string AppId = "";

        public string Key
        {
            get
            {
                if (Kind == "ccs") return "ccs=" + Port;
                if (Kind == "hostnameport") return "hostnameport=" + Host + ":" + Port;
                string ip = Ip.Contains(":") ? "[" + Ip + "]" : Ip;
                return "ipport=" + ip + ":" + Port;
            }
        }
    }

    public static class HttpSys
    {
        // HTTP_SERVICE_CONFIG_ID values (http.h)
        public const int ConfigSsl = 1;
        public const int ConfigSni = 5;
        public const int ConfigCcs = 6;
        private const int QueryExact = 0;
        private const int QueryNext = 1;
        private const uint InitializeConfig = 2;
        private const int ErrorNone = 0;
        private const int ErrorFileNotFound = 2;
        private const int ErrorInsufficientBuffer = 122;
        private const int ErrorMoreData = 234;
        private const int ErrorNoMoreItems = 259;
        private const int SockaddrSize = 128;

        [StructLayout(LayoutKind.Sequential)]
        private struct HttpApiVersion
        {
            public ushort Major;
            public ushort Minor;
        }

        // HTTP_SERVICE_CONFIG_SSL_PARAM; strings kept as pointers so an entry can be written back unchanged.
        [StructLayout(LayoutKind.Sequential)]
        private struct SslParam
        {
            public int SslHashLength;
            public IntPtr pSslHash;
            public Guid AppId;
            public IntPtr pSslCertStoreName;
            public uint DefaultCertCheckMode;
            public int DefaultRevocationFreshnessTime;
            public int DefaultRevocationUrlRetrievalTimeout;
            public IntPtr pDefaultSslCtlIdentifier;
            public IntPtr pDefaultSslCtlStoreName;
            public uint DefaultFlags;
        }

        [DllImport("httpapi.dll")]
        private static extern int HttpInitialize(HttpApiVersion version, uint flags, IntPtr reserved);

        [DllImport("httpapi.dll")]
        private static extern int HttpTerminate(uint flags, IntPtr reserved);

        [DllImport("httpapi.dll")]
        private static extern int HttpQueryServiceConfiguration(IntPtr handle, int configId, IntPtr input,
            int inputLength, IntPtr output, int outputLength, out int returnLength, IntPtr overlapped);

        [DllImport("httpapi.dll")]
        private static extern int HttpSetServiceConfiguration(IntPtr handle, int configId, IntPtr config,
            int configLength, IntPtr overlapped);

        [DllImport("httpapi.dll")]
        private static extern int HttpDeleteServiceConfiguration(IntPtr handle, int configId, IntPtr config,
            int configLength, IntPtr overlapped);

        private static int Ptr { get { return IntPtr.Size; } }

        // Offsets of the key, token and parameter block in the query and set structures.
        private static int QueryKeyOffset(int configId) { return configId == ConfigSsl ? Ptr : 8; }
        private static int QueryTokenOffset(int configId)
        {
            if (configId == ConfigSsl) return 2 * Ptr;
            if (configId == ConfigSni) return 8 + SockaddrSize + Ptr;
            return 8 + SockaddrSize;
        }
        private static int QuerySize(int configId) { return Align(QueryTokenOffset(configId) + 4); }
        private static int ParamOffset(int configId)
        {
            if (configId == ConfigSsl) return Ptr;
            if (configId == ConfigSni) return SockaddrSize + Ptr;
            return SockaddrSize;
        }
        private static int SetSize(int configId) { return Align(ParamOffset(configId) + Marshal.SizeOf(typeof(SslParam))); }
        private static int Align(int value) { return (value + 7) / 8 * 8; }

        private static void Check(int code, string what)
        {
            if (code != ErrorNone) throw new Win32Exception(code, what + " failed: " + new Win32Exception(code).Message);
        }

        private static void Start()
        {
            HttpApiVersion version = new HttpApiVersion();
            version.Major = 1;
            version.Minor = 0;
            Check(HttpInitialize(version, InitializeConfig, IntPtr.Zero), "HttpInitialize");
        }

        private static void Stop() { HttpTerminate(InitializeConfig, IntPtr.Zero); }

        private static void Zero(IntPtr buffer, int length)
        {
            for (int i = 0; i < length; i++) Marshal.WriteByte(buffer, i, 0);
        }

        private static void WriteSockaddr(IntPtr buffer, int offset, IPAddress address, int port)
        {
            byte[] bytes = address.GetAddressBytes();
            Marshal.WriteByte(buffer, offset + 2, (byte)(port >> 8));
            Marshal.WriteByte(buffer, offset + 3, (byte)(port & 0xff));
            if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                Marshal.WriteInt16(buffer, offset, 23);
                Marshal.Copy(bytes, 0, IntPtr.Add(buffer, offset + 8), 16);
                Marshal.WriteInt32(buffer, offset + 24, (int)address.ScopeId);
            }
            else
            {
                Marshal.WriteInt16(buffer, offset, 2);
                Marshal.Copy(bytes, 0, IntPtr.Add(buffer, offset + 4), 4);
            }
        }

        private static void ReadSockaddr(IntPtr sockaddr, out string ip, out int port)
        {
            int family = Marshal.ReadInt16(sockaddr);
            port = (Marshal.ReadByte(sockaddr, 2) << 8) | Marshal.ReadByte(sockaddr, 3);
            byte[] bytes;
            if (family == 23)
            {
                bytes = new byte[16];
                Marshal.Copy(IntPtr.Add(sockaddr, 8), bytes, 0, 16);
            }
            else
            {
                bytes = new byte[4];
                Marshal.Copy(IntPtr.Add(sockaddr, 4), bytes, 0, 4);
            }
            ip = new IPAddress(bytes).ToString();
        }

        // Writes the key of an entry at `offset` of a query (keyOffset) or set (0) structure.
        private static IntPtr WriteKey(int configId, IntPtr buffer, int offset, string ipOrHost, int port, List<IntPtr> allocations)
        {
            if (configId == ConfigSsl)
            {
                IntPtr sockaddr = Marshal.AllocHGlobal(SockaddrSize);
                allocations.Add(sockaddr);
                Zero(sockaddr, SockaddrSize);
                WriteSockaddr(sockaddr, 0, IPAddress.Parse(ipOrHost), port);
                Marshal.WriteIntPtr(buffer, offset, sockaddr);
                return sockaddr;
            }
            WriteSockaddr(buffer, offset, IPAddress.Any, port);
            if (configId == ConfigSni)
            {
                IntPtr host = Marshal.StringToHGlobalUni(ipOrHost);
                allocations.Add(host);
                Marshal.WriteIntPtr(buffer, offset + SockaddrSize, host);
            }
            return IntPtr.Zero;
        }

        private static SslEntry ReadEntry(int configId, IntPtr set)
        {
            SslEntry entry = new SslEntry();
            string ip;
            int port;
            if (configId == ConfigSsl)
            {
                ReadSockaddr(Marshal.ReadIntPtr(set), out ip, out port);
                entry.Kind = "ipport";
                entry.Ip = ip;
            }
            else
            {
                ReadSockaddr(set, out ip, out port);
                if (configId == ConfigSni)
                {
                    entry.Kind = "hostnameport";
                    entry.Host = Marshal.PtrToStringUni(Marshal.ReadIntPtr(set, SockaddrSize)) ?? "";
                }
                else
                {
                    entry.Kind = "ccs";
                }
            }
            entry.Port = port;
            SslParam param = (SslParam)Marshal.PtrToStructure(IntPtr.Add(set, ParamOffset(configId)), typeof(SslParam));
            if (param.SslHashLength > 0 && param.pSslHash != IntPtr.Zero)
            {
                byte[] hash = new byte[param.SslHashLength];
                Marshal.Copy(param.pSslHash, hash, 0, hash.Length);
                entry.Hash = BitConverter.ToString(hash).Replace("-", "");
            }
            if (param.pSslCertStoreName != IntPtr.Zero)
                entry.StoreName = Marshal.PtrToStringUni(param.pSslCertStoreName) ?? "";
            entry.AppId = param.AppId.ToString("B");
            return entry;
        }

        // Runs one query; returns the output buffer (caller frees) or IntPtr.Zero when there is no entry.
        private static IntPtr Query(int configId, IntPtr query, int querySize)
        {
            int needed;
            int code = HttpQueryServiceConfiguration(IntPtr.Zero, configId, query, querySize, IntPtr.Zero, 0, out needed, IntPtr.Zero);
            if (code == ErrorNoMoreItems || code == ErrorFileNotFound) return IntPtr.Zero;
            if (code != ErrorInsufficientBuffer && code != ErrorMoreData) Check(code, "HttpQueryServiceConfiguration");
            IntPtr output = Marshal.AllocHGlobal(needed);
            code = HttpQueryServiceConfiguration(IntPtr.Zero, configId, query, querySize, output, needed, out needed, IntPtr.Zero);
            if (code != ErrorNone)
            {
                Marshal.FreeHGlobal(output);
                if (code == ErrorNoMoreItems || code == ErrorFileNotFound) return IntPtr.Zero;
                Check(code, "HttpQueryServiceConfiguration");
            }
            return output;
        }

        public static List<SslEntry> List()
        {
            List<SslEntry> entries = new List<SslEntry>();
            Start();
            try
            {
                foreach (int configId in new int[] { ConfigSsl, ConfigSni, ConfigCcs })
                {
                    int size = QuerySize(configId);
                    IntPtr query = Marshal.AllocHGlobal(size);
                    try
                    {
                        for (int token = 0; ; token++)
                        {
                            Zero(query, size);
                            Marshal.WriteInt32(query, 0, QueryNext);
                            Marshal.WriteInt32(query, QueryTokenOffset(configId), token);
                            IntPtr output = Query(configId, query, size);
                            if (output == IntPtr.Zero) break;
                            try { entries.Add(ReadEntry(configId, output)); }
                            finally { Marshal.FreeHGlobal(output); }
                        }
                    }
                    finally { Marshal.FreeHGlobal(query); }
                }
            }
            finally { Stop(); }
            return entries;
        }

        private static int ConfigIdOf(string kind)
        {
            if (kind == "ipport") return ConfigSsl;
            if (kind == "hostnameport") return ConfigSni;
            if (kind == "ccs") return ConfigCcs;
            throw new ArgumentException("unknown HTTP.sys entry kind " + kind);
        }

        // The entry for one key, or null.
        public static SslEntry Get(string kind, string ipOrHost, int port)
        {
            int configId = ConfigIdOf(kind);
            int size = QuerySize(configId);
            List<IntPtr> allocations = new List<IntPtr>();
            IntPtr query = Marshal.AllocHGlobal(size);
            allocations.Add(query);
            Start();
            try
            {
                Zero(query, size);
                Marshal.WriteInt32(query, 0, QueryExact);
                WriteKey(configId, query, QueryKeyOffset(configId), ipOrHost, port, allocations);
                IntPtr output = Query(configId, query, size);
                if (output == IntPtr.Zero) return null;
                try { return ReadEntry(configId, output); }
                finally { Marshal.FreeHGlobal(output); }
            }
            finally
            {
                Stop();
                foreach (IntPtr p in allocations) Marshal.FreeHGlobal(p);
            }
        }

        // Points an entry (ipport or hostnameport) at a certificate. An existing entry keeps its application id,
        // flags and settings; a missing one is created with defaultAppId. If writing the new entry fails, the old
        // entry is written back before the error is raised.
        public static void SetCertificate(string kind, string ipOrHost, int port, string hashHex, string storeName, string defaultAppId)
        {
            int configId = ConfigIdOf(kind);
            if (configId == ConfigCcs) throw new ArgumentException("a ccs entry holds no certificate hash");
            byte[] hash = new byte[hashHex.Length / 2];
            for (int i = 0; i < hash.Length; i++) hash[i] = Convert.ToByte(hashHex.Substring(2 * i, 2), 16);

            List<IntPtr> allocations = new List<IntPtr>();
            int querySize = QuerySize(configId);
            int setSize = SetSize(configId);
            IntPtr query = Marshal.AllocHGlobal(querySize);
            allocations.Add(query);
            IntPtr set = Marshal.AllocHGlobal(setSize);
            allocations.Add(set);
            IntPtr existing = IntPtr.Zero;
            Start();
            try
            {
                Zero(query, querySize);
                Marshal.WriteInt32(query, 0, QueryExact);
                WriteKey(configId, query, QueryKeyOffset(configId), ipOrHost, port, allocations);
                existing = Query(configId, query, querySize);

                Zero(set, setSize);
                WriteKey(configId, set, 0, ipOrHost, port, allocations);
                SslParam oldParam = new SslParam();
                SslParam newParam = new SslParam();
                if (existing != IntPtr.Zero)
                {
                    oldParam = (SslParam)Marshal.PtrToStructure(IntPtr.Add(existing, ParamOffset(configId)), typeof(SslParam));
                    newParam = oldParam;
                }
                else
                {
                    newParam.AppId = new Guid(defaultAppId);
                }
                IntPtr hashBuffer = Marshal.AllocHGlobal(hash.Length);
                allocations.Add(hashBuffer);
                Marshal.Copy(hash, 0, hashBuffer, hash.Length);
                IntPtr storeBuffer = Marshal.StringToHGlobalUni(storeName);
                allocations.Add(storeBuffer);
                newParam.SslHashLength = hash.Length;
                newParam.pSslHash = hashBuffer;
                newParam.pSslCertStoreName = storeBuffer;

                IntPtr paramAddress = IntPtr.Add(set, ParamOffset(configId));
                if (existing != IntPtr.Zero)
                {
                    Marshal.StructureToPtr(oldParam, paramAddress, false);
                    Check(HttpDeleteServiceConfiguration(IntPtr.Zero, configId, set, setSize, IntPtr.Zero), "HttpDeleteServiceConfiguration");
                }
                Marshal.StructureToPtr(newParam, paramAddress, false);
                int code = HttpSetServiceConfiguration(IntPtr.Zero, configId, set, setSize, IntPtr.Zero);
                if (code != ErrorNone && existing != IntPtr.Zero)
                {
                    Marshal.StructureToPtr(oldParam, paramAddress, false);
                    HttpSetServiceConfiguration(IntPtr.Zero, configId, set, setSize, IntPtr.Zero);
                }
                Check(code, "HttpSetServiceConfiguration");
            }
            finally
            {
                Stop();
                if (existing != IntPtr.Zero) Marshal.FreeHGlobal(existing);
                foreach (IntPtr p in allocations) Marshal.FreeHGlobal(p);
            }
        }
    }
}
'@
if (-not ('MfaServerTls.HttpSys' -as [type])) {
    Add-Type -TypeDefinition $httpSysSource -Language CSharp
}
# END shared HTTP.sys helper

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
