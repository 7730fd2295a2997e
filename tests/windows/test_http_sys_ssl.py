"""plugins/module_utils/_HttpSysSsl.cs compiled with mcs and run under Mono against a stand-in httpapi.

- every C# module util compiles as Add-CSharpType would (-sdk:4.5, warnings as errors, and C# 5);
- the Marshal.SizeOf/OffsetOf of every interop structure equals the x64 layout of mingw-w64's http.h
  (x86_64-w64-mingw32-gcc, the Windows ABI; a Linux compiler's `unsigned long` differs);
- the real P/Invoke code runs against tests/windows/httpapi_standin.c, a Linux libhttpapi.so that keeps the
  SSL, SNI and CCS tables in memory and follows Microsoft's documented return codes;
- the shared vectors (tests/vectors/windows_rules.json) hold for WindowsRules, row by row;
- mutation tests: a copy of _HttpSysSsl.cs with one deliberate bug must make the relevant check fail.

Without mcs/mono/gcc/mingw the tests skip loudly; with CI=true they fail instead (CI installs them:
Debian mono-mcs, mono-devel for the 4.5 reference assemblies, gcc, gcc-mingw-w64-x86-64).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
UTILS = ROOT / "plugins" / "module_utils"
SOURCE = UTILS / "_HttpSysSsl.cs"
DRIVER = HERE / "HttpSysSslDriver.cs"
STANDIN = HERE / "httpapi_standin.c"
VECTORS = ROOT / "tests" / "vectors" / "windows_rules.json"

IIS_APP_ID = "{4dc3e181-e14b-4a21-b022-59fc669b0914}"
FOREIGN = "{12345678-9abc-def0-1234-56789abcdef0}"
NEW_HASH = "A909502DD82AE41433E6F83886B00D4277A32A7B"
MCS = ["mcs", "-sdk:4.5", "-warnaserror+"]
SCENARIOS = [
    "layout",
    "vectors",
    "list",
    "get",
    "bigentry",
    "create",
    "update_keeps",
    "fail_midway",
    "fail_create",
    "fail_restore",
    "verify_mismatch",
    "restore_snapshot",
    "ccs_refused",
]
FALLBACK_SCENARIOS = ["fallback"]
TIMEOUT = 60


def _missing(what: str) -> None:
    message = f"NOT TESTED: {what} is missing, so _HttpSysSsl.cs was not compiled or run"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: CI must install it)")
    pytest.skip(message)


def _require(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            _missing(tool)


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _mcs(args: list[str]) -> subprocess.CompletedProcess:
    result = _run([*MCS, *args])
    if "SDK path could not be resolved" in result.stdout + result.stderr:
        _missing(
            "the .NET 4.5 reference assemblies for mcs -sdk:4.5 (Debian mono-devel: /usr/lib/mono/4.5-api)"
        )
    return result


# ---- building


class Build:
    """The stand-in libraries (with and without HttpUpdateServiceConfiguration) and a driver built from one
    copy of _HttpSysSsl.cs; DllImport("httpapi.dll") is mapped with a <dllmap> next to each driver.exe."""

    def __init__(self, work: Path, source: Path = SOURCE, libraries: dict[str, Path] | None = None):
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.libraries = libraries or self._build_libraries()
        exe = work / "driver.exe"
        result = _mcs([f"-out:{exe}", str(source), str(DRIVER)])
        assert result.returncode == 0, f"driver build failed:\n{result.stdout}{result.stderr}"
        self.drivers = {}
        for name, library in self.libraries.items():
            folder = work / name
            folder.mkdir(exist_ok=True)
            shutil.copy(exe, folder / "driver.exe")
            (folder / "driver.exe.config").write_text(
                f'<configuration>\n  <dllmap dll="httpapi.dll" target="{library}" />\n</configuration>\n'
            )
            self.drivers[name] = folder / "driver.exe"

    def _build_libraries(self) -> dict[str, Path]:
        libraries = {}
        for name, define in (("standin", []), ("noupdate", ["-DSTANDIN_NO_UPDATE"])):
            folder = self.work / f"lib-{name}"
            folder.mkdir(exist_ok=True)
            library = folder / "libhttpapi.so"
            cmd = [
                "gcc",
                "-shared",
                "-fPIC",
                "-O1",
                "-Wall",
                "-Wextra",
                "-Werror",
                *define,
                "-o",
                str(library),
            ]
            result = _run([*cmd, str(STANDIN)])
            assert result.returncode == 0, f"stand-in build failed:\n{result.stderr}"
            libraries[name] = library
        return libraries

    def run(self, scenarios: list[str], library: str = "standin") -> dict[str, dict]:
        result = _run(["mono", str(self.drivers[library]), str(VECTORS), *scenarios])
        assert result.returncode == 0, f"driver failed:\n{result.stdout}\n{result.stderr}"
        outputs = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return {o["scenario"]: o for o in outputs}


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Build:
    _require("mcs", "mono", "gcc")
    return Build(tmp_path_factory.mktemp("httpsys"))


@pytest.fixture(scope="module")
def results(build) -> dict[str, dict]:
    out = build.run(SCENARIOS)
    out.update(build.run(FALLBACK_SCENARIOS, library="noupdate"))
    return out


# ---- checks, shared by the tests and the mutation tests


def _records(dump: dict) -> list[dict]:
    return sorted(
        dump["records"], key=lambda r: (r["config"], r["family"], r["ip"], r["port"], str(r["host"]))
    )


def _calls(result: dict, fn: str | None = None) -> list[tuple[str, int, int]]:
    calls = [(c["fn"], c["config"], c["rc"]) for c in result["dump"]["calls"]]
    return [c for c in calls if fn is None or c[0] == fn]


def _ok(result: dict) -> None:
    assert "unexpected" not in result, result.get("unexpected")
    if "initialized" in result:
        assert result["initialized"] == 0, "HttpInitialize without HttpTerminate"
        init = [c for c in _calls(result) if c[0] in ("HttpInitialize", "HttpTerminate")]
        assert all(c[2] == 0 for c in init)


def check_vectors(result: dict) -> None:
    rows = result["rows"]
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    for section in ("binding_keys", "default_flags", "thumbprints", "store_names"):
        got = [r for r in rows if r["section"] == section]
        assert len(got) == len(vectors[section]), f"{section}: the driver checked {len(got)} rows"
    failed = [r for r in rows if not r["ok"]]
    assert not failed, failed


def check_list(result: dict) -> None:
    _ok(result)
    entries = result["entries"]
    keys = [e["key"] for e in entries]
    assert keys == sorted(keys), "List() is not in ordinal order by key"
    assert keys == [
        "ccs=443",
        "ccs=8443",
        "hostnameport=Portal.Contoso.com:8443",
        "hostnameport=a.contoso.com:443",
        "hostnameport=b.contoso.com:443",
        "ipport=0.0.0.0:443",
        "ipport=10.0.0.5:443",
        "ipport=[::]:443",
        "ipport=[fd00:20::5]:8443",
    ]
    by_key = {e["key"]: e for e in entries}
    portal = by_key["hostnameport=Portal.Contoso.com:8443"]
    assert portal == {
        "kind": "hostnameport",
        "address": "Portal.Contoso.com",
        "key": "hostnameport=Portal.Contoso.com:8443",
        "port": 8443,
        "hash": "3" * 40,
        "store_name": "My",
        "app_id": FOREIGN,
        "default_flags": 0x10,
        "cert_check_mode": 4,
        "revocation_freshness_time": 3600,
        "revocation_url_retrieval_timeout": 5000,
        "ctl_identifier": "CtlOne",
        "ctl_store_name": "Root",
        "exists": True,
    }
    v6 = by_key["ipport=[fd00:20::5]:8443"]
    assert (v6["kind"], v6["address"], v6["store_name"], v6["cert_check_mode"], v6["default_flags"]) == (
        "ipport",
        "fd00:20::5",
        "MY",
        1,
        2,
    )
    assert by_key["ipport=0.0.0.0:443"]["store_name"] == ""  # NULL store name
    assert by_key["ccs=443"]["hash"] == "" and by_key["ccs=443"]["kind"] == "ccs"
    # every table was enumerated up to ERROR_NO_MORE_ITEMS
    queries = _calls(result, "HttpQueryServiceConfiguration")
    assert {(c[1], c[2]) for c in queries if c[2] == 259} == {(1, 259), (5, 259), (6, 259)}
    assert sum(1 for c in queries if c[2] == 0) == 9


def check_get(result: dict) -> None:
    _ok(result)
    gets = {g["key"]: g["entry"] for g in result["gets"]}
    assert gets["ipport=0.0.0.0:443"]["hash"] == "2" * 40
    assert gets["ipport=[fd00:20::5]:8443"]["app_id"] == FOREIGN
    assert gets["hostnameport=a.contoso.com:443"]["key"] == "hostnameport=a.contoso.com:443"
    assert gets["hostnameport=A.CONTOSO.COM:443"]["address"] == "a.contoso.com"
    assert gets["hostnameport=Portal.Contoso.com:8443"]["ctl_identifier"] == "CtlOne"
    assert gets["ccs=443"]["kind"] == "ccs"
    for missing in (
        "ipport=10.9.9.9:443",
        "hostnameport=none.contoso.com:443",
        "ccs=9443",
        "ipport=[::1]:443",
    ):
        assert gets[missing] is None, missing
    assert [c[2] for c in _calls(result, "HttpQueryServiceConfiguration")].count(2) >= 4
    snapshot = result["snapshot"]
    assert [(s["key"], s["exists"]) for s in snapshot] == [
        ("ipport=0.0.0.0:443", True),
        ("ipport=10.9.9.9:443", False),
    ]


def check_bigentry(result: dict) -> None:
    _ok(result)
    entry = result["get"]
    assert entry["ctl_identifier"] == "c" * 400 and entry["ctl_store_name"] == "CtlStoreWithALongName"
    assert entry["app_id"] == FOREIGN and entry["default_flags"] == 0x400 and entry["cert_check_mode"] == 2
    assert result["entries"] == [entry]
    codes = [c[2] for c in _calls(result, "HttpQueryServiceConfiguration")]
    assert codes.count(122) == 2, (
        "the entry is larger than the first buffer: ERROR_INSUFFICIENT_BUFFER expected"
    )


def check_create(result: dict) -> None:
    _ok(result)
    assert [(s["key"], s["exists"]) for s in result["snapshot"]] == [
        ("hostnameport=mfa.contoso.com:443", False),
        ("ipport=0.0.0.0:443", False),
        ("ipport=[fd00:20::5]:443", False),
    ]
    by_key = {e["key"]: e for e in result["entries"]}
    sni = by_key["hostnameport=mfa.contoso.com:443"]
    assert (sni["app_id"], sni["default_flags"], sni["hash"], sni["store_name"]) == (
        IIS_APP_ID,
        0x400,
        NEW_HASH,
        "WebHosting",
    )
    assert by_key["ipport=0.0.0.0:443"]["default_flags"] == 0
    assert by_key["ipport=[fd00:20::5]:443"]["default_flags"] == 0x10 | 0x80 | 0x20 | 0x40
    records = {(r["config"], r["port"], r["host"] or r["ip"]): r for r in result["dump"]["records"]}
    assert records[(1, 443, "0.0.0.0")]["store"] is None, "an empty store name is written as NULL"
    assert records[(5, 443, "mfa.contoso.com")]["app_id"] == IIS_APP_ID
    assert [c[2] for c in _calls(result, "HttpSetServiceConfiguration")] == [0, 0, 0]


def check_update_keeps(result: dict) -> None:
    _ok(result)
    before, after = _records(result["before"]), _records(result["after"])
    for old, new in zip(before, after, strict=True):
        changed = {k for k in old if old[k] != new[k]}
        assert changed <= {"hash", "store"}, f"an update changed {changed}"
        assert new["hash"] == NEW_HASH
    ipport = next(r for r in after if r["config"] == 1)
    assert (ipport["app_id"], ipport["check_mode"], ipport["freshness"], ipport["url_timeout"]) == (
        FOREIGN,
        1,
        3600,
        5000,
    )
    assert (ipport["flags"], ipport["ctl_id"], ipport["ctl_store"], ipport["store"]) == (
        0x402,
        "CtlOne",
        "Root",
        "WebHosting",
    )
    sni = next(r for r in after if r["config"] == 5)
    assert sni["store"] is None and sni["flags"] == 0x10
    assert [s["store_name"] for s in result["snapshot"]] == ["", "MY"]
    # restoring the snapshot reproduces NULL and "MY" exactly
    assert _records(result["restored"]) == before
    calls = [c[0] for c in _calls(result)]
    assert "HttpDeleteServiceConfiguration" not in calls and "HttpSetServiceConfiguration" not in calls
    assert calls.count("HttpUpdateServiceConfiguration") == 4


def _failed(result: dict, key: str, code: int, restored: bool = True, verified: bool = True) -> dict:
    _ok(result)
    error = result["error"]
    assert error is not None, "Apply did not raise"
    assert error["type"] == "HttpSysChangeFailed"
    assert (error["failed_key"], error["win32_error"], error["restored"], error["restore_verified"]) == (
        key,
        code,
        restored,
        verified,
    )
    assert key in error["message"]
    if code:
        assert str(code) in error["message"]
    assert ("restored and verified" in error["message"]) == (restored and verified)
    return error


def check_fail_midway(result: dict) -> None:
    error = _failed(result, "ipport=10.0.0.5:443", 5)
    assert "Access" in error["message"] or "denied" in error["message"].lower()
    assert _records(result["after"]) == _records(result["before"])
    assert [s["exists"] for s in error["snapshot"]] == [True, True, False, True]
    deletes = _calls(result, "HttpDeleteServiceConfiguration")
    assert deletes == [("HttpDeleteServiceConfiguration", 5, 0)], "the created entry is deleted again"


def check_fail_create(result: dict) -> None:
    _failed(result, "hostnameport=new.contoso.com:443", 1312)
    assert _records(result["after"]) == _records(result["before"])


def check_fail_restore(result: dict) -> None:
    error = _failed(result, "hostnameport=a.contoso.com:443", 5, restored=False, verified=False)
    assert "NOT restored" in error["message"]


def check_verify_mismatch(result: dict) -> None:
    error = _failed(result, "ipport=0.0.0.0:443", 0)
    assert "DefaultFlags" in error["message"]
    assert _records(result["after"]) == _records(result["before"])


def check_restore_snapshot(result: dict) -> None:
    _ok(result)
    assert [(s["key"], s["exists"]) for s in result["snapshot"]] == [
        ("ipport=0.0.0.0:443", True),
        ("hostnameport=new.contoso.com:443", False),
    ]
    assert len(result["changed"]["records"]) == 2
    assert _records(result["after"]) == _records(result["before"])
    assert _records(result["again"]) == _records(result["before"])
    writes = [
        c
        for c in _calls(result)
        if c[0] not in ("HttpQueryServiceConfiguration", "HttpInitialize", "HttpTerminate")
    ]
    assert writes == [], "a second Restore of an already restored table writes nothing"


def check_ccs_refused(result: dict) -> None:
    _ok(result)
    assert result["error"]["type"] == "ArgumentException" and "ccs=443" in result["error"]["message"]
    assert [
        c for c in _calls(result) if c[0] != "HttpQueryServiceConfiguration" and "Initial" not in c[0]
    ] == []
    assert [c[0] for c in _calls(result)] == [], "a ccs change is refused before HTTP.sys is touched"


def check_fallback(result: dict) -> None:
    error = _failed(result, "hostnameport=a.contoso.com:443", 1312)
    assert error["snapshot"][0]["exists"]
    before, after = _records(result["before"]), _records(result["after"])
    ipport_before = next(r for r in before if r["config"] == 1)
    ipport_after = next(r for r in after if r["config"] == 1)
    assert {k for k in ipport_before if ipport_before[k] != ipport_after[k]} == {"hash", "store"}
    assert _records(result["failed_after"]) == before
    fns = [c[0] for c in _calls(result)]
    assert "HttpUpdateServiceConfiguration" not in fns
    assert ("HttpSetServiceConfiguration", 5, 1312) in _calls(result)
    assert fns.count("HttpDeleteServiceConfiguration") >= 2


CHECKS = {
    "vectors": check_vectors,
    "list": check_list,
    "get": check_get,
    "bigentry": check_bigentry,
    "create": check_create,
    "update_keeps": check_update_keeps,
    "fail_midway": check_fail_midway,
    "fail_create": check_fail_create,
    "fail_restore": check_fail_restore,
    "verify_mismatch": check_verify_mismatch,
    "restore_snapshot": check_restore_snapshot,
    "ccs_refused": check_ccs_refused,
    "fallback": check_fallback,
}


# ---- layout against mingw's http.h

MINGW = "x86_64-w64-mingw32-gcc"
PREAMBLE = "#define _WIN32_WINNT 0x0A00\n#define WINVER 0x0A00\n#include <winsock2.h>\n#include <windows.h>\n#include <http.h>\n#include <stddef.h>\n"
SNI_CCS = [
    "HTTP_SERVICE_CONFIG_SSL_SNI_KEY",
    "HTTP_SERVICE_CONFIG_SSL_CCS_KEY",
    "HTTP_SERVICE_CONFIG_SSL_SNI_SET",
    "HTTP_SERVICE_CONFIG_SSL_CCS_SET",
    "HTTP_SERVICE_CONFIG_SSL_SNI_QUERY",
    "HTTP_SERVICE_CONFIG_SSL_CCS_QUERY",
]
# The Windows SDK declarations (http.h, Windows 8 and later) that mingw-w64's http.h lacks, written on
# mingw's own SOCKADDR_STORAGE, PWSTR, DWORD and HTTP_SERVICE_CONFIG_SSL_PARAM.
SDK_SNI_CCS = """
typedef struct _HTTP_SERVICE_CONFIG_SSL_SNI_KEY { SOCKADDR_STORAGE IpPort; PWSTR Host; } HTTP_SERVICE_CONFIG_SSL_SNI_KEY;
typedef struct _HTTP_SERVICE_CONFIG_SSL_CCS_KEY { SOCKADDR_STORAGE LocalAddress; } HTTP_SERVICE_CONFIG_SSL_CCS_KEY;
typedef struct _HTTP_SERVICE_CONFIG_SSL_SNI_SET {
  HTTP_SERVICE_CONFIG_SSL_SNI_KEY KeyDesc; HTTP_SERVICE_CONFIG_SSL_PARAM ParamDesc; } HTTP_SERVICE_CONFIG_SSL_SNI_SET;
