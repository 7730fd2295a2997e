// Copyright: (c) 2026, mfa_server.tls maintainers
// GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

// This module_util is for internal use only. It is not intended to be used by collections outside of
// mfa_server.tls.

// ACME HTTP-01 through IIS: the rules and the file work of mfa_server.tls.acme_http_challenge. Modules load it
// with this line (at the start of a line):
// "#AnsibleRequires -CSharpUtil ansible_collections.mfa_server.tls.plugins.module_utils._AcmeHttpChallenge"
// It is written in C# 5 for the .NET Framework 4.5 API (Windows PowerShell 5.1's compiler) and needs
// System.Xml.dll besides what Add-CSharpType references by default.
//
// The same rules exist in Python (plugins/module_utils/acme_http.py, which the lab's emulation uses); both are
// checked against tests/vectors/acme_http_rules.json, and tests/windows runs this file under Mono, file work
// included. What each rule models and its source: docs/windows-model.md section 12.
//
// - SitesFor: which started sites IIS routes http://<name>:<port>/ to (exact host, else blank host; an address
//   binding wins over * at the same rank), for a connection to any address of the host.
// - CapturingRule: the URL Rewrite rule of a site root web.config that would take the challenge path away.
// - WebConfigText / OurRecord / ServesExtensionless: the web.config written next to the tokens (what win-acme's
//   Web_Config.xml does, with text/plain, only the StaticFile handler) and how a foreign one is judged.
// - PlanPresent / PlanAbsent / ReadFolder / Apply: what a run writes or removes under one site physical path,
//   and the writes undone again when one fails.

//AssemblyReference -Name System.Xml.dll -CLR Framework

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;

//TypeAccelerator -Name MfaServerTls.AcmeHttp -TypeName AcmeHttp
//TypeAccelerator -Name MfaServerTls.AcmeHttpBinding -TypeName HttpBinding
//TypeAccelerator -Name MfaServerTls.AcmeHttpFailed -TypeName AcmeHttpApplyFailed

namespace ansible_collections.mfa_server.tls.plugins.module_utils._AcmeHttpChallenge
{
    public sealed class HttpBinding
    {
        public string Site = "";
        public string State = "";
        public string Protocol = "";
        public string BindingInformation = "";

        public HttpBinding() { }

        public HttpBinding(string site, string state, string protocol, string bindingInformation)
        {
            Site = site ?? "";
            State = state ?? "";
            Protocol = protocol ?? "";
            BindingInformation = bindingInformation ?? "";
        }
    }

    public sealed class SiteChoice
    {
        public List<string> Sites = new List<string>();
        public List<string> Stopped = new List<string>();
    }

    public sealed class Capture
    {
        public string Rule = "";
        public string Why = "";

        public Capture(string rule, string why)
        {
            Rule = rule;
            Why = why;
        }
    }

    public sealed class FolderState
    {
        public bool WellKnown;
        public bool ChallengeDir;
        public string WebConfig;  // null when absent
        public Dictionary<string, string> Tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        public int OthersInChallengeDir;
        public int OthersInWellKnown;
    }

    public sealed class Step
    {
        public string Action;    // mkdir | write | delete | rmdir
        public string Path;      // relative to the site physical path, "/" separated
        public string Content;   // write
        public string Previous;  // write: what the file held before, null when it did not exist

        public Step(string action, string path, string content, string previous)
        {
            Action = action;
            Path = path;
            Content = content;
            Previous = previous;
        }
    }

    public sealed class Plan
    {
        public List<Step> Steps = new List<Step>();
        public string WebConfig = "";  // created | ours | foreign | removed | kept | none
        public string Problem;         // null, or "foreign_web_config"
    }

    // A step of Apply failed. Done: the steps that had succeeded before it; RolledBack: whether every one of
    // them was undone again (a present run only).
    public sealed class AcmeHttpApplyFailed : Exception
    {
        public List<Step> Done;
        public bool RolledBack;
        public string FailedPath;

        public AcmeHttpApplyFailed(string message, string failedPath, List<Step> done, bool rolledBack, Exception inner)
            : base(message, inner)
        {
            FailedPath = failedPath;
            Done = done;
            RolledBack = rolledBack;
        }
    }

