# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MFA Server's own path behind the certificate: retirement, the SDK URL, the SDK call, the console URL.

Sources (docs/windows-model.md section 11, field notes section 2):
- MFA Server no longer services MFA requests from 2024-09-30 (entra-docs `howto-mfaserver-deploy.md`).
- The Mobile App Web Service (and the User Portal when USE_WEB_SERVICE_SDK is true) calls the Web Service SDK
  at the URL in its web.config. The installer's default is `http://localhost:4898/PfWsSdk.asmx`; it must
  become `https://<server name>/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx`, by name and not by IP address,
  "since the SSL certificate will have been issued for the server name" (azure-docs
  `multi-factor-authentication-get-started-server-webservice.md`).
- The service's own health check is the SOAP 1.1 operation `TestPfWsSdkConnection` of `PfPaWs.asmx`; it
  fails for wrong credentials, an SDK URL that is wrong or unreachable, a wrong host name in it, or an SDK
  that cannot reach the MFA Server service (Azure self-help "Troubleshoot the user portal and mobile app web
  service"). The shape of its answer is assumed (see `sdk_test_verdict`).
- The upgrade from PhoneFactor renamed the Mobile App Web Service's virtual directory; a console "Mobile App
  Web Service URL" left on the other name answers 404. The console keeps that URL in its own database, which
  no module reads: the administrator gives it (`mobile_app_web_service_url`).

Where an SDK URL lands is judged with the same rules the lab and the modules use (routing): the
certificate of the HTTP.sys entry that serves the connection (SNI entry, else IP entry, else wildcard), and
the IIS binding the request is routed to (exact host name on that IP:port, else the blank-host binding).
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ansible_collections.mfa_server.tls.plugins.module_utils import certificates, iis_bindings, routing
from ansible_collections.mfa_server.tls.plugins.module_utils.findings import finding

SDK_PATH = "/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
PFPAWS_NAMESPACE = "http://www.phonefactor.com/PfPaWs"
SOAP_ACTION = f"{PFPAWS_NAMESPACE}/TestPfWsSdkConnection"
SOAP_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
TEST_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="{SOAP_ENVELOPE}">'
    f'<soap:Body><TestPfWsSdkConnection xmlns="{PFPAWS_NAMESPACE}" /></soap:Body></soap:Envelope>'
).encode()
# The Mobile App Web Service's virtual directory before and after the upgrade from PhoneFactor (lower case).
RENAMED = {
    "phonefactorphoneappwebservice": "MultiFactorAuthMobileAppWebService",
    "multifactorauthmobileappwebservice": "PhoneFactorPhoneAppWebService",
}
MAX_ANSWER = 64 * 1024  # an answer larger than this is cut: the verdict needs its first element only
QUOTE_LENGTH = 200
USER_AGENT = "mfa_server.tls-mfa-check/1.0"

# Where a request lands: one rule, shared with host_review and the lab (routing).
route = routing.route
sdk_clients = routing.sdk_clients
_accepts, _plain_ip, _routing_table = routing.accepts, routing.plain_ip, routing.routing_table


class ConsoleUrlError(ValueError):
    """The Mobile App Web Service URL given is not an https:// URL; the message says how to write it."""


@dataclass(frozen=True)
class MfaOptions:
    check_sdk_connection: bool = False  # the SOAP call from the controller (the compliance role turns it on)
    mobile_app_web_service_url: str | None = None  # the console's "Mobile App Web Service URL"


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None = None
    reason: str = ""
    body: bytes = b""
    error: str | None = None  # no HTTP answer at all: why


def host_findings(
    iis: dict,
    mfa: dict,
    endpoints: list[dict],
    probe_addresses: dict[int, str],
    options: MfaOptions,
    timeout: float,
) -> list[dict]:
    """The host-level MFA findings, each a finding dict with `where` it is. `endpoints` are the reviewed
    endpoints (url, address, site, component), so that the SOAP call goes where the probe went."""
    result: list[dict] = []
    if mfa.get("installed"):
        result.append(retired(mfa))
    for component in sdk_clients(mfa):
        result += sdk_url_findings(component, iis, mfa)
    if options.check_sdk_connection:
        for component in _components(mfa, "mobile_app_web_service"):
            result += sdk_connection_findings(component, endpoints, timeout)
    if options.mobile_app_web_service_url:
        result += console_url_findings(options.mobile_app_web_service_url, mfa, probe_addresses, timeout)
    return result


def _where(code: str, where: str, message: str) -> dict:
    return {**finding(code, message).as_dict(), "where": where}


