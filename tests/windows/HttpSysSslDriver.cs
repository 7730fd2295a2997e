// Test driver for plugins/module_utils/_HttpSysSsl.cs: compiled together with it (mcs -sdk:4.5 -warnaserror+)
// and run under Mono with DllImport("httpapi.dll") mapped to the stand-in (tests/windows/httpapi_standin.c).
// Usage: mono HttpSysSslDriver.exe VECTORS_JSON SCENARIO...; prints one JSON object per scenario and line.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl;

namespace HttpSysSslTests
{
    internal static class Standin
    {
        [DllImport("httpapi.dll")] internal static extern void standin_reset();
        [DllImport("httpapi.dll")] internal static extern int standin_fail_call(string function, int nth, uint code);
        [DllImport("httpapi.dll")] internal static extern void standin_tamper(uint xorFlags);
        [DllImport("httpapi.dll")] internal static extern int standin_initialized();
        [DllImport("httpapi.dll")] private static extern int standin_dump(byte[] buffer, int length);
        [DllImport("httpapi.dll")]
        private static extern int standin_seed(uint config, string address, int port, string host, string hashHex,
            string store, string appId, uint checkMode, uint freshness, uint urlTimeout, string ctlId, string ctlStore, uint flags);

        internal static void Seed(uint config, string address, int port, string host, string hash, string store, string appId,
            uint checkMode, uint freshness, uint urlTimeout, string ctlId, string ctlStore, uint flags)
        {
            if (standin_seed(config, address, port, host, hash, store, appId, checkMode, freshness, urlTimeout, ctlId, ctlStore, flags) != 0)
                throw new InvalidOperationException("standin_seed rejected " + address + " " + host);
        }

        internal static object Dump()
        {
            int needed = standin_dump(null, 0);
            byte[] buffer = new byte[needed + 1];
            standin_dump(buffer, buffer.Length);
            return Json.Parse(Encoding.UTF8.GetString(buffer, 0, needed));
        }
    }

    internal static class Json
    {
        // ---- writer
        internal static string Write(object value)
        {
            StringBuilder sb = new StringBuilder();
            WriteValue(sb, value);
            return sb.ToString();
        }

