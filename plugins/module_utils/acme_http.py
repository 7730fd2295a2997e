# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ACME HTTP-01 through IIS: the rules of mfa_server.tls.acme_http_challenge, on the Python side.

The Windows module applies the same rules in C# (plugins/module_utils/_AcmeHttpChallenge.cs, `AcmeHttp`); both
are checked against one set of vectors (tests/vectors/acme_http_rules.json). The lab's emulation of the module
uses this file. Sources: docs/windows-model.md section 12, field notes section 8.

- Which site answers `http://<name>:<port>/...`: IIS routes by the Host header among the started sites' http
  bindings on the port: the binding with exactly that host, else the one with a blank host; a binding for the
  connection's own address wins over `*` at the same rank. A name can reach several sites (one per address),
  and the token goes to each.
- What is written, per site physical path: `.well-known\\acme-challenge\\<token>` holding the key authorization,
  and a `web.config` there that serves extensionless files (mimeMap "." after `<clear/>`), turns the HTTP
  Redirection module off, keeps only the StaticFile handler and allows every user, as win-acme's
  `Web_Config.xml` does. The web.config names what the run created (`created=`), so that `absent` removes the
  folders only when it made them, and the web.config only when it wrote it and nothing else is left beside it.
- URL Rewrite: a distributed rule in the site root's web.config whose pattern matches
  `.well-known/acme-challenge/<token>` (and whose conditions hold, or cannot be told) captures the request,
  unless an earlier rule with action None and stopProcessing excludes it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ansible_collections.mfa_server.tls.plugins.module_utils.iis_bindings import (
    BindingError,
    parse_binding_information,
)

WELL_KNOWN = ".well-known"
CHALLENGE_DIR = ".well-known/acme-challenge"
WEB_CONFIG = ".well-known/acme-challenge/web.config"
MARKER = "mfa_server.tls.acme_http_challenge"
# What our web.config sets: each must be open to a web.config at that path (not locked by overrideMode Deny),
# or IIS answers 500.19 for the folder.
WEB_CONFIG_SECTIONS = (
    "system.webServer/httpRedirect",
    "system.webServer/staticContent",
    "system.webServer/handlers",
    "system.web/authorization",
)
# The folders a run may create, in creation order, as the web.config's `created=` names them.
CREATED_NAMES = (".well-known", "acme-challenge")

_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$", re.I
)
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_VARIABLE = re.compile(r"\{([^{}]*)\}")

_WEB_CONFIG_TEMPLATE = """<?xml version="1.0" encoding="utf-8"?>
<!-- {marker}: serves the ACME HTTP-01 tokens of this folder; state=absent removes it. created={created} -->
<configuration>
  <system.webServer>
    <httpRedirect enabled="false" />
    <staticContent>
      <clear />
      <mimeMap fileExtension="." mimeType="text/plain" />
    </staticContent>
    <handlers>
      <clear />
      <add name="StaticFile" path="*" verb="*" modules="StaticFileModule" resourceType="File" requireAccess="Read" />
    </handlers>
  </system.webServer>
  <system.web>
    <authorization>
      <allow users="*" />
    </authorization>
  </system.web>
</configuration>
"""


def challenge_problem(name: str, token: str, key_authorization: str | None, present: bool) -> str | None:
    """Why a challenge cannot be used ('name', 'wildcard', 'token', 'key_authorization'), or None.

    RFC 8555 8.3: the token is base64url (it becomes a file name, so nothing else may pass), and the key
    authorization is `token '.' base64url(JWK thumbprint)` (8.1). A wildcard name needs DNS-01 (7.1.3)."""
    if name.startswith("*."):
        return "wildcard"
    if not _NAME.match(name or ""):
        return "name"
    if not token or len(token) > 255 or not _BASE64URL.match(token):
        return "token"
    if present:
        prefix, _dot, thumbprint = (key_authorization or "").partition(".")
        if prefix != token or not _BASE64URL.match(thumbprint):
            return "key_authorization"
    return None


