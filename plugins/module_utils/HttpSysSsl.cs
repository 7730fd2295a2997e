// Copyright: (c) 2026, mfa_server.tls maintainers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

// The HTTP.sys SSL table (ipport, hostnameport and ccs entries) through the HTTP Server API, for the
// PowerShell modules of mfa_server.tls. Modules load it with this line (at the start of a line):
// "#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils.HttpSysSsl"
// Ansible compiles it together with Ansible.Basic (Add-CSharpType treats warnings as errors). It needs no
// extra assembly reference: System.dll (Framework) and the reference assemblies (Core) hold every type used.
// The type accelerators keep the modules' calls short: [MfaServerTls.HttpSys]::List().

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Net;
using System.Runtime.InteropServices;

//TypeAccelerator -Name MfaServerTls.HttpSys -TypeName HttpSys
//TypeAccelerator -Name MfaServerTls.SslEntry -TypeName SslEntry

namespace ansible_collections.mfa_server.tls.plugins.module_utils.HttpSysSsl
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
