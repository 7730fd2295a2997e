"""certificate_remove against the lab: removed only when no HTTP.sys entry of the host holds it (lab ground truth).

The private-ca host serves its private-CA certificate through `ipport=0.0.0.0:443` (the Default Web Site's `*:443:`).
Each test reads the host's state before and after, and checks the result against the module's RETURN.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab import iis, scenarios
from lab.ca import LabCA
from lab.state import HostState
from tests.support.lab_harness import Lab, configuration, running_lab
from tests.support.return_schema import documented

MODULE = "mfa_server.tls.certificate_remove"
HOST = "mfa01"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    # One host for the module: every test adds certificates and entries of its own (own thumbprints, own ports).
    with running_lab(tmp_path_factory.mktemp("remove") / "lab", 1, "private-ca") as running:
        yield running


def _bound(lab: Lab) -> str:
    return iis.http_sys_entry(lab.raw_state(HOST), "ipport=0.0.0.0:443")["certificate_hash"].upper()


def _in_my(lab: Lab, thumbprint: str) -> bool:
    return any(e["thumbprint"].upper() == thumbprint for e in lab.raw_state(HOST)["stores"]["My"])


def _unbound_certificate(lab: Lab) -> str:
    """A certificate with its key in My that no HTTP.sys entry holds (what a renewal leaves behind)."""
    state = HostState(lab.dir, HOST)
    leaf = LabCA(lab.dir).leaf("public", [state.read()["host"]["public_name"]])
    with state.change() as live:
        live["stores"]["My"].append(scenarios.store_entry(state, leaf, friendly="replaced"))
    return leaf.sha1


def test_a_certificate_a_binding_uses_is_kept_with_a_warning_naming_the_binding(lab):
    thumbprint = _bound(lab)
    before = configuration(lab.raw_state(HOST))
    result = documented("certificate_remove", lab.module(HOST, MODULE, {"thumbprint": thumbprint}))
    assert not result["failed"] and not result["changed"] and result["present"] and not result["removed"]
    assert result["in_use"] == [
        {
            "key": "ipport=0.0.0.0:443",
            "app_id": iis.IIS_APP_ID,
            "bindings": [{"site": "Default Web Site", "binding_information": "*:443:"}],
        }
    ]
    assert any("site 'Default Web Site' binding '*:443:'" in w for w in result["warnings"])
    assert configuration(lab.raw_state(HOST)) == before


def test_an_entry_without_iis_binding_also_keeps_it(lab):
    thumbprint = _unbound_certificate(lab)
    with HostState(lab.dir, HOST).change() as live:
        live["http_sys"].append(iis.new_entry("ipport=0.0.0.0:8443", thumbprint, "MY"))
    result = lab.module(HOST, MODULE, {"thumbprint": thumbprint})
    assert not result["changed"] and _in_my(lab, thumbprint)
    assert result["in_use"][0]["key"] == "ipport=0.0.0.0:8443" and result["in_use"][0]["bindings"] == []
    assert any("HTTP.sys entry ipport=0.0.0.0:8443 (no IIS binding" in w for w in result["warnings"])


def test_an_entry_holding_it_in_another_store_does_not_count(lab):
    thumbprint = _unbound_certificate(lab)
    with HostState(lab.dir, HOST).change() as live:
        live["http_sys"].append(iis.new_entry("ipport=0.0.0.0:8444", thumbprint, "WebHosting"))
    result = lab.module(HOST, MODULE, {"thumbprint": thumbprint, "store_name": "My"})
    assert result["changed"] and result["removed"] and result["in_use"] == []
    assert not _in_my(lab, thumbprint)


def test_check_mode_then_removal_then_nothing_left_to_remove(lab):
    thumbprint = _unbound_certificate(lab)
    before = configuration(lab.raw_state(HOST))
    checked = documented(
        "certificate_remove",
        lab.module(HOST, MODULE, {"thumbprint": thumbprint.lower()}, check=True, diff=True),
    )
    assert checked["changed"] and checked["removed"] and checked["diff"]["after"]["present"] is False
    assert configuration(lab.raw_state(HOST)) == before, "check mode changes nothing"

    removed = documented("certificate_remove", lab.module(HOST, MODULE, {"thumbprint": thumbprint}))
    assert removed["changed"] and removed["removed"] and not _in_my(lab, thumbprint)
    state = lab.raw_state(HOST)
    assert (
        state["stores"]["CA"] == before["stores"]["CA"]
        and state["stores"]["Root"] == before["stores"]["Root"]
    )
    # The key stays, as Windows keeps the key container (docs/windows-model.md 13.4).
    assert HostState(lab.dir, HOST).key_path(thumbprint) is not None

    again = documented("certificate_remove", lab.module(HOST, MODULE, {"thumbprint": thumbprint}))
    assert not again["changed"] and not again["present"] and not again["removed"]


def test_a_malformed_thumbprint_fails_and_changes_nothing(lab):
    before = configuration(lab.raw_state(HOST))
    result = lab.module(HOST, MODULE, {"thumbprint": "not-a-thumbprint"})
    assert result["failed"] and "is not a SHA-1 thumbprint" in result["msg"]
    assert configuration(lab.raw_state(HOST)) == before