def url_for(name: str, token: str, port: int) -> str:
    authority = name if port == 80 else f"{name}:{port}"
    return f"http://{authority}/{CHALLENGE_DIR}/{token}"


@dataclass(frozen=True)
class HttpBinding:
    site: str
    state: str  # Started | Stopped | ...
    protocol: str
    binding_information: str


@dataclass(frozen=True)
class SiteChoice:
    sites: list[str]  # started sites that answer the name, in order of the addresses tried
    stopped: list[str]  # stopped sites with a binding that would answer it


def _route(bindings: list[tuple[HttpBinding, str, str]], name: str, address: str) -> HttpBinding | None:
    best, best_rank = None, -1
    for binding, ip, host in bindings:
        if ip not in ("*", address) or (host and host.lower() != name):
            continue
        rank = (2 if host else 0) + (1 if ip != "*" else 0)
        if rank > best_rank:
            best, best_rank = binding, rank
    return best


def sites_for(bindings: list[HttpBinding], name: str, port: int) -> SiteChoice:
    """The sites IIS routes `http://name:port/` to, for a connection to any of the host's addresses."""
    name = name.lower()
    parsed: list[tuple[HttpBinding, str, str]] = []
    for binding in bindings:
        if binding.protocol.lower() != "http":
            continue
        try:
            ip, binding_port, host = parse_binding_information(binding.binding_information)
        except BindingError:
            continue
        if binding_port == port:
            parsed.append((binding, ip, host))
    started = [row for row in parsed if row[0].state.lower() == "started"]
    addresses = ["*", *sorted({ip for _binding, ip, _host in parsed if ip != "*"})]
    sites: list[str] = []
    for address in addresses:
        chosen = _route(started, name, address)
        if chosen is not None and chosen.site not in sites:
            sites.append(chosen.site)
    stopped: list[str] = []
    for binding, _ip, host in parsed:
        answers = not host or host.lower() == name
        if answers and binding.state.lower() != "started" and binding.site not in stopped:
            stopped.append(binding.site)
    return SiteChoice(sites, stopped)


# ---- the web.config this module writes, and foreign ones ----------------------------------------------------


def web_config(created: list[str]) -> str:
    """Our web.config; `created` lists the folders this run created (a subset of CREATED_NAMES)."""
    names = [name for name in CREATED_NAMES if name in created]
    return _WEB_CONFIG_TEMPLATE.format(marker=MARKER, created=",".join(names))


def our_record(text: str | None) -> list[str] | None:
    """The folders our web.config says its run created; None when the text is not exactly one of ours."""
    if text is None:
        return None
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    for created in ([], ["acme-challenge"], [".well-known", "acme-challenge"]):
        if text == web_config(created):
            return created
    return None


def _parse(text: str) -> ET.Element | None:
    try:
        return ET.fromstring(text.lstrip("\ufeff").encode("utf-8"))
    except ET.ParseError:
        return None


def _attribute(element: ET.Element, name: str, default: str = "") -> str:
    for key, value in element.attrib.items():
        if key.lower() == name.lower():
            return value
    return default


def _children(element: ET.Element | None, *path: str) -> list[ET.Element]:
    """Elements at `path` below `element` (configuration elements are case-sensitive, as IIS reads them)."""
    found = [element] if element is not None else []
    for step in path:
        found = [child for parent in found for child in parent if child.tag == step]
    return found


def serves_extensionless(text: str) -> bool:
    """Whether a web.config maps the "." extension (files without one) in its staticContent section."""
    root = _parse(text)
    mapped: set[str] = set()
    for section in _children(root, "system.webServer", "staticContent"):
        for item in section:
            extension = _attribute(item, "fileExtension").lower()
            if item.tag == "clear":
                mapped.clear()
            elif item.tag == "remove":
                mapped.discard(extension)
            elif item.tag == "mimeMap":
                mapped.add(extension)
    return "." in mapped


# ---- URL Rewrite -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    rule: str  # the rule's name ("" when the web.config cannot be read)
    why: str  # "match", "unknown:<input>" (a condition the module cannot evaluate) or "malformed"


