"""The MFA Server's own checks: retirement, where an SDK URL lands, the SOAP test call, the console URL."""

from __future__ import annotations

import contextlib
import http.server
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import mfa_checks
from ansible_collections.mfa_server.tls.plugins.module_utils.mfa_checks import HttpAnswer, MfaOptions
from tests.support.chains import LabPKI

PUBLIC = "mfa.contoso.com"
GOOD = "A1" * 20
OTHER = "B2" * 20
HOST_IP = "10.0.0.5"


def _binding(info: str) -> dict:
    return {"binding_information": info, "http_sys_status": "bound"}


def _entry(key: str, thumbprint: str) -> dict:
    return {"key": key, "certificate_hash": thumbprint, "certificate_store_name": "MY"}


def _certificate(thumbprint: str, names: list[str]) -> dict:
    return {"thumbprint": thumbprint, "store_name": "My", "found": True, "san_dns_names": names}


def _iis(entries: list[dict] | None = None, bindings: list[str] | None = None) -> dict:
    return {
        "sites": [
            {"name": "Default Web Site", "bindings": [_binding(b) for b in bindings or ["*:443:"]]},
            {"name": "Intranet", "bindings": [_binding("*:443:intranet.contoso.com")]},
        ],
        "http_sys": entries if entries is not None else [_entry("ipport=0.0.0.0:443", GOOD)],
        "certificates": [
            _certificate(GOOD, [PUBLIC, "*.corp.contoso.com"]),
            _certificate(OTHER, ["legacy.corp.contoso.com"]),
        ],
    }


def _component(kind: str, path: str, site: str = "Default Web Site", **extra) -> dict:
    return {"component": kind, "site": site, "virtual_path": path, **extra}


def _client(url: str, addresses: list[str], local: bool | None, kind: str = "mobile_app_web_service") -> dict:
    key = (
        "pfMobile App Web Service_pfwssdk_PfWsSdk"
        if kind == "mobile_app_web_service"
        else "pfup_pfwssdk_PfWsSdk"
    )
    return _component(
        kind,
        "/MultiFactorAuthMobileAppWebService" if kind == "mobile_app_web_service" else "/MultiFactorAuth",
        web_config={"sdk_url": url, "sdk_url_key": key, "use_web_service_sdk": "true"},
        sdk_url_resolution={"addresses": addresses, "local": local},
    )


def _mfa(*clients: dict, sdk_http: list[str] | None = None, installed: bool = True) -> dict:
    sdk = _component("web_service_sdk", "/MultiFactorAuthWebServiceSdk", http_bindings=sdk_http or ["*:80:"])
    return {
        "installed": installed,
        "version": "7.3.0.3",
        "install_path": "C:\\Program Files\\Multi-Factor Authentication Server",
        "end_of_support": "2024-09-30",
        "end_of_support_reached": True,
        "components": [*clients, sdk],
    }


def _problems(url: str, addresses=(HOST_IP,), local=True, iis=None, **mfa) -> list[str]:
    client = _client(url, list(addresses), local)
    return mfa_checks.sdk_url_problems(url, client["sdk_url_resolution"], iis or _iis(), _mfa(client, **mfa))


# ---- retirement -------------------------------------------------------------------------------------------


def test_every_host_with_mfa_server_is_told_it_is_retired():
    found = mfa_checks.host_findings(_iis(), _mfa(), [], {}, MfaOptions(), 1)
    (retired,) = [f for f in found if f["code"] == "MFA_SERVER_RETIRED"]
    assert retired["severity"] == "warning"
    assert "since 2024-09-30" in retired["message"] and "Migration Utility" in retired["message"]
    assert retired["where"] == "C:\\Program Files\\Multi-Factor Authentication Server"
    assert not mfa_checks.host_findings(_iis(), _mfa(installed=False), [], {}, MfaOptions(), 1)


# ---- where an SDK URL lands -------------------------------------------------------------------------------


def test_the_sdk_by_the_name_its_certificate_covers_is_safe():
    assert _problems(f"https://{PUBLIC}/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx") == []


@pytest.mark.parametrize("host", ["localhost", HOST_IP, "[fd00::5]"])
def test_https_to_localhost_or_an_address_is_unsafe(host):
    (problem,) = _problems(f"https://{host}/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx")
    assert "no publicly trusted certificate names" in problem and host.strip("[]") in problem


def test_http_to_another_host_is_unsafe():
    (problem,) = _problems(
        "http://sdk.corp.contoso.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx", ["10.9.9.9"], False
    )
    assert "http:// to another host (10.9.9.9)" in problem


