# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Verification by regression (tls_probe `baseline`), and a probe that reaches a binding by address (`send_name`)."""

from __future__ import annotations

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import verification
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import ProbeInputError, run_probe
from tests.support.chains import LabPKI
from tests.support.servers import HTTPSServer

LAB = LabPKI()
NAME = "mfa.contoso.test"
CHAIN = [{"sha1": "AB" * 20}]


def _result(*codes: str, chain: list | None = None) -> dict:
    severity = {"EXPIRING_SOON": "warning", "LEGACY_TLS_ENABLED": "warning"}
    return {
        "url": f"https://{NAME}/x",
        "presented_chain": CHAIN if chain is None else chain,
        "findings": [
            {"code": c, "severity": severity.get(c, "error"), "message": f"{c} here."} for c in codes
        ],
    }


@pytest.mark.parametrize(
    ("after", "before", "certificate", "introduced", "remaining", "regressed"),
    [
        # The change fixed the certificate; the 404 of a leftover application was there before: it stands.
        (("HTTP_NOT_FOUND",), ("PRIVATE_CA", "HTTP_NOT_FOUND"), [], [], ["HTTP_NOT_FOUND"], False),
        ((), ("PRIVATE_CA",), [], [], [], False),
        (("LEGACY_TLS_ENABLED",), ("PRIVATE_CA",), [], [], [], False),  # a warning is no failure
        # A certificate finding left, whether it was there before or not, is the change's failure.
        (("INCOMPLETE_CHAIN",), ("PRIVATE_CA",), ["INCOMPLETE_CHAIN"], [], [], True),
        (("PRIVATE_CA",), ("PRIVATE_CA",), ["PRIVATE_CA"], [], [], True),
        # A failure that was not there before: the change introduced it.
        (("HTTP_NOT_FOUND",), ("PRIVATE_CA",), [], ["HTTP_NOT_FOUND"], [], True),
        (("NO_FORWARD_SECRECY",), (), [], ["NO_FORWARD_SECRECY"], [], True),
    ],
)
def test_a_change_is_judged_against_what_the_endpoint_had_before(
    after, before, certificate, introduced, remaining, regressed
):
    verdict = verification.regression(_result(*after), list(before))
    assert (verdict["certificate_findings"], verdict["introduced"], verdict["remaining"]) == (
        certificate,
        introduced,
        remaining,
    )
    assert verdict["regressed"] is regressed


def test_an_endpoint_that_sends_no_certificate_cannot_show_the_change_is_right():
    verdict = verification.regression(_result("UNREACHABLE", chain=[]), ["PRIVATE_CA", "UNREACHABLE"])
    assert verdict["remaining"] == ["UNREACHABLE"] and verdict["regressed"] is True


def test_the_messages_name_what_regressed_and_what_remains():
    regressed, kept = _result("INCOMPLETE_CHAIN"), _result("HTTP_NOT_FOUND")
    regressed["regression"] = verification.regression(regressed, ["PRIVATE_CA"])
    kept["regression"] = verification.regression(kept, ["PRIVATE_CA", "HTTP_NOT_FOUND"])
    message = verification.regression_message([regressed, kept])
    assert (
        message
        == f"the change did not verify as a phone sees it: https://{NAME}/x: INCOMPLETE_CHAIN: INCOMPLETE_CHAIN here."
    )
    (warning,) = verification.remaining_warnings([regressed, kept])
    assert (
        f"https://{NAME}/x: HTTP_NOT_FOUND. HTTP_NOT_FOUND here." in warning and "the change stays" in warning
    )


def test_a_baseline_must_match_the_targets_one_for_one():
    with pytest.raises(verification.BaselineError, match="1 entries for 2 targets"):
        verification.check_baseline([{"codes": []}], ["https://a/", "https://b/"])
    with pytest.raises(
        verification.BaselineError, match="entry 1 is for https://b/, but target 1 is https://a/"
    ):
        verification.check_baseline(
            [{"url": "https://b/"}, {"url": "https://a/"}], ["https://a/", "https://b/"]
        )
    verification.check_baseline([{"url": "https://a/"}, {"codes": ["X"]}], ["https://a/", "https://b/"])