    public static class AcmeHttp
    {
        public const string WellKnown = ".well-known";
        public const string ChallengeDir = ".well-known/acme-challenge";
        public const string WebConfigPath = ".well-known/acme-challenge/web.config";
        public const string Marker = "mfa_server.tls.acme_http_challenge";
        public static readonly string[] WebConfigSections = new string[] {
            "system.webServer/httpRedirect",
            "system.webServer/staticContent",
            "system.webServer/handlers",
            "system.web/authorization",
        };

        static readonly Regex NamePattern = new Regex(
            @"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        static readonly Regex Base64Url = new Regex(@"^[A-Za-z0-9_-]+$", RegexOptions.CultureInvariant);
        static readonly Regex Binding = new Regex(@"^(\[[^\]]*\]|[^\[\]]*?):([^:]*):([^:]*)$", RegexOptions.CultureInvariant);
        static readonly Regex Variable = new Regex(@"\{([^{}]*)\}", RegexOptions.CultureInvariant);

        const string Template =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" +
            "<!-- {0}: serves the ACME HTTP-01 tokens of this folder; state=absent removes it. created={1} -->\n" +
            "<configuration>\n" +
            "  <system.webServer>\n" +
            "    <httpRedirect enabled=\"false\" />\n" +
            "    <staticContent>\n" +
            "      <clear />\n" +
            "      <mimeMap fileExtension=\".\" mimeType=\"text/plain\" />\n" +
            "    </staticContent>\n" +
            "    <handlers>\n" +
            "      <clear />\n" +
            "      <add name=\"StaticFile\" path=\"*\" verb=\"*\" modules=\"StaticFileModule\" resourceType=\"File\" requireAccess=\"Read\" />\n" +
            "    </handlers>\n" +
            "  </system.webServer>\n" +
            "  <system.web>\n" +
            "    <authorization>\n" +
            "      <allow users=\"*\" />\n" +
            "    </authorization>\n" +
            "  </system.web>\n" +
            "</configuration>\n";

        // ---- challenges

        // "wildcard", "name", "token", "key_authorization" or null (RFC 8555 7.1.3, 8.1, 8.3).
        public static string ChallengeProblem(string name, string token, string keyAuthorization, bool present)
        {
            name = name ?? "";
            if (name.StartsWith("*.", StringComparison.Ordinal)) return "wildcard";
            if (!NamePattern.IsMatch(name)) return "name";
            if (string.IsNullOrEmpty(token) || token.Length > 255 || !Base64Url.IsMatch(token)) return "token";
            if (present)
            {
                string text = keyAuthorization ?? "";
                int dot = text.IndexOf('.');
                string prefix = dot < 0 ? text : text.Substring(0, dot);
                string thumbprint = dot < 0 ? "" : text.Substring(dot + 1);
                if (prefix != token || !Base64Url.IsMatch(thumbprint)) return "key_authorization";
            }
            return null;
        }

        public static string UrlFor(string name, string token, int port)
        {
            string authority = port == 80 ? name : name + ":" + port.ToString(CultureInfo.InvariantCulture);
            return "http://" + authority + "/" + ChallengeDir + "/" + token;
        }

        // ---- which site answers

        sealed class Parsed
        {
            public HttpBinding Binding;
            public string Ip;
            public string Host;
        }

        // (ip, port, host) as IIS writes bindingInformation; false when it does not parse (unbracketed IPv6 ...).
        public static bool TryParseBinding(string info, out string ip, out int port, out string host)
        {
            ip = "";
            port = 0;
            host = "";
            string text = info ?? "";
            int colons = text.Length - text.Replace(":", "").Length;
            if (colons > 2 && !text.StartsWith("[", StringComparison.Ordinal)) return false;
            Match match = Binding.Match(text);
            if (!match.Success) return false;
            string portText = match.Groups[2].Value;
            if (portText.Length == 0 || portText.Length > 5) return false;
            foreach (char c in portText)
            {
                if (c < '0' || c > '9') return false;
            }
            port = int.Parse(portText, CultureInfo.InvariantCulture);
            if (port < 1 || port > 65535) return false;
            string address = match.Groups[1].Value;
            if (address.StartsWith("[", StringComparison.Ordinal)) address = address.Substring(1, address.Length - 2);
            if (address == "" || address == "*")
            {
                ip = "*";
            }
            else
            {
                IPAddress parsed;
                if (!IPAddress.TryParse(address, out parsed)) return false;
                ip = parsed.ToString();
            }
            host = match.Groups[3].Value;
            return true;
        }

        static HttpBinding Route(List<Parsed> bindings, string name, string address)
        {
            HttpBinding best = null;
            int bestRank = -1;
            foreach (Parsed row in bindings)
            {
                if ((row.Ip != "*" && row.Ip != address) || (row.Host.Length > 0 && row.Host.ToLowerInvariant() != name)) continue;
                int rank = (row.Host.Length > 0 ? 2 : 0) + (row.Ip != "*" ? 1 : 0);
                if (rank > bestRank)
                {
                    best = row.Binding;
                    bestRank = rank;
                }
            }
            return best;
        }

        public static SiteChoice SitesFor(HttpBinding[] bindings, string name, int port)
        {
            name = (name ?? "").ToLowerInvariant();
            List<Parsed> parsed = new List<Parsed>();
            foreach (HttpBinding binding in bindings ?? new HttpBinding[0])
            {
                if (binding == null || !string.Equals(binding.Protocol, "http", StringComparison.OrdinalIgnoreCase)) continue;
                string ip, host;
                int bindingPort;
                if (!TryParseBinding(binding.BindingInformation, out ip, out bindingPort, out host)) continue;
                if (bindingPort == port) parsed.Add(new Parsed { Binding = binding, Ip = ip, Host = host });
            }
            List<Parsed> started = parsed.FindAll(delegate(Parsed row) { return string.Equals(row.Binding.State, "Started", StringComparison.OrdinalIgnoreCase); });
            SortedSet<string> specific = new SortedSet<string>(StringComparer.Ordinal);
            foreach (Parsed row in parsed)
            {
                if (row.Ip != "*") specific.Add(row.Ip);
            }
            List<string> addresses = new List<string> { "*" };
            addresses.AddRange(specific);
            SiteChoice choice = new SiteChoice();
            foreach (string address in addresses)
            {
                HttpBinding chosen = Route(started, name, address);
                if (chosen != null && !choice.Sites.Contains(chosen.Site)) choice.Sites.Add(chosen.Site);
            }
            foreach (Parsed row in parsed)
            {
                bool answers = row.Host.Length == 0 || row.Host.ToLowerInvariant() == name;
                bool isStarted = string.Equals(row.Binding.State, "Started", StringComparison.OrdinalIgnoreCase);
                if (answers && !isStarted && !choice.Stopped.Contains(row.Binding.Site)) choice.Stopped.Add(row.Binding.Site);
            }
            return choice;
        }

        // ---- web.config

        public static string WebConfigText(string[] created)
        {
            List<string> names = new List<string>();
            foreach (string name in new string[] { ".well-known", "acme-challenge" })
            {
                if (Array.IndexOf(created ?? new string[0], name) >= 0) names.Add(name);
            }
            return string.Format(CultureInfo.InvariantCulture, Template, Marker, string.Join(",", names.ToArray()));
        }

        // The folders our web.config says its run created; null when the text is not exactly one of ours.
        public static string[] OurRecord(string text)
        {
            if (text == null) return null;
            text = text.TrimStart('\uFEFF').Replace("\r\n", "\n");
            string[][] variants = new string[][] {
                new string[0],
                new string[] { "acme-challenge" },
                new string[] { ".well-known", "acme-challenge" },
            };
            foreach (string[] created in variants)
            {
                if (text == WebConfigText(created)) return created;
            }
            return null;
        }

        static XmlElement ParseXml(string text)
        {
            try
            {
                XmlReaderSettings settings = new XmlReaderSettings();
                settings.DtdProcessing = DtdProcessing.Prohibit;
                settings.XmlResolver = null;
                XmlDocument document = new XmlDocument();
                document.XmlResolver = null;
                using (XmlReader reader = XmlReader.Create(new StringReader((text ?? "").TrimStart('\uFEFF')), settings))
                {
                    document.Load(reader);
                }
                return document.DocumentElement;
            }
            catch (XmlException)
            {
                return null;
            }
        }

        static string Attribute(XmlElement element, string name, string fallback)
        {
            foreach (XmlAttribute attribute in element.Attributes)
            {
                if (string.Equals(attribute.Name, name, StringComparison.OrdinalIgnoreCase)) return attribute.Value;
            }
            return fallback;
        }

        static List<XmlElement> Children(XmlElement element, params string[] path)
        {
            List<XmlElement> found = new List<XmlElement>();
            if (element != null) found.Add(element);
            foreach (string step in path)
            {
                List<XmlElement> next = new List<XmlElement>();
                foreach (XmlElement parent in found)
                {
                    foreach (XmlNode child in parent.ChildNodes)
                    {
                        XmlElement childElement = child as XmlElement;
                        if (childElement != null && childElement.Name == step) next.Add(childElement);
                    }
                }
                found = next;
            }
            return found;
        }

        static List<XmlElement> Elements(XmlElement parent)
        {
            List<XmlElement> items = new List<XmlElement>();
            foreach (XmlNode child in parent.ChildNodes)
            {
                XmlElement element = child as XmlElement;
                if (element != null) items.Add(element);
            }
            return items;
        }

        // Whether a web.config maps the "." extension (files without one) in its staticContent section.
        public static bool ServesExtensionless(string text)
        {
            XmlElement root = ParseXml(text);
            HashSet<string> mapped = new HashSet<string>(StringComparer.Ordinal);
            foreach (XmlElement section in Children(root, "system.webServer", "staticContent"))
            {
                foreach (XmlElement item in Elements(section))
                {
                    string extension = Attribute(item, "fileExtension", "").ToLowerInvariant();
                    if (item.Name == "clear") mapped.Clear();
                    else if (item.Name == "remove") mapped.Remove(extension);
                    else if (item.Name == "mimeMap") mapped.Add(extension);
                }
            }
            return mapped.Contains(".");
        }

        // ---- URL Rewrite

        static Match PatternMatch(string pattern, string value, string syntax, bool ignoreCase)
        {
            syntax = (syntax ?? "").ToLowerInvariant();
            if (syntax == "exactmatch")
            {
                bool same = ignoreCase ? string.Equals(value, pattern, StringComparison.OrdinalIgnoreCase) : value == pattern;
                return same ? Regex.Match(value, "^.*$", RegexOptions.Singleline) : null;
            }
            try
            {
                if (syntax == "wildcard")
                {
                    StringBuilder regex = new StringBuilder("^");
                    foreach (char c in pattern ?? "")
                    {
                        if (c == '*') regex.Append("(.*)");
                        else if (c == '?') regex.Append('.');
                        else regex.Append(Regex.Escape(c.ToString()));
                    }
                    regex.Append('$');
                    RegexOptions wild = RegexOptions.Singleline | RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None);
                    Match wildMatch = Regex.Match(value, regex.ToString(), wild);
                    return wildMatch.Success ? wildMatch : null;
                }
                RegexOptions options = RegexOptions.ECMAScript | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None);
                Match match = Regex.Match(value, pattern ?? "", options);
                return match.Success ? match : null;
            }
            catch (ArgumentException)
            {
                return null;
            }
        }

