// Copyright: (c) 2026, mfa_server.tls maintainers
// GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

// This module_util is for internal use only. It is not intended to be used by collections outside of
// mfa_server.tls.

// The HTTP.sys SSL table (ipport, hostnameport and ccs entries) through the HTTP Server API, for the
// PowerShell modules of mfa_server.tls. Modules load it with this line (at the start of a line):
// "#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl"
// Ansible compiles it together with Ansible.Basic (Add-CSharpType treats warnings as errors). It needs no
// extra assembly reference: mscorlib and System.dll hold every type used. It is written in C# 5 (the
// language of the .NET Framework compiler Windows PowerShell 5.1 uses) and for the .NET Framework 4.5 API.
//
// IIS keeps no certificate in applicationHost.config: the certificate of an HTTPS binding is the HTTP.sys
// entry for the binding's key (ipport=IP:port, hostnameport=host:port or ccs=port). Changing a certificate
// is therefore a change of HTTP.sys entries, and its undo is the previous entries, which Apply snapshots,
// restores on failure and verifies by reading them back.
//
// The structures below are the x64 layouts of http.h (Windows SDK); tests/windows checks Marshal.SizeOf and
// Marshal.OffsetOf of every field against mingw-w64's http.h and runs this code against a stand-in httpapi.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

//TypeAccelerator -Name MfaServerTls.HttpSys -TypeName HttpSys
//TypeAccelerator -Name MfaServerTls.SslEntry -TypeName SslEntry
//TypeAccelerator -Name MfaServerTls.BindingKey -TypeName BindingKey
//TypeAccelerator -Name MfaServerTls.WindowsRules -TypeName WindowsRules
//TypeAccelerator -Name MfaServerTls.EntryChange -TypeName EntryChange
//TypeAccelerator -Name MfaServerTls.HttpSysChangeFailed -TypeName HttpSysChangeFailed

namespace ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl
{
    // The key of one HTTP.sys SSL entry, in netsh's spelling.
    public sealed class BindingKey
    {
        public string Kind = "";     // "ipport" | "hostnameport" | "ccs"
        public string Address = "";  // ipport: normalised IP; hostnameport: the host; ccs: ""
        public int Port;

        public BindingKey() { }

        public BindingKey(string kind, string address, int port)
        {
            Kind = kind ?? "";
            Address = address ?? "";
            Port = port;
        }

        public string Key
        {
            get
            {
                string port = Port.ToString(CultureInfo.InvariantCulture);
                if (Kind == "ccs") return "ccs=" + port;
                if (Kind == "hostnameport") return "hostnameport=" + Address + ":" + port;
                string address = (Address ?? "").Contains(":") ? "[" + Address + "]" : Address;
                return Kind + "=" + address + ":" + port;
            }
        }

        public override string ToString() { return Key; }

        public bool SameAs(BindingKey other)
        {
            return other != null && string.Equals(Key, other.Key, StringComparison.OrdinalIgnoreCase);
        }

