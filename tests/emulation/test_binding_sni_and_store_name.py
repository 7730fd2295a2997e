"""Two contract rules of the IIS modules, proven on the lab's twins.

- iis_binding_certificate refuses, before anything changes, a selected binding with the SNI flag and no
  host name (its HTTP.sys entry would be `hostnameport=:443`), and says how to fix it.
- iis_tls_info compares store names as HTTP.sys and IIS mean them: HTTP.sys holds the personal store as
  `MY` or as nothing, IIS as `My`; these agree (`consistent`), another store does not (`mismatch`).
"""

from __future__ import annotations

import base64

import pytest
import yaml

from lab.state import HostState

from lab_harness import ROOT, Lab, running_lab
from return_schema import check


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("sni-store-lab")
    with running_lab(directory, 3, "traps") as lab:
        yield lab


def valid(module: str, result: dict) -> dict:
    doc = yaml.safe_load((ROOT / "plugins" / "modules" / f"{module}.yml").read_text())["RETURN"]
    problems = check(result, doc)
    assert not problems, problems
    return result


def info(lab: Lab, host: str) -> dict:
    return valid("iis_tls_info", lab.module(host, "mfa_server.tls.iis_tls_info"))


def statuses(result: dict) -> tuple[dict, dict]:
    bindings = {
        (s["name"], b["binding_information"]): b["http_sys_status"]
        for s in result["sites"]
        for b in s["bindings"]
    }
    return bindings, {e["key"]: e["status"] for e in result["http_sys"]}


# ---- SNI flag without a host name ------------------------------------------------------------------------


def test_sni_binding_without_host_name_is_refused_before_any_change(lab):
    host = "mfa03"  # IIS with Default Web Site on *:443:, bound to the host's private certificate
    args = {
        "content": base64.b64encode((lab.dir / "certs" / "replacement.pfx").read_bytes()).decode(),
        "password": (lab.dir / "certs" / "replacement.pass").read_text(),
    }
    thumbprint = lab.module(host, "mfa_server.tls.certificate_import", args)["thumbprint"]
    with HostState(lab.dir, host).change() as live:  # the catch-all corrupted with the SNI flag
        binding = live["sites"][0]["bindings"][1]
        assert binding["binding_information"] == "*:443:"
        binding["ssl_flags"] = 1
    before = lab.raw_state(host)
    current = before["sites"][0]["bindings"][1]["certificate_hash"]
    explicit = {
        "thumbprint": thumbprint,
        "bindings": [{"site": "Default Web Site", "binding_information": "*:443:"}],
    }
    for call, check_mode in (
        (explicit, False),
        (explicit, True),
        ({"thumbprint": thumbprint, "replace_thumbprint": current}, False),
    ):
        result = lab.module(host, "mfa_server.tls.iis_binding_certificate", call, check=check_mode)
        assert result["failed"] and not result["changed"], result
        valid("iis_binding_certificate", result)
        msg = result["msg"]
        assert (
            "binding '*:443:' of site 'Default Web Site' has the SNI flag (sslFlags 1) but no host name"
            in msg
        )
        assert "'hostnameport=:443'" in msg and "nothing was changed" in msg
        assert "Give the binding a host name in IIS (for example '*:443:mfa.contoso.com')" in msg
        assert "clear 'Require Server Name Indication'" in msg
        after = lab.raw_state(host)
        for key in ("sites", "http_sys", "backups", "stores"):
            assert after[key] == before[key], key

    # the fix the message names: with the SNI flag cleared, the same call goes through
    with HostState(lab.dir, host).change() as live:
        live["sites"][0]["bindings"][1]["ssl_flags"] = 0
    done = valid(
        "iis_binding_certificate", lab.module(host, "mfa_server.tls.iis_binding_certificate", explicit)
    )
    assert done["changed"] and not done["failed"] and done["http_sys"][0]["key"] == "ipport=0.0.0.0:443"


# ---- store names: MY / empty / My -------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["mfa01", "mfa02"])
def test_http_sys_my_equals_iis_my(lab, host):
    data = lab.raw_state(host)
    stored = {e["certificate_store_name"] for e in data["http_sys"] if e["certificate_hash"]}
    assert stored == {"MY"}  # as HTTP.sys keeps it
    assert {
        b["certificate_store_name"] for s in data["sites"] for b in s["bindings"] if b["certificate_hash"]
    } == {"My"}
    bindings, entries = statuses(info(lab, host))
    assert set(bindings.values()) == {"consistent"}, bindings
    expected = {k: "orphaned" if k == "ipport=0.0.0.0:4443" else "consistent" for k in entries}
    assert entries == expected


def test_empty_store_name_means_my_and_another_store_still_mismatches(lab):
    host = "mfa02"
    key, where = "ipport=0.0.0.0:443", ("Default Web Site", "*:443:")

    def set_stores(http_sys: str, iis: str) -> None:
        with HostState(lab.dir, host).change() as live:
            next(e for e in live["http_sys"] if e["key"] == key)["certificate_store_name"] = http_sys
            live["sites"][0]["bindings"][1]["certificate_store_name"] = iis

    try:
        for http_sys, iis, expected in (
            ("", "My", "consistent"),  # HTTP.sys left the store name empty: the personal store
            ("MY", "", "consistent"),  # IIS left it empty: the personal store as well
            ("my", "MY", "consistent"),
            ("WebHosting", "My", "mismatch"),  # a real disagreement is still reported
            ("", "WebHosting", "mismatch"),
        ):
            set_stores(http_sys, iis)
            bindings, entries = statuses(info(lab, host))
            assert (bindings[where], entries[key]) == (expected, expected), (http_sys, iis)
    finally:
        set_stores("MY", "My")