        static Dictionary<string, string> Variables(string urlPath, string host, int port)
        {
            string path = "/" + urlPath;
            string portText = port.ToString(CultureInfo.InvariantCulture);
            Dictionary<string, string> values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            values["HTTPS"] = "off";
            values["SERVER_PORT"] = portText;
            values["SERVER_PORT_SECURE"] = "0";
            values["HTTP_HOST"] = port == 80 ? host : host + ":" + portText;
            values["SERVER_NAME"] = host;
            values["REQUEST_URI"] = path;
            values["URL"] = path;
            values["PATH_INFO"] = path;
            values["SCRIPT_NAME"] = path;
            values["QUERY_STRING"] = "";
            values["REQUEST_METHOD"] = "GET";
            return values;
        }

        // A condition input with its {VARIABLE} and {R:n} references filled in; null when one is unknown.
        static string Expand(string text, Dictionary<string, string> variables, Match match)
        {
            bool unknown = false;
            string expanded = Variable.Replace(text ?? "", delegate(Match reference)
            {
                string name = reference.Groups[1].Value.Trim();
                int index;
                if (name.Length > 2 && name.Substring(0, 2).ToUpperInvariant() == "R:" &&
                    int.TryParse(name.Substring(2), NumberStyles.None, CultureInfo.InvariantCulture, out index) &&
                    index < match.Groups.Count)
                {
                    return match.Groups[index].Value;
                }
                string value;
                if (variables.TryGetValue(name, out value)) return value;
                unknown = true;
                return "";
            });
            return unknown ? null : expanded;
        }