typedef struct _HTTP_SERVICE_CONFIG_SSL_CCS_SET {
  HTTP_SERVICE_CONFIG_SSL_CCS_KEY KeyDesc; HTTP_SERVICE_CONFIG_SSL_PARAM ParamDesc; } HTTP_SERVICE_CONFIG_SSL_CCS_SET;
typedef struct _HTTP_SERVICE_CONFIG_SSL_SNI_QUERY {
  HTTP_SERVICE_CONFIG_QUERY_TYPE QueryDesc; HTTP_SERVICE_CONFIG_SSL_SNI_KEY KeyDesc; DWORD dwToken;
} HTTP_SERVICE_CONFIG_SSL_SNI_QUERY;
typedef struct _HTTP_SERVICE_CONFIG_SSL_CCS_QUERY {
  HTTP_SERVICE_CONFIG_QUERY_TYPE QueryDesc; HTTP_SERVICE_CONFIG_SSL_CCS_KEY KeyDesc; DWORD dwToken;
} HTTP_SERVICE_CONFIG_SSL_CCS_QUERY;
"""


def _mingw_syntax(code: str, work: Path, name: str) -> subprocess.CompletedProcess:
    path = work / f"{name}.c"
    path.write_text(code)
    return _run([MINGW, "-fsyntax-only", "-Wall", "-Werror", str(path)])


def _mingw_declares(struct_name: str, work: Path) -> bool:
    return _mingw_syntax(f"{PREAMBLE}{struct_name} probe;\n", work, f"probe_{struct_name}").returncode == 0


def _assertions(layout: dict, names: list[str]) -> str:
    lines = [f'_Static_assert(sizeof(void *) == {layout["pointer_size"]}, "pointer size");']
    for name in names:
        s = layout["structs"][name]
        lines.append(f'_Static_assert(sizeof({name}) == {s["size"]}, "sizeof({name})");')
        if name == "SOCKADDR_STORAGE":
            lines.append(f'_Static_assert(_Alignof({name}) == 8, "_Alignof({name})");')
            continue
        for f in s["fields"]:
            field = f"{name}.{f['name']}"
            lines.append(
                f'_Static_assert(offsetof({name}, {f["name"]}) == {f["offset"]}, "offsetof {field}");'
            )
            lines.append(
                f'_Static_assert(sizeof((({name} *)0)->{f["name"]}) == {f["size"]}, "sizeof {field}");'
            )
    return "\n".join(lines) + "\n"


def check_layout(layout: dict, work: Path) -> None:
    structs = layout["structs"]
    assert layout["pointer_size"] == 8, "run the driver on 64-bit Mono"
    for name, s in structs.items():
        assert s["sequential"] and s["blittable"], f"{name} must be a blittable sequential struct"
    fields = structs["SOCKADDR_STORAGE"]["fields"]
    assert sum(f["size"] for f in fields) == 128 and all(f["type"] == "Int64" for f in fields)
    in_mingw = [n for n in structs if n not in SNI_CCS]
    code = PREAMBLE + _assertions(layout, in_mingw)
    result = _mingw_syntax(code, work, "layout_mingw")
    assert result.returncode == 0, f"layout differs from mingw's http.h:\n{result.stderr}"
    declared = [n for n in SNI_CCS if _mingw_declares(n, work)]
    code = PREAMBLE + ("" if len(declared) == len(SNI_CCS) else SDK_SNI_CCS) + _assertions(layout, SNI_CCS)
    result = _mingw_syntax(code, work, "layout_sni_ccs")
    assert result.returncode == 0, f"SNI/CCS layout differs from the x64 SDK declaration:\n{result.stderr}"


# ---- tests


def test_every_csharp_util_compiles(tmp_path):
    _require("mcs")
    sources = sorted(UTILS.glob("*.cs"))
    assert SOURCE in sources
    for source in sources:
        result = _mcs(["-target:library", f"-out:{tmp_path / (source.stem + '.dll')}", str(source)])
        assert result.returncode == 0, f"{source.name}:\n{result.stdout}{result.stderr}"
        # Windows PowerShell 5.1 compiles Add-CSharpType code with the .NET Framework's C# 5 compiler.
        result = _mcs(["-langversion:5", "-target:library", f"-out:{tmp_path / 'cs5.dll'}", str(source)])
        assert result.returncode == 0, f"{source.name} (C# 5):\n{result.stdout}{result.stderr}"


def test_util_conventions():
    source = SOURCE.read_text()
    namespace = "ansible_collections.mfa_server.tls.plugins.module_utils._HttpSysSsl"
    assert source.count("namespace ") == 1 and f"namespace {namespace}" in source
    assert "unsafe" not in source and "fixed (" not in source and "//AssemblyReference" not in source
    usings = [line.split()[1].rstrip(";") for line in source.splitlines() if line.startswith("using ")]
    assert all(u == "System" or u.startswith("System.") for u in usings), usings
    for name in ("HttpSys", "SslEntry", "BindingKey", "WindowsRules", "EntryChange", "HttpSysChangeFailed"):
        assert f"//TypeAccelerator -Name MfaServerTls.{name} -TypeName {name}\n" in source


def test_layout_matches_mingw_http_h(results, tmp_path):
    _require(MINGW)
    check_layout(results["layout"], tmp_path)


def test_sni_ccs_structs_in_mingw_header(tmp_path):
    """mingw's own http.h as the reference for the SNI/CCS structs, where it has them."""
    _require(MINGW)
    assert _mingw_declares("HTTP_SERVICE_CONFIG_SSL_SET", tmp_path), "the probe itself does not compile"
    missing = [n for n in SNI_CCS if not _mingw_declares(n, tmp_path)]
    if missing:
        pytest.skip(
            "mingw-w64's http.h does not declare "
            + ", ".join(missing)
            + ": their layout is checked against the SDK declaration transcribed in this file, compiled for x64 "
            "by mingw (test_layout_matches_mingw_http_h), not against a header"
        )


