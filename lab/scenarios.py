"""Initial host states: `private-ca` (the private-CA failure on every host) and `traps` (what other tools broke).

`private-ca`: MFA Server 7.3, User Portal and Mobile App Web Service on Default Web Site, `*:443:` bound to
a certificate from a private CA (root not public; the host trusts it, phones do not).

`traps` cycles three kinds of host:
  1. every trap at once: several sites share one private certificate; an SNI binding and a catch-all on
     the same port; an IPv6 binding; an IP binding shared by two sites; a Central Certificate Store
     binding; an HTTP.sys entry with no IIS binding; a stale intermediate listed first in `CA`;
  2. already compliant (public certificate, intermediate in `CA`, MFA 8.0);
  3. IIS without MFA Server.
Every MFA host has the Web Service SDK next to the two components, which call it at
https://<public name>/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx with an account the SDK accepts. The `sdk-*`
scenarios are the private-ca host with that path broken one way each (localhost, IP, http to another host, a name
the certificate does not cover, wrong password, SDK cut off from the MFA service); `mobile-vdir-old-name`
keeps the Mobile App Web Service under its PhoneFactor-era virtual directory; `mobile-app-without-https` (MFA
7.3) has it in a site bound only to http, every HTTPS endpoint of the host being compliant.
`divergent`: the private-ca host plus the divergences between IIS and HTTP.sys that real servers show (a hidden
ipport entry overriding the wildcard, a binding without an entry, <customMetadata> 5506/5511, an entry owned
by another program, an IPv6 binding without brackets).
`sdk-catch-all`: the Web Service SDK alone on the catch-all `*:443:`, called by an internal name its own
certificate names, next to an SNI binding for the public name on the same port; `mfa8-leftover-mobile-app`:
MFA 8.0 whose Mobile App Web Service application lost its PfPaWs.asmx (404 before and after a change).
A FILE scenario is JSON:
  {"base": "private-ca"|"traps",
   "hosts":  {"<name>"|"*": {<state keys to override; mappings merge, other values replace>}},
   "append": {"<name>"|"*": {<state key holding a list>: [items appended to it]}}}
`*` applies to every host, before the host's own entry. `append` runs after `hosts`, so a scenario can add
sites (e.g. the fixture of an integration target) next to the generated ones without restating them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

from lab import iis
from lab.ca import LabCA
from lab.state import NO_FAULTS, HostState
from tests.support import pki

DOMAIN = "corp.contoso.com"
PUBLIC_DOMAIN = "lab.example"
IIS_ROOT = "C:\\inetpub\\wwwroot"
SECRET_USER = "CONTOSO\\svc-mfa-sdk"
SECRET_PASSWORD = "Sdk-Secret-4711!"
# The installer's default SDK URL, which must become the SDK's https URL by server name (windows-model.md 11).
INSTALLER_SDK_URL = "http://localhost:4898/PfWsSdk.asmx"
SDK_PATH = "/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"


def host_name(index: int) -> str:
    return f"mfa{index:02d}"


def identity(index: int) -> dict:
    name = host_name(index)
    return {
        "name": name,
        "computer_name": name.upper(),
        "public_name": f"{name}.{PUBLIC_DOMAIN}",
        "domain": DOMAIN,
        "ip": f"10.20.{index // 250}.{index % 250 + 1}",
        "ipv6": f"fd00:20::{index:x}",
        "os_name": "Microsoft Windows Server 2019 Datacenter",
        "os_version": "10.0.17763.0",
    }


def store_entry(state: HostState, issued: pki.Issued, *, key: bool = True, friendly: str = "") -> dict:
    if key:
        state.save_key(issued.sha1, issued.key_pem())
    return {
        "thumbprint": issued.sha1,
        "der_b64": base64.b64encode(issued.der()).decode(),
        "has_private_key": key,
        "private_key_machine": key,
        "exportable": False,
        "friendly_name": friendly,
    }


def _binding(info: str, flags: int = 0) -> dict:
    return {"protocol": "https", "binding_information": info, "ssl_flags": flags}


def _http(info: str = "*:80:") -> dict:
    return {"protocol": "http", "binding_information": info, "ssl_flags": 0}


def _sslcert(key: str, cert: pki.Issued | None, store: str = "MY", **fields) -> dict:
    """An HTTP.sys entry as IIS writes it for a binding (lab.iis.new_entry)."""
    return iis.new_entry(key, cert.sha1 if cert else "", store, **fields)


def _mfa(version: str | None, site: str = "Default Web Site", sdk_url: str = INSTALLER_SDK_URL) -> dict:
    """MFA Server with the User Portal, the Mobile App Web Service and the Web Service SDK on `site`; both
    clients call the SDK at `sdk_url` with the account of "PhoneFactor Admins" the SDK accepts."""
    if version is None:
        return {
            "installed": False,
            "version": None,
            "product_name": None,
            "install_path": None,
            "registry_key_present": False,
            "service": None,
            "components": [],
        }
    secret = {
        "WEB_SERVICE_SDK_AUTHENTICATION_USERNAME": SECRET_USER,
        "WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD": SECRET_PASSWORD,
    }
    return {
        "installed": True,
        "version": version,
        "product_name": "Multi-Factor Authentication Server",
        "install_path": "C:\\Program Files\\Multi-Factor Authentication Server",
        "registry_key_present": True,
        "service": {
            "name": "MultiFactorAuthSvc",
            "display_name": "Azure Multi-Factor Authentication Server Service",
            "state": "running",
            "start_mode": "auto",
        },
        "components": [
            {
                "component": "user_portal",
                "site": site,
                "virtual_path": "/MultiFactorAuth",
                "physical_path": f"{IIS_ROOT}\\MultiFactorAuth",
                "app_pool": "MultiFactorAuthAppPool",
                "marker_file_present": None,
                "web_config": {
                    "present": True,
                    "settings": {
                        "USE_WEB_SERVICE_SDK": "true",
                        "pfup_pfwssdk_PfWsSdk": sdk_url,
                        **secret,
                    },
                },
            },
            {
                "component": "mobile_app_web_service",
                "site": site,
                "virtual_path": "/MultiFactorAuthMobileAppWebService",
                "physical_path": f"{IIS_ROOT}\\MultiFactorAuthMobileAppWebService",
                "app_pool": "MultiFactorAuthMobileAppWebService",
                "marker_file_present": True,
                "web_config": {
                    "present": True,
                    "settings": {
                        "pfMobile App Web Service_pfwssdk_PfWsSdk": sdk_url,
                        "SSL_REQUIRED": "true",
                        **secret,
                    },
                },
            },
            {
                # The SDK authenticates its callers itself (IIS, "PhoneFactor Admins"): no credentials of its own.
                "component": "web_service_sdk",
                "site": site,
                "virtual_path": "/MultiFactorAuthWebServiceSdk",
                "physical_path": f"{IIS_ROOT}\\MultiFactorAuthWebServiceSdk",
                "app_pool": "MultiFactorAuthWebServiceSdk",
                "marker_file_present": True,
                "web_config": {"present": True, "settings": {}},
            },
        ],
        # What the SDK accepts and whether it reaches the MFA Server service (lab.mfa_sdk).
        "phonefactor_admins": [{"username": SECRET_USER, "password": SECRET_PASSWORD}],
        "sdk_reaches_service": True,
    }


def sdk_url_of(name: str, scheme: str = "https") -> str:
    return f"{scheme}://{name}{SDK_PATH}"


def _schannel() -> list[dict]:
    rows = []
    for protocol in ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"):
        for side in ("Server", "Client"):
            legacy = protocol.startswith("SSL")
            rows.append(
                {
                    "protocol": protocol,
                    "side": side,
                    "enabled": 0 if legacy else None,
                    "disabled_by_default": 1 if legacy else None,
                }
            )
    return rows


def _dotnet() -> list[dict]:
    return [
        {
            "framework": fw,
            "wow6432": wow,
            "sch_use_strong_crypto": 1 if fw.startswith("v4") else None,
            "system_default_tls_versions": 1 if fw.startswith("v4") else None,
        }
        for fw in ("v2.0.50727", "v4.0.30319")
        for wow in (False, True)
    ]


def _base(ident: dict, ca: LabCA, state: HostState) -> dict:
    return {
        "host": ident,
        "sites": [],
        "custom_metadata": [],
        "http_sys": [],
        "stores": {
            "My": [],
            "WebHosting": [],
            "CA": [],
            "Root": [
                store_entry(state, ca["private-root"], key=False),
                store_entry(state, ca["public-root"], key=False),
            ],
        },
        "mfa": _mfa(None),
        "iis": {"installed": True, "version": "Version 10.0"},
        "schannel": _schannel(),
        "dotnet_tls": _dotnet(),
        "files": {},
        "dirs": [],
        "counters": {"winrm_commands": 0, "modules": {}},
        "faults": dict(NO_FAULTS),
    }


def private_ca(index: int, ca: LabCA, state: HostState) -> dict:
    ident = identity(index)
    data = _base(ident, ca, state)
    leaf = ca.leaf("private", [ident["public_name"], f"{ident['name']}.{DOMAIN}"])
    data["stores"]["My"].append(store_entry(state, leaf, friendly="MFA private 2025"))
    data["stores"]["CA"].append(store_entry(state, ca["private-issuing"], key=False))
    data["sites"] = [
        {
            "id": 1,
            "name": "Default Web Site",
            "state": "Started",
            "physical_path": IIS_ROOT,
            "bindings": [_http(), _binding("*:443:")],
        }
    ]
    data["http_sys"] = [_sslcert("ipport=0.0.0.0:443", leaf)]
    data["mfa"] = _mfa("7.3.0.3", sdk_url=sdk_url_of(ident["public_name"]))
    return data


def _trap_host(index: int, ca: LabCA, state: HostState) -> dict:
    ident = identity(index)
    data = private_ca(index, ca, state)
    shared = pki.Issued(
        pki.x509.load_der_x509_certificate(base64.b64decode(data["stores"]["My"][0]["der_b64"])), None
    )  # type: ignore[arg-type]
    ip, ipv6, public = ident["ip"], ident["ipv6"], ident["public_name"]
    old = ca.leaf(
        "private",
        [f"legacy.{DOMAIN}"],
        not_before=pki.now() - dt.timedelta(days=900),
        not_after=pki.now() - dt.timedelta(days=535),
    )
    ccs = ca.leaf("private", [f"intranet.{DOMAIN}"])
    data["stores"]["My"].append(store_entry(state, old, friendly="legacy app 2023"))
    data["stores"]["CCS"] = [store_entry(state, ccs)]
    data["sites"] = [
        {
            "id": 1,
            "name": "Default Web Site",
            "state": "Started",
            "physical_path": IIS_ROOT,
            # DisableLegacyTLS (64) on the catch-all: its entry carries DISABLE_LEGACY_TLS, as IIS wrote it.
            "bindings": [_http(), _binding("*:443:", flags=64), _binding(f"*:443:{public}", flags=1)],
        },
        {
            "id": 2,
            "name": "Portal",
            "state": "Started",
            "physical_path": "C:\\inetpub\\portal",
            "bindings": [_binding(f"{ip}:8443:"), _binding(f"[{ipv6}]:443:")],
        },
        {
            "id": 3,
            "name": "Intranet",
            "state": "Started",
            "physical_path": "C:\\inetpub\\intranet",
            "bindings": [_binding(f"*:443:intranet.{DOMAIN}", flags=3)],
        },
        {
            "id": 4,
            "name": "Reports",
            "state": "Stopped",
            "physical_path": "C:\\inetpub\\reports",
            "bindings": [_binding(f"{ip}:8443:reports.{DOMAIN}")],
        },
    ]
    data["http_sys"] = [
        _sslcert("ipport=0.0.0.0:443", shared, default_flags=iis.default_flags_for(64)),
        _sslcert(f"hostnameport={public}:443", shared),
        _sslcert(f"ipport={ip}:8443", shared),
        _sslcert(f"ipport=[{ipv6}]:443", shared),
        _sslcert("ccs=443", None, store=""),
        # left by netsh or an uninstalled program: no IIS binding derives it
        _sslcert("ipport=0.0.0.0:4443", old, cert_check_mode=1),
    ]
    # A stale copy of the public issuing CA (same name and key, issued by a retired root) listed first.
    retired = pki.make_root(
        "Lab Public Root CA G0",
        not_before=pki.now() - dt.timedelta(days=4000),
        not_after=pki.now() - dt.timedelta(days=30),
    )
    stale = pki.make_intermediate(
        retired,
        "Lab Public Issuing CA R1",
        key=ca["public-issuing"].key,
        not_before=pki.now() - dt.timedelta(days=3000),
        not_after=pki.now() - dt.timedelta(days=31),
    )
    data["stores"]["CA"].insert(0, store_entry(state, stale, key=False))
    return data


def _compliant_host(index: int, ca: LabCA, state: HostState) -> dict:
    ident = identity(index)
    data = private_ca(index, ca, state)
    leaf = ca.leaf("public", [ident["public_name"]])
    data["stores"]["My"] = [store_entry(state, leaf, friendly="MFA public 2026")]
    data["stores"]["CA"].append(store_entry(state, ca["public-issuing"], key=False))
    data["http_sys"] = [_sslcert("ipport=0.0.0.0:443", leaf)]
    data["mfa"] = _mfa("8.0.1.1", sdk_url=sdk_url_of(ident["public_name"]))
    return data


def _no_mfa_host(index: int, ca: LabCA, state: HostState) -> dict:
    data = private_ca(index, ca, state)
    data["mfa"] = _mfa(None)
    return data


def traps(index: int, ca: LabCA, state: HostState) -> dict:
    return (_trap_host, _compliant_host, _no_mfa_host)[(index - 1) % 3](index, ca, state)


FOREIGN_APP_ID = "{9e4d1a52-7c1f-4f35-9b8e-2f0c6d7a1e33}"


def divergent(index: int, ca: LabCA, state: HostState) -> dict:
    """The private-ca host plus each divergence real servers show between IIS and HTTP.sys (windows-model.md 4):
    (a) a hidden ipport entry for the host's address that overrides the wildcard binding; (b) a binding with
    no entry; (c) legacy <customMetadata> 5506/5511 for a site; (d) an entry owned by another program; and a
    binding whose IPv6 address lacks brackets (Binding.CertificateHash throws for it)."""
    data = private_ca(index, ca, state)
    ident = identity(index)
    leaf = data["stores"]["My"][0]
    hidden = ca.leaf("private", [f"{ident['name']}.{DOMAIN}"])
    data["stores"]["My"].append(store_entry(state, hidden, friendly="left by a removed tool"))
    data["sites"] += [
        {
            "id": 2,
            "name": "Api",
            "state": "Started",
            "physical_path": "C:\\inetpub\\api",
            "bindings": [_binding("*:8443:", flags=64)],
        },
        {
            "id": 3,
            "name": "Sync",
            "state": "Started",
            "physical_path": "C:\\inetpub\\sync",
            "bindings": [_binding("*:9443:")],
        },
        {
            "id": 4,
            "name": "Legacy",
            "state": "Stopped",
            "physical_path": "C:\\inetpub\\legacy",
            "bindings": [_binding(f"{ident['ipv6']}:443:")],
        },
    ]
    data["http_sys"] += [
        _sslcert(f"ipport={ident['ip']}:443", hidden),
        _sslcert("ipport=0.0.0.0:9443", hidden, app_id=FOREIGN_APP_ID),
    ]
    data["custom_metadata"] = [
        {
            "path": "LM/W3SVC/1",
            "property_id": 5506,
            "value": base64.b64encode(bytes.fromhex(leaf["thumbprint"])).decode(),
        },
        {"path": "LM/W3SVC/1", "property_id": 5511, "value": "MY"},
    ]
    return data


def _set_sdk_client(data: dict, **settings: str) -> dict:
    """The private-ca host with these web.config settings on both SDK clients (User Portal, Mobile App Web Service);
    `sdk_url` sets each one's own SDK URL key."""
    for component in data["mfa"]["components"]:
        values = component["web_config"]["settings"]
        if "WEB_SERVICE_SDK_AUTHENTICATION_USERNAME" not in values:
            continue
        for key, value in settings.items():
            if key == "sdk_url":
                key = next(k for k in values if k.endswith("pfwssdk_PfWsSdk"))
            values[key] = value
    return data