        // "true", "false", or "?" + the input when it cannot be evaluated here.
        static string Condition(XmlElement item, string syntax, Dictionary<string, string> variables, Match match)
        {
            string text = Attribute(item, "input", "");
            string kind = Attribute(item, "matchType", "Pattern").ToLowerInvariant();
            bool negate = Attribute(item, "negate", "false").ToLowerInvariant() == "true";
            bool result;
            if (kind == "isfile" || kind == "isdirectory")
            {
                string input = text.Trim().ToUpperInvariant();
                if (input != "" && input != "{REQUEST_FILENAME}") return "?" + text;
                result = kind == "isfile";  // the token file exists when the CA asks for it
            }
            else
            {
                string value = Expand(text, variables, match);
                if (value == null) return "?" + text;
                bool ignoreCase = Attribute(item, "ignoreCase", "true").ToLowerInvariant() != "false";
                result = PatternMatch(Attribute(item, "pattern", ""), value, syntax, ignoreCase) != null;
            }
            return result != negate ? "true" : "false";
        }

        static string Conditions(XmlElement rule, string syntax, Dictionary<string, string> variables, Match match)
        {
            List<XmlElement> groups = Children(rule, "conditions");
            if (groups.Count == 0) return "true";
            bool anyOf = Attribute(groups[0], "logicalGrouping", "MatchAll").ToLowerInvariant() == "matchany";
            List<string> results = new List<string>();
            foreach (XmlElement item in Children(groups[0], "add")) results.Add(Condition(item, syntax, variables, match));
            string unknown = results.Find(delegate(string r) { return r.StartsWith("?", StringComparison.Ordinal); });
            if (anyOf)
            {
                if (results.Contains("true")) return "true";
                if (unknown != null) return unknown;
                return results.Count == 0 ? "true" : "false";
            }
            if (results.Contains("false")) return "false";
            return unknown ?? "true";
        }

