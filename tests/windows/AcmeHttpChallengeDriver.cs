// Test driver for plugins/module_utils/_AcmeHttpChallenge.cs under Mono (tests/windows/test_acme_http_challenge.py).
//
// Reads one request per line on stdin and writes one answer line per request on stdout. Every field is base64
// of UTF-8 text, "!" for null; fields are separated by tabs. The first field is the command.
//
//   challenge name token key_authorization present(1|0)      -> problem|"!", message|"!"
//   sites port name (site state protocol information)*        -> sites joined by \n, stopped joined by \n
//   extensionless text                                        -> "1" | "0"
//   rewrite text url_path host port                           -> rule|"!", why|"!"
//   record created-joined-by-\n                               -> web.config text, OurRecord of it joined by \n
//   ourrecord text                                            -> OurRecord joined by \n | "!"
//   plan mode wk cd web_config others_cd others_wk (token content|"!" wanted|"!")*
//                                                             -> web_config status, problem|"!", ExistingPaths,
//                                                                PathsAfter (joined by \n), then per step
//                                                                action, path, content|"!", previous|"!"
//   run root mode rollback(1|0|revert) (token key_authorization|"!")*  ReadFolder + plan + Apply on the real disk
//                                                                ("revert": Apply, then Revert)
//                                                             -> web_config status, problem|"!", "ok" | failure
//                                                                message, rolled back(1|0), then step actions/paths
//   message kind args...                                      -> the message text

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using ansible_collections.mfa_server.tls.plugins.module_utils._AcmeHttpChallenge;

public static class AcmeHttpChallengeDriver
{
    static string Decode(string field)
    {
        if (field == "!") return null;
        return Encoding.UTF8.GetString(Convert.FromBase64String(field));
    }

    static string Encode(string text)
    {
        if (text == null) return "!";
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
    }

    static string Join(IEnumerable<string> items)
    {
        return string.Join("\n", new List<string>(items).ToArray());
    }

    static string[] Split(string text)
    {
        if (string.IsNullOrEmpty(text)) return new string[0];
        return text.Split('\n');
    }

    static int Number(string text)
    {
        return int.Parse(text, CultureInfo.InvariantCulture);
    }