        public static BindingKey Parse(string key)
        {
            if (string.IsNullOrEmpty(key)) throw new ArgumentException("an HTTP.sys key is empty: write ipport=IP:port, hostnameport=host:port or ccs=port");
            int equals = key.IndexOf('=');
            if (equals <= 0) throw new ArgumentException("'" + key + "' is not an HTTP.sys key: write ipport=IP:port, hostnameport=host:port or ccs=port");
            string kind = key.Substring(0, equals).ToLowerInvariant();
            string value = key.Substring(equals + 1);
            int port;
            if (kind == "ccs")
            {
                if (!WindowsRules.TryPort(value, out port)) throw new ArgumentException("'" + key + "': the port '" + value + "' is not a number from 1 to 65535");
                return new BindingKey("ccs", "", port);
            }
            int colon = value.LastIndexOf(':');
            if (colon < 0) throw new ArgumentException("'" + key + "' has no port: write " + kind + "=" + value + ":443");
            string address = value.Substring(0, colon);
            string portText = value.Substring(colon + 1);
            if (!WindowsRules.TryPort(portText, out port)) throw new ArgumentException("'" + key + "': the port '" + portText + "' is not a number from 1 to 65535");
            if (kind == "hostnameport")
            {
                if (address.Length == 0 || address.Contains(":")) throw new ArgumentException("'" + key + "': the host name '" + address + "' is empty or not a host name");
                return new BindingKey("hostnameport", address, port);
            }
            if (kind != "ipport") throw new ArgumentException("'" + key + "': the kind '" + kind + "' is not ipport, hostnameport or ccs");
            IPAddress ip;
            if (address.StartsWith("[") && address.EndsWith("]"))
            {
                if (!IPAddress.TryParse(address.Substring(1, address.Length - 2), out ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
                    throw new ArgumentException("'" + key + "': the address '" + address + "' is not an IPv6 address");
            }
            else if (!WindowsRules.TryIPv4(address, out ip))
            {
                throw new ArgumentException("'" + key + "': the address '" + address + "' is not an IPv4 address (IPv6 goes in brackets, e.g. ipport=[fd00::5]:443)");
            }
            return new BindingKey("ipport", ip.ToString(), port);
        }
    }

    public static class WindowsRules
    {
        // HTTP_SERVICE_CONFIG_SSL_FLAG_* (Windows SDK http.h); mingw's http.h predates them.
        public const uint FlagDisableHttp2 = 0x00000010;
        public const uint FlagDisableQuic = 0x00000020;
        public const uint FlagDisableTls13 = 0x00000040;
        public const uint FlagDisableOcspStapling = 0x00000080;
        public const uint FlagDisableLegacyTls = 0x00000400;

        // IIS sslFlags bits
        public const int SslFlagSni = 1;
        public const int SslFlagCcs = 2;
        public const int SslFlagDisableHttp2 = 4;
        public const int SslFlagDisableOcspStapling = 8;
        public const int SslFlagDisableQuic = 16;
        public const int SslFlagDisableTls13OverTcp = 32;
        public const int SslFlagDisableLegacyTls = 64;

        private const string Example = "e.g. '*:443:', '10.0.0.5:443:mfa.contoso.com' or '[fd00::5]:443:'";

        internal static bool TryPort(string text, out int port)
        {
            port = 0;
            if (string.IsNullOrEmpty(text) || text.Length > 5) return false;
            foreach (char c in text) if (c < '0' || c > '9') return false;
            port = int.Parse(text, CultureInfo.InvariantCulture);
            return port >= 1 && port <= 65535;
        }

        // A dotted quad only (IPAddress.TryParse also takes "10.5" or "0x0a.0.0.5").
        internal static bool TryIPv4(string text, out IPAddress address)
        {
            address = null;
            if (string.IsNullOrEmpty(text)) return false;
            string[] parts = text.Split('.');
            if (parts.Length != 4) return false;
            byte[] bytes = new byte[4];
            for (int i = 0; i < 4; i++)
            {
                string part = parts[i];
                if (part.Length == 0 || part.Length > 3) return false;
                foreach (char c in part) if (c < '0' || c > '9') return false;
                int value = int.Parse(part, CultureInfo.InvariantCulture);
                if (value > 255) return false;
                bytes[i] = (byte)value;
            }
            address = new IPAddress(bytes);
            return true;
        }

        // IIS bindingInformation "IP:port:host" and sslFlags -> the HTTP.sys key that serves the binding.
        public static BindingKey DeriveKey(string bindingInformation, int sslFlags)
        {
            string binding = bindingInformation ?? "";
            string quoted = "IIS binding '" + binding + "'";
            string ipText;
            string rest;
            if (binding.StartsWith("["))
            {
                int close = binding.IndexOf(']');
                if (close < 0)
                    throw new ArgumentException(quoted + ": the IPv6 address has no closing bracket: write it in brackets, e.g. '[fd00::5]:443:'");
                ipText = binding.Substring(0, close + 1);
                rest = binding.Substring(close + 1);
                if (!rest.StartsWith(":"))
                    throw new ArgumentException(quoted + " is not in the form IP:port:host (" + Example + ")");
                rest = rest.Substring(1);
            }
            else
            {
                string[] parts = binding.Split(':');
                if (parts.Length > 3)
                    throw new ArgumentException(quoted + ": an IPv6 address must be written in brackets, e.g. '[fd00::5]:443:'");
                if (parts.Length < 3)
                    throw new ArgumentException(quoted + " is not in the form IP:port:host (" + Example + ")");
                ipText = parts[0];
                rest = parts[1] + ":" + parts[2];
            }
            int colon = rest.IndexOf(':');
            if (colon < 0)
                throw new ArgumentException(quoted + " is not in the form IP:port:host (" + Example + ")");
            string portText = rest.Substring(0, colon);
            string host = rest.Substring(colon + 1);
            if (host.Contains(":"))
                throw new ArgumentException(quoted + " is not in the form IP:port:host (" + Example + ")");
            int port;
            if (!TryPort(portText, out port))
                throw new ArgumentException(quoted + ": the port '" + portText + "' is not a decimal number from 1 to 65535 (" + Example + ")");

            IPAddress ip;
            if (ipText == "*" || ipText == "")
            {
                ip = IPAddress.Any;
            }
            else if (ipText.StartsWith("["))
            {
                string inner = ipText.Substring(1, ipText.Length - 2);
                if (!IPAddress.TryParse(inner, out ip) || ip.AddressFamily != AddressFamily.InterNetworkV6 || inner.Contains("%"))
                    throw new ArgumentException(quoted + ": the address '" + ipText + "' is not an IPv6 address in brackets, e.g. '[fd00::5]:443:'");
            }
            else if (!TryIPv4(ipText, out ip))
            {
                throw new ArgumentException(quoted + ": the address '" + ipText + "' is not '*' or an IPv4 address (an IPv6 address goes in brackets, e.g. '[fd00::5]:443:')");
            }

            if ((sslFlags & SslFlagCcs) != 0) return new BindingKey("ccs", "", port);
            if ((sslFlags & SslFlagSni) != 0)
            {
                if (host.Length == 0)
                    throw new ArgumentException(quoted + ": an SNI binding (sslFlags bit 1) needs a host name, e.g. '*:443:mfa.contoso.com'; clear SNI for an all-hosts binding");
                return new BindingKey("hostnameport", host, port);
            }
            return new BindingKey("ipport", ip.ToString(), port);
        }

        // IIS sslFlags -> HTTP.sys DefaultFlags for an entry being created.
        public static uint DefaultFlagsFor(int sslFlags)
        {
            uint flags = 0;
            if ((sslFlags & SslFlagDisableHttp2) != 0) flags |= FlagDisableHttp2;
            if ((sslFlags & SslFlagDisableOcspStapling) != 0) flags |= FlagDisableOcspStapling;
            if ((sslFlags & SslFlagDisableQuic) != 0) flags |= FlagDisableQuic;
            if ((sslFlags & SslFlagDisableTls13OverTcp) != 0) flags |= FlagDisableTls13;
            if ((sslFlags & SslFlagDisableLegacyTls) != 0) flags |= FlagDisableLegacyTls;
            return flags;
        }

        public static string NormalizeThumbprint(string value)
        {
            if (value == null) return null;
            StringBuilder hex = new StringBuilder(40);
            foreach (char c in value)
            {
                if (c == ':' || c == '-' || c == '\u200E' || c == '\u200F' || c == '\uFEFF' || char.IsWhiteSpace(c)) continue;
                bool isHex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (!isHex) return null;
                hex.Append(char.ToUpperInvariant(c));
            }
            return hex.Length == 40 ? hex.ToString() : null;
        }

        public static bool SameStore(string a, string b)
        {
            return string.Equals(string.IsNullOrEmpty(a) ? "My" : a, string.IsNullOrEmpty(b) ? "My" : b, StringComparison.OrdinalIgnoreCase);
        }

        public static string StoreDisplayName(string name)
        {
            if (string.IsNullOrEmpty(name) || string.Equals(name, "My", StringComparison.OrdinalIgnoreCase)) return "My";
            if (string.Equals(name, "WebHosting", StringComparison.OrdinalIgnoreCase)) return "WebHosting";
            return name;
        }
    }

    public class SslEntry
    {
        public string Kind = "";
        public string Address = "";
        public string Key = "";
        public int Port;
        public string Hash = "";          // upper hex, "" when none
        public string StoreName = "";     // exactly as HTTP.sys holds it, "" for NULL
        public string AppId = "";         // Guid.ToString("B")
        public uint DefaultFlags;
        public uint CertCheckMode;
        public uint RevocationFreshnessTime;
        public uint RevocationUrlRetrievalTimeout;
        public string CtlIdentifier = ""; // "" for NULL
        public string CtlStoreName = "";  // "" for NULL
        public bool Exists;

        public SslEntry Clone() { return (SslEntry)MemberwiseClone(); }

        internal BindingKey BindingKeyOf() { return new BindingKey(Kind, Address, Port); }

        // The fields that differ from other ("" when none).
        internal string Difference(SslEntry other)
        {
            List<string> names = new List<string>();
            if (Exists != other.Exists) names.Add("Exists");
            if (!Exists || !other.Exists) return string.Join(", ", names.ToArray());
            if (!string.Equals(Key, other.Key, StringComparison.OrdinalIgnoreCase)) names.Add("Key");
            if (Hash != other.Hash) names.Add("Hash");
            if (StoreName != other.StoreName) names.Add("StoreName");
            if (!string.Equals(AppId, other.AppId, StringComparison.OrdinalIgnoreCase)) names.Add("AppId");
            if (DefaultFlags != other.DefaultFlags) names.Add("DefaultFlags");
            if (CertCheckMode != other.CertCheckMode) names.Add("CertCheckMode");
            if (RevocationFreshnessTime != other.RevocationFreshnessTime) names.Add("RevocationFreshnessTime");
            if (RevocationUrlRetrievalTimeout != other.RevocationUrlRetrievalTimeout) names.Add("RevocationUrlRetrievalTimeout");
            if (CtlIdentifier != other.CtlIdentifier) names.Add("CtlIdentifier");
            if (CtlStoreName != other.CtlStoreName) names.Add("CtlStoreName");
            return string.Join(", ", names.ToArray());
        }
    }

    // One certificate change: point the entry for Key at Hash in StoreName. SslFlags (the binding's IIS
    // sslFlags) is used only when the entry does not exist and must be created.
    public class EntryChange
    {
        public BindingKey Key;
        public string Hash;
        public string StoreName;
        public int SslFlags;
    }

    public class HttpSysChangeFailed : Exception
    {
        public string FailedKey;
        public int Win32Error;
        public bool Restored;
        public bool RestoreVerified;
        public List<SslEntry> Snapshot;

        public HttpSysChangeFailed(string message, string failedKey, int win32Error, bool restored, bool restoreVerified, List<SslEntry> snapshot)
            : base(message)
        {
            FailedKey = failedKey;
            Win32Error = win32Error;
            Restored = restored;
            RestoreVerified = restoreVerified;
            Snapshot = snapshot;
        }
    }

    // ---- http.h structures (x64). SOCKADDR_STORAGE is 128 bytes, 8-byte aligned (its __ss_align member).
    [StructLayout(LayoutKind.Sequential)]
    internal struct SOCKADDR_STORAGE
    {
        public long ss0, ss1, ss2, ss3, ss4, ss5, ss6, ss7, ss8, ss9, ss10, ss11, ss12, ss13, ss14, ss15;

        internal static SOCKADDR_STORAGE FromBytes(byte[] b)
        {
            SOCKADDR_STORAGE s = new SOCKADDR_STORAGE();
            s.ss0 = BitConverter.ToInt64(b, 0); s.ss1 = BitConverter.ToInt64(b, 8);
            s.ss2 = BitConverter.ToInt64(b, 16); s.ss3 = BitConverter.ToInt64(b, 24);
            s.ss4 = BitConverter.ToInt64(b, 32); s.ss5 = BitConverter.ToInt64(b, 40);
            s.ss6 = BitConverter.ToInt64(b, 48); s.ss7 = BitConverter.ToInt64(b, 56);
            s.ss8 = BitConverter.ToInt64(b, 64); s.ss9 = BitConverter.ToInt64(b, 72);
            s.ss10 = BitConverter.ToInt64(b, 80); s.ss11 = BitConverter.ToInt64(b, 88);
            s.ss12 = BitConverter.ToInt64(b, 96); s.ss13 = BitConverter.ToInt64(b, 104);
            s.ss14 = BitConverter.ToInt64(b, 112); s.ss15 = BitConverter.ToInt64(b, 120);
            return s;
        }

        internal byte[] ToBytes()
        {
            long[] words = new long[] { ss0, ss1, ss2, ss3, ss4, ss5, ss6, ss7, ss8, ss9, ss10, ss11, ss12, ss13, ss14, ss15 };
            byte[] b = new byte[128];
            for (int i = 0; i < 16; i++) Buffer.BlockCopy(BitConverter.GetBytes(words[i]), 0, b, 8 * i, 8);
            return b;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTPAPI_VERSION
    {
        public ushort HttpApiMajorVersion;
        public ushort HttpApiMinorVersion;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_KEY
    {
        public IntPtr pIpPort;  // PSOCKADDR
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_SNI_KEY
    {
        public SOCKADDR_STORAGE IpPort;
        public IntPtr Host;  // PWSTR
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_CCS_KEY
    {
        public SOCKADDR_STORAGE LocalAddress;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_PARAM
    {
        public uint SslHashLength;                          // ULONG
        public IntPtr pSslHash;                             // PVOID
        public Guid AppId;                                  // GUID
        public IntPtr pSslCertStoreName;                    // PWSTR
        public uint DefaultCertCheckMode;                   // DWORD
        public uint DefaultRevocationFreshnessTime;         // DWORD
        public uint DefaultRevocationUrlRetrievalTimeout;   // DWORD
        public IntPtr pDefaultSslCtlIdentifier;             // PWSTR
        public IntPtr pDefaultSslCtlStoreName;              // PWSTR
        public uint DefaultFlags;                           // DWORD
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_SET
    {
        public HTTP_SERVICE_CONFIG_SSL_KEY KeyDesc;
        public HTTP_SERVICE_CONFIG_SSL_PARAM ParamDesc;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_SNI_SET
    {
        public HTTP_SERVICE_CONFIG_SSL_SNI_KEY KeyDesc;
        public HTTP_SERVICE_CONFIG_SSL_PARAM ParamDesc;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_CCS_SET
    {
        public HTTP_SERVICE_CONFIG_SSL_CCS_KEY KeyDesc;
        public HTTP_SERVICE_CONFIG_SSL_PARAM ParamDesc;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_QUERY
    {
        public uint QueryDesc;  // HTTP_SERVICE_CONFIG_QUERY_TYPE (a 4-byte enum)
        public HTTP_SERVICE_CONFIG_SSL_KEY KeyDesc;
        public uint dwToken;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_SNI_QUERY
    {
        public uint QueryDesc;
        public HTTP_SERVICE_CONFIG_SSL_SNI_KEY KeyDesc;
        public uint dwToken;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct HTTP_SERVICE_CONFIG_SSL_CCS_QUERY
    {
        public uint QueryDesc;
        public HTTP_SERVICE_CONFIG_SSL_CCS_KEY KeyDesc;
        public uint dwToken;
    }

    internal static class NativeMethods
    {
        [DllImport("httpapi.dll")]
        internal static extern uint HttpInitialize(HTTPAPI_VERSION version, uint flags, IntPtr reserved);

        [DllImport("httpapi.dll")]
        internal static extern uint HttpTerminate(uint flags, IntPtr reserved);

        [DllImport("httpapi.dll")]
        internal static extern uint HttpQueryServiceConfiguration(IntPtr serviceHandle, uint configId, IntPtr input,
            uint inputLength, IntPtr output, uint outputLength, out uint returnLength, IntPtr overlapped);

        [DllImport("httpapi.dll")]
        internal static extern uint HttpSetServiceConfiguration(IntPtr serviceHandle, uint configId, IntPtr config,
            uint configLength, IntPtr overlapped);

        // Windows 8 / Server 2012 and later; EntryPointNotFoundException on older httpapi.dll.
        [DllImport("httpapi.dll")]
        internal static extern uint HttpUpdateServiceConfiguration(IntPtr handle, uint configId, IntPtr config,
            uint configLength, IntPtr overlapped);

        [DllImport("httpapi.dll")]
        internal static extern uint HttpDeleteServiceConfiguration(IntPtr serviceHandle, uint configId, IntPtr config,
            uint configLength, IntPtr overlapped);
    }

    public static class HttpSys
    {
        public const string IisAppId = "{4dc3e181-e14b-4a21-b022-59fc669b0914}";

        // HTTP_SERVICE_CONFIG_ID
        internal const uint ConfigSsl = 1;
        internal const uint ConfigSni = 5;
        internal const uint ConfigCcs = 6;
        // HTTP_SERVICE_CONFIG_QUERY_TYPE
        private const uint QueryExact = 0;
        private const uint QueryNext = 1;
        private const uint InitializeConfig = 2;  // HTTP_INITIALIZE_CONFIG
        // Win32 error codes
        internal const int ErrorSuccess = 0;
        internal const int ErrorFileNotFound = 2;
        internal const int ErrorInsufficientBuffer = 122;
        internal const int ErrorMoreData = 234;
        internal const int ErrorNoMoreItems = 259;
        private const short AfInet = 2;
        private const short AfInet6 = 23;
        private const int FirstBufferSize = 512;
        private const int MaxEntries = 1000000;

        private static bool updateMissing;

        // ---- helpers: initialisation, errors

        private static void Start()
        {
            HTTPAPI_VERSION version = new HTTPAPI_VERSION();
            version.HttpApiMajorVersion = 1;
            version.HttpApiMinorVersion = 0;
            uint code = NativeMethods.HttpInitialize(version, InitializeConfig, IntPtr.Zero);
            if (code != ErrorSuccess) throw new Win32Exception((int)code, "HttpInitialize failed: " + ErrorText((int)code));
        }

        private static void Stop() { NativeMethods.HttpTerminate(InitializeConfig, IntPtr.Zero); }

        internal static string ErrorText(int code)
        {
            return new Win32Exception(code).Message + " (Win32 error " + code.ToString(CultureInfo.InvariantCulture) + ")";
        }

        private static Exception QueryFailed(int code, BindingKey key)
        {
            return new Win32Exception(code, "HttpQueryServiceConfiguration failed for " + (key == null ? "enumeration" : key.Key) + ": " + ErrorText(code));
        }

        internal static uint ConfigIdOf(string kind)
        {
            if (kind == "ipport") return ConfigSsl;
            if (kind == "hostnameport") return ConfigSni;
            if (kind == "ccs") return ConfigCcs;
            throw new ArgumentException("unknown HTTP.sys entry kind '" + kind + "': expected ipport, hostnameport or ccs");
        }

        // ---- sockaddr

        private static SOCKADDR_STORAGE MakeSockaddr(IPAddress address, int port)
        {
            byte[] b = new byte[128];
            b[2] = (byte)(port >> 8);
            b[3] = (byte)(port & 0xff);
            byte[] ip = address.GetAddressBytes();
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                Buffer.BlockCopy(BitConverter.GetBytes(AfInet6), 0, b, 0, 2);
                Buffer.BlockCopy(ip, 0, b, 8, 16);
                Buffer.BlockCopy(BitConverter.GetBytes((uint)address.ScopeId), 0, b, 24, 4);
            }
            else
            {
                Buffer.BlockCopy(BitConverter.GetBytes(AfInet), 0, b, 0, 2);
                Buffer.BlockCopy(ip, 0, b, 4, 4);
            }
            return SOCKADDR_STORAGE.FromBytes(b);
        }

        private static void ReadSockaddr(SOCKADDR_STORAGE sockaddr, out string address, out int port)
        {
            byte[] b = sockaddr.ToBytes();
            short family = BitConverter.ToInt16(b, 0);
            port = (b[2] << 8) | b[3];
            byte[] ip;
            if (family == AfInet6)
            {
                ip = new byte[16];
                Buffer.BlockCopy(b, 8, ip, 0, 16);
            }
            else
            {
                ip = new byte[4];
                Buffer.BlockCopy(b, 4, ip, 0, 4);
            }
            address = new IPAddress(ip).ToString();
        }

        private static SOCKADDR_STORAGE KeySockaddr(BindingKey key)
        {
            if (key.Kind == "ipport")
            {
                IPAddress ip;
                if (!IPAddress.TryParse(key.Address ?? "", out ip)) throw new ArgumentException("'" + key.Key + "': the address is not an IP address");
                return MakeSockaddr(ip, key.Port);
            }
            // SNI and CCS entries are keyed by host and port, or port: the address part is the IPv4 wildcard.
            return MakeSockaddr(IPAddress.Any, key.Port);
        }

        // ---- unmanaged memory that lives as long as one call

        private sealed class Allocations : IDisposable
        {
            private readonly List<IntPtr> pointers = new List<IntPtr>();

            internal IntPtr Bytes(int length)
            {
                IntPtr p = Marshal.AllocHGlobal(Math.Max(length, 1));
                pointers.Add(p);
                for (int i = 0; i < length; i++) Marshal.WriteByte(p, i, 0);
                return p;
            }

            internal IntPtr Structure(object value)
            {
                IntPtr p = Bytes(Marshal.SizeOf(value.GetType()));
                Marshal.StructureToPtr(value, p, false);
                return p;
            }

            // "" and null -> NULL pointer.
            internal IntPtr String(string value)
            {
                if (string.IsNullOrEmpty(value)) return IntPtr.Zero;
                IntPtr p = Marshal.StringToHGlobalUni(value);
                pointers.Add(p);
                return p;
            }

            public void Dispose()
            {
                foreach (IntPtr p in pointers) Marshal.FreeHGlobal(p);
                pointers.Clear();
            }
        }

        private static byte[] HashBytes(string hex)
        {
            if (string.IsNullOrEmpty(hex)) return new byte[0];
            if (hex.Length % 2 != 0) throw new ArgumentException("certificate hash '" + hex + "' is not hex");
            byte[] bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = byte.Parse(hex.Substring(2 * i, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return bytes;
        }

        private static HTTP_SERVICE_CONFIG_SSL_PARAM MakeParam(SslEntry entry, Allocations memory)
        {
            HTTP_SERVICE_CONFIG_SSL_PARAM param = new HTTP_SERVICE_CONFIG_SSL_PARAM();
            byte[] hash = HashBytes(entry.Hash);
            param.SslHashLength = (uint)hash.Length;
            param.pSslHash = IntPtr.Zero;
            if (hash.Length > 0)
            {
                param.pSslHash = memory.Bytes(hash.Length);
                Marshal.Copy(hash, 0, param.pSslHash, hash.Length);
            }
            param.AppId = string.IsNullOrEmpty(entry.AppId) ? Guid.Empty : new Guid(entry.AppId);
            param.pSslCertStoreName = memory.String(entry.StoreName);
            param.DefaultCertCheckMode = entry.CertCheckMode;
            param.DefaultRevocationFreshnessTime = entry.RevocationFreshnessTime;
            param.DefaultRevocationUrlRetrievalTimeout = entry.RevocationUrlRetrievalTimeout;
            param.pDefaultSslCtlIdentifier = memory.String(entry.CtlIdentifier);
            param.pDefaultSslCtlStoreName = memory.String(entry.CtlStoreName);
            param.DefaultFlags = entry.DefaultFlags;
            return param;
        }

        // The *_SET structure for an entry, in unmanaged memory; length is what is passed as ConfigInformationLength.
        private static IntPtr MakeSet(BindingKey key, SslEntry entry, Allocations memory, out uint configId, out uint length)
        {
            configId = ConfigIdOf(key.Kind);
            HTTP_SERVICE_CONFIG_SSL_PARAM param = MakeParam(entry, memory);
            object set;
            if (configId == ConfigSsl)
            {
                HTTP_SERVICE_CONFIG_SSL_SET s = new HTTP_SERVICE_CONFIG_SSL_SET();
                s.KeyDesc.pIpPort = memory.Structure(KeySockaddr(key));
                s.ParamDesc = param;
                set = s;
            }
            else if (configId == ConfigSni)
            {
                HTTP_SERVICE_CONFIG_SSL_SNI_SET s = new HTTP_SERVICE_CONFIG_SSL_SNI_SET();
                s.KeyDesc.IpPort = KeySockaddr(key);
                s.KeyDesc.Host = memory.String(key.Address);
                s.ParamDesc = param;
                set = s;
            }
            else
            {
                HTTP_SERVICE_CONFIG_SSL_CCS_SET s = new HTTP_SERVICE_CONFIG_SSL_CCS_SET();
                s.KeyDesc.LocalAddress = KeySockaddr(key);
                s.ParamDesc = param;
                set = s;
            }
            length = (uint)Marshal.SizeOf(set.GetType());
            return memory.Structure(set);
        }

        private static IntPtr MakeQuery(uint configId, uint queryType, BindingKey key, uint token, Allocations memory, out uint length)
        {
            object query;
            if (configId == ConfigSsl)
            {
                HTTP_SERVICE_CONFIG_SSL_QUERY q = new HTTP_SERVICE_CONFIG_SSL_QUERY();
                q.QueryDesc = queryType;
                q.KeyDesc.pIpPort = key == null ? IntPtr.Zero : memory.Structure(KeySockaddr(key));
                q.dwToken = token;
                query = q;
            }
            else if (configId == ConfigSni)
            {
                HTTP_SERVICE_CONFIG_SSL_SNI_QUERY q = new HTTP_SERVICE_CONFIG_SSL_SNI_QUERY();
                q.QueryDesc = queryType;
                if (key != null)
                {
                    q.KeyDesc.IpPort = KeySockaddr(key);
                    q.KeyDesc.Host = memory.String(key.Address);
                }
                q.dwToken = token;
                query = q;
            }
            else
            {
                HTTP_SERVICE_CONFIG_SSL_CCS_QUERY q = new HTTP_SERVICE_CONFIG_SSL_CCS_QUERY();
                q.QueryDesc = queryType;
                if (key != null) q.KeyDesc.LocalAddress = KeySockaddr(key);
                q.dwToken = token;
                query = q;
            }
            length = (uint)Marshal.SizeOf(query.GetType());
            return memory.Structure(query);
        }

        private static string PtrString(IntPtr p)
        {
            if (p == IntPtr.Zero) return "";
            return Marshal.PtrToStringUni(p) ?? "";
        }

        private static SslEntry ReadEntry(uint configId, IntPtr output)
        {
            SslEntry entry = new SslEntry();
            HTTP_SERVICE_CONFIG_SSL_PARAM param;
            string address;
            int port;
            if (configId == ConfigSsl)
            {
                HTTP_SERVICE_CONFIG_SSL_SET s = (HTTP_SERVICE_CONFIG_SSL_SET)Marshal.PtrToStructure(output, typeof(HTTP_SERVICE_CONFIG_SSL_SET));
                SOCKADDR_STORAGE sockaddr = (SOCKADDR_STORAGE)Marshal.PtrToStructure(s.KeyDesc.pIpPort, typeof(SOCKADDR_STORAGE));
                ReadSockaddr(sockaddr, out address, out port);
                entry.Kind = "ipport";
                entry.Address = address;
                param = s.ParamDesc;
            }
            else if (configId == ConfigSni)
            {
                HTTP_SERVICE_CONFIG_SSL_SNI_SET s = (HTTP_SERVICE_CONFIG_SSL_SNI_SET)Marshal.PtrToStructure(output, typeof(HTTP_SERVICE_CONFIG_SSL_SNI_SET));
                ReadSockaddr(s.KeyDesc.IpPort, out address, out port);
                entry.Kind = "hostnameport";
                entry.Address = PtrString(s.KeyDesc.Host);
                param = s.ParamDesc;
            }
            else
            {
                HTTP_SERVICE_CONFIG_SSL_CCS_SET s = (HTTP_SERVICE_CONFIG_SSL_CCS_SET)Marshal.PtrToStructure(output, typeof(HTTP_SERVICE_CONFIG_SSL_CCS_SET));
                ReadSockaddr(s.KeyDesc.LocalAddress, out address, out port);
                entry.Kind = "ccs";
                entry.Address = "";
                param = s.ParamDesc;
            }
            entry.Port = port;
            entry.Key = entry.BindingKeyOf().Key;
            if (param.SslHashLength > 0 && param.pSslHash != IntPtr.Zero)
            {
                byte[] hash = new byte[param.SslHashLength];
                Marshal.Copy(param.pSslHash, hash, 0, hash.Length);
                entry.Hash = BitConverter.ToString(hash).Replace("-", "");
            }
            entry.StoreName = PtrString(param.pSslCertStoreName);
            entry.AppId = param.AppId.ToString("B");
            entry.CertCheckMode = param.DefaultCertCheckMode;
            entry.RevocationFreshnessTime = param.DefaultRevocationFreshnessTime;
            entry.RevocationUrlRetrievalTimeout = param.DefaultRevocationUrlRetrievalTimeout;
            entry.CtlIdentifier = PtrString(param.pDefaultSslCtlIdentifier);
            entry.CtlStoreName = PtrString(param.pDefaultSslCtlStoreName);
            entry.DefaultFlags = param.DefaultFlags;
            entry.Exists = true;
            return entry;
        }

        // One query. Returns ERROR_SUCCESS with the entry, or the error code (entry null). A buffer too small
        // (ERROR_INSUFFICIENT_BUFFER, or ERROR_MORE_DATA) is retried with the size HTTP.sys asks for.
        private static int QueryOne(uint configId, uint queryType, BindingKey key, uint token, out SslEntry entry)
        {
            entry = null;
            using (Allocations memory = new Allocations())
            {
                uint queryLength;
                IntPtr query = MakeQuery(configId, queryType, key, token, memory, out queryLength);
                uint size = FirstBufferSize;
                for (int attempt = 0; attempt < 8; attempt++)
                {
                    IntPtr output = Marshal.AllocHGlobal((int)size);
                    try
                    {
                        uint needed;
                        int code = (int)NativeMethods.HttpQueryServiceConfiguration(IntPtr.Zero, configId, query, queryLength, output, size, out needed, IntPtr.Zero);
                        if (code == ErrorSuccess)
                        {
                            entry = ReadEntry(configId, output);
                            return ErrorSuccess;
                        }
                        if (code != ErrorInsufficientBuffer && code != ErrorMoreData) return code;
                        if (needed <= size) throw new Win32Exception(code, "HttpQueryServiceConfiguration asked for a larger buffer but gave " + needed.ToString(CultureInfo.InvariantCulture) + " bytes");
                        size = needed;
                    }
                    finally { Marshal.FreeHGlobal(output); }
                }
                throw new Win32Exception(ErrorInsufficientBuffer, "HttpQueryServiceConfiguration kept asking for a larger buffer");
            }
        }

        private static SslEntry GetCore(BindingKey key)
        {
            SslEntry entry;
            int code = QueryOne(ConfigIdOf(key.Kind), QueryExact, key, 0, out entry);
            if (code == ErrorFileNotFound) return null;
            if (code != ErrorSuccess) throw QueryFailed(code, key);
            return entry;
        }

        private static int WriteCore(string function, BindingKey key, SslEntry entry)
        {
            using (Allocations memory = new Allocations())
            {
                uint configId;
                uint length;
                IntPtr set = MakeSet(key, entry, memory, out configId, out length);
                if (function == "set") return (int)NativeMethods.HttpSetServiceConfiguration(IntPtr.Zero, configId, set, length, IntPtr.Zero);
                if (function == "delete") return (int)NativeMethods.HttpDeleteServiceConfiguration(IntPtr.Zero, configId, set, length, IntPtr.Zero);
                return (int)NativeMethods.HttpUpdateServiceConfiguration(IntPtr.Zero, configId, set, length, IntPtr.Zero);
            }
        }

        // Replaces the existing entry `current` by `entry`: HttpUpdateServiceConfiguration (atomic) where httpapi
        // has it, else delete + set, writing `current` back if the set fails. Returns a Win32 error code.
        private static int ReplaceCore(BindingKey key, SslEntry current, SslEntry entry, out string function)
        {
            if (!updateMissing)
            {
                try
                {
                    function = "HttpUpdateServiceConfiguration";
                    return WriteCore("update", key, entry);
                }
                catch (EntryPointNotFoundException)
                {
                    updateMissing = true;
                }
            }
            function = "HttpDeleteServiceConfiguration";
            int code = WriteCore("delete", key, current);
            if (code != ErrorSuccess) return code;
            function = "HttpSetServiceConfiguration";
            code = WriteCore("set", key, entry);
            if (code != ErrorSuccess) WriteCore("set", key, current);
            return code;
        }

        // ---- public API

        // Every ipport, hostnameport and ccs entry, in ordinal order of Key.
        public static List<SslEntry> List()
        {
            List<SslEntry> entries = new List<SslEntry>();
            Start();
            try
            {
                foreach (uint configId in new uint[] { ConfigSsl, ConfigSni, ConfigCcs })
                {
                    for (uint token = 0; ; token++)
                    {
                        if (token >= MaxEntries) throw new InvalidOperationException("HTTP.sys enumeration did not end after " + MaxEntries.ToString(CultureInfo.InvariantCulture) + " entries");
                        SslEntry entry;
                        int code = QueryOne(configId, QueryNext, null, token, out entry);
                        if (code == ErrorNoMoreItems) break;
                        if (code != ErrorSuccess) throw QueryFailed(code, null);
                        entries.Add(entry);
                    }
                }
            }
            finally { Stop(); }
            entries.Sort(delegate(SslEntry a, SslEntry b) { return string.CompareOrdinal(a.Key, b.Key); });
            return entries;
        }

        // The entry for one key, or null when there is none.
        public static SslEntry Get(BindingKey key)
        {
            if (key == null) throw new ArgumentNullException("key");
            Start();
            try { return GetCore(key); }
            finally { Stop(); }
        }

        private static List<BindingKey> Distinct(IEnumerable<BindingKey> keys)
        {
            List<BindingKey> result = new List<BindingKey>();
            Dictionary<string, bool> seen = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
            foreach (BindingKey key in keys)
            {
                if (key == null) throw new ArgumentException("a key is null");
                ConfigIdOf(key.Kind);
                if (seen.ContainsKey(key.Key)) continue;
                seen[key.Key] = true;
                result.Add(key);
            }
            return result;
        }

        private static SslEntry Missing(BindingKey key)
        {
            SslEntry entry = new SslEntry();
            entry.Kind = key.Kind;
            entry.Address = key.Address ?? "";
            entry.Port = key.Port;
            entry.Key = key.Key;
            entry.Exists = false;
            return entry;
        }

        private static List<SslEntry> SnapshotCore(List<BindingKey> keys)
        {
            List<SslEntry> snapshot = new List<SslEntry>();
            foreach (BindingKey key in keys)
            {
                SslEntry entry = GetCore(key);
                snapshot.Add(entry ?? Missing(key));
            }
            return snapshot;
        }

        // One entry per key (duplicates dropped), Exists=false for a key without an entry.
        public static List<SslEntry> Snapshot(IEnumerable<BindingKey> keys)
        {
            if (keys == null) throw new ArgumentNullException("keys");
            List<BindingKey> distinct = Distinct(keys);
            Start();
            try { return SnapshotCore(distinct); }
            finally { Stop(); }
        }

        private sealed class RestoreResult
        {
            internal bool Written = true;   // every write succeeded
            internal bool Verified = true;  // reading back matched every entry
            internal string FailedKey;
            internal int Win32Error;
            internal string Detail = "";
        }

        // Writes the snapshot back (only where the entry differs now), then reads back every key.
        private static RestoreResult RestoreCore(IList<SslEntry> snapshot)
        {
            RestoreResult result = new RestoreResult();
            List<string> problems = new List<string>();
            foreach (SslEntry wanted in snapshot)
            {
                BindingKey key = wanted.BindingKeyOf();
                int code;
                string function;
                try
                {
                    SslEntry current = GetCore(key);
                    if (wanted.Exists)
                    {
                        if (current == null)
                        {
                            function = "HttpSetServiceConfiguration";
                            code = WriteCore("set", key, wanted);
                        }
                        else if (current.Difference(wanted).Length > 0)
                        {
                            code = ReplaceCore(key, current, wanted, out function);
                        }
                        else continue;
                    }
                    else
                    {
                        if (current == null) continue;
                        function = "HttpDeleteServiceConfiguration";
                        code = WriteCore("delete", key, current);
                    }
                }
                catch (Win32Exception e)
                {
                    function = "HttpQueryServiceConfiguration";
                    code = e.NativeErrorCode;
                }
                if (code != ErrorSuccess)
                {
                    result.Written = false;
                    if (result.FailedKey == null)
                    {
                        result.FailedKey = key.Key;
                        result.Win32Error = code;
                    }
                    problems.Add(key.Key + ": " + function + " returned " + ErrorText(code));
                }
            }
            foreach (SslEntry wanted in snapshot)
            {
                BindingKey key = wanted.BindingKeyOf();
                string difference;
                try
                {
                    SslEntry current = GetCore(key) ?? Missing(key);
                    difference = current.Difference(wanted);
                }
                catch (Win32Exception e)
                {
                    difference = "cannot be read: " + e.Message;
                }
                if (difference.Length > 0)
                {
                    result.Verified = false;
                    if (result.FailedKey == null) result.FailedKey = key.Key;
                    problems.Add(key.Key + " differs after the restore (" + difference + ")");
                }
            }
            result.Detail = string.Join("; ", problems.ToArray());
            return result;
        }

        private static string Keys(IList<SslEntry> entries)
        {
            List<string> keys = new List<string>();
            foreach (SslEntry e in entries) keys.Add(e.Key);
            return string.Join(", ", keys.ToArray());
        }

        // A failure before the first write: nothing changed, which is as verified as it gets.
        private static HttpSysChangeFailed NothingWritten(string what, Win32Exception e)
        {
            return new HttpSysChangeFailed("HTTP.sys was not changed: " + what + " (" + e.Message + ").",
                "", e.NativeErrorCode, false, true, new List<SslEntry>());
        }

        private static HttpSysChangeFailed ChangeFailed(string what, string failedKey, int win32Error, List<SslEntry> written, List<SslEntry> snapshot)
        {
            RestoreResult restore = RestoreCore(written);
            string outcome;
            if (restore.Written && restore.Verified)
                outcome = "The previous entries (" + Keys(written) + ") were restored and verified by reading them back.";
            else if (restore.Written)
                outcome = "The previous entries (" + Keys(written) + ") were written back but NOT verified: " + restore.Detail + ".";
            else
                outcome = "The previous entries (" + Keys(written) + ") were NOT restored: " + restore.Detail + ". Restore them from the snapshot.";
            return new HttpSysChangeFailed("HTTP.sys change of " + failedKey + " failed: " + what + ". " + outcome,
                failedKey, win32Error, restore.Written, restore.Verified, snapshot);
        }

        // Points the entries of the changes at new certificates; returns the snapshot taken before any write.
        public static List<SslEntry> Apply(IList<EntryChange> changes)
        {
            if (changes == null) throw new ArgumentNullException("changes");
            List<BindingKey> keys = new List<BindingKey>();
            List<EntryChange> work = new List<EntryChange>();
            Dictionary<string, EntryChange> byKey = new Dictionary<string, EntryChange>(StringComparer.OrdinalIgnoreCase);
            foreach (EntryChange change in changes)
            {
                if (change == null || change.Key == null) throw new ArgumentException("a change has no key");
                string key = change.Key.Key;
                ConfigIdOf(change.Key.Kind);
                if (change.Key.Kind == "ccs")
                    throw new ArgumentException(key + ": a ccs entry takes its certificate from the Central Certificate Store and holds no hash; change the certificate in the store instead");
                string hash = WindowsRules.NormalizeThumbprint(change.Hash);
                if (hash == null) throw new ArgumentException(key + ": '" + change.Hash + "' is not a certificate thumbprint (40 hex characters)");
                EntryChange normalized = new EntryChange();
                normalized.Key = change.Key;
                normalized.Hash = hash;
                normalized.StoreName = change.StoreName ?? "";
                normalized.SslFlags = change.SslFlags;
                EntryChange earlier;
                if (byKey.TryGetValue(key, out earlier))
                {
                    if (earlier.Hash != normalized.Hash || earlier.StoreName != normalized.StoreName
                        || WindowsRules.DefaultFlagsFor(earlier.SslFlags) != WindowsRules.DefaultFlagsFor(normalized.SslFlags))
                        throw new ArgumentException(key + ": two changes for this key ask for different certificates or flags");
                    continue;
                }
                byKey[key] = normalized;
                keys.Add(change.Key);
                work.Add(normalized);
            }

            List<SslEntry> snapshot;
            try
            {
                Start();
            }
            catch (Win32Exception e)
            {
                throw NothingWritten("the HTTP Server API could not be opened", e);
            }
            try
            {
                try
                {
                    snapshot = SnapshotCore(keys);
                }
                catch (Win32Exception e)
                {
                    throw NothingWritten("the entries could not be read before the change", e);
                }
                List<SslEntry> intended = new List<SslEntry>();
                List<SslEntry> written = new List<SslEntry>();
                for (int i = 0; i < work.Count; i++)
                {
                    EntryChange change = work[i];
                    SslEntry before = snapshot[i];
                    SslEntry target;
                    if (before.Exists)
                    {
                        target = before.Clone();
                    }
                    else
                    {
                        target = Missing(change.Key);
                        target.Exists = true;
                        target.AppId = IisAppId;
                        target.DefaultFlags = WindowsRules.DefaultFlagsFor(change.SslFlags);
                    }
                    target.Hash = change.Hash;
                    target.StoreName = change.StoreName;
                    intended.Add(target);
                    written.Add(before);

                    int code;
                    string function;
                    if (before.Exists)
                    {
                        code = ReplaceCore(change.Key, before, target, out function);
                    }
                    else
                    {
                        function = "HttpSetServiceConfiguration";
                        code = WriteCore("set", change.Key, target);
                    }
                    if (code != ErrorSuccess)
                        throw ChangeFailed(function + " returned " + ErrorText(code), change.Key.Key, code, written, snapshot);
                }

                for (int i = 0; i < work.Count; i++)
                {
                    SslEntry now;
                    try
                    {
                        now = GetCore(work[i].Key) ?? Missing(work[i].Key);
                    }
                    catch (Win32Exception e)
                    {
                        // Written but not readable: put the previous entries back as for a failed write.
                        throw ChangeFailed("reading the entry back after the change failed: " + e.Message,
                            work[i].Key.Key, e.NativeErrorCode, written, snapshot);
                    }
                    string difference = now.Difference(intended[i]);
                    if (difference.Length > 0)
                        throw ChangeFailed("reading the entry back after the change shows a different " + difference + " than was written",
                            work[i].Key.Key, 0, written, snapshot);
                }
                return snapshot;
            }
            finally { Stop(); }
        }

        // Writes a snapshot back: an entry that existed is written exactly (updated, or created if it is gone),
        // a key that had no entry is deleted; then every key is read back and compared field by field.
        public static void Restore(IList<SslEntry> snapshot)
        {
            if (snapshot == null) throw new ArgumentNullException("snapshot");
            List<SslEntry> entries = new List<SslEntry>(snapshot);
            foreach (SslEntry entry in entries)
            {
                if (entry == null) throw new ArgumentException("a snapshot entry is null");
                ConfigIdOf(entry.Kind);
            }
            Start();
            try
            {
                RestoreResult result = RestoreCore(entries);
                if (!result.Written || !result.Verified)
                {
                    string state = result.Written ? "written but not verified" : "not restored";
                    throw new HttpSysChangeFailed("HTTP.sys restore of " + result.FailedKey + " failed (" + state + "): " + result.Detail,
                        result.FailedKey, result.Win32Error, result.Written, result.Verified, entries);
                }
            }
            finally { Stop(); }
        }
    }
}