        // The URL Rewrite rule of a site root web.config that would capture urlPath (relative to the site root,
        // no leading slash), or null.
        public static Capture CapturingRule(string text, string urlPath, string host, int port)
        {
            if (text == null) return null;
            XmlElement root = ParseXml(text);
            if (root == null) return new Capture("", "malformed");
            Dictionary<string, string> variables = Variables(urlPath, (host ?? "").ToLowerInvariant(), port);
            foreach (XmlElement rule in Children(root, "system.webServer", "rewrite", "rules", "rule"))
            {
                if (Attribute(rule, "enabled", "true").ToLowerInvariant() == "false") continue;
                string syntax = Attribute(rule, "patternSyntax", "ECMAScript");
                List<XmlElement> matches = Children(rule, "match");
                if (matches.Count == 0) continue;
                bool ignoreCase = Attribute(matches[0], "ignoreCase", "true").ToLowerInvariant() != "false";
                bool negate = Attribute(matches[0], "negate", "false").ToLowerInvariant() == "true";
                Match match = PatternMatch(Attribute(matches[0], "url", ""), urlPath, syntax, ignoreCase);
                if ((match != null) == negate) continue;
                if (match == null) match = Regex.Match("", "");
                string held = Conditions(rule, syntax, variables, match);
                if (held == "false") continue;
                List<XmlElement> actions = Children(rule, "action");
                string action = actions.Count > 0 ? Attribute(actions[0], "type", "None").ToLowerInvariant() : "none";
                bool stop = Attribute(rule, "stopProcessing", "false").ToLowerInvariant() == "true";
                string name = Attribute(rule, "name", "");
                if (action == "none")
                {
                    if (held == "true" && stop) return null;  // an exclusion, as win-acme documents
                    continue;
                }
                return new Capture(name, held == "true" ? "match" : "unknown:" + held.Substring(1));
            }
            return null;
        }

