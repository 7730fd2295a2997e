"""mfa_server.tls.host_tls_info: iis_tls_info and mfa_server_info in one module execution, as the .ps1 runs
Get-IisTlsReport and Get-MfaServerReport in one powershell.exe (one exec wrapper, one compilation)."""

from __future__ import annotations

from lab.modules import iis_tls_info, mfa_server_info


def run(m) -> None:
    iis = _part(m, iis_tls_info.run, {"sites": m.params.get("sites") or []}, "")
    mfa = _part(m, mfa_server_info.run, {"install_path": m.params.get("install_path")}, "mfa_server: ")
    m.result.update({"iis": iis, "mfa_server": mfa})


def _part(m, handler, params: dict, prefix: str) -> dict:
    """One report, run as its own module would be, its warnings passed on and a failure named by part."""
    from lab.modules import ModuleFailed, ModuleRun

    part = ModuleRun(m.host, m.name, params, m.check_mode, m.diff)
    try:
        handler(part)
    except ModuleFailed as exc:
        m.fail(prefix + exc.msg)
    result = dict(part.result)
    result.pop("changed", None)
    warnings = result.pop("warnings", [])
    if warnings:
        m.result.setdefault("warnings", []).extend(warnings)
    return result
