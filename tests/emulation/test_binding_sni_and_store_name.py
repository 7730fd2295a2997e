"""Two contract rules of the IIS modules, proven on the lab's twins.

- iis_binding_certificate refuses, before anything changes, a selected binding with the SNI flag and no
  host name (it has no HTTP.sys entry Windows could derive), and says how to fix it; iis_tls_info reports
  such a binding as unreadable instead of failing.
- Store names are compared one way: HTTP.sys holds the personal store as `MY` or as nothing, IIS shows
  `My`; all of them are the personal store, so none causes a change or a missing certificate.
"""

from __future__ import annotations

import base64

import pytest

from lab.state import HostState
from tests.support.lab_harness import Lab, running_lab
from tests.support.return_schema import documented


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("sni-store-lab")
    with running_lab(directory, 3, "traps") as lab:
        yield lab


def info(lab: Lab, host: str) -> dict:
    return documented("iis_tls_info", lab.module(host, "mfa_server.tls.iis_tls_info"))


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
    # the wildcard entry still holds the old certificate, but no binding derives it any more
    current = next(e["certificate_hash"] for e in before["http_sys"] if e["key"] == "ipport=0.0.0.0:443")
    explicit = {
        "thumbprint": thumbprint,
        "bindings": [{"site": "Default Web Site", "binding_information": "*:443:"}],
    }
    for check_mode in (False, True):
        result = lab.module(host, "mfa_server.tls.iis_binding_certificate", explicit, check=check_mode)
        assert result["failed"] and not result["changed"], result
        documented("iis_binding_certificate", result)
        msg = result["msg"]
        assert "binding '*:443:' of site 'Default Web Site'" in msg
        assert (
            "has the SNI flag (sslFlags 1) but no host name" in msg and "nothing was changed" in msg.lower()
        )
        assert "give it a host name in IIS or clear 'Require Server Name Indication'" in msg
        assert lab.raw_state(host) | {"counters": None} == before | {"counters": None}
    # Such a binding has no HTTP.sys entry, so it cannot be one that uses the replaced certificate.
    replaced = lab.module(
        host,
        "mfa_server.tls.iis_binding_certificate",
        {"thumbprint": thumbprint, "replace_thumbprint": current},
    )
    assert not replaced["failed"] and not replaced["changed"] and replaced["bindings"] == [], replaced
    shown = next(
        b for s in info(lab, host)["sites"] for b in s["bindings"] if b["binding_information"] == "*:443:"
    )
    assert shown["http_sys_status"] == "unreadable" and "SNI flag" in shown["error"]

    # the fix the message names: with the SNI flag cleared, the same call goes through
    with HostState(lab.dir, host).change() as live:
        live["sites"][0]["bindings"][1]["ssl_flags"] = 0
    done = documented(
        "iis_binding_certificate", lab.module(host, "mfa_server.tls.iis_binding_certificate", explicit)
    )
    assert done["changed"] and not done["failed"] and done["http_sys"][0]["key"] == "ipport=0.0.0.0:443"


# ---- store names: MY / empty / My -------------------------------------------------------------------------


@pytest.mark.parametrize("stored", ["MY", "", "my", "My"])
def test_every_spelling_of_the_personal_store_is_the_personal_store(lab, stored):
    host, key = "mfa02", "ipport=0.0.0.0:443"
    with HostState(lab.dir, host).change() as live:
        next(e for e in live["http_sys"] if e["key"] == key)["certificate_store_name"] = stored
    try:
        result = info(lab, host)
        binding = next(b for b in result["sites"][0]["bindings"] if b["binding_information"] == "*:443:")
        assert (binding["http_sys_status"], binding["certificate_store_name"]) == ("bound", "My")
        (certificate,) = [c for c in result["certificates"] if c["thumbprint"] == binding["certificate_hash"]]
        assert certificate["found"] and certificate["store_name"] == "My"
        # binding the certificate it already has, in store My, is no change
        same = lab.module(
            host,
            "mfa_server.tls.iis_binding_certificate",
            {
                "thumbprint": binding["certificate_hash"],
                "bindings": [{"site": "Default Web Site", "binding_information": "*:443:"}],
            },
        )
        assert not same["failed"] and not same["changed"], same
    finally:
        with HostState(lab.dir, host).change() as live:
            next(e for e in live["http_sys"] if e["key"] == key)["certificate_store_name"] = "MY"


def test_web_hosting_is_another_store(lab):
    host, key = "mfa02", "ipport=0.0.0.0:443"
    with HostState(lab.dir, host).change() as live:
        next(e for e in live["http_sys"] if e["key"] == key)["certificate_store_name"] = "WebHosting"
    try:
        binding = info(lab, host)["sites"][0]["bindings"][0]
        assert (binding["binding_information"], binding["certificate_store_name"]) == ("*:443:", "WebHosting")
    finally:
        with HostState(lab.dir, host).change() as live:
            next(e for e in live["http_sys"] if e["key"] == key)["certificate_store_name"] = "MY"