        // ---- plans

        public static Plan PlanPresent(FolderState state, Dictionary<string, string> tokens)
        {
            Plan plan = new Plan();
            List<string> created = new List<string>();
            if (!state.WellKnown)
            {
                plan.Steps.Add(new Step("mkdir", WellKnown, null, null));
                created.Add(".well-known");
            }
            if (!state.ChallengeDir)
            {
                plan.Steps.Add(new Step("mkdir", ChallengeDir, null, null));
                created.Add("acme-challenge");
            }
            if (state.WebConfig == null)
            {
                plan.Steps.Add(new Step("write", WebConfigPath, WebConfigText(created.ToArray()), null));
                plan.WebConfig = "created";
            }
            else if (OurRecord(state.WebConfig) != null)
            {
                plan.WebConfig = "ours";
            }
            else if (ServesExtensionless(state.WebConfig))
            {
                plan.WebConfig = "foreign";
            }
            else
            {
                Plan refused = new Plan();
                refused.WebConfig = "foreign";
                refused.Problem = "foreign_web_config";
                return refused;
            }
            List<string> names = new List<string>(tokens.Keys);
            names.Sort(StringComparer.Ordinal);
            foreach (string token in names)
            {
                string previous;
                state.Tokens.TryGetValue(token, out previous);
                if (previous != tokens[token]) plan.Steps.Add(new Step("write", ChallengeDir + "/" + token, tokens[token], previous));
            }
            return plan;
        }

        public static Plan PlanAbsent(FolderState state, string[] tokens)
        {
            Plan plan = new Plan();
            SortedSet<string> names = new SortedSet<string>(tokens ?? new string[0], StringComparer.Ordinal);
            foreach (string token in names)
            {
                string content;
                if (state.Tokens.TryGetValue(token, out content) && content != null) plan.Steps.Add(new Step("delete", ChallengeDir + "/" + token, null, null));
            }
            string[] record = OurRecord(state.WebConfig);
            if (state.WebConfig == null) plan.WebConfig = "none";
            else if (record == null) plan.WebConfig = "foreign";
            else if (state.OthersInChallengeDir > 0) plan.WebConfig = "kept";
            else
            {
                plan.Steps.Add(new Step("delete", WebConfigPath, null, null));
                if (Array.IndexOf(record, "acme-challenge") >= 0)
                {
                    plan.Steps.Add(new Step("rmdir", ChallengeDir, null, null));
                    if (Array.IndexOf(record, ".well-known") >= 0 && state.OthersInWellKnown == 0) plan.Steps.Add(new Step("rmdir", WellKnown, null, null));
                }
                plan.WebConfig = "removed";
            }
            return plan;
        }

        // ---- the file system

        public static string Full(string root, string relative)
        {
            return Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
        }