# One scenario per way the Mobile App Web Service's path to the SDK fails (windows-model.md 11); each is the
# private-ca host with one thing changed.
def sdk_localhost(index: int, ca: LabCA, state: HostState) -> dict:
    """The installer's default SDK URL left in place: http://localhost:4898, where nothing listens."""
    return _set_sdk_client(private_ca(index, ca, state), sdk_url=INSTALLER_SDK_URL)


def sdk_ip(index: int, ca: LabCA, state: HostState) -> dict:
    """The SDK by the host's IP address over https: no certificate names it."""
    return _set_sdk_client(private_ca(index, ca, state), sdk_url=sdk_url_of(identity(index)["ip"]))


def sdk_http_remote(index: int, ca: LabCA, state: HostState) -> dict:
    """The SDK on another host, over http:// (the credentials cross the network in clear)."""
    data = private_ca(index, ca, state)
    data["host"]["dns"] = {f"mfa-sdk.{DOMAIN}": "10.20.9.10"}
    return _set_sdk_client(data, sdk_url=sdk_url_of(f"mfa-sdk.{DOMAIN}", "http"))


def sdk_name_uncovered(index: int, ca: LabCA, state: HostState) -> dict:
    """The SDK by the computer's short name, which resolves to the host but which its certificate does not name."""
    return _set_sdk_client(private_ca(index, ca, state), sdk_url=sdk_url_of(identity(index)["computer_name"]))


