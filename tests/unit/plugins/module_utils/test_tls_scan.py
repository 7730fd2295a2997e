"""The protocol scan of tls_client: which versions a server accepts and whether forward secrecy is possible.

The early-abort check is judged against canned answers (a fake server that sends chosen bytes); the scan as
a whole against real TLS servers on 127.0.0.1 configured like the servers phones meet."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import tls_client
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import _protocol_findings
from tests.support import pki
from tests.support.chains import HOST, LabPKI
from tests.support.servers import HTTPSServer

V = ssl.TLSVersion
LAB = LabPKI()
EC_CHAIN = [LAB.leaf(), LAB.public_ca]
RSA_CHAIN = [LAB.leaf(LAB.public_rsa_ca, key=pki.new_key("rsa")), LAB.public_rsa_ca]

# Apple, "Requirements for Connecting Using ATS" (NSAppTransportSecurity): the TLS 1.2 suites, as listed there.
APPLE_ATS_LIST = {
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
}


def _server_hello_start(version: int) -> bytes:
    """A handshake record header and the first bytes of a ServerHello choosing `version`."""
    return (
        bytes([0x16, 0x03, 0x03])
        + struct.pack(">H", 80)
        + bytes([0x02, 0, 0, 76])
        + struct.pack(">H", version)
    )


ALERT_PROTOCOL_VERSION = bytes([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])


@contextlib.contextmanager
def canned(answer: bytes | None, *, reset: bool = False, silent: bool = False) -> Iterator[dict]:
    """A TCP server on 127.0.0.1 answering one connection: `answer` after the ClientHello, then a close (or a
    reset, or nothing at all). Yields {"address", "hello"}: the bytes the client sent first."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict = {"address": f"127.0.0.1:{listener.getsockname()[1]}", "hello": b""}
    done = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _peer = listener.accept()
            with conn:
                conn.settimeout(5)
                seen["hello"] = conn.recv(65536)
                if silent:
                    done.wait(5)
                elif reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif answer:
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        listener.close()
        thread.join(5)


def _target(address: str) -> tls_client.Target:
    return tls_client.parse_target(f"https://{HOST}/", address)


@pytest.mark.parametrize(
    ("answer", "kwargs", "expected"),
    [
        (_server_hello_start(0x0302), {}, ("TLSv1.1", True)),
        (_server_hello_start(0x0301), {}, ("TLSv1", True)),
        (_server_hello_start(0x0303), {}, (None, True)),  # a version the ClientHello did not offer
        (ALERT_PROTOCOL_VERSION, {}, (None, True)),
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", {}, (None, True)),  # not TLS at all
        (None, {}, (None, True)),  # closed without a word
        (None, {"reset": True}, (None, True)),
        (None, {"silent": True}, (None, False)),  # no answer in time: nothing is known
    ],
    ids=["tls11", "tls10", "unoffered", "alert", "not_tls", "closed", "reset", "silent"],
)
def test_a_legacy_check_reads_the_answer_as_far_as_the_server_hello(answer, kwargs, expected):
    with canned(answer, **kwargs) as server:
        assert (
            tls_client.hello_answer(_target(server["address"]), tls_client._LEGACY_CONTEXT, 0.5) == expected
        )
        assert server["hello"][:1] == b"\x16", "OpenSSL wrote a ClientHello record"
        assert HOST.encode() in server["hello"], "with the SNI a phone sends"


def test_a_check_is_in_flight_before_its_answer_is_read():
    """The ClientHello leaves when the check is made, so the server answers it while the phone's handshake runs."""
    with (
        canned(_server_hello_start(0x0303)) as server,
        tls_client.HelloCheck(_target(server["address"]), tls_client._TLS12_CONTEXT, 2) as check,
    ):
        for _attempt in range(100):
            if server["hello"]:
                break
            threading.Event().wait(0.01)
        assert server["hello"][:1] == b"\x16"
        assert check.answer() == ("TLSv1.2", True)


def test_no_tcp_connection_is_no_answer():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    assert tls_client.hello_answer(_target(closed), tls_client._TLS12_CONTEXT, 1) == (None, False)