        public static FolderState ReadFolder(string root, string[] tokens)
        {
            FolderState state = new FolderState();
            string wellKnown = Full(root, WellKnown);
            string folder = Full(root, ChallengeDir);
            state.WellKnown = Directory.Exists(wellKnown);
            state.ChallengeDir = Directory.Exists(folder);
            string webConfig = Full(root, WebConfigPath);
            state.WebConfig = File.Exists(webConfig) ? File.ReadAllText(webConfig) : null;
            HashSet<string> named = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "web.config" };
            foreach (string token in tokens ?? new string[0])
            {
                string path = Full(root, ChallengeDir + "/" + token);
                state.Tokens[token] = File.Exists(path) ? File.ReadAllText(path) : null;
                named.Add(token);
            }
            if (state.ChallengeDir)
            {
                foreach (string entry in Directory.GetFileSystemEntries(folder))
                {
                    if (!named.Contains(Path.GetFileName(entry))) state.OthersInChallengeDir++;
                }
            }
            if (state.WellKnown)
            {
                foreach (string entry in Directory.GetFileSystemEntries(wellKnown))
                {
                    if (!string.Equals(Path.GetFileName(entry), "acme-challenge", StringComparison.OrdinalIgnoreCase)) state.OthersInWellKnown++;
                }
            }
            return state;
        }

        static void Run(string root, Step step)
        {
            string path = Full(root, step.Path);
            if (step.Action == "mkdir") Directory.CreateDirectory(path);
            else if (step.Action == "write") File.WriteAllText(path, step.Content, new UTF8Encoding(false));
            else if (step.Action == "delete") File.Delete(path);
            else if (step.Action == "rmdir") Directory.Delete(path, false);
            else throw new ArgumentException("unknown step " + step.Action);
        }

        static void Undo(string root, Step step)
        {
            string path = Full(root, step.Path);
            if (step.Action == "mkdir") Directory.Delete(path, false);
            else if (step.Action == "write" && step.Previous == null) File.Delete(path);
            else if (step.Action == "write") File.WriteAllText(path, step.Previous, new UTF8Encoding(false));
        }

        // Runs the steps in order. When one fails and rollback is set, the steps done so far are undone in reverse
        // order (a present run changes nothing when it fails); the exception says what failed and whether the undo
        // was complete.
        public static void Apply(string root, Plan plan, bool rollback)
        {
            List<Step> done = new List<Step>();
            foreach (Step step in plan.Steps)
            {
                try
                {
                    Run(root, step);
                    done.Add(step);
                }
                catch (Exception error)
                {
                    if (!(error is IOException || error is UnauthorizedAccessException || error is System.Security.SecurityException)) throw;
                    bool undone = rollback;
                    if (rollback)
                    {
                        for (int i = done.Count - 1; i >= 0; i--)
                        {
                            try
                            {
                                Undo(root, done[i]);
                            }
                            catch (Exception undoError)
                            {
                                if (!(undoError is IOException || undoError is UnauthorizedAccessException)) throw;
                                undone = false;
                            }
                        }
                    }
                    string what = step.Action == "mkdir" ? "creating the folder" : step.Action == "write" ? "writing" : step.Action == "rmdir" ? "removing the folder" : "removing";
                    throw new AcmeHttpApplyFailed(what + " " + Full(root, step.Path) + " failed: " + error.Message, Full(root, step.Path), done, undone, error);
                }
            }
        }

        // Undoes every step of a plan that ran completely (a present run of an earlier folder, when a later one
        // fails); false when an undo failed.
        public static bool Revert(string root, Plan plan)
        {
            bool undone = true;
            for (int i = plan.Steps.Count - 1; i >= 0; i--)
            {
                try
                {
                    Undo(root, plan.Steps[i]);
                }
                catch (Exception error)
                {
                    if (!(error is IOException || error is UnauthorizedAccessException)) throw;
                    undone = false;
                }
            }
            return undone;
        }

        // The paths this module manages that exist (relative, "/" separated; folders end with "/").
        public static List<string> ExistingPaths(FolderState state)
        {
            List<string> paths = new List<string>();
            if (state.WellKnown) paths.Add(WellKnown + "/");
            if (state.ChallengeDir) paths.Add(ChallengeDir + "/");
            if (state.WebConfig != null) paths.Add(WebConfigPath);
            foreach (KeyValuePair<string, string> token in state.Tokens)
            {
                if (token.Value != null) paths.Add(ChallengeDir + "/" + token.Key);
            }
            paths.Sort(StringComparer.Ordinal);
            return paths;
        }

        // existing once the plan ran: the diff's after-state.
        public static List<string> PathsAfter(List<string> existing, Plan plan)
        {
            SortedSet<string> paths = new SortedSet<string>(existing, StringComparer.Ordinal);
            foreach (Step step in plan.Steps)
            {
                string path = step.Action == "mkdir" || step.Action == "rmdir" ? step.Path + "/" : step.Path;
                if (step.Action == "mkdir" || step.Action == "write") paths.Add(path);
                else paths.Remove(path);
            }
            return new List<string>(paths);
        }

        // ---- messages (plugins/module_utils/acme_http.py says the same)

        public static string ChallengeMessage(string problem, string name, string token)
        {
            if (problem == "wildcard")
                return "challenge name '" + name + "' is a wildcard: ACME validates wildcard names only with DNS-01 (RFC 8555 7.1.3), so nothing was changed. Order it with the dns-01 challenge.";
            if (problem == "name")
                return "challenge name '" + name + "' is not a DNS host name, so nothing was changed. Pass the identifier the ACME order returned.";
            if (problem == "token")
                return "challenge token '" + token + "' of '" + name + "' is not a base64url string (RFC 8555 8.3: letters, digits, '-' and '_'), so nothing was changed. Pass the last path segment of the challenge's resource.";
            return "key_authorization of '" + name + "' is not '<token>.<account key thumbprint>' for token '" + token + "' (RFC 8555 8.1), so nothing was changed. Pass the challenge's resource_value as community.crypto returns it.";
        }

        public static string NoSiteMessage(string name, int port, SiteChoice choice, HttpBinding[] bindings)
        {
            string portText = port.ToString(CultureInfo.InvariantCulture);
            if (choice.Stopped.Count > 0)
            {
                List<string> quoted = choice.Stopped.ConvertAll(delegate(string site) { return "'" + site + "'"; });
                return "no started IIS site answers http://" + name + ":" + portText + "/: the site(s) " + string.Join(", ", quoted.ToArray()) +
                    " with a binding for it are stopped, so nothing was changed. Start the site, or place the token on a host that serves the name.";
            }
            SortedSet<string> existing = new SortedSet<string>(StringComparer.Ordinal);
            foreach (HttpBinding binding in bindings ?? new HttpBinding[0])
            {
                if (binding != null && string.Equals(binding.Protocol, "http", StringComparison.OrdinalIgnoreCase)) existing.Add("'" + binding.BindingInformation + "' (" + binding.Site + ")");
            }
            string listed = existing.Count > 0 ? string.Join(", ", new List<string>(existing).ToArray()) : "none";
            return "no IIS site has an http binding that answers http://" + name + ":" + portText + "/ (one for host '" + name + "' or one with a blank host on port " + portText +
                "), so nothing was changed. The http bindings are: " + listed + ". Add a binding, e.g. '*:" + portText + ":" + name + "', or leave this host out for that name.";
        }

        public static string CaptureMessage(Capture capture, string site, string path)
        {
            string where = "the web.config at the root of site '" + site + "' (" + path + ")";
            if (capture.Why == "malformed")
                return where + " is not well-formed XML (IIS answers 500.19 for every request), so nothing was changed. Fix that file first.";
            string reason = capture.Why == "match" ? "matches" : "may match (its condition on '" + capture.Why.Substring(8) + "' cannot be evaluated here)";
            return "URL Rewrite rule '" + capture.Rule + "' in " + where + " " + reason + " /" + ChallengeDir + "/<token>, so the CA would not get the token; nothing was changed. " +
                "Add this rule before it, as win-acme documents: <rule name=\"ACME HTTP-01\" stopProcessing=\"true\"><match url=\"^\\.well-known/acme-challenge/\" /><action type=\"None\" /></rule>";
        }

        public static string ForeignWebConfigMessage(string path)
        {
            return path + " exists and was not written by this module, and it does not map the extension '.' (files without an extension, as ACME tokens are), so IIS would answer 404.3; nothing was changed. " +
                "Add <mimeMap fileExtension=\".\" mimeType=\"text/plain\" /> to its <staticContent>, or remove the file.";
        }

        public static string LockedMessage(string section, string site)
        {
            return "the IIS configuration section " + section + " is locked for /" + ChallengeDir + " of site '" + site + "' (overrideMode Deny), so the web.config this module writes there would make IIS answer 500.19; nothing was changed. " +
                "Unlock it with: appcmd unlock config \"" + site + "/" + ChallengeDir + "\" -section:" + section + " -commit:apphost";
        }
    }
}