def _components(mfa: dict, kind: str) -> list[dict]:
    return [c for c in mfa.get("components") or [] if c.get("component") == kind]


# ---- retirement ------------------------------------------------------------------------------------------


def retired(mfa: dict) -> dict:
    date = mfa.get("end_of_support") or "2024-09-30"
    since = "since" if mfa.get("end_of_support_reached", True) else "from"
    version = mfa.get("version") or "of an unknown version"
    return _where(
        "MFA_SERVER_RETIRED",
        mfa.get("install_path") or "MFA Server",
        f"MFA Server {version} is installed. Microsoft retired it: {since} {date} MFA Server deployments no "
        "longer service multifactor authentication requests. Move its users to Microsoft Entra multifactor "
        "authentication with the MFA Server Migration Utility (in the latest MFA Server update).",
    )


# ---- the SDK URL ----------------------------------------------------------------------------------------


def sdk_url_findings(component: dict, iis: dict, mfa: dict) -> list[dict]:
    config = component.get("web_config") or {}
    url = config["sdk_url"]
    application = f"{component.get('site')}{component.get('virtual_path')}"
    problems = sdk_url_problems(url, component.get("sdk_url_resolution") or {}, iis, mfa)
    if not problems:
        return []
    return [
        _where(
            "SDK_URL_UNSAFE",
            f"{application} {config.get('sdk_url_key') or 'SDK URL'}",
            f"The SDK URL {url} of {application}: {'; '.join(problems)}.",
        )
    ]


def sdk_url_problems(url: str, resolution: dict, iis: dict, mfa: dict) -> list[str]:
    """Why an SDK URL is unsafe or leads nowhere, judged where it lands from the host (empty: nothing found).
    `resolution` is what the host resolved the URL's host name to (`addresses`, `local`)."""
    parsed = urllib.parse.urlsplit(url.strip())
    scheme, host = parsed.scheme.lower(), parsed.hostname or ""
    try:
        port = parsed.port or (443 if scheme == "https" else 80)
    except ValueError:
        return ["its port is not a number"]
    if scheme not in ("http", "https") or not host:
        return ["it is not an http:// or https:// URL with a host"]
    addresses = [str(a) for a in resolution.get("addresses") or []]
    local = resolution.get("local") if addresses else None
    named_by_address = certificates.host_as_ip(host) is not None or host.lower() == "localhost"
    if scheme == "http":
        if local is False:
            return [
                f"it goes over http:// to another host ({', '.join(addresses) or host}), so the SDK credentials "
                "and every authentication request cross the network unencrypted"
            ]
        if local:
            return _http_landing_problems(host, port, addresses[0], parsed.path, mfa)
        return []
    if named_by_address:
        return [
            f"it names the SDK by '{host}', which no publicly trusted certificate names (a certificate names "
            "the server's host name, and the URL must use it)"
        ]
    if not local:
        return []  # another host, or a name the host cannot resolve: only the SDK connection test can tell
    return _https_landing_problems(host, port, addresses[0], parsed.path, iis, mfa)


def _http_landing_problems(host: str, port: int, address: str, path: str, mfa: dict) -> list[str]:
    sdks = _components(mfa, "web_service_sdk")
    if not sdks:
        return [f"it leads to port {port} of this host, where no Web Service SDK is installed"]
    listening = [
        c for c in sdks if any(_accepts(b, port, host, address) for b in c.get("http_bindings") or [])
    ]
    if not listening:
        sites = ", ".join(
            f"'{c['site']}' ({', '.join(c.get('http_bindings') or []) or 'no http binding'})" for c in sdks
        )
        return [f"no http binding of the Web Service SDK's site listens on port {port} for {host}: {sites}"]
    if not any(_under(path, c) for c in listening):
        return [_not_the_sdk(path, listening)]
    return []


def _https_landing_problems(host: str, port: int, address: str, path: str, iis: dict, mfa: dict) -> list[str]:
    problems = []
    entry = iis_bindings.serving_entry(iis.get("http_sys") or [], port, host, _plain_ip(address))
    if entry is None:
        problems.append(
            f"no HTTP.sys entry serves {address} port {port} for {host}, so the TLS handshake fails there"
        )
    elif not (entry.get("key") or "").startswith("ccs="):  # a CCS certificate is not in the facts
        problems += _certificate_problems(entry, host, iis)
    landed = route(_routing_table(iis, mfa), port, host, address)
    if landed is None:
        problems.append(f"no HTTPS binding of this host takes requests for {host} on port {port}")
    else:
        site, binding = landed
        serving = [c for c in _components(mfa, "web_service_sdk") if c.get("site") == site]
        if not any(_under(path, c) for c in serving):
            problems.append(
                f"it lands on the binding '{binding}' of site '{site}', "
                + (_not_the_sdk(path, serving) if serving else "where no Web Service SDK is installed")
            )
    return problems