@pytest.mark.parametrize("scenario", list(CHECKS))
def test_behaviour(results, scenario):
    CHECKS[scenario](results[scenario])


# ---- the stand-in itself follows the documented return codes


def test_standin_return_codes(build):
    lib = ctypes.CDLL(str(build.libraries["standin"]))
    u32, vp = ctypes.c_uint32, ctypes.c_void_p
    for name in (
        "HttpSetServiceConfiguration",
        "HttpUpdateServiceConfiguration",
        "HttpDeleteServiceConfiguration",
    ):
        getattr(lib, name).argtypes = [vp, u32, vp, u32, vp]
        getattr(lib, name).restype = u32
    lib.HttpQueryServiceConfiguration.argtypes = [vp, u32, vp, u32, vp, u32, ctypes.POINTER(u32), vp]
    lib.HttpQueryServiceConfiguration.restype = u32
    lib.HttpInitialize.argtypes = [u32, u32, vp]  # HTTPAPI_VERSION {1, 0} by value is one 32-bit word
    lib.HttpTerminate.argtypes = [u32, vp]
    lib.standin_reset()
    sockaddr = ctypes.create_string_buffer(
        struct.pack("<HH4s", 2, 443, bytes([10, 0, 0, 5])).ljust(128, b"\0")
    )
    sockaddr[2:4] = (443).to_bytes(2, "big")
    hash_buffer = ctypes.create_string_buffer(bytes.fromhex(NEW_HASH))

    def ssl_set(addr=sockaddr) -> ctypes.Array:
        # HTTP_SERVICE_CONFIG_SSL_SET: pIpPort, then the 80-byte HTTP_SERVICE_CONFIG_SSL_PARAM at 8
        param = struct.pack(
            "<I4xQ16sQIIIxxxxQQI4x", 20, ctypes.addressof(hash_buffer), b"\1" * 16, 0, 0, 0, 0, 0, 0, 0x400
        )
        return ctypes.create_string_buffer(struct.pack("<Q", ctypes.addressof(addr)) + param, 88)

    def query(kind: int, token: int = 0) -> ctypes.Array:
        return ctypes.create_string_buffer(
            struct.pack("<I4xQI4x", kind, ctypes.addressof(sockaddr), token), 24
        )

    needed = u32(0)
    assert (
        lib.HttpSetServiceConfiguration(None, 1, ssl_set(), 88, None) == 6
    )  # before HttpInitialize (assumed)
    assert lib.HttpInitialize(1, 2, None) == 0
    assert lib.HttpSetServiceConfiguration(None, 1, ssl_set(), 88, None) == 0
    assert lib.HttpSetServiceConfiguration(None, 1, ssl_set(), 88, None) == 183
    assert lib.HttpSetServiceConfiguration(None, 1, ssl_set(), 80, None) == 87
    assert lib.HttpSetServiceConfiguration(None, 2, ssl_set(), 88, None) == 87
    bad_family = ctypes.create_string_buffer(b"\x07\x00" + bytes(126))
    assert lib.HttpSetServiceConfiguration(None, 1, ssl_set(bad_family), 88, None) == 87
    assert lib.HttpQueryServiceConfiguration(None, 1, query(2), 24, None, 0, ctypes.byref(needed), None) == 87
    assert lib.HttpQueryServiceConfiguration(None, 1, query(0), 16, None, 0, ctypes.byref(needed), None) == 87
    assert (
        lib.HttpQueryServiceConfiguration(None, 1, query(0), 24, None, 0, ctypes.byref(needed), None) == 122
    )
    assert needed.value == 88 + 128 + 20
    out = ctypes.create_string_buffer(needed.value)
    assert (
        lib.HttpQueryServiceConfiguration(
            None, 1, query(0), 24, out, needed.value - 1, ctypes.byref(needed), None
        )
        == 122
    )
    assert (
        lib.HttpQueryServiceConfiguration(
            None, 1, query(0), 24, out, needed.value, ctypes.byref(needed), None
        )
        == 0
    )
    pointer, hash_length, hash_pointer = struct.unpack_from("<QI4xQ", out.raw, 0)
    base = ctypes.addressof(out)
    assert pointer == base + 88 and hash_pointer == base + 88 + 128 and hash_length == 20
    assert out.raw[88 + 128 : 88 + 148] == bytes.fromhex(NEW_HASH)
    assert struct.unpack_from("<I", out.raw, 8 + 72)[0] == 0x400
    assert (
        lib.HttpQueryServiceConfiguration(None, 1, query(1, 0), 24, out, len(out), ctypes.byref(needed), None)
        == 0
    )
    assert (
        lib.HttpQueryServiceConfiguration(None, 1, query(1, 1), 24, out, len(out), ctypes.byref(needed), None)
        == 259
    )
    assert lib.HttpUpdateServiceConfiguration(None, 1, ssl_set(), 88, None) == 0
    assert lib.HttpDeleteServiceConfiguration(None, 1, ssl_set(), 88, None) == 0
    assert lib.HttpDeleteServiceConfiguration(None, 1, ssl_set(), 88, None) == 2
    assert lib.HttpUpdateServiceConfiguration(None, 1, ssl_set(), 88, None) == 2
    assert (
        lib.HttpQueryServiceConfiguration(None, 1, query(0), 24, out, len(out), ctypes.byref(needed), None)
        == 2
    )
    assert (
        lib.HttpSetServiceConfiguration(ctypes.c_void_p(1), 1, ssl_set(), 88, None) == 87
    )  # handle must be NULL
    assert lib.HttpTerminate(2, None) == 0
    lib.standin_reset()