def sdk_credentials(index: int, ca: LabCA, state: HostState) -> dict:
    """A web.config password that is not the SDK account's (changed in the directory, not in web.config)."""
    return _set_sdk_client(
        private_ca(index, ca, state), WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD="Sdk-Old-0000!"
    )


def sdk_service_down(index: int, ca: LabCA, state: HostState) -> dict:
    """The SDK answers, but cannot reach the MFA Server service."""
    data = private_ca(index, ca, state)
    data["mfa"]["sdk_reaches_service"] = False
    return data


def mobile_vdir_old_name(index: int, ca: LabCA, state: HostState) -> dict:
    """The Mobile App Web Service still under its PhoneFactor-era virtual directory."""
    data = private_ca(index, ca, state)
    for component in data["mfa"]["components"]:
        if component["component"] == "mobile_app_web_service":
            component["virtual_path"] = "/PhoneFactorPhoneAppWebService"
            component["physical_path"] = f"{IIS_ROOT}\\PhoneFactorPhoneAppWebService"
    return data


def mobile_app_without_https(index: int, ca: LabCA, state: HostState) -> dict:
    """MFA Server 7.3 whose Mobile App Web Service sits in a site of its own bound only to http (port 8080),
    while the User Portal and the Web Service SDK on Default Web Site serve a publicly trusted certificate:
    every HTTPS endpoint passes, yet phones cannot activate (windows-model.md 9.7)."""
    data = _compliant_host(index, ca, state)
    data["mfa"] = _mfa("7.3.0.3", sdk_url=sdk_url_of(identity(index)["public_name"]))
    site = "MFA Mobile App"
    data["sites"].append(
        {
            "id": 2,
            "name": site,
            "state": "Started",
            "physical_path": "C:\\inetpub\\mfamobile",
            "bindings": [_http("*:8080:")],
        }
    )
    for component in data["mfa"]["components"]:
        if component["component"] == "mobile_app_web_service":
            component["site"] = site
    return data