def _certificate_problems(entry: dict, host: str, iis: dict) -> list[str]:
    thumbprint = (entry.get("certificate_hash") or "").upper()
    if not thumbprint:
        return [f"the HTTP.sys entry {entry['key']} that serves it holds no certificate"]
    store = iis_bindings.store_display_name(entry.get("certificate_store_name"))
    certificate = next(
        (
            c
            for c in iis.get("certificates") or []
            if (c.get("thumbprint") or "").upper() == thumbprint
            and iis_bindings.same_store(c.get("store_name"), store)
        ),
        None,
    )
    if certificate is None or certificate.get("found") is False:
        return [
            f"the certificate {thumbprint} of the HTTP.sys entry {entry['key']} is not in the {store} store"
        ]
    names = certificate.get("san_dns_names") or []
    if any(certificates.dns_name_matches(name, host) for name in names):
        return []
    return [
        f"the certificate {thumbprint} bound there ({entry['key']}) names {', '.join(names) or 'no DNS name'}, "
        f"not {host}"
    ]


def _under(path: str, component: dict) -> bool:
    vdir = (component.get("virtual_path") or "").rstrip("/").lower()
    return bool(vdir) and (path or "/").lower().startswith(vdir + "/")


def _not_the_sdk(path: str, components: list[dict]) -> str:
    at = ", ".join(f"{c['virtual_path']} of site '{c['site']}'" for c in components)
    return f"the path {path or '/'} is not the Web Service SDK's ({at}; its service is PfWsSdk.asmx there)"


# ---- the SDK connection test (SOAP, from the controller) ------------------------------------------------


def sdk_connection_findings(component: dict, endpoints: list[dict], timeout: float) -> list[dict]:
    """Asks the Mobile App Web Service to test its own SDK connection, through the endpoint the probe used."""
    vdir = (component.get("virtual_path") or "").rstrip("/")
    mine = [
        e
        for e in endpoints
        if e.get("component") == "mobile_app_web_service"
        and e.get("site") == component.get("site")
        and urllib.parse.urlsplit(e["url"]).path.lower().startswith(vdir.lower() + "/")
    ]
    where = f"{component.get('site')}{vdir}/PfPaWs.asmx"
    if not component.get("https_bindings", True):
        # Nothing to ask over HTTPS. One cause, one finding: MFA_COMPONENT_WITHOUT_HTTPS (scope) names it where
        # phones need the service, and from 8.0, where they do not, it is not a failure.
        return []
    if not mine:
        return [
            _where(
                "SDK_CONNECTION_FAILED",
                where,
                f"TestPfWsSdkConnection could not be asked: no HTTPS binding serves {where}.",
            )
        ]
    endpoint = mine[0]
    answer = soap_test(endpoint["url"], endpoint.get("address"), timeout)
    success, said = sdk_test_verdict(answer)
    if success:
        return []
    return [
        _where(
            "SDK_CONNECTION_FAILED",
            endpoint["url"],
            f"TestPfWsSdkConnection on {endpoint['url']} did not report success: {said}.",
        )
    ]


def soap_test(url: str, address: str | None, timeout: float) -> HttpAnswer:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SOAP_ACTION}"'}
    return https_request("POST", url, address, timeout, body=TEST_REQUEST, headers=headers)


def sdk_test_verdict(answer: HttpAnswer) -> tuple[bool, str]:
    """(success, what the service answered, quoted briefly). ASMX answers a SOAP 1.1 call with
    `<TestPfWsSdkConnectionResponse><TestPfWsSdkConnectionResult>`; that the result is a text that starts
    with "success" (or is "true") when the test passes is assumed (docs/windows-model.md 11.6)."""
    if answer.error:
        return False, f"no answer ({answer.error})"
    result, fault = _soap_parts(answer.body)
    if answer.status == 200 and result is not None:
        text = result.strip().lower()
        return text == "true" or text.startswith("success"), f"TestPfWsSdkConnectionResult '{quote(result)}'"
    if fault is not None:
        return False, f"HTTP {answer.status}, SOAP fault '{quote(fault)}'"
    return False, f"HTTP {answer.status} {answer.reason}".rstrip() + " (not a TestPfWsSdkConnection answer)"