def test_the_installer_default_lands_on_no_http_binding_of_the_sdk_site():
    (problem,) = _problems("http://localhost:4898/PfWsSdk.asmx", ["::1", "127.0.0.1"])
    assert "no http binding of the Web Service SDK's site listens on port 4898" in problem
    # Where an http binding of the SDK's site listens there (and the path is the SDK's), nothing is unsafe.
    url = "http://localhost:4898/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
    assert _problems(url, ["::1", "127.0.0.1"], sdk_http=["*:80:", "*:4898:"]) == []


def test_a_name_the_bound_certificate_does_not_cover_is_unsafe():
    (problem,) = _problems("https://MFA01/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx")
    assert f"the certificate {GOOD} bound there (ipport=0.0.0.0:443)" in problem and "not mfa01" in problem


def test_the_certificate_is_the_one_http_sys_picks_sni_then_address_then_wildcard():
    url = f"https://{PUBLIC}/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
    hidden = _iis([_entry("ipport=0.0.0.0:443", GOOD), _entry(f"ipport={HOST_IP}:443", OTHER)])
    (problem,) = _problems(url, iis=hidden)
    assert (
        f"{OTHER} bound there (ipport={HOST_IP}:443)" in problem
    )  # the address entry wins over the wildcard
    sni = _iis([_entry("ipport=0.0.0.0:443", OTHER), _entry(f"hostnameport={PUBLIC}:443", GOOD)])
    assert _problems(url, iis=sni) == []  # the SNI entry wins over both
    (problem,) = _problems(url, iis=_iis([]))
    assert "no HTTP.sys entry serves" in problem


def test_a_url_that_lands_on_a_site_without_the_sdk_is_reported():
    url = "https://intranet.contoso.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
    iis = _iis([_entry("ipport=0.0.0.0:443", GOOD)])
    iis["certificates"][0]["san_dns_names"].append("intranet.contoso.com")
    (problem,) = _problems(url, iis=iis)
    assert "the binding '*:443:intranet.contoso.com' of site 'Intranet', where no Web Service SDK" in problem


def test_iis_routes_to_the_exact_host_name_then_the_blank_host_binding():
    site = "Default Web Site"
    table = [(site, "*:443:"), (site, f"{HOST_IP}:443:"), ("Other", f"*:443:{PUBLIC}")]
    assert mfa_checks.route(table, 443, PUBLIC, HOST_IP) == ("Other", f"*:443:{PUBLIC}")
    assert mfa_checks.route(table, 443, "other.contoso.com", HOST_IP) == (site, f"{HOST_IP}:443:")
    assert mfa_checks.route(table, 443, "other.contoso.com", "10.0.0.6") == (site, "*:443:")
    assert mfa_checks.route(table, 8443, PUBLIC, HOST_IP) is None


def test_the_sdk_site_is_routed_to_even_when_the_facts_leave_its_site_out():
    """tls_facts' `sites` option narrows the IIS facts, not the MFA components' bindings."""
    url = f"https://{PUBLIC}/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
    narrowed = _iis()
    narrowed["sites"] = [s for s in narrowed["sites"] if s["name"] == "Intranet"]
    client = _client(url, [HOST_IP], True)
    mfa = _mfa(client)
    assert mfa_checks.sdk_url_problems(url, client["sdk_url_resolution"], narrowed, mfa)
    mfa["components"][-1]["https_bindings"] = ["*:443:"]
    assert mfa_checks.sdk_url_problems(url, client["sdk_url_resolution"], narrowed, mfa) == []


def test_another_host_over_https_is_left_to_the_connection_test():
    url = "https://sdk.corp.contoso.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
    assert _problems(url, ["10.9.9.9"], False) == []
    assert _problems(url, [], None) == []  # not resolved from the host: only the SOAP test can tell


def test_only_components_that_use_the_sdk_are_judged():
    portal = _client("http://localhost:4898/PfWsSdk.asmx", ["127.0.0.1"], True, kind="user_portal")
    off = dict(portal, web_config={**portal["web_config"], "use_web_service_sdk": "false"})
    assert [c["component"] for c in mfa_checks.sdk_clients(_mfa(portal))] == ["user_portal"]
    assert mfa_checks.sdk_clients(_mfa(off)) == []
    (unsafe,) = [
        f
        for f in mfa_checks.host_findings(_iis(), _mfa(portal), [], {}, MfaOptions(), 1)
        if f["code"] != "MFA_SERVER_RETIRED"
    ]
    assert unsafe["code"] == "SDK_URL_UNSAFE" and unsafe["severity"] == "error"
    assert unsafe["where"] == "Default Web Site/MultiFactorAuth pfup_pfwssdk_PfWsSdk"