SDK_INTERNAL_NAME = f"mfa-sdk.{DOMAIN}"


def sdk_catch_all(index: int, ca: LabCA, state: HostState) -> dict:
    """The Web Service SDK in a site of its own, bound to the catch-all `*:443:` with an internal CA's
    certificate for mfa-sdk.<domain>: the name both SDK clients call it by (the host resolves it to itself), as
    the SDK's setup asks (a server name its certificate names, windows-model.md 11.1 and 11.2). The User Portal
    and the Mobile App Web Service sit in Default Web Site behind an SNI binding for the public name on the same
    port, so the public name never reaches the catch-all (3.1, 3.7)."""
    data = private_ca(index, ca, state)
    ident = identity(index)
    public, portal_certificate = ident["public_name"], data["stores"]["My"][0]["thumbprint"]
    internal = ca.leaf("private", [SDK_INTERNAL_NAME])
    data["stores"]["My"].append(store_entry(state, internal, friendly="MFA SDK internal"))
    data["sites"] = [
        {
            "id": 1,
            "name": "Default Web Site",
            "state": "Started",
            "physical_path": IIS_ROOT,
            "bindings": [_http(), _binding(f"*:443:{public}", flags=1)],
        },
        {
            "id": 2,
            "name": "MFA SDK",
            "state": "Started",
            "physical_path": "C:\\inetpub\\mfasdk",
            "bindings": [_binding("*:443:")],
        },
    ]
    data["http_sys"] = [
        iis.new_entry(f"hostnameport={public}:443", portal_certificate),
        _sslcert("ipport=0.0.0.0:443", internal),
    ]
    for component in data["mfa"]["components"]:
        if component["component"] == "web_service_sdk":
            component["site"] = "MFA SDK"
    data["host"]["dns"] = {SDK_INTERNAL_NAME: ident["ip"]}
    return _set_sdk_client(data, sdk_url=sdk_url_of(SDK_INTERNAL_NAME))


