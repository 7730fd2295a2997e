"""The Mobile App Web Service's call to the Web Service SDK, from the emulated host's own state.

What the real service does when `TestPfWsSdkConnection` is invoked on `PfPaWs.asmx` (docs/windows-model.md
section 11): it calls the SDK at the URL in its web.config, as the host resolves and reaches it, with the
credentials in its web.config. The lab follows that path through the host's state:

1. the SDK URL (`pfMobile App Web Service_pfwssdk_PfWsSdk`, as mfa_server_info reads it);
2. its host name resolved from the host (`resolve`): an IP literal is itself; `localhost` is ::1 then
   127.0.0.1; the host's own names (name, computer name, FQDN, public name) are its address; the names in
   `host.dns` are other hosts (optional in the state: `{name: address}`); any other name does not resolve;
3. an address that is not the host's own is another host, which the lab cannot reach;
4. on the host: http lands on an http binding (IIS routing), https on the HTTP.sys entry for that address,
   port and SNI name, whose certificate must validate from the host's point of view (its Root and CA stores,
   X509Chain as iis_tls_info builds it, and the URL's host in the SAN); then the IIS binding the request is
   routed to must be a site where the Web Service SDK is installed at the URL's path;
5. the SDK checks the credentials against the accounts of the "PhoneFactor Admins" group
   (`mfa.phonefactor_admins`: `[{username, password}]`, user names compared without case);
6. the SDK reaches the MFA Server service unless `mfa.sdk_reaches_service` is false.

The texts of failures 2 to 5 are the .NET Framework's WebException messages a SoapHttpClientProtocol call
raises; that the service returns them as its result text, and "Success" when the test passes, is assumed.
No answer ever carries a credential.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from xml.sax.saxutils import escape

from lab import certinfo, iis

SDK_KEYS = ("pfMobile App Web Service_pfwssdk_PfWsSdk", "pfup_pfwssdk_PfWsSdk", "pfwssdk_PfWsSdk")
NAMESPACE = "http://www.phonefactor.com/PfPaWs"
SOAP_ACTION = f"{NAMESPACE}/TestPfWsSdkConnection"
SUCCESS = "Success"
NOT_RESOLVED = "No such host is known"
# .NET Framework WebException messages of a failed SOAP call (docs/windows-model.md 11.5).
CONNECT_FAILURE = "Unable to connect to the remote server"
SEND_FAILURE = "The underlying connection was closed: An unexpected error occurred on a send."
TRUST_FAILURE = "The underlying connection was closed: Could not establish trust relationship for the SSL/TLS secure channel."
SERVICE_DOWN = "The Web Service SDK could not connect to the Multi-Factor Authentication Server service."


def sdk_url(component: dict) -> str | None:
    settings = (component.get("web_config") or {}).get("settings") or {}
    return next((settings[k] for k in SDK_KEYS if settings.get(k)), None)


def own_addresses(data: dict) -> set[str]:
    host = data["host"]
    return {str(ipaddress.ip_address(a)) for a in (host["ip"], host.get("ipv6"), "127.0.0.1", "::1") if a}


def resolve(data: dict, name: str) -> tuple[list[str], str | None]:
    """(addresses, error) for a host name as Dns.GetHostAddresses answers it on the host."""
    try:
        return [str(ipaddress.ip_address(name.strip("[]")))], None
    except ValueError:
        pass
    lowered = name.lower().rstrip(".")
    host = data["host"]
    if lowered == "localhost":
        return ["::1", "127.0.0.1"], None
    own = {host["name"], host["computer_name"], f"{host['name']}.{host['domain']}", host["public_name"]}
    if lowered in {n.lower() for n in own}:
        return [host["ip"]], None
    others = {k.lower(): v for k, v in (host.get("dns") or {}).items()}
    if lowered in others:
        return [others[lowered]], None
    return [], NOT_RESOLVED


def resolution(data: dict, url: str | None) -> dict | None:
    """The `sdk_url_resolution` fact mfa_server_info reports for a component's SDK URL."""
    if not url:
        return None
    parsed = urllib.parse.urlsplit(url.strip())
    if not parsed.scheme or not parsed.hostname:
        return {"host": None, "addresses": [], "local": None, "error": "not an absolute URL"}
    addresses, error = resolve(data, parsed.hostname)
    own = own_addresses(data)
    return {
        "host": parsed.hostname,
        "addresses": addresses,
        "local": bool(addresses) and all(a in own for a in addresses) if not error else None,
        "error": error,
    }