def test_the_ats_list_is_apples_and_every_name_is_openssls():
    assert set(tls_client.ATS_SUITES.values()) == APPLE_ATS_LIST
    assert "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" not in tls_client.ATS_SUITES.values(), "not on Apple's list"
    # The check offers exactly these suites, so each must be one OpenSSL knows by that name.
    offered = {c["name"] for c in tls_client._ATS_CONTEXT.get_ciphers() if c["protocol"] != "TLSv1.3"}
    assert offered == set(tls_client.ATS_SUITES)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_iana_names_are_the_ones_openssl_gives():
    listing = subprocess.run(
        ["openssl", "ciphers", "-stdname", "ALL:@SECLEVEL=0"], capture_output=True, text=True, check=True
    ).stdout
    standard = {line.split()[2]: line.split()[0] for line in listing.splitlines() if " - " in line}
    for name, iana in (tls_client.ATS_SUITES | tls_client._OTHER_SUITES).items():
        assert standard[name] == iana, name
    assert tls_client.iana_name("TLS_AES_128_GCM_SHA256") == "TLS_AES_128_GCM_SHA256"
    assert tls_client.iana_name("ARIA128-GCM-SHA256") is None
    assert tls_client.iana_name(None) is None


def test_legacy_contexts_are_made_without_deprecation_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context = tls_client._context(V.TLSv1, V.TLSv1_1)
    assert (context.minimum_version, context.maximum_version) == (V.TLSv1, V.TLSv1_1)
    assert [w for w in caught if issubclass(w.category, DeprecationWarning)] == []


@pytest.mark.parametrize(
    ("chain", "server", "protocols", "forward_secrecy", "cipher"),
    [
        (EC_CHAIN, {}, ["TLSv1.2", "TLSv1.3"], True, "TLS_AES_256_GCM_SHA384"),
        (EC_CHAIN, {"min_tls": V.TLSv1_3}, ["TLSv1.3"], True, "TLS_AES_256_GCM_SHA384"),
        (EC_CHAIN, {"max_tls": V.TLSv1_2}, ["TLSv1.2"], True, "ECDHE-ECDSA-AES256-GCM-SHA384"),
        (
            EC_CHAIN,
            {"min_tls": V.TLSv1},
            ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
            True,
            "TLS_AES_256_GCM_SHA384",
        ),
        (EC_CHAIN, {"min_tls": V.TLSv1_1, "max_tls": V.TLSv1_2}, ["TLSv1.1", "TLSv1.2"], True, None),
        (EC_CHAIN, {"max_tls": V.TLSv1_1}, ["TLSv1", "TLSv1.1"], False, "ECDHE-ECDSA-AES256-SHA"),
        (EC_CHAIN, {"max_tls": V.TLSv1}, ["TLSv1"], False, "ECDHE-ECDSA-AES256-SHA"),
        (
            RSA_CHAIN,
            {"max_tls": V.TLSv1_2, "ciphers": "AES128-GCM-SHA256"},
            ["TLSv1.2"],
            False,
            "AES128-GCM-SHA256",
        ),
        # The server's order puts RSA key exchange first, as Schannel's may: the ATS check still finds ECDHE.
        (
            RSA_CHAIN,
            {"max_tls": V.TLSv1_2, "ciphers": "AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA"},
            ["TLSv1.2"],
            True,
            "AES256-GCM-SHA384",
        ),
        # Forward-secret, but not a suite on Apple's list.
        (
            RSA_CHAIN,
            {"max_tls": V.TLSv1_2, "ciphers": "AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA"},
            ["TLSv1.2"],
            False,
            "AES128-GCM-SHA256",
        ),
    ],
    ids=[
        "tls12_13",
        "tls13_only",
        "tls12_only",
        "tls10_to_13",
        "tls11_12",
        "legacy_only",
        "tls10_only",
        "rsa_kx",
        "rsa_kx_first",
        "fs_not_ats",
    ],
)
def test_the_scan_finds_what_the_server_accepts(chain, server, protocols, forward_secrecy, cipher):
    with HTTPSServer([i.pem() for i in chain], chain[0].key_pem(), **server) as https:
        shake = tls_client.handshake(_target(https.address), 5)
    assert shake.error is None
    assert shake.protocols == protocols
    assert shake.forward_secrecy is forward_secrecy
    assert shake.legacy_only is (protocols[-1] in tls_client.LEGACY_VERSIONS)
    if cipher is not None:
        assert shake.cipher == cipher
        assert shake.cipher_iana == tls_client.iana_name(cipher)
    assert shake.tls_version == protocols[-1], "the phone gets the highest version"
    assert shake.http_status == (None if shake.legacy_only else 200)