# ---- the SOAP answer --------------------------------------------------------------------------------------


def _envelope(inner: str) -> bytes:
    return (
        f'<?xml version="1.0"?><soap:Envelope xmlns:soap="{mfa_checks.SOAP_ENVELOPE}"><soap:Body>{inner}'
        "</soap:Body></soap:Envelope>"
    ).encode()


def _result(text: str) -> bytes:
    return _envelope(
        f'<TestPfWsSdkConnectionResponse xmlns="{mfa_checks.PFPAWS_NAMESPACE}">'
        f"<TestPfWsSdkConnectionResult>{text}</TestPfWsSdkConnectionResult></TestPfWsSdkConnectionResponse>"
    )


@pytest.mark.parametrize(
    ("answer", "success", "said"),
    [
        (HttpAnswer(200, "OK", _result("Success")), True, "'Success'"),
        (HttpAnswer(200, "OK", _result("true")), True, "'true'"),
        (
            HttpAnswer(200, "OK", _result("The request failed with HTTP status 401: Unauthorized.")),
            False,
            "401",
        ),
        (HttpAnswer(200, "OK", _result("Unsuccessful")), False, "Unsuccessful"),
        (
            HttpAnswer(
                500,
                "Internal Server Error",
                _envelope("<soap:Fault><faultstring>Boom</faultstring></soap:Fault>"),
            ),
            False,
            "SOAP fault 'Boom'",
        ),
        (HttpAnswer(404, "Not Found", b"<h1>404</h1>"), False, "HTTP 404 Not Found"),
        (HttpAnswer(error="timed out"), False, "no answer (timed out)"),
    ],
)
def test_only_a_success_result_passes(answer, success, said):
    verdict, quoted = mfa_checks.sdk_test_verdict(answer)
    assert verdict is success and said in quoted


def test_quotes_are_one_short_line():
    assert (
        mfa_checks.quote("a\n  b " + "x" * 500).startswith("a b x")
        and len(mfa_checks.quote("x" * 500)) == 200
    )


# ---- a real HTTPS server on 127.0.0.1 ---------------------------------------------------------------------

LAB = LabPKI()


@contextlib.contextmanager
def https_server(answer) -> Iterator[tuple[str, list[dict]]]:
    """Serves `answer(method, path, headers, body) -> (status, body)`; yields its address and the requests seen
    (with the SNI name the client sent)."""
    seen: list[dict] = []
    leaf = LAB.leaf(names=[PUBLIC])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "c.pem").write_bytes(leaf.pem() + LAB.public_ca.pem())
        Path(folder, "k.pem").write_bytes(leaf.key_pem())
        context.load_cert_chain(Path(folder, "c.pem"), Path(folder, "k.pem"))
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "sni": names[-1],
                }
            )
            status, payload = answer(self.command, self.path, self.headers, body)
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, address = super().get_request()
            return context.wrap_socket(sock, server_side=True), address

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


SERVICE = f"https://{PUBLIC}/MultiFactorAuthMobileAppWebService/PfPaWs.asmx"
MOBILE = _component("mobile_app_web_service", "/MultiFactorAuthMobileAppWebService")


def _endpoints(address: str) -> list[dict]:
    return [
        {
            "component": "mobile_app_web_service",
            "site": "Default Web Site",
            "url": SERVICE,
            "address": address,
        }
    ]


def test_the_soap_test_is_posted_to_the_probe_address_with_the_public_name():
    with https_server(lambda *_: (200, _result("Success"))) as (address, seen):
        assert mfa_checks.sdk_connection_findings(MOBILE, _endpoints(address), 5) == []
    (request,) = seen
    assert (
        request["method"] == "POST" and request["path"] == "/MultiFactorAuthMobileAppWebService/PfPaWs.asmx"
    )
    assert request["sni"] == PUBLIC and request["headers"]["Host"] == PUBLIC
    assert request["headers"]["SOAPAction"] == '"http://www.phonefactor.com/PfPaWs/TestPfWsSdkConnection"'
    assert b"<TestPfWsSdkConnection " in request["body"]


def test_a_failed_soap_test_quotes_what_the_service_said():
    with https_server(lambda *_: (200, _result("Unable to connect to the remote server"))) as (
        address,
        _seen,
    ):
        (failed,) = mfa_checks.sdk_connection_findings(MOBILE, _endpoints(address), 5)
    assert failed["code"] == "SDK_CONNECTION_FAILED" and failed["where"] == SERVICE
    assert "TestPfWsSdkConnectionResult 'Unable to connect to the remote server'" in failed["message"]