def test_connection(data: dict, component: dict) -> str:
    """The result text of TestPfWsSdkConnection on this Mobile App Web Service: SUCCESS or why not."""
    url = sdk_url(component)
    if not url:
        return "The Web Service SDK URL is not set in web.config."
    parsed = urllib.parse.urlsplit(url.strip())
    scheme, name = parsed.scheme.lower(), parsed.hostname or ""
    if scheme not in ("http", "https") or not name:
        return f"Invalid URI: {url}"
    port = parsed.port or (443 if scheme == "https" else 80)
    addresses, error = resolve(data, name)
    if error:
        return f"The remote name could not be resolved: '{name}'"
    address = addresses[0]
    if address not in own_addresses(data):
        return CONNECT_FAILURE  # another host: not reachable from the lab
    if scheme == "http":
        site = http_site_for(data, port, name, address)
        if site is None:
            return CONNECT_FAILURE
    else:
        problem = _tls_problem(data, port, name, address)
        if problem:
            return problem
        site = iis.site_for(data, port, name, address)
        if site is None:
            return "The request failed with HTTP status 400: Bad Request."
    if not _serves_sdk(data, site, parsed.path):
        return "The request failed with HTTP status 404: Not Found."
    if not _credentials_accepted(data, component):
        return "The request failed with HTTP status 401: Unauthorized."
    if data["mfa"].get("sdk_reaches_service") is False:
        return SERVICE_DOWN
    return SUCCESS


def _tls_problem(data: dict, port: int, name: str, address: str) -> str | None:
    """Why the component's HttpWebRequest would not complete TLS to the SDK, from the host's point of view."""
    # Imported here: iis_tls_info imports lab.iis_https, which imports this module; the collection is
    # importable once lab.iis has put it on sys.path.
    from ansible_collections.mfa_server.tls.plugins.module_utils.certificates import dns_name_matches
    from lab.iis_https import served_certificate
    from lab.modules.iis_tls_info import _build_chain

    sni = None if _is_ip(name) else name
    cert = served_certificate(data, iis.select_entry(data, port, sni, address), sni)
    if cert is None:
        return SEND_FAILURE
    _chain, status, trusted, _intermediates = _build_chain(data, cert["der_b64"])
    dns, ips = certinfo.sans(certinfo.load(cert["der_b64"]))
    if _is_ip(name):
        covered = any(_same_ip(ip, name) for ip in ips)
    else:
        covered = any(dns_name_matches(pattern, name) for pattern in dns)
    if status or not trusted or not covered:
        return TRUST_FAILURE
    return None


def http_site_for(data: dict, port: int, host_header: str, local_ip: str) -> dict | None:
    """The site IIS routes an http request to: the binding with that host name, then one without, a
    specific address before `*` (lab.iis.site_for, the rule of plugins/module_utils/routing.py)."""
    return iis.site_for(data, port, host_header, local_ip, protocol="http")


def _serves_sdk(data: dict, site: dict, path: str) -> bool:
    for component in data["mfa"].get("components") or []:
        if component["component"] != "web_service_sdk" or component["site"] != site["name"]:
            continue
        vdir = component["virtual_path"].rstrip("/").lower()
        if component.get("marker_file_present") and (path or "").lower() == f"{vdir}/pfwssdk.asmx":
            return True
    return False


def _credentials_accepted(data: dict, component: dict) -> bool:
    settings = (component.get("web_config") or {}).get("settings") or {}
    user = (settings.get("WEB_SERVICE_SDK_AUTHENTICATION_USERNAME") or "").lower()
    password = settings.get("WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD") or ""
    return any(
        (account.get("username") or "").lower() == user and account.get("password") == password
        for account in data["mfa"].get("phonefactor_admins") or []
    )


def soap_answer(result: str) -> bytes:
    """The SOAP 1.1 response ASMX writes for the operation (element names by ASMX's convention)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<soap:Body><TestPfWsSdkConnectionResponse xmlns="{NAMESPACE}">'
        f"<TestPfWsSdkConnectionResult>{escape(result)}</TestPfWsSdkConnectionResult>"
        "</TestPfWsSdkConnectionResponse></soap:Body></soap:Envelope>"
    ).encode()


def soap_fault(message: str) -> bytes:
    """The SOAP 1.1 fault ASMX writes (HTTP 500) for a request it cannot dispatch."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        "<soap:Body><soap:Fault><faultcode>soap:Client</faultcode>"
        f"<faultstring>{escape(message)}</faultstring><detail /></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return False
