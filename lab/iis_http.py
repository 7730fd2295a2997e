"""Plain HTTP for a host's IIS `http` bindings, served from the sites' physical paths as IIS's static file
handler serves them (docs/windows-model.md section 12).

- Routing: the started site whose http binding on the port has exactly the request's host, else a blank host;
  a binding for the host's own address wins over `*` at the same rank. No site: HTTP.sys answers 400 "Bad
  Request - Invalid Hostname" itself.
- Configuration: the site root's web.config, then each folder's on the way to the file, over the server's
  defaults. A web.config that is not XML, or that sets a section locked above it, gives 500.19.
- Serving: a file is served only when the effective <staticContent> maps its extension; a file without one
  needs a mapping of "."; otherwise 404.3. Hidden segments (web.config, bin, App_Data ...) give 404.8, a
  folder 403.14, a missing file 404.0. <httpRedirect enabled="true"> answers its redirect.
- Not modelled: URL Rewrite (mfa_server.tls.acme_http_challenge refuses sites whose rules capture the path),
  <handlers> (only the static file handler exists here), authentication and authorization, virtual directories
  below the site root.

The lab's port for IIS port 80 is 10080 (lab.iis.lab_port). Each answer is counted in the host's state,
`counters.http_requests["<status>.<substatus>"]`, and the last 200 requests are kept in `iis_log` with the
fields of IIS's W3C log (s-sitename, cs-uri-stem, sc-status, sc-substatus, cs(User-Agent)).
"""

from __future__ import annotations

import socket
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from lab import iis, iis_files
from lab.http_request import read_request
from lab.state import HostState

# A part of IIS's default <staticContent> (applicationHost.config holds some 370 mimeMaps): none maps "."
# (files without an extension), which is the point. Sources in docs/windows-model.md 12.4.
DEFAULT_MIME_MAP = {
    ".txt": "text/plain",
    ".htm": "text/html",
    ".html": "text/html",
    ".css": "text/css",
    ".js": "application/javascript",
    ".json": "application/json",
    ".xml": "text/xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
}
# Sections applicationHost.config declares with overrideModeDefault="Deny" and does not reopen in its
# <location path="" overrideMode="Allow"> (which reopens handlers and modules). `iis.locked_sections` in a
# host's state replaces this list.
DEFAULT_LOCKED_SECTIONS = (
    "system.webServer/security/authentication/anonymousAuthentication",
    "system.webServer/security/authentication/basicAuthentication",
    "system.webServer/security/authentication/clientCertificateMappingAuthentication",
    "system.webServer/security/authentication/digestAuthentication",
    "system.webServer/security/authentication/iisClientCertificateMappingAuthentication",
    "system.webServer/security/authentication/windowsAuthentication",
    "system.webServer/security/access",
    "system.webServer/security/ipSecurity",
    "system.webServer/security/isapiCgiRestriction",
    "system.webServer/serverRuntime",
    "system.webServer/httpLogging",
    "system.webServer/globalModules",
)
# requestFiltering's default hiddenSegments.
HIDDEN_SEGMENTS = {
    "web.config",
    "bin",
    "app_code",
    "app_globalresources",
    "app_localresources",
    "app_webreferences",
    "app_data",
    "app_browsers",
}
REDIRECT_STATUS = {"found": 302, "permanent": 301, "temporary": 307, "permredirect": 308}
REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


@dataclass
class Answer:
    status: int
    substatus: int = 0
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def http_ports(data: dict) -> list[int]:
    """Every port an http binding of any site listens on (malformed bindings have none)."""
    ports = set()
    for site in data["sites"]:
        for binding in site["bindings"]:
            if binding["protocol"].lower() != "http":
                continue
            try:
                ports.add(iis.parse_binding(binding["binding_information"])[1])
            except iis.BindingError:
                continue
    return sorted(ports)


def route(data: dict, port: int, host_header: str, local_ip: str) -> dict | None:
    """The started site IIS gives an http request on (local_ip, port) with this Host header."""
    return iis.site_for(data, port, host_header, local_ip, protocol="http", started_only=True)


@dataclass
class Effective:
    mime_map: dict[str, str]
    redirect: tuple[str, int] | None = None  # (destination, status)
    error: str | None = None  # why IIS answers 500.19


def _section_paths(root: ET.Element) -> set[str]:
    """The element paths a web.config sets, e.g. system.webServer/security/access."""
    paths: set[str] = set()

    def walk(element: ET.Element, path: str, depth: int) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            here = f"{path}/{child.tag}" if path else child.tag
            paths.add(here)
            if depth < 5:
                walk(child, here, depth + 1)

    walk(root, "", 0)
    return paths


