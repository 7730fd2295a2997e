#!powershell

# Copyright: (c) 2026, mfa_server.tls maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

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

function ConvertTo-IsoDate {
    param([DateTime]$Value)
    return $Value.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture)
}

function Read-DerLength {
    # Returns @(length, headerBytes) for the DER length at $Offset.
    param([byte[]]$Data, [int]$Offset)
    $first = [int]$Data[$Offset]
    if ($first -lt 128) {
        return @($first, 1)
    }
    $count = $first - 128
    $length = 0
    for ($i = 1; $i -le $count; $i++) {
        $length = ($length * 256) + [int]$Data[$Offset + $i]
    }
    return @($length, (1 + $count))
}

function Get-SubjectAltName {
    # DNS names and IP addresses from the DER of a subjectAltName extension (GeneralNames).
    param([byte[]]$Data)
    $dns = New-Object -TypeName System.Collections.ArrayList
    $ips = New-Object -TypeName System.Collections.ArrayList
    if ($null -eq $Data -or $Data.Length -lt 2 -or $Data[0] -ne 0x30) {
        return @{ dns = @(); ip = @() }
    }
    $outer = Read-DerLength -Data $Data -Offset 1
    $position = 1 + $outer[1]
    $end = [Math]::Min($Data.Length, $position + $outer[0])
    while ($position -lt $end) {
        $tag = [int]$Data[$position]
        $inner = Read-DerLength -Data $Data -Offset ($position + 1)
        $start = $position + 1 + $inner[1]
        $length = $inner[0]
        if ($tag -eq 0x82) {
            $null = $dns.Add([System.Text.Encoding]::ASCII.GetString($Data, $start, $length))
        }
        elseif ($tag -eq 0x87 -and ($length -eq 4 -or $length -eq 16)) {
            $bytes = New-Object -TypeName byte[] -ArgumentList $length
            [System.Array]::Copy($Data, $start, $bytes, 0, $length)
            $null = $ips.Add((New-Object -TypeName System.Net.IPAddress -ArgumentList (, $bytes)).ToString())
        }
        $position = $start + $length
    }
    return @{ dns = @($dns); ip = @($ips) }
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
    foreach ($extension in $certificate.Extensions) {
        if ($extension.Oid.Value -eq '2.5.29.17') {
            $names = Get-SubjectAltName -Data $extension.RawData
            $report.san_dns_names = $names.dns
            $report.san_ip_addresses = $names.ip
        }
    }
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
                    elseif ($current.Hash -eq $binding.hash -and $current.StoreName -eq $binding.store) {
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
        if ($entry.Kind -ne 'ccs' -and ($binding.hash -ne $entry.Hash -or $binding.store -ne $entry.StoreName)) {
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