def test_a_server_that_speaks_no_tls_has_no_protocols():
    with HTTPSServer([i.pem() for i in EC_CHAIN], EC_CHAIN[0].key_pem(), plain=True) as plain:
        shake = tls_client.handshake(_target(plain.address), 5)
    assert shake.error.startswith(f"TLS handshake with {plain.address} failed")
    assert (shake.protocols, shake.forward_secrecy, shake.cipher) == ([], None, None)


def _shake(**fields) -> tls_client.Handshake:
    return tls_client.Handshake(chain_der=[b"x"], **fields)


def test_findings_name_what_was_negotiated_and_accepted():
    target = _target("127.0.0.1:443")
    rsa = _shake(
        tls_version="TLSv1.2",
        cipher="AES128-GCM-SHA256",
        cipher_iana="TLS_RSA_WITH_AES_128_GCM_SHA256",
        protocols=["TLSv1", "TLSv1.2"],
        forward_secrecy=False,
    )
    found = {f.code: f.message for f in _protocol_findings(target, rsa)}
    assert set(found) == {"NO_FORWARD_SECRECY", "LEGACY_TLS_ENABLED"}
    assert "TLS 1.2 negotiates TLS_RSA_WITH_AES_128_GCM_SHA256" in found["NO_FORWARD_SECRECY"]
    assert found["LEGACY_TLS_ENABLED"].startswith(f"{target.url} still accepts TLSv1 besides TLSv1.2;")


def test_a_legacy_only_server_gets_no_legacy_tls_enabled_and_unknowns_get_nothing():
    target = _target("127.0.0.1:443")
    legacy_only = _shake(
        tls_version="TLSv1.1", protocols=["TLSv1", "TLSv1.1"], forward_secrecy=False, legacy_only=True
    )
    (only,) = _protocol_findings(target, legacy_only)
    assert only.code == "NO_FORWARD_SECRECY" and "answers only with TLSv1, TLSv1.1" in only.message
    unknown = _shake(
        tls_version="TLSv1.2", cipher="AES128-GCM-SHA256", protocols=["TLSv1.2"], forward_secrecy=None
    )
    assert _protocol_findings(target, unknown) == []
    modern = _shake(tls_version="TLSv1.3", protocols=["TLSv1.2", "TLSv1.3"], forward_secrecy=True)
    assert _protocol_findings(target, modern) == []


def test_a_deferred_check_connects_at_once_and_sends_its_hello_when_told():
    """The legacy check connects together with the phone and sends once the phone's connection is up: one round
    trip for both TCP handshakes instead of one after the other."""
    with (
        canned(_server_hello_start(0x0302)) as server,
        tls_client.HelloCheck(
            _target(server["address"]), tls_client._LEGACY_CONTEXT, 2, send_now=False
        ) as check,
    ):
        threading.Event().wait(0.2)
        assert server["hello"] == b"", "connected, nothing sent yet"
        check.send()
        for _attempt in range(100):
            if server["hello"]:
                break
            threading.Event().wait(0.01)
        assert server["hello"][:1] == b"\x16"
        assert check.answer() == ("TLSv1.1", True)


@contextlib.contextmanager
def silent_listener() -> Iterator[str]:
    """An address on 127.0.0.1 whose SYNs go unanswered, as a host that is down or filtered: a listener whose
    accept queue (backlog 0) is already full, so Linux drops every further SYN. Yields host:port."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    fillers = []
    try:
        for _index in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        threading.Event().wait(0.1)
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_a_silent_host_costs_one_timeout_not_one_per_connection():
    """The legacy check's connection is made with the phone's, not before it: when neither is answered, the probe
    gives up after one timeout."""
    with silent_listener() as address:
        started = time.monotonic()
        shake = tls_client.handshake(_target(address), 0.5)
        elapsed = time.monotonic() - started
    assert shake.error == f"no TCP connection to {address}: timed out"
    assert 0.45 <= elapsed < 0.9