def _soap_parts(body: bytes) -> tuple[str | None, str | None]:
    """The text of TestPfWsSdkConnectionResult and of a SOAP fault's faultstring, each None when absent."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None, None
    result = fault = None
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name == "TestPfWsSdkConnectionResult" and result is None:
            result = "".join(element.itertext())
        elif name == "faultstring" and fault is None:
            fault = "".join(element.itertext())
    return result, fault


def quote(text: str) -> str:
    """One line of at most QUOTE_LENGTH characters."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= QUOTE_LENGTH else line[: QUOTE_LENGTH - 3] + "..."


# ---- the console's Mobile App Web Service URL -----------------------------------------------------------


def parse_console_url(url: str) -> tuple[str, str]:
    """(the URL of PfPaWs.asmx under it, the virtual directory it names)."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme.lower() != "https" or not parsed.hostname:
        raise ConsoleUrlError(
            f"mobile_app_web_service_url {url!r} is not an https:// URL; give the Mobile App Web Service URL as "
            "the MFA Server console shows it, e.g. https://mfa.contoso.com/MultiFactorAuthMobileAppWebService/."
        )
    segments = [s for s in parsed.path.split("/") if s]
    if segments and segments[-1].lower() == "pfpaws.asmx":
        segments.pop()
    base = "/" + "/".join(segments)
    service = urllib.parse.urlunsplit(("https", parsed.netloc, base.rstrip("/") + "/PfPaWs.asmx", "", ""))
    return service, segments[-1] if segments else ""


def console_url_findings(url: str, mfa: dict, probe_addresses: dict[int, str], timeout: float) -> list[dict]:
    service, vdir = parse_console_url(url)
    port = urllib.parse.urlsplit(service).port or 443
    answer = https_request("GET", service, probe_addresses.get(port), timeout)
    where = f"Mobile App Web Service URL {url}"
    if answer.error:
        return [_where("UNREACHABLE", where, f"{service}: {answer.error}.")]
    if answer.status != 404:
        return []
    other = RENAMED.get(vdir.lower())
    installed = [
        c
        for c in _components(mfa, "mobile_app_web_service")
        if other and (c.get("virtual_path") or "").rstrip("/").rsplit("/", 1)[-1].lower() == other.lower()
    ]
    if installed:
        at = ", ".join(f"{c['virtual_path']} of site '{c['site']}'" for c in installed)
        return [
            _where(
                "COMPONENT_URL_NOT_FOUND",
                where,
                f"The Mobile App Web Service URL in the MFA Server console, {url}, answers HTTP 404 ({service}); "
                f"the service is installed at {at}: the upgrade from PhoneFactor renamed its virtual directory, "
                "so phones activating with that URL get 'NotFound'.",
            )
        ]
    return [
        _where(
            "HTTP_NOT_FOUND",
            where,
            f"The Mobile App Web Service URL in the MFA Server console, {url}, answers HTTP 404 ({service}): "
            "this is the app's 'The remote server returned an error: NotFound'.",
        )
    ]


# ---- HTTPS from the controller ----------------------------------------------------------------------------


class _SniConnection(http.client.HTTPSConnection):
    """Connects to `address` while asking for `server_name` (SNI), as a client of the public name does."""

    def __init__(self, host: str, port: int, server_name: str | None, timeout: float) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # Not verified: the question is the server's own SDK path, which the probe's verdict does not cover.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self._server_name)
        except BaseException:
            raw.close()
            raise


def https_request(
    method: str,
    url: str,
    address: str | None,
    timeout: float,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """One request to `url` (through `address`, `host:port`, when given), every wait bounded by `timeout`."""
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "", parsed.port or 443
    connect_host, connect_port = _split_address(address, port) if address else (host, port)
    server_name = None if certificates.host_as_ip(host) is not None else host
    host_header = (f"[{host}]" if ":" in host else host) + ("" if port == 443 else f":{port}")
    connection = _SniConnection(connect_host, connect_port, server_name, timeout)
    try:
        connection.request(
            method,
            (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else ""),
            body=body or None,
            headers={"Host": host_header, "User-Agent": USER_AGENT, "Connection": "close", **(headers or {})},
        )
        response = connection.getresponse()
        return HttpAnswer(response.status, response.reason, response.read(MAX_ANSWER))
    except (OSError, http.client.HTTPException) as error:
        return HttpAnswer(error=f"{connect_host}:{connect_port}: {_describe(error)}")
    finally:
        connection.close()


def _split_address(address: str, default_port: int) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit("//" + address)
    try:
        return parsed.hostname or address, parsed.port or default_port
    except ValueError:
        return parsed.hostname or address, default_port


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return f"TLS handshake failed ({error.reason})"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__
