"""The divergences between IIS and HTTP.sys that real servers show (docs/windows-model.md, section 4), on the
lab's `divergent` scenario: iis_tls_info reports each as a fact, the review turns each into a finding with
a message, and iis_binding_certificate handles each safely (create with mapped flags, refuse a foreign
owner unless forced, refuse an unmappable binding), with an exact undo."""

from __future__ import annotations

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.host_review import http_sys_divergence
from lab.scenarios import FOREIGN_APP_ID
from tests.support.lab_harness import Lab, running_lab, served_certificates


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    with running_lab(tmp_path_factory.mktemp("divergent-lab"), 1, "divergent") as lab:
        yield lab


@pytest.fixture(scope="module")
def info(lab) -> dict:
    result = lab.module("mfa01", "mfa_server.tls.iis_tls_info")
    assert not result["failed"], result["msg"]
    return result


def _binding(info: dict, site: str) -> dict:
    return next(s for s in info["sites"] if s["name"] == site)["bindings"][0]


def test_each_divergence_is_reported_as_a_fact(lab, info):
    truth = lab.state("mfa01")
    leaf = served_certificates(truth)[("Default Web Site", "*:443:")]
    assert _binding(info, "Api")["http_sys_status"] == "missing"
    legacy = _binding(info, "Legacy")
    assert legacy["http_sys_status"] == "unreadable" and "brackets" in legacy["error"]
    entries = {e["key"]: e for e in info["http_sys"]}
    hidden = entries[f"ipport={truth['host']['ip']}:443"]
    assert hidden["status"] == "orphaned" and hidden["iis_bindings"] == []
    assert entries["ipport=0.0.0.0:9443"]["foreign_app_id"] is True
    assert entries["ipport=0.0.0.0:9443"]["app_id"] == FOREIGN_APP_ID
    assert entries["ipport=0.0.0.0:443"]["foreign_app_id"] is False
    assert [(r["site"], r["property_id"], r["value"]) for r in info["custom_metadata"]] == [
        ("Default Web Site", 5506, leaf),
        ("Default Web Site", 5511, "MY"),
    ]


def test_the_review_names_each_divergence(info):
    found = {(d["code"], d["where"]) for d in http_sys_divergence(info)}
    ip = next(e["ip"] for e in info["http_sys"] if e["status"] == "orphaned")
    assert found == {
        ("OVERRIDDEN_BY_HIDDEN_ENTRY", f"ipport={ip}:443"),
        ("FOREIGN_APP_ID", "ipport=0.0.0.0:9443"),
        ("NO_HTTP_SYS_ENTRY", "Api *:8443:"),
        ("BINDING_UNREADABLE", "Legacy fd00:20::1:443:"),
        ("LEGACY_METADATA", "Default Web Site"),
    }
    overridden = next(d for d in http_sys_divergence(info) if d["code"] == "OVERRIDDEN_BY_HIDDEN_ENTRY")
    assert "instead of ipport=0.0.0.0:443" in overridden["message"] and overridden["remediation"]


def test_a_missing_entry_is_created_with_the_bindings_flags_and_the_undo_deletes_it(lab):
    thumbprint = lab.state("mfa01")["stores"]["My"][0]["thumbprint"]
    api = {"thumbprint": thumbprint, "bindings": [{"site": "Api", "binding_information": "*:8443:"}]}
    done = lab.module("mfa01", "mfa_server.tls.iis_binding_certificate", api)
    assert done["changed"] and not done["failed"], done.get("msg")
    assert done["http_sys"][0]["action"] == "created"
    entry = next(e for e in lab.state("mfa01")["http_sys"] if e["key"] == "ipport=0.0.0.0:8443")
    # sslFlags 64 (DisableLegacyTLS) becomes DISABLE_LEGACY_TLS; the entry is IIS's
    assert entry["default_flags"] == 0x400 and entry["app_id"] == "{4dc3e181-e14b-4a21-b022-59fc669b0914}"
    assert done["snapshot"][0]["key"] == "ipport=0.0.0.0:8443" and done["snapshot"][0]["exists"] is False
    undone = lab.module("mfa01", "mfa_server.tls.iis_binding_certificate", {"restore": done["snapshot"]})
    assert undone["changed"] and undone["http_sys"][0]["action"] == "deleted"
    assert not any(e["key"] == "ipport=0.0.0.0:8443" for e in lab.state("mfa01")["http_sys"])


def test_an_entry_another_program_owns_is_refused_unless_forced(lab):
    before = lab.state("mfa01")["http_sys"]
    thumbprint = lab.state("mfa01")["stores"]["My"][0]["thumbprint"]
    sync = {"thumbprint": thumbprint, "bindings": [{"site": "Sync", "binding_information": "*:9443:"}]}
    refused = lab.module("mfa01", "mfa_server.tls.iis_binding_certificate", sync)
    assert refused["failed"] and FOREIGN_APP_ID in refused["msg"] and "force: true" in refused["msg"]
    assert lab.state("mfa01")["http_sys"] == before
    forced = lab.module("mfa01", "mfa_server.tls.iis_binding_certificate", sync | {"force": True})
    assert forced["changed"] and not forced["failed"], forced.get("msg")
    entry = next(e for e in lab.state("mfa01")["http_sys"] if e["key"] == "ipport=0.0.0.0:9443")
    assert entry["certificate_hash"] == thumbprint and entry["app_id"] == FOREIGN_APP_ID  # owner kept
    lab.module("mfa01", "mfa_server.tls.iis_binding_certificate", {"restore": forced["snapshot"]})
    assert lab.state("mfa01")["http_sys"] == before


def test_a_binding_windows_cannot_map_is_refused_with_the_fix(lab):
    thumbprint = lab.state("mfa01")["stores"]["My"][0]["thumbprint"]
    legacy = {
        "thumbprint": thumbprint,
        "bindings": [{"site": "Legacy", "binding_information": "fd00:20::1:443:"}],
    }
    refused = lab.module("mfa01", "mfa_server.tls.iis_binding_certificate", legacy)
    assert refused["failed"] and "write it in brackets" in refused["msg"] and "Legacy" in refused["msg"]