def _pattern_matches(pattern: str, value: str, syntax: str, ignore_case: bool) -> re.Match | None:
    flags = re.IGNORECASE if ignore_case else 0
    syntax = syntax.lower()
    if syntax == "exactmatch":
        same = value.lower() == pattern.lower() if ignore_case else value == pattern
        return re.match(r"(?s).*", value) if same else None
    if syntax == "wildcard":
        regex = "".join("(.*)" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.match(f"^{regex}$", value, flags | re.DOTALL)
    try:
        return re.search(pattern, value, flags)
    except re.error:
        return None


def _variables(url_path: str, host: str, port: int) -> dict[str, str]:
    path = "/" + url_path
    return {
        "HTTPS": "off",
        "SERVER_PORT": str(port),
        "SERVER_PORT_SECURE": "0",
        "HTTP_HOST": host if port == 80 else f"{host}:{port}",
        "SERVER_NAME": host,
        "REQUEST_URI": path,
        "URL": path,
        "PATH_INFO": path,
        "SCRIPT_NAME": path,
        "QUERY_STRING": "",
        "REQUEST_METHOD": "GET",
    }


def _expand(text: str, variables: dict[str, str], match: re.Match) -> str | None:
    """A condition input with its {VARIABLE} and {R:n} references filled in; None when one is unknown."""
    unknown = False

    def fill(reference: re.Match) -> str:
        nonlocal unknown
        name = reference.group(1).strip()
        if name.upper().startswith("R:") and name[2:].isdigit():
            index = int(name[2:])
            if index <= (match.re.groups if match.re else 0):
                return match.group(index) or ""
        if name.upper() in variables:
            return variables[name.upper()]
        unknown = True
        return ""

    expanded = _VARIABLE.sub(fill, text)
    return None if unknown else expanded


def _condition(item: ET.Element, syntax: str, variables: dict[str, str], match: re.Match) -> bool | str:
    """True/False, or the input (a string) when it cannot be evaluated here."""
    text = _attribute(item, "input")
    kind = _attribute(item, "matchType", "Pattern").lower()
    negate = _attribute(item, "negate", "false").lower() == "true"
    if kind in ("isfile", "isdirectory"):
        if text.strip().upper() not in ("", "{REQUEST_FILENAME}"):
            return text
        result = kind == "isfile"  # the token file exists when the CA asks for it
    else:
        value = _expand(text, variables, match)
        if value is None:
            return text
        ignore_case = _attribute(item, "ignoreCase", "true").lower() != "false"
        result = _pattern_matches(_attribute(item, "pattern"), value, syntax, ignore_case) is not None
    return result != negate


def _conditions(rule: ET.Element, syntax: str, variables: dict[str, str], match: re.Match) -> bool | str:
    groups = _children(rule, "conditions")
    if not groups:
        return True
    any_of = _attribute(groups[0], "logicalGrouping", "MatchAll").lower() == "matchany"
    results = [_condition(item, syntax, variables, match) for item in groups[0] if item.tag == "add"]
    unknown = next((r for r in results if isinstance(r, str)), None)
    if any_of:
        if any(r is True for r in results):
            return True
        return unknown if unknown is not None else not results
    if any(r is False for r in results):
        return False
    return unknown if unknown is not None else True


def capturing_rule(text: str | None, url_path: str, host: str, port: int) -> Capture | None:
    """The URL Rewrite rule of a site root web.config that would capture `url_path`, or None.

    `url_path` is relative to the site root, without a leading slash: `.well-known/acme-challenge/<token>`."""
    if text is None:
        return None
    root = _parse(text)
    if root is None:
        return Capture("", "malformed")
    variables = _variables(url_path, host.lower(), port)
    for rule in _children(root, "system.webServer", "rewrite", "rules", "rule"):
        if _attribute(rule, "enabled", "true").lower() == "false":
            continue
        syntax = _attribute(rule, "patternSyntax", "ECMAScript")
        matches = _children(rule, "match")
        if not matches:
            continue
        pattern = _attribute(matches[0], "url")
        ignore_case = _attribute(matches[0], "ignoreCase", "true").lower() != "false"
        negate = _attribute(matches[0], "negate", "false").lower() == "true"
        match = _pattern_matches(pattern, url_path, syntax, ignore_case)
        if (match is not None) == negate:
            continue
        match = match or re.match("", "")
        held = _conditions(rule, syntax, variables, match)
        if held is False:
            continue
        actions = _children(rule, "action")
        action = _attribute(actions[0], "type", "None").lower() if actions else "none"
        stop = _attribute(rule, "stopProcessing", "false").lower() == "true"
        name = _attribute(rule, "name")
        if action == "none":
            if held is True and stop:
                return None  # an exclusion, as win-acme's documentation shows ("LetsEncrypt Rule")
            continue
        return Capture(name, "match" if held is True else f"unknown:{held}")
    return None


# ---- what a run writes or removes in one site physical path ---------------------------------------------


@dataclass
class FolderState:
    """What exists under one site physical path, as far as this module cares."""

    well_known: bool = False
    challenge_dir: bool = False
    web_config: str | None = None  # the text of .well-known/acme-challenge/web.config, None when absent
    tokens: dict[str, str | None] = field(default_factory=dict)  # token -> file content, None when absent
    others_in_challenge_dir: int = 0  # entries besides web.config and the tokens named
    others_in_well_known: int = 0  # entries besides acme-challenge


@dataclass(frozen=True)
class Step:
    action: str  # mkdir | write | delete | rmdir
    path: str  # relative to the site physical path, "/" separated
    content: str | None = None  # for write
    previous: str | None = None  # for write: what the file held before (None: it did not exist)


@dataclass
class Plan:
    steps: list[Step]
    web_config: str  # created | ours | foreign | removed | kept | none
    problem: str | None = None  # "foreign_web_config": a web.config that does not serve extensionless files


def plan_present(state: FolderState, tokens: dict[str, str]) -> Plan:
    """The steps that make every token of `tokens` (token -> key authorization) servable."""
    steps: list[Step] = []
    created: list[str] = []
    if not state.well_known:
        steps.append(Step("mkdir", WELL_KNOWN))
        created.append(".well-known")
    if not state.challenge_dir:
        steps.append(Step("mkdir", CHALLENGE_DIR))
        created.append("acme-challenge")
    if state.web_config is None:
        steps.append(Step("write", WEB_CONFIG, web_config(created)))
        status = "created"
    elif our_record(state.web_config) is not None:
        status = "ours"
    elif serves_extensionless(state.web_config):
        status = "foreign"
    else:
        return Plan([], "foreign", "foreign_web_config")
    for token in sorted(tokens):
        previous = state.tokens.get(token)
        if previous != tokens[token]:
            steps.append(Step("write", f"{CHALLENGE_DIR}/{token}", tokens[token], previous))
    return Plan(steps, status)


def plan_absent(state: FolderState, tokens: list[str]) -> Plan:
    """The steps that remove the named tokens, then what this module created once nothing else is left."""
    steps = [
        Step("delete", f"{CHALLENGE_DIR}/{token}")
        for token in sorted(set(tokens))
        if state.tokens.get(token) is not None
    ]
    record = our_record(state.web_config)
    if state.web_config is None:
        return Plan(steps, "none")
    if record is None:
        return Plan(steps, "foreign")
    if state.others_in_challenge_dir:
        return Plan(steps, "kept")
    steps.append(Step("delete", WEB_CONFIG))
    if "acme-challenge" in record:
        steps.append(Step("rmdir", CHALLENGE_DIR))
        if ".well-known" in record and not state.others_in_well_known:
            steps.append(Step("rmdir", WELL_KNOWN))
    return Plan(steps, "removed")


def existing_paths(state: FolderState) -> list[str]:
    """The paths this module manages that exist (relative, "/" separated; folders end with "/")."""
    paths = []
    if state.well_known:
        paths.append(WELL_KNOWN + "/")
    if state.challenge_dir:
        paths.append(CHALLENGE_DIR + "/")
    if state.web_config is not None:
        paths.append(WEB_CONFIG)
    paths += [f"{CHALLENGE_DIR}/{token}" for token, content in state.tokens.items() if content is not None]
    return sorted(paths)


def paths_after(existing: list[str], plan: Plan) -> list[str]:
    """`existing` once the plan ran: the diff's after-state."""
    paths = set(existing)
    for step in plan.steps:
        path = step.path + "/" if step.action in ("mkdir", "rmdir") else step.path
        if step.action in ("mkdir", "write"):
            paths.add(path)
        else:
            paths.discard(path)
    return sorted(paths)


# ---- messages (the .ps1 says the same) ---------------------------------------------------------------------


def challenge_message(problem: str, name: str, token: str) -> str:
    if problem == "wildcard":
        return (
            f"challenge name '{name}' is a wildcard: ACME validates wildcard names only with DNS-01 (RFC 8555 "
            "7.1.3), so nothing was changed. Order it with the dns-01 challenge."
        )
    if problem == "name":
        return f"challenge name '{name}' is not a DNS host name, so nothing was changed. Pass the identifier the ACME order returned."
    if problem == "token":
        return (
            f"challenge token '{token}' of '{name}' is not a base64url string (RFC 8555 8.3: letters, digits, '-' "
            "and '_'), so nothing was changed. Pass the last path segment of the challenge's resource."
        )
    return (
        f"key_authorization of '{name}' is not '<token>.<account key thumbprint>' for token '{token}' (RFC 8555 "
        "8.1), so nothing was changed. Pass the challenge's resource_value as community.crypto returns it."
    )


def no_site_message(name: str, port: int, choice: SiteChoice, bindings: list[HttpBinding]) -> str:
    if choice.stopped:
        stopped = ", ".join(f"'{site}'" for site in choice.stopped)
        return (
            f"no started IIS site answers http://{name}:{port}/: the site(s) {stopped} with a binding for it are "
            "stopped, so nothing was changed. Start the site, or place the token on a host that serves the name."
        )
    existing = sorted(
        {f"'{b.binding_information}' ({b.site})" for b in bindings if b.protocol.lower() == "http"}
    )
    listed = ", ".join(existing) if existing else "none"
    return (
        f"no IIS site has an http binding that answers http://{name}:{port}/ (one for host '{name}' or one with a "
        f"blank host on port {port}), so nothing was changed. The http bindings are: {listed}. Add a binding, e.g. "
        f"'*:{port}:{name}', or leave this host out for that name."
    )


def capture_message(capture: Capture, site: str, path: str) -> str:
    where = f"the web.config at the root of site '{site}' ({path})"
    if capture.why == "malformed":
        return f"{where} is not well-formed XML (IIS answers 500.19 for every request), so nothing was changed. Fix that file first."
    reason = (
        "matches"
        if capture.why == "match"
        else f"may match (its condition on '{capture.why[8:]}' cannot be evaluated here)"
    )
    return (
        f"URL Rewrite rule '{capture.rule}' in {where} {reason} /{CHALLENGE_DIR}/<token>, so the CA would not get "
        "the token; nothing was changed. Add this rule before it, as win-acme documents: <rule "
        'name="ACME HTTP-01" stopProcessing="true"><match url="^\\.well-known/acme-challenge/" /><action type="None" /></rule>'
    )


def foreign_web_config_message(path: str) -> str:
    return (
        f"{path} exists and was not written by this module, and it does not map the extension '.' (files without "
        "an extension, as ACME tokens are), so IIS would answer 404.3; nothing was changed. Add <mimeMap "
        'fileExtension="." mimeType="text/plain" /> to its <staticContent>, or remove the file.'
    )


def locked_message(section: str, site: str) -> str:
    return (
        f"the IIS configuration section {section} is locked for /{CHALLENGE_DIR} of site '{site}' (overrideMode Deny), "
        "so the web.config this module writes there would make IIS answer 500.19; nothing was changed. Unlock it "
        f'with: appcmd unlock config "{site}/{CHALLENGE_DIR}" -section:{section} -commit:apphost'
    )