def mfa8_leftover_mobile_app(index: int, ca: LabCA, state: HostState) -> dict:
    """MFA Server 8.0, which no longer needs the Mobile App Web Service for activation (windows-model.md 9.5),
    with the service's IIS application left behind without its PfPaWs.asmx: that path answers 404 before a
    certificate change and after it (9.2)."""
    data = private_ca(index, ca, state)
    data["mfa"]["version"] = "8.0.3.1"
    for component in data["mfa"]["components"]:
        if component["component"] == "mobile_app_web_service":
            component["marker_file_present"] = False
    return data


SCENARIOS = {
    "private-ca": private_ca,
    "traps": traps,
    "divergent": divergent,
    "sdk-localhost": sdk_localhost,
    "sdk-ip": sdk_ip,
    "sdk-http-remote": sdk_http_remote,
    "sdk-name-uncovered": sdk_name_uncovered,
    "sdk-credentials": sdk_credentials,
    "sdk-service-down": sdk_service_down,
    "mobile-vdir-old-name": mobile_vdir_old_name,
    "sdk-catch-all": sdk_catch_all,
    "mfa8-leftover-mobile-app": mfa8_leftover_mobile_app,
    "mobile-app-without-https": mobile_app_without_https,
}


def _merge(base: dict, override: dict) -> dict:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def build(scenario: str, index: int, ca: LabCA, state: HostState) -> dict:
    if scenario in SCENARIOS:
        return SCENARIOS[scenario](index, ca, state)
    spec = json.loads(Path(scenario).read_text())
    data = SCENARIOS[spec.get("base", "private-ca")](index, ca, state)
    for name in ("*", host_name(index)):
        _merge(data, (spec.get("hosts") or {}).get(name) or {})
    for name in ("*", host_name(index)):
        for key, items in ((spec.get("append") or {}).get(name) or {}).items():
            target = data.get(key)
            if not isinstance(target, list) or not isinstance(items, list):
                raise ValueError(f"scenario {scenario}: append.{name}.{key} must name a list and hold a list")
            target.extend(items)
    return data