def test_the_soap_test_is_asked_only_when_the_option_is_on():
    with https_server(lambda *_: (200, _result("Failed"))) as (address, seen):
        mfa = _mfa(dict(MOBILE, sdk_url_resolution=None))
        quiet = mfa_checks.host_findings(_iis(), mfa, _endpoints(address), {}, MfaOptions(), 5)
        asked = mfa_checks.host_findings(
            _iis(), mfa, _endpoints(address), {}, MfaOptions(check_sdk_connection=True), 5
        )
    assert [f["code"] for f in quiet] == ["MFA_SERVER_RETIRED"]
    assert [f["code"] for f in asked] == ["MFA_SERVER_RETIRED", "SDK_CONNECTION_FAILED"] and len(seen) == 1


def test_a_silent_service_fails_within_the_timeout():
    with silent_listener() as address:
        started = time.monotonic()
        (failed,) = mfa_checks.sdk_connection_findings(MOBILE, _endpoints(address), 0.5)
        assert time.monotonic() - started < 3
    assert "no answer" in failed["message"] and "timed out" in failed["message"]


@contextlib.contextmanager
def silent_listener() -> Iterator[str]:
    """A TCP port that accepts and never speaks (the handshake times out)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_a_service_whose_https_binding_was_not_probed_is_a_failed_test():
    (failed,) = mfa_checks.sdk_connection_findings(MOBILE | {"https_bindings": ["*:443:"]}, [], 1)
    assert failed["code"] == "SDK_CONNECTION_FAILED" and "could not be asked" in failed["message"]


def test_a_service_without_any_https_binding_is_not_asked_and_not_reported_twice():
    """MFA_COMPONENT_WITHOUT_HTTPS (scope) is the one finding for that cause."""
    assert mfa_checks.sdk_connection_findings(MOBILE | {"https_bindings": []}, [], 1) == []


# ---- the console's Mobile App Web Service URL -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "service", "vdir"),
    [
        (
            f"https://{PUBLIC}/PhoneFactorPhoneAppWebService/",
            f"https://{PUBLIC}/PhoneFactorPhoneAppWebService/PfPaWs.asmx",
            "PhoneFactorPhoneAppWebService",
        ),
        (f"https://{PUBLIC}:8443/PA/PfPaWs.asmx", f"https://{PUBLIC}:8443/PA/PfPaWs.asmx", "PA"),
    ],
)
def test_the_console_url_names_a_virtual_directory(url, service, vdir):
    assert mfa_checks.parse_console_url(url) == (service, vdir)


def test_a_console_url_that_is_not_https_is_refused():
    with pytest.raises(mfa_checks.ConsoleUrlError, match="not an https:// URL"):
        mfa_checks.parse_console_url("http://mfa.contoso.com/PA/")


def _only_new_name(method, path, _headers, _body):
    return (200 if path == "/MultiFactorAuthMobileAppWebService/PfPaWs.asmx" else 404), b""


def test_a_console_url_on_the_renamed_directory_is_component_url_not_found():
    old = f"https://{PUBLIC}/PhoneFactorPhoneAppWebService/"
    with https_server(_only_new_name) as (address, seen):
        (found,) = mfa_checks.console_url_findings(old, _mfa(MOBILE), {443: address}, 5)
        assert (
            mfa_checks.console_url_findings(
                f"https://{PUBLIC}/MultiFactorAuthMobileAppWebService/", _mfa(MOBILE), {443: address}, 5
            )
            == []
        )
        (other,) = mfa_checks.console_url_findings(f"https://{PUBLIC}/PA/", _mfa(MOBILE), {443: address}, 5)
    assert found["code"] == "COMPONENT_URL_NOT_FOUND" and found["severity"] == "error"
    assert "installed at /MultiFactorAuthMobileAppWebService of site 'Default Web Site'" in found["message"]
    assert seen[0]["method"] == "GET" and seen[0]["path"] == "/PhoneFactorPhoneAppWebService/PfPaWs.asmx"
    assert other["code"] == "HTTP_NOT_FOUND"  # a 404 with no other known name installed


def test_an_unreachable_console_url_is_reported():
    with silent_listener() as address:
        (found,) = mfa_checks.console_url_findings(f"https://{PUBLIC}/PA/", _mfa(MOBILE), {443: address}, 0.5)
    assert found["code"] == "UNREACHABLE"