# ---- mutation tests: the suite must fail for a broken _HttpSysSsl.cs

MUTATIONS = {
    "swap_param_fields": (
        "        public uint DefaultCertCheckMode;                   // DWORD\n"
        "        public uint DefaultRevocationFreshnessTime;         // DWORD\n",
        "        public uint DefaultRevocationFreshnessTime;         // DWORD\n"
        "        public uint DefaultCertCheckMode;                   // DWORD\n",
        ["layout", "list"],  # a symmetric swap survives a read-write round trip
    ),
    "field_type": (
        "public uint SslHashLength;",
        "public ulong SslHashLength;",
        ["layout"],
    ),
    "insufficient_buffer_fatal": (
        "if (code != ErrorInsufficientBuffer && code != ErrorMoreData) return code;",
        "if (code != ErrorMoreData) return code;",
        ["bigentry"],
    ),
    "ignore_no_more_items": (
        "if (code == ErrorNoMoreItems) break;",
        "if (code == ErrorFileNotFound) break;",
        ["list"],
    ),
    "flag_mapping": (
        "FlagDisableLegacyTls = 0x00000400;",
        "FlagDisableLegacyTls = 0x00000200;",
        ["vectors", "create"],
    ),
    "no_restore_on_failure": (
        "RestoreResult restore = RestoreCore(written);",
        "RestoreResult restore = new RestoreResult();",
        ["fail_midway", "fail_create"],
    ),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutation_is_caught(build, results, tmp_path, name):
    original, mutated, killed_by = MUTATIONS[name]
    source = SOURCE.read_text()
    assert source.count(original) == 1, f"mutation {name}: the code it changes is not in _HttpSysSsl.cs"
    copy = tmp_path / "_HttpSysSsl.cs"
    copy.write_text(source.replace(original, mutated))
    mutant = Build(tmp_path / "build", copy, build.libraries)
    outputs = mutant.run(killed_by)
    for scenario in killed_by:
        if scenario == "layout":
            _require(MINGW)
            check_layout(results["layout"], tmp_path)  # the original passes ...
            with pytest.raises(AssertionError):
                check_layout(outputs["layout"], tmp_path)  # ... the mutant does not
        else:
            CHECKS[scenario](results[scenario])
            with pytest.raises(AssertionError):
                CHECKS[scenario](outputs[scenario])
