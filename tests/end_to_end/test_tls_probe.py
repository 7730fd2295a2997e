"""tls_probe end to end: every finding code provoked by a real chain on a real TLS server on 127.0.0.1,
judged through the real `ansible` command line."""

from __future__ import annotations

import contextlib
import socket

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.findings import CATALOGUE
from tests.support.chains import HOST, NO_REVOCATION_URL, LabPKI, scenarios
from tests.support.module_task import run_module
from tests.support.servers import FileServer, HTTPSServer

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning"
)  # legacy TLS versions for the test server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Every scenario served on its own port, plus the AIA server; yields (lab, [(scenario, server)])."""
    lab = LabPKI()
    files: dict[str, bytes] = {}
    with contextlib.ExitStack() as stack:
        aia = stack.enter_context(FileServer(files))
        files["/ca.cer"] = lab.aia_only_ca.der()
        served = []
        for scenario in scenarios(lab, aia_base_url=aia.base_url):
            routes = {"/": 200, "/MultiFactorAuthMobileAppWebService/PfPaWs.asmx": 200}
            server = HTTPSServer(
                [i.pem() for i in scenario.serve], scenario.leaf.key_pem(), routes, scenario.max_tls
            )
            served.append((scenario, stack.enter_context(server)))
        folder = tmp_path_factory.mktemp("trust")
        (folder / "roots.pem").write_bytes(lab.trust_pem())
        extra = folder / "extra.pem"
        extra.write_bytes(b"".join(i.pem() for s, _server in served for i in s.extra_intermediates))
        yield lab, served, str(folder / "roots.pem"), str(extra)


def _target(scenario, server) -> dict:
    return {"url": f"https://{scenario.host}{scenario.path}", "address": server.address}


def test_every_scenario_is_judged_through_the_module(fleet):
    _lab, served, roots, extra = fleet
    result = run_module(
        "mfa_server.tls.tls_probe",
        {
            "targets": [_target(s, srv) for s, srv in served],
            "trust_bundle": roots,
            "extra_intermediates": [extra],
        },
    )
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert len(result["results"]) == len(served)
    for (scenario, server), outcome in zip(served, result["results"], strict=True):
        codes = {f["code"] for f in outcome["findings"]}
        assert codes == scenario.codes, (scenario.name, outcome["findings"])
        assert outcome["trusted"] is scenario.trusted, scenario.name
        assert outcome["compliant"] is scenario.compliant, scenario.name
        assert outcome["address"] == server.address
        sent = [c["sha1"] for c in outcome["presented_chain"]]
        assert sent == [i.sha1 for i in scenario.serve], f"{scenario.name}: chain recorded exactly as sent"
        for f in outcome["findings"]:
            assert f["severity"] == CATALOGUE[f["code"]][0]
    by_name = {s.name: r for (s, _server), r in zip(served, result["results"], strict=True)}
    assert by_name["legacy_tls"]["tls_version"] in ("TLSv1", "TLSv1.1")
    assert by_name["good"]["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert by_name["good"]["http_status"] == 200
    assert by_name["not_found"]["http_status"] == 404
    assert "Test AIA-only CA" in by_name["incomplete_aia"]["findings"][0]["message"]
    assert result["compliant"] is False


def test_unreachable_endpoints_say_why(fleet):
    lab = fleet[0]
    with HTTPSServer([lab.leaf().pem()], lab.leaf().key_pem(), plain=True) as plain:
        result = run_module(
            "mfa_server.tls.tls_probe",
            {
                "targets": [
                    {"url": f"https://{HOST}/", "address": f"127.0.0.1:{_closed_port()}"},
                    {"url": f"https://{HOST}/", "address": plain.address},
                ],
                "timeout": 5,
            },
        )
    refused, not_tls = result["results"]
    assert [f["code"] for f in refused["findings"]] == ["UNREACHABLE"]
    assert "no TCP connection" in refused["findings"][0]["message"]
    assert [f["code"] for f in not_tls["findings"]] == ["UNREACHABLE"]
    assert "TLS handshake" in not_tls["findings"][0]["message"]
    assert refused["presented_chain"] == [] and refused["trusted"] is False


def test_default_store_is_mozilla_and_refuses_a_private_chain(fleet):
    _lab, served, _roots, _extra = fleet
    scenario, server = next((s, srv) for s, srv in served if s.name == "private_ca")
    result = run_module("mfa_server.tls.tls_probe", {"targets": [_target(scenario, server)]}, check=True)
    (outcome,) = result["results"]
    assert [f["code"] for f in outcome["findings"]] == ["PRIVATE_CA"]
    assert "Mozilla" in outcome["findings"][0]["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"targets": [{"url": "http://mfa.contoso.test/"}]}, "is not an https:// URL"),
        ({"targets": [{"url": "https://mfa.contoso.test/", "address": "127.0.0.1:http"}]}, "invalid port"),
        (
            {"targets": [{"url": "https://mfa.contoso.test/"}], "trust_bundle": "/nonexistent.pem"},
            "Cannot read the trust bundle",
        ),
        (
            {"targets": [{"url": "https://mfa.contoso.test/"}], "concurrency": 0},
            "concurrency must be greater than 0",
        ),
        ({"targets": [{"address": "127.0.0.1:1"}]}, "missing required arguments: url"),
    ],
)
def test_bad_input_fails_with_the_cause(args, message):
    result = run_module("mfa_server.tls.tls_probe", args)
    assert result["failed"] is True
    assert message in result["msg"]


def test_a_404_is_recorded_but_not_judged_when_the_path_means_nothing(fleet):
    _lab, served, roots, _extra = fleet
    scenario, server = next((s, srv) for s, srv in served if s.name == "not_found")
    target = _target(scenario, server) | {"check_http_status": False}
    (outcome,) = run_module("mfa_server.tls.tls_probe", {"targets": [target], "trust_bundle": roots})[
        "results"
    ]
    assert outcome["http_status"] == 404
    # The leaf names no OCSP responder or CRL: only that information is left.
    assert [f["code"] for f in outcome["findings"]] == [NO_REVOCATION_URL] and outcome["compliant"] is True