        private static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') sb.Append('\\').Append(c);
                else if (c < 0x20 || c > 0x7e) sb.Append("\\u").Append(((int)c).ToString("x4"));
                else sb.Append(c);
            }
            sb.Append('"');
        }

        private static void WriteValue(StringBuilder sb, object value)
        {
            if (value == null) { sb.Append("null"); return; }
            if (value is string) { WriteString(sb, (string)value); return; }
            if (value is bool) { sb.Append((bool)value ? "true" : "false"); return; }
            if (value is int || value is uint || value is long || value is ulong || value is short || value is ushort)
            {
                sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                return;
            }
            if (value is double) { sb.Append(((double)value).ToString("R", CultureInfo.InvariantCulture)); return; }
            if (value is SslEntry) { WriteValue(sb, EntryDict((SslEntry)value)); return; }
            if (value is BindingKey)
            {
                BindingKey k = (BindingKey)value;
                WriteValue(sb, D("kind", k.Kind, "address", k.Address, "port", k.Port, "key", k.Key));
                return;
            }
            IDictionary dict = value as IDictionary;
            if (dict != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (DictionaryEntry e in dict)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, (string)e.Key);
                    sb.Append(':');
                    WriteValue(sb, e.Value);
                }
                sb.Append('}');
                return;
            }
            IEnumerable list = value as IEnumerable;
            if (list != null)
            {
                sb.Append('[');
                bool first = true;
                foreach (object o in list)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteValue(sb, o);
                }
                sb.Append(']');
                return;
            }
            throw new ArgumentException("cannot write " + value.GetType());
        }

        internal static Dictionary<string, object> D(params object[] pairs)
        {
            Dictionary<string, object> d = new Dictionary<string, object>();
            for (int i = 0; i < pairs.Length; i += 2) d[(string)pairs[i]] = pairs[i + 1];
            return d;
        }

        internal static Dictionary<string, object> EntryDict(SslEntry e)
        {
            return D("kind", e.Kind, "address", e.Address, "key", e.Key, "port", e.Port, "hash", e.Hash,
                "store_name", e.StoreName, "app_id", e.AppId, "default_flags", e.DefaultFlags,
                "cert_check_mode", e.CertCheckMode, "revocation_freshness_time", e.RevocationFreshnessTime,
                "revocation_url_retrieval_timeout", e.RevocationUrlRetrievalTimeout, "ctl_identifier", e.CtlIdentifier,
                "ctl_store_name", e.CtlStoreName, "exists", e.Exists);
        }

        // ---- parser (enough for the vectors file and the stand-in's dump)
        internal static object Parse(string text)
        {
            int pos = 0;
            object value = ParseValue(text, ref pos);
            SkipSpace(text, ref pos);
            if (pos != text.Length) throw new FormatException("trailing JSON at " + pos);
            return value;
        }

        private static void SkipSpace(string t, ref int p) { while (p < t.Length && char.IsWhiteSpace(t[p])) p++; }

        private static object ParseValue(string t, ref int p)
        {
            SkipSpace(t, ref p);
            char c = t[p];
            if (c == '{')
            {
                Dictionary<string, object> d = new Dictionary<string, object>();
                p++;
                SkipSpace(t, ref p);
                if (t[p] == '}') { p++; return d; }
                while (true)
                {
                    SkipSpace(t, ref p);
                    string key = ParseString(t, ref p);
                    SkipSpace(t, ref p);
                    if (t[p++] != ':') throw new FormatException("':' expected at " + p);
                    d[key] = ParseValue(t, ref p);
                    SkipSpace(t, ref p);
                    if (t[p] == ',') { p++; continue; }
                    if (t[p++] == '}') return d;
                    throw new FormatException("',' or '}' expected at " + p);
                }
            }
            if (c == '[')
            {
                List<object> l = new List<object>();
                p++;
                SkipSpace(t, ref p);
                if (t[p] == ']') { p++; return l; }
                while (true)
                {
                    l.Add(ParseValue(t, ref p));
                    SkipSpace(t, ref p);
                    if (t[p] == ',') { p++; continue; }
                    if (t[p++] == ']') return l;
                    throw new FormatException("',' or ']' expected at " + p);
                }
            }
            if (c == '"') return ParseString(t, ref p);
            if (t.Substring(p).StartsWith("true")) { p += 4; return true; }
            if (t.Substring(p).StartsWith("false")) { p += 5; return false; }
            if (t.Substring(p).StartsWith("null")) { p += 4; return null; }
            int start = p;
            while (p < t.Length && "+-0123456789.eE".IndexOf(t[p]) >= 0) p++;
            string number = t.Substring(start, p - start);
            if (number.Length == 0) throw new FormatException("value expected at " + start);
            long integer;
            if (long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out integer)) return integer;
            return double.Parse(number, CultureInfo.InvariantCulture);
        }

        private static string ParseString(string t, ref int p)
        {
            if (t[p] != '"') throw new FormatException("string expected at " + p);
            p++;
            StringBuilder sb = new StringBuilder();
            while (t[p] != '"')
            {
                char c = t[p++];
                if (c != '\\') { sb.Append(c); continue; }
                char e = t[p++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'u': sb.Append((char)int.Parse(t.Substring(p, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture)); p += 4; break;
                    default: sb.Append(e); break;
                }
            }
            p++;
            return sb.ToString();
        }
    }

    internal static class Program
    {
        private const string Foreign = "{12345678-9abc-def0-1234-56789abcdef0}";
        private const string HashA = "1111111111111111111111111111111111111111";
        private const string HashB = "2222222222222222222222222222222222222222";
        private const string HashC = "3333333333333333333333333333333333333333";
        private const string HashD = "4444444444444444444444444444444444444444";
        private const string NewHash = "A909502DD82AE41433E6F83886B00D4277A32A7B";

        private static Dictionary<string, object> Error(Exception e)
        {
            Dictionary<string, object> d = Json.D("type", e.GetType().Name, "message", e.Message);
            HttpSysChangeFailed f = e as HttpSysChangeFailed;
            if (f != null)
            {
                d["failed_key"] = f.FailedKey;
                d["win32_error"] = f.Win32Error;
                d["restored"] = f.Restored;
                d["restore_verified"] = f.RestoreVerified;
                d["snapshot"] = f.Snapshot;
            }
            return d;
        }

        private static EntryChange Change(string key, string hash, string store, int sslFlags)
        {
            EntryChange c = new EntryChange();
            c.Key = BindingKey.Parse(key);
            c.Hash = hash;
            c.StoreName = store;
            c.SslFlags = sslFlags;
            return c;
        }

        // ---- layout

        private static readonly string[] StructNames = {
            "SOCKADDR_STORAGE", "HTTP_SERVICE_CONFIG_SSL_KEY", "HTTP_SERVICE_CONFIG_SSL_SNI_KEY", "HTTP_SERVICE_CONFIG_SSL_CCS_KEY",
            "HTTP_SERVICE_CONFIG_SSL_PARAM", "HTTP_SERVICE_CONFIG_SSL_SET", "HTTP_SERVICE_CONFIG_SSL_SNI_SET",
            "HTTP_SERVICE_CONFIG_SSL_CCS_SET", "HTTP_SERVICE_CONFIG_SSL_QUERY", "HTTP_SERVICE_CONFIG_SSL_SNI_QUERY",
            "HTTP_SERVICE_CONFIG_SSL_CCS_QUERY",
        };

        private static object Layout()
        {
            Dictionary<string, object> structs = new Dictionary<string, object>();
            string ns = typeof(HttpSys).Namespace;
            foreach (string name in StructNames)
            {
                Type t = typeof(HttpSys).Assembly.GetType(ns + "." + name, true);
                List<object> fields = new List<object>();
                foreach (FieldInfo f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                {
                    fields.Add(Json.D("name", f.Name, "offset", Marshal.OffsetOf(t, f.Name).ToInt64(),
                        "size", Marshal.SizeOf(f.FieldType), "type", f.FieldType.Name));
                }
                structs[name] = Json.D("size", Marshal.SizeOf(t), "fields", fields,
                    "sequential", t.IsLayoutSequential, "blittable", IsBlittable(t));
            }
            return Json.D("pointer_size", IntPtr.Size, "structs", structs);
        }

        private static bool IsBlittable(Type t)
        {
            if (t.IsPrimitive) return t != typeof(bool) && t != typeof(char);
            if (t == typeof(IntPtr) || t == typeof(Guid)) return true;
            if (!t.IsValueType) return false;
            foreach (FieldInfo f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                if (!IsBlittable(f.FieldType)) return false;
            return true;
        }

        // ---- vectors

        private static object Vectors(string path)
        {
            Dictionary<string, object> doc = (Dictionary<string, object>)Json.Parse(System.IO.File.ReadAllText(path, Encoding.UTF8));
            List<object> rows = new List<object>();
            int index = 0;
            foreach (object o in (List<object>)doc["binding_keys"])
            {
                Dictionary<string, object> row = (Dictionary<string, object>)o;
                string info = (string)row["binding_information"];
                int flags = (int)(long)row["ssl_flags"];
                bool ok;
                string got;
                try
                {
                    BindingKey k = WindowsRules.DeriveKey(info, flags);
                    got = k.Kind + "|" + k.Address + "|" + k.Port + "|" + k.Key;
                    if (row.ContainsKey("error")) ok = false;
                    else
                    {
                        BindingKey back = BindingKey.Parse(k.Key);
                        ok = k.Kind == (string)row["kind"] && k.Address == (string)row["address"] && k.Port == (int)(long)row["port"]
                            && k.Key == (string)row["key"] && back.Key == k.Key && back.SameAs(k) && back.Kind == k.Kind;
                    }
                }
                catch (ArgumentException e)
                {
                    got = "ArgumentException: " + e.Message;
                    ok = row.ContainsKey("error") && e.Message.IndexOf((string)row["error"], StringComparison.OrdinalIgnoreCase) >= 0;
                }
                rows.Add(Json.D("section", "binding_keys", "index", index++, "ok", ok, "got", got));
            }
            index = 0;
            foreach (object o in (List<object>)doc["default_flags"])
            {
                Dictionary<string, object> row = (Dictionary<string, object>)o;
                uint got = WindowsRules.DefaultFlagsFor((int)(long)row["ssl_flags"]);
                rows.Add(Json.D("section", "default_flags", "index", index++, "ok", got == (uint)(long)row["default_flags"], "got", got));
            }
            index = 0;
            foreach (object o in (List<object>)doc["thumbprints"])
            {
                Dictionary<string, object> row = (Dictionary<string, object>)o;
                string got = WindowsRules.NormalizeThumbprint((string)row["input"]);
                rows.Add(Json.D("section", "thumbprints", "index", index++, "ok", got == (string)row["output"], "got", got));
            }
            index = 0;
            foreach (object o in (List<object>)doc["store_names"])
            {
                Dictionary<string, object> row = (Dictionary<string, object>)o;
                string a = (string)row["a"];
                string b = (string)row["b"];
                bool same = (bool)row["same"];
                bool ok = WindowsRules.SameStore(a, b) == same && WindowsRules.SameStore(b, a) == same
                    && (WindowsRules.StoreDisplayName(a) == WindowsRules.StoreDisplayName(b)) == same;
                rows.Add(Json.D("section", "store_names", "index", index++, "ok", ok, "got", WindowsRules.StoreDisplayName(a) + "|" + WindowsRules.StoreDisplayName(b)));
            }
            return Json.D("rows", rows);
        }

        // ---- behaviour against the stand-in

        private static void SeedMany()
        {
            Standin.Seed(1, "10.0.0.5", 443, null, HashA, "My", HttpSys.IisAppId, 0, 0, 0, null, null, 0);
            Standin.Seed(5, null, 443, "b.contoso.com", HashB, "WebHosting", HttpSys.IisAppId, 0, 0, 0, null, null, 0x400);
            Standin.Seed(6, null, 8443, null, null, null, HttpSys.IisAppId, 0, 0, 0, null, null, 0);
            Standin.Seed(1, "0.0.0.0", 443, null, HashB, null, HttpSys.IisAppId, 0, 0, 0, null, null, 0);
            Standin.Seed(1, "fd00:20::5", 8443, null, HashC, "MY", Foreign, 1, 0, 0, null, null, 0x2);
            Standin.Seed(5, null, 443, "a.contoso.com", HashA, null, HttpSys.IisAppId, 0, 0, 0, null, null, 0);
            Standin.Seed(1, "::", 443, null, HashD, "My", HttpSys.IisAppId, 0, 0, 0, null, null, 0);
            Standin.Seed(6, null, 443, null, null, null, HttpSys.IisAppId, 0, 0, 0, null, null, 0);
            Standin.Seed(5, null, 8443, "Portal.Contoso.com", HashC, "My", Foreign, 4, 3600, 5000, "CtlOne", "Root", 0x10);
        }

        private static object Run(string scenario, string vectors)
        {
            Dictionary<string, object> r = Json.D("scenario", scenario);
            Standin.standin_reset();
            try
            {
                switch (scenario)
                {
                    case "layout": return Layout();
                    case "vectors": return Vectors(vectors);
                    case "list":
                        SeedMany();
                        r["entries"] = HttpSys.List();
                        break;
                    case "get":
                    {
                        SeedMany();
                        List<object> gets = new List<object>();
                        foreach (string key in new string[] { "ipport=0.0.0.0:443", "ipport=[fd00:20::5]:8443", "hostnameport=a.contoso.com:443",
                            "hostnameport=A.CONTOSO.COM:443", "hostnameport=Portal.Contoso.com:8443", "ccs=443",
                            "ipport=10.9.9.9:443", "hostnameport=none.contoso.com:443", "ccs=9443", "ipport=[::1]:443" })
                            gets.Add(Json.D("key", key, "entry", HttpSys.Get(BindingKey.Parse(key))));
                        r["gets"] = gets;
                        r["snapshot"] = HttpSys.Snapshot(new BindingKey[] { BindingKey.Parse("ipport=0.0.0.0:443"),
                            BindingKey.Parse("ipport=10.9.9.9:443"), BindingKey.Parse("IPPORT=0.0.0.0:443") });
                        break;
                    }
                    case "bigentry":
                    {
                        string longId = new string('c', 400);
                        Standin.Seed(5, null, 443, "big.contoso.com", HashA, "WebHosting", Foreign, 2, 0, 0, longId, "CtlStoreWithALongName", 0x400);
                        r["get"] = HttpSys.Get(BindingKey.Parse("hostnameport=big.contoso.com:443"));
                        r["entries"] = HttpSys.List();
                        break;
                    }
                    case "create":
                    {
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("hostnameport=mfa.contoso.com:443", "a9 09 50 2d d8 2a e4 14 33 e6 f8 38 86 b0 0d 42 77 a3 2a 7b", "WebHosting", 65));
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash.ToLowerInvariant(), null, 0));
                        changes.Add(Change("ipport=[fd00:20::5]:443", NewHash, "My", 4 | 8 | 16 | 32));
                        r["snapshot"] = HttpSys.Apply(changes);
                        r["entries"] = HttpSys.List();
                        break;
                    }
                    case "update_keeps":
                    {
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        Standin.Seed(5, null, 443, "mfa.contoso.com", HashB, "MY", HttpSys.IisAppId, 0, 0, 0, null, null, 0x10);
                        r["before"] = Standin.Dump();
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash, "WebHosting", 64));
                        changes.Add(Change("hostnameport=mfa.contoso.com:443", NewHash, null, 0));
                        List<SslEntry> snapshot = HttpSys.Apply(changes);
                        r["snapshot"] = snapshot;
                        r["after"] = Standin.Dump();
                        r["entries"] = HttpSys.List();
                        HttpSys.Restore(snapshot);
                        r["restored"] = Standin.Dump();
                        break;
                    }
                    case "fail_midway":
                    {
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        Standin.Seed(5, null, 443, "a.contoso.com", HashB, "MY", HttpSys.IisAppId, 0, 0, 0, null, null, 0x10);
                        Standin.Seed(1, "10.0.0.5", 443, null, HashC, "WebHosting", HttpSys.IisAppId, 0, 0, 0, null, null, 0);
                        r["before"] = Standin.Dump();
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash, "My", 0));
                        changes.Add(Change("hostnameport=a.contoso.com:443", NewHash, "My", 1));
                        changes.Add(Change("hostnameport=new.contoso.com:443", NewHash, "My", 65));
                        changes.Add(Change("ipport=10.0.0.5:443", NewHash, "My", 0));
                        Standin.standin_fail_call("HttpUpdateServiceConfiguration", 3, 5);
                        try { HttpSys.Apply(changes); r["error"] = null; }
                        catch (HttpSysChangeFailed e) { r["error"] = Error(e); }
                        r["after"] = Standin.Dump();
                        break;
                    }
                    case "fail_create":
                    {
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        r["before"] = Standin.Dump();
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash, "My", 0));
                        changes.Add(Change("hostnameport=new.contoso.com:443", NewHash, "My", 65));
                        Standin.standin_fail_call("HttpSetServiceConfiguration", 1, 1312);
                        try { HttpSys.Apply(changes); r["error"] = null; }
                        catch (HttpSysChangeFailed e) { r["error"] = Error(e); }
                        r["after"] = Standin.Dump();
                        break;
                    }
                    case "fail_restore":
                    {
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        Standin.Seed(5, null, 443, "a.contoso.com", HashB, "MY", HttpSys.IisAppId, 0, 0, 0, null, null, 0x10);
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash, "My", 0));
                        changes.Add(Change("hostnameport=a.contoso.com:443", NewHash, "My", 1));
                        Standin.standin_fail_call("HttpUpdateServiceConfiguration", 2, 5);
                        Standin.standin_fail_call("HttpUpdateServiceConfiguration", 3, 5);
                        try { HttpSys.Apply(changes); r["error"] = null; }
                        catch (HttpSysChangeFailed e) { r["error"] = Error(e); }
                        r["after"] = Standin.Dump();
                        break;
                    }
                    case "verify_mismatch":
                    {
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        r["before"] = Standin.Dump();
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash, "My", 0));
                        Standin.standin_tamper(0x1);
                        try { HttpSys.Apply(changes); r["error"] = null; }
                        catch (HttpSysChangeFailed e) { r["error"] = Error(e); }
                        r["after"] = Standin.Dump();
                        break;
                    }
                    case "restore_snapshot":
                    {
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        r["before"] = Standin.Dump();
                        BindingKey a = BindingKey.Parse("ipport=0.0.0.0:443");
                        BindingKey c = BindingKey.Parse("hostnameport=new.contoso.com:443");
                        List<SslEntry> snapshot = HttpSys.Snapshot(new BindingKey[] { a, c });
                        r["snapshot"] = snapshot;
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change(a.Key, NewHash, "WebHosting", 0));
                        changes.Add(Change(c.Key, NewHash, "WebHosting", 65));
                        HttpSys.Apply(changes);
                        r["changed"] = Standin.Dump();
                        Standin.standin_reset();
                        foreach (object o in (List<object>)((Dictionary<string, object>)r["changed"])["records"])
                        {
                            Dictionary<string, object> rec = (Dictionary<string, object>)o;
                            Standin.Seed((uint)(long)rec["config"], (string)rec["ip"], (int)(long)rec["port"], (string)rec["host"],
                                (string)rec["hash"], (string)rec["store"], (string)rec["app_id"], (uint)(long)rec["check_mode"],
                                (uint)(long)rec["freshness"], (uint)(long)rec["url_timeout"], (string)rec["ctl_id"],
                                (string)rec["ctl_store"], (uint)(long)rec["flags"]);
                        }
                        HttpSys.Restore(snapshot);
                        r["after"] = Standin.Dump();
                        Standin.standin_reset();
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        HttpSys.Restore(snapshot);
                        r["again"] = Standin.Dump();
                        break;
                    }
                    case "ccs_refused":
                    {
                        Standin.Seed(6, null, 443, null, null, null, HttpSys.IisAppId, 0, 0, 0, null, null, 0);
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash, "My", 0));
                        changes.Add(Change("ccs=443", NewHash, "My", 2));
                        try { HttpSys.Apply(changes); r["error"] = null; }
                        catch (ArgumentException e) { r["error"] = Error(e); }
                        break;
                    }
                    case "fallback":
                    {
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        Standin.Seed(5, null, 443, "a.contoso.com", HashB, "MY", HttpSys.IisAppId, 0, 0, 0, null, null, 0x10);
                        r["before"] = Standin.Dump();
                        List<EntryChange> changes = new List<EntryChange>();
                        changes.Add(Change("ipport=0.0.0.0:443", NewHash, "WebHosting", 0));
                        r["snapshot"] = HttpSys.Apply(changes);
                        r["after"] = Standin.Dump();
                        Standin.standin_reset();
                        Standin.Seed(1, "0.0.0.0", 443, null, HashA, null, Foreign, 1, 3600, 5000, "CtlOne", "Root", 0x402);
                        Standin.Seed(5, null, 443, "a.contoso.com", HashB, "MY", HttpSys.IisAppId, 0, 0, 0, null, null, 0x10);
                        changes.Add(Change("hostnameport=a.contoso.com:443", NewHash, "My", 1));
                        Standin.standin_fail_call("HttpSetServiceConfiguration", 2, 1312);
                        try { HttpSys.Apply(changes); r["error"] = null; }
                        catch (HttpSysChangeFailed e) { r["error"] = Error(e); }
                        r["failed_after"] = Standin.Dump();
                        break;
                    }
                    default:
                        throw new ArgumentException("unknown scenario " + scenario);
                }
            }
            catch (Exception e)
            {
                r["unexpected"] = Json.D("type", e.GetType().FullName, "message", e.Message, "stack", e.ToString());
            }
            r["dump"] = Standin.Dump();
            r["initialized"] = Standin.standin_initialized();
            return r;
        }

        private static int Main(string[] args)
        {
            string vectors = args[0];
            for (int i = 1; i < args.Length; i++)
            {
                object result = Run(args[i], vectors);
                Dictionary<string, object> d = result as Dictionary<string, object>;
                if (d != null && !d.ContainsKey("scenario")) d["scenario"] = args[i];
                Console.WriteLine(Json.Write(result));
            }
            return 0;
        }
    }
}