def _apply(effective: Effective, text: str, locked: tuple[str, ...]) -> None:
    try:
        root = ET.fromstring(text.lstrip("\ufeff").encode())
    except ET.ParseError:
        effective.error = "the web.config is not well-formed XML"
        return
    for section in locked:
        if any(path == section or path.startswith(section + "/") for path in _section_paths(root)):
            effective.error = f"{section} is locked at a parent level"
            return
    for static in root.findall("system.webServer/staticContent"):
        for item in static:
            extension = item.get("fileExtension", "").lower()
            if item.tag == "clear":
                effective.mime_map.clear()
            elif item.tag == "remove":
                effective.mime_map.pop(extension, None)
            elif item.tag == "mimeMap":
                effective.mime_map[extension] = item.get("mimeType", "")
    for redirect in root.findall("system.webServer/httpRedirect"):
        if redirect.get("enabled", "false").lower() == "true" and redirect.get("destination"):
            status = REDIRECT_STATUS.get(redirect.get("httpResponseStatus", "Found").lower(), 302)
            effective.redirect = (redirect.get("destination", ""), status)
        elif redirect.get("enabled", "").lower() == "false":
            effective.redirect = None


def effective_config(data: dict, site_root: str, folders: list[str]) -> Effective:
    """The configuration for a file in site_root\\folders...: the server's, then each web.config on the way."""
    locked = tuple((data.get("iis") or {}).get("locked_sections") or DEFAULT_LOCKED_SECTIONS)
    effective = Effective(dict(DEFAULT_MIME_MAP))
    path = site_root
    for step in ["", *folders]:
        path = iis_files.join(path, step) if step else path
        text = iis_files.read_text(data, iis_files.join(path, "web.config"))
        if text is not None:
            _apply(effective, text, locked)
            if effective.error:
                break
    return effective


def _error(status: int, substatus: int, text: str) -> Answer:
    return Answer(status, substatus, f"<h1>{status} - {text}</h1>".encode())


def answer(data: dict, port: int, method: str, host_header: str, local_ip: str, target: str) -> Answer:
    """What IIS answers an http request for `target` (path and query) on this host."""
    site = route(data, port, host_header, local_ip)
    if site is None:  # HTTP.sys finds no registered site for the host and answers itself
        answer_ = Answer(400, 0, b"<h2>Bad Request - Invalid Hostname</h2>")
        answer_.headers["Server"] = "Microsoft-HTTPAPI/2.0"
        return answer_
    path = urllib.parse.unquote(target.split("?", 1)[0])
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if ".." in segments or any("\\" in s for s in segments):
        return _error(400, 0, "Bad Request")
    if any(s.lower() in HIDDEN_SEGMENTS for s in segments):
        return _error(404, 8, "File or directory not found.")
    physical = site.get("physical_path") or ""
    full = iis_files.join(physical, "\\".join(segments)) if segments else physical
    folders = segments if iis_files.is_dir(data, full) else segments[:-1]
    effective = effective_config(data, physical, folders)
    if effective.error:
        return _error(500, 19, "Internal Server Error (configuration data is invalid).")
    if effective.redirect:
        destination, status = effective.redirect
        return Answer(status, 0, b"", {"Location": destination})
    if method not in ("GET", "HEAD"):
        return _error(405, 0, "Method not allowed.")
    if iis_files.is_dir(data, full):
        return _error(403, 14, "Forbidden: Access is denied.")
    content = iis_files.read(data, full)
    if content is None:
        return _error(404, 0, "File or directory not found.")
    name = segments[-1]
    extension = name[name.rindex(".") :].lower() if "." in name else "."
    mime = effective.mime_map.get(extension)
    if mime is None:  # the static file handler serves no extension the MIME map lacks
        return _error(404, 3, "File or directory not found.")
    return Answer(200, 0, content, {"Content-Type": mime})


LOG_LIMIT = 200


def _log(state: HostState, site: dict | None, target: str, user_agent: str, result: Answer) -> None:
    """Counts the answer, and keeps the last LOG_LIMIT requests as IIS's W3C log records them."""
    with state.change() as data:
        counters = data.setdefault("counters", {"winrm_commands": 0, "modules": {}})
        requests = counters.setdefault("http_requests", {})
        label = f"{result.status}.{result.substatus}"
        requests[label] = requests.get(label, 0) + 1
        entry = {
            "s-sitename": site["name"] if site else "",
            "cs-uri-stem": target.split("?", 1)[0],
            "sc-status": result.status,
            "sc-substatus": result.substatus,
            "cs(User-Agent)": user_agent,
        }
        data["iis_log"] = [*(data.get("iis_log") or [])[-(LOG_LIMIT - 1) :], entry]


def handler(port: int, state: HostState):
    def handle(conn: socket.socket, _addr: tuple) -> None:
        reader = conn.makefile("rb")
        while True:
            request = read_request(reader)
            if request is None:
                return
            method, target, headers = request.method, request.target, request.headers
            data = state.read()
            result = answer(data, port, method, headers.get("host", ""), data["host"]["ip"], target)
            site = route(data, port, headers.get("host", ""), data["host"]["ip"])
            _log(state, site, target, headers.get("user-agent", ""), result)
            close = request.closes
            head = {"Content-Type": "text/html", "Server": "Microsoft-IIS/10.0", **result.headers}
            head["Content-Length"] = str(len(result.body))
            if close:
                head["Connection"] = "close"
            lines = [f"HTTP/1.1 {result.status} {REASONS.get(result.status, '')}"]
            lines += [f"{k}: {v}" for k, v in head.items()]
            body = b"" if method == "HEAD" else result.body
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            if close:
                return

    return handle
