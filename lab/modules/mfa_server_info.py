"""mfa_server.tls.mfa_server_info: MFA Server install, service and web components (secrets never returned).

As the .ps1 on Windows:
- An application whose physical path is empty (or only blanks) cannot be looked at: Join-Path refuses an
  empty path. The component is reported with what IIS says of it, `skipped_reason` says why its folder was
  not read, and a warning says it too; the rest of the host is still reported.
- A web.config that cannot be read or parsed (`web_config.error` in the host state: the message
  XmlDocument.Load throws) leaves `web_config.present` false, with a `skipped_reason` and a warning.
- `sdk_url_resolution`: the SDK URL's host name resolved as the host resolves it (Dns.GetHostAddresses;
  lab.mfa_sdk.resolve), and whether every address is one of the host's own or a loopback address.
- Order is ordinal (case-sensitive, culture-independent): components by site id then virtual path,
  `app_setting_keys` by name, as `[StringComparer]::Ordinal` sorts.
"""

from __future__ import annotations

import datetime as dt

from lab import iis, mfa_sdk

END_OF_SUPPORT = "2024-09-30"
_MARKERS = {"mobile_app_web_service": "PfPaWs.asmx", "web_service_sdk": "PfWsSdk.asmx", "user_portal": None}
_SDK_KEYS = ("pfMobile App Web Service_pfwssdk_PfWsSdk", "pfup_pfwssdk_PfWsSdk", "pfwssdk_PfWsSdk")


def _web_config(config: dict) -> dict:
    settings = (config.get("settings") or {}) if not config.get("error") else {}
    sdk_key = next((k for k in _SDK_KEYS if k in settings), None)
    return {
        "present": bool(config.get("present")) and not config.get("error"),
        "sdk_url": settings.get(sdk_key) if sdk_key else None,
        "sdk_url_key": sdk_key,
        "use_web_service_sdk": settings.get("USE_WEB_SERVICE_SDK"),
        "ssl_required": settings.get("SSL_REQUIRED"),
        "sdk_username_set": bool(settings.get("WEB_SERVICE_SDK_AUTHENTICATION_USERNAME")),
        "sdk_password_set": bool(settings.get("WEB_SERVICE_SDK_AUTHENTICATION_PASSWORD")),
        "app_setting_keys": sorted(settings),
    }


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def run(m) -> None:
    data = m.host.state.read()
    mfa = data["mfa"]
    sites = {s["name"]: s for s in data["sites"]}
    components = []
    warnings = []
    for component in mfa.get("components", []):
        site = sites.get(component["site"])
        if site is None:
            continue
        marker = _MARKERS[component["component"]]
        folder = component.get("physical_path") or ""
        config = component.get("web_config") or {}
        where = f"{site['name']}{component['virtual_path']}"
        reason = None
        if not folder.strip():
            reason = (
                f"the IIS application {where} has no physical path, so its folder and web.config were not read. "
                "Set the application's physical path in IIS Manager (Basic Settings) to the component's folder."
            )
            config = {}
        elif config.get("error"):
            reason = (
                f"cannot read {folder}\\web.config ({config['error']}), so its settings are not reported. Repair "
                "the XML of the file, or give the account Ansible uses read access to it."
            )
        if reason:
            warnings.append(reason if not folder.strip() else f"IIS application {where}: {reason}")
        components.append(
            {
                "component": component["component"],
                "site": site["name"],
                "site_id": site["id"],
                "virtual_path": component["virtual_path"],
                "physical_path": folder,
                "app_pool": component["app_pool"],
                "marker_file": marker,
                "marker_file_present": bool(component.get("marker_file_present"))
                if marker and folder.strip()
                else None,
                "https_bindings": [
                    b["binding_information"] for s, b in iis.https_bindings(data) if s is site
                ],
                "http_bindings": [
                    b["binding_information"] for b in site["bindings"] if b["protocol"].lower() == "http"
                ],
                "web_config": _web_config(config),
                "sdk_url_resolution": mfa_sdk.resolution(data, _web_config(config)["sdk_url"]),
                "skipped_reason": reason,
            }
        )
    components.sort(key=lambda c: (c["site_id"], c["virtual_path"]))  # ordinal, as the .ps1
    if warnings:
        m.result.setdefault("warnings", []).extend(warnings)
    version = mfa.get("version")
    service = mfa.get("service")
    m.result.update(
        {
            "installed": bool(mfa.get("installed")),
            "version": version,
            "version_source": "uninstall" if version else "none",
            "product_name": mfa.get("product_name"),
            "install_path": m.params.get("install_path") or mfa.get("install_path"),
            "registry_key_present": bool(mfa.get("registry_key_present")),
            "service": {"found": True, **service}
            if service
            else {"found": False, "name": None, "display_name": None, "state": None, "start_mode": None},
            "components": components,
            "end_of_support": END_OF_SUPPORT,
            "end_of_support_reached": dt.datetime.now(dt.UTC).date() >= dt.date.fromisoformat(END_OF_SUPPORT),
            "mobile_app_web_service_required": (_version_tuple(version) < (8,))
            if (mfa.get("installed") and version)
            else None,
        }
    )