    static List<string> Answer(string[] f)
    {
        List<string> output = new List<string>();
        string command = f[0];
        if (command == "challenge")
        {
            string problem = AcmeHttp.ChallengeProblem(f[1], f[2], f[3], f[4] == "1");
            output.Add(problem);
            output.Add(problem == null ? null : AcmeHttp.ChallengeMessage(problem, f[1], f[2]));
        }
        else if (command == "sites")
        {
            List<HttpBinding> bindings = new List<HttpBinding>();
            for (int i = 3; i + 3 < f.Length; i += 4) bindings.Add(new HttpBinding(f[i], f[i + 1], f[i + 2], f[i + 3]));
            SiteChoice choice = AcmeHttp.SitesFor(bindings.ToArray(), f[2], Number(f[1]));
            output.Add(Join(choice.Sites));
            output.Add(Join(choice.Stopped));
            output.Add(choice.Sites.Count == 0 ? AcmeHttp.NoSiteMessage(f[2], Number(f[1]), choice, bindings.ToArray()) : null);
        }
        else if (command == "extensionless")
        {
            output.Add(AcmeHttp.ServesExtensionless(f[1]) ? "1" : "0");
        }
        else if (command == "rewrite")
        {
            Capture capture = AcmeHttp.CapturingRule(f[1], f[2], f[3], Number(f[4]));
            output.Add(capture == null ? null : capture.Rule);
            output.Add(capture == null ? null : capture.Why);
            output.Add(capture == null ? null : AcmeHttp.CaptureMessage(capture, "Site", "C:\\site\\web.config"));
        }
        else if (command == "record")
        {
            string text = AcmeHttp.WebConfigText(Split(f[1]));
            output.Add(text);
            output.Add(Join(AcmeHttp.OurRecord(text)));
        }
        else if (command == "ourrecord")
        {
            string[] record = AcmeHttp.OurRecord(f[1]);
            output.Add(record == null ? null : Join(record));
        }
        else if (command == "plan")
        {
            FolderState state = new FolderState();
            state.WellKnown = f[2] == "1";
            state.ChallengeDir = f[3] == "1";
            state.WebConfig = f[4];
            state.OthersInChallengeDir = Number(f[5]);
            state.OthersInWellKnown = Number(f[6]);
            Dictionary<string, string> wanted = new Dictionary<string, string>(StringComparer.Ordinal);
            List<string> names = new List<string>();
            for (int i = 7; i + 2 < f.Length; i += 3)
            {
                state.Tokens[f[i]] = f[i + 1];
                if (f[i + 2] != null) wanted[f[i]] = f[i + 2];
                names.Add(f[i]);
            }
            Plan plan = f[1] == "present" ? AcmeHttp.PlanPresent(state, wanted) : AcmeHttp.PlanAbsent(state, names.ToArray());
            List<string> existing = AcmeHttp.ExistingPaths(state);
            output.Add(plan.WebConfig);
            output.Add(plan.Problem);
            output.Add(Join(existing));
            output.Add(Join(AcmeHttp.PathsAfter(existing, plan)));
            foreach (Step step in plan.Steps)
            {
                output.Add(step.Action);
                output.Add(step.Path);
                output.Add(step.Content);
                output.Add(step.Previous);
            }
        }
        else if (command == "run")
        {
            string root = f[1];
            bool present = f[2] == "present";
            Dictionary<string, string> wanted = new Dictionary<string, string>(StringComparer.Ordinal);
            List<string> names = new List<string>();
            for (int i = 4; i + 1 < f.Length; i += 2)
            {
                names.Add(f[i]);
                if (f[i + 1] != null) wanted[f[i]] = f[i + 1];
            }
            FolderState state = AcmeHttp.ReadFolder(root, names.ToArray());
            Plan plan = present ? AcmeHttp.PlanPresent(state, wanted) : AcmeHttp.PlanAbsent(state, names.ToArray());
            output.Add(plan.WebConfig);
            output.Add(plan.Problem);
            if (plan.Problem != null)
            {
                output.Add("refused");
                output.Add("0");
            }
            else
            {
                try
                {
                    AcmeHttp.Apply(root, plan, f[3] == "1");
                    if (f[3] == "revert") output.Add(AcmeHttp.Revert(root, plan) ? "reverted" : "revert failed");
                    else output.Add("ok");
                    output.Add("0");
                }
                catch (AcmeHttpApplyFailed failure)
                {
                    output.Add(failure.Message);
                    output.Add(failure.RolledBack ? "1" : "0");
                }
            }
            foreach (Step step in plan.Steps)
            {
                output.Add(step.Action);
                output.Add(step.Path);
            }
        }
        else if (command == "message")
        {
            if (f[1] == "foreign") output.Add(AcmeHttp.ForeignWebConfigMessage(f[2]));
            else if (f[1] == "locked") output.Add(AcmeHttp.LockedMessage(f[2], f[3]));
            else throw new ArgumentException("unknown message " + f[1]);
        }
        else
        {
            throw new ArgumentException("unknown command " + command);
        }
        return output;
    }

    public static int Main()
    {
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            if (line.Length == 0) continue;
            string[] raw = line.Split('\t');
            string[] fields = new string[raw.Length];
            for (int i = 0; i < raw.Length; i++) fields[i] = i == 0 ? raw[0] : Decode(raw[i]);
            List<string> answer = Answer(fields);
            List<string> encoded = answer.ConvertAll(Encode);
            Console.Out.WriteLine(string.Join("\t", encoded.ToArray()));
        }
        return 0;
    }
}
