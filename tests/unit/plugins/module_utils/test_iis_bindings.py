"""The shared Windows rules on the Python side, against the vectors the C# side is tested with too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import iis_bindings

VECTORS = json.loads((Path(__file__).parents[3] / "vectors" / "windows_rules.json").read_text())


@pytest.mark.parametrize(
    "row", VECTORS["binding_keys"], ids=lambda r: f"{r['binding_information']}/{r['ssl_flags']}"
)
def test_binding_keys(row: dict) -> None:
    if "error" in row:
        with pytest.raises(iis_bindings.BindingError) as caught:
            iis_bindings.derive_key(row["binding_information"], row["ssl_flags"])
        assert row["error"].lower() in str(caught.value).lower()
        return
    key = iis_bindings.derive_key(row["binding_information"], row["ssl_flags"])
    assert (key.kind, key.address, key.port, key.key) == (
        row["kind"],
        row["address"],
        row["port"],
        row["key"],
    )
    assert iis_bindings.parse_key(key.key) == key


@pytest.mark.parametrize("row", VECTORS["default_flags"], ids=lambda r: str(r["ssl_flags"]))
def test_default_flags(row: dict) -> None:
    assert iis_bindings.default_flags_for(row["ssl_flags"]) == row["default_flags"]


@pytest.mark.parametrize("row", VECTORS["thumbprints"], ids=lambda r: repr(r["input"]))
def test_thumbprints(row: dict) -> None:
    assert iis_bindings.normalize_thumbprint(row["input"]) == row["output"]


@pytest.mark.parametrize("row", VECTORS["store_names"], ids=lambda r: f"{r['a']}~{r['b']}")
def test_store_names(row: dict) -> None:
    assert iis_bindings.same_store(row["a"], row["b"]) is row["same"]


ENTRIES = [
    {"key": "ipport=0.0.0.0:443"},
    {"key": "ipport=10.0.0.5:443"},
    {"key": "hostnameport=mfa.contoso.com:443"},
    {"key": "ccs=8443"},
    {"key": "ipport=[::]:443"},
    {"key": "ipport=[fd00::5]:443"},
]


def test_0_0_0_0_serves_ipv6_connections_when_there_is_no_ipv6_wildcard() -> None:
    assert iis_bindings.serving_entry([{"key": "ipport=0.0.0.0:443"}], 443, None, "fd00::9")["key"] == (
        "ipport=0.0.0.0:443"
    )


@pytest.mark.parametrize(
    ("port", "sni", "local_ip", "expected"),
    [
        (443, "mfa.contoso.com", "10.0.0.5", "hostnameport=mfa.contoso.com:443"),
        (443, "MFA.contoso.com", "10.0.0.9", "hostnameport=mfa.contoso.com:443"),
        (443, "other.contoso.com", "10.0.0.5", "ipport=10.0.0.5:443"),
        (443, None, "10.0.0.9", "ipport=0.0.0.0:443"),
        (8443, "intranet.contoso.com", "10.0.0.5", "ccs=8443"),
        (8443, None, "10.0.0.5", None),
        (443, None, "fd00::1", "ipport=[::]:443"),
        (443, None, "fd00::5", "ipport=[fd00::5]:443"),
    ],
)
def test_serving_entry_follows_http_sys_order(port, sni, local_ip, expected) -> None:
    entry = iis_bindings.serving_entry(ENTRIES, port, sni, local_ip)
    assert (entry or {}).get("key") == expected


def test_a_specific_ipport_entry_overrides_the_wildcard() -> None:
    assert [e["key"] for e in iis_bindings.overriding_entries(ENTRIES, "ipport=0.0.0.0:443")] == [
        "ipport=10.0.0.5:443",
        "ipport=[fd00::5]:443",
    ]
    assert [e["key"] for e in iis_bindings.overriding_entries(ENTRIES, "ipport=[::]:443")] == [
        "ipport=[fd00::5]:443"
    ]
    assert iis_bindings.overriding_entries(ENTRIES, "ipport=10.0.0.5:443") == []
    assert iis_bindings.overriding_entries(ENTRIES, "hostnameport=mfa.contoso.com:443") == []


@pytest.mark.parametrize(
    ("binding_information", "ssl_flags", "expected"),
    [
        ("10.0.0.7:443:", 0, "ipport=0.0.0.0:443"),  # no entry of its own: the wildcard serves it
        ("10.0.0.5:443:", 0, None),  # has its own entry
        ("*:443:other.contoso.com", 1, "ipport=0.0.0.0:443"),  # SNI without its entry, no ccs on 443
        ("*:8443:intranet.contoso.com", 1, "ccs=8443"),  # ... falls to the port's ccs entry first
        ("*:9443:", 0, None),  # nothing serves it at all
        ("*:8443:intranet.contoso.com", 3, None),  # a ccs binding is the ccs entry
    ],
)
def test_a_binding_without_its_own_entry_is_served_by_the_next_one(binding_information, ssl_flags, expected):
    entry = iis_bindings.fallback_entry(ENTRIES, binding_information, ssl_flags)
    assert (entry or {}).get("key") == expected