class RecordingServer(HTTPSServer):
    """Records the SNI name of every connection (None without one) and the Host header of every request."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.names: list[str | None] = []
        self.hosts: list[str] = []
        self.context.sni_callback = lambda _sock, name, _context: self.names.append(name)

    def _handle(self, sock) -> None:
        sock.settimeout(5)
        try:
            with self.context.wrap_socket(sock, server_side=True) as stream:
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 16384:
                    chunk = stream.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                head = request.decode("latin-1").split("\r\n")
                self.hosts += [
                    line.split(":", 1)[1].strip() for line in head if line.lower().startswith("host:")
                ]
                status = self.routes.get(head[0].split(" ")[1], 404)
                stream.sendall(
                    f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
                )
        except OSError:
            pass  # the probe's protocol checks drop their connections after the ServerHello


def _serve(routes: dict[str, int]) -> RecordingServer:
    leaf = LAB.leaf(names=[NAME])
    return RecordingServer([leaf.pem(), LAB.public_ca.pem()], leaf.key_pem(), routes)


def _probe(server, trust, options: dict | None = None, **target) -> dict:
    target = {"url": f"https://{NAME}/x", "address": server.address, "check_http_status": True, **target}
    settings = {"trust_bundle": str(trust), "fetch_aia": False, "check_revocation": False, "timeout": 5}
    return run_probe({"targets": [target], **settings, **(options or {})})


@pytest.fixture
def trust(tmp_path):
    path = tmp_path / "roots.pem"
    path.write_bytes(LAB.trust_pem())
    return path


def test_without_the_name_the_probe_sends_no_sni_and_the_address_as_host_but_judges_the_name(trust):
    with _serve({"/x": 200}) as server:
        named = _probe(server, trust)
        first_names, first_hosts = list(server.names), list(server.hosts)
        unnamed = _probe(server, trust, send_name=False)
    port = server.address.rsplit(":", 1)[1]
    assert set(first_names) == {NAME} and first_hosts == [f"{NAME}:{port}"]
    # Every connection of the second probe (the request and the protocol checks) went without a name.
    assert set(server.names[len(first_names) :]) == {None}
    assert server.hosts[len(first_hosts) :] == [server.address]
    # Judged for the URL's name all the same: the leaf names it, so both pass.
    assert named["results"][0]["compliant"] is True and unnamed["results"][0]["compliant"] is True
    assert unnamed["results"][0]["host"] == NAME


def test_with_a_baseline_a_404_that_was_there_before_is_a_warning_and_a_new_one_fails(trust):
    with _serve({}) as server:  # every path answers 404
        kept = _probe(
            server,
            trust,
            {
                "baseline": [{"url": f"https://{NAME}/x", "codes": ["PRIVATE_CA", "HTTP_NOT_FOUND"]}],
                "fail_when_noncompliant": True,
            },
        )
        new = _probe(
            server,
            trust,
            {
                "baseline": [{"url": f"https://{NAME}/x", "codes": ["PRIVATE_CA"]}],
                "fail_when_noncompliant": True,
            },
        )
    assert kept["compliant"] is False and kept["regressed"] is False and "failed" not in kept
    assert kept["results"][0]["regression"]["remaining"] == ["HTTP_NOT_FOUND"]
    assert "HTTP_NOT_FOUND" in kept["warnings"][0]
    assert new["regressed"] is True and new["failed"] is True
    assert (
        new["msg"].startswith("the change did not verify as a phone sees it: ")
        and "HTTP_NOT_FOUND" in new["msg"]
    )


def test_a_baseline_out_of_order_is_refused_before_any_connection(trust):
    with pytest.raises(ProbeInputError, match="baseline has 2 entries for 1 targets"):
        run_probe(
            {
                "targets": [{"url": f"https://{NAME}/", "check_http_status": True}],
                "baseline": [{"codes": []}, {"codes": []}],
                "trust_bundle": str(trust),
            }
        )
