"""The HTTP client of the revocation checks: how answers are framed and when a connection is kept, against
scripted servers on 127.0.0.1 that send chosen bytes, and connection sharing against a real responder."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import (
    GOOD,
    HttpClient,
    RevocationChecker,
    Unavailable,
)
from tests.support.chains import LabPKI
from tests.support.revocation import Authority, RevocationServer

LAB = LabPKI()
ISSUER = LAB.public_ca
LIMIT = 1024


@contextlib.contextmanager
def scripted(handle: Callable[[socket.socket, list[bytes]], None]) -> Iterator[dict]:
    """A TCP server on 127.0.0.1: each connection goes to `handle(connection, requests)`, which reads requests
    with `read_request` and writes what it likes. Yields {"url", "requests", "connections"}."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    seen: dict = {"url": f"http://127.0.0.1:{listener.getsockname()[1]}/", "requests": [], "connections": 0}
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _peer = listener.accept()
            except TimeoutError:
                continue
            seen["connections"] += 1
            with connection, contextlib.suppress(OSError):
                connection.settimeout(5)
                handle(connection, seen["requests"])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def read_request(connection: socket.socket, requests: list[bytes]) -> bytes:
    """One request's head and its Content-Length body off `connection`, recorded in `requests`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _end, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            while len(body) < int(line.split(b":")[1]):
                body += connection.recv(65536)
    requests.append(head + b"\r\n\r\n" + body)
    return head


def answering(*answers: bytes) -> Callable[[socket.socket, list[bytes]], None]:
    """A handler that answers the requests of one connection with `answers`, one each, then closes it."""

    def handle(connection: socket.socket, requests: list[bytes]) -> None:
        for answer in answers:
            if not read_request(connection, requests):
                return
            connection.sendall(answer)

    return handle


def fetch(url: str, body: bytes | None = None, client: HttpClient | None = None) -> bytes:
    return (client or HttpClient()).fetch(url, time.monotonic() + 5, 5, LIMIT, body=body)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n",
            b"hello",
        ),
        (b"HTTP/1.0 200 OK\r\n\r\nhello", b"hello"),  # up to the close
        (b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", b"hello"),  # bare LF line ends
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
    ],
    ids=["content_length", "chunked", "until_close", "bare_lf", "interim_100"],
)
def test_every_framing_of_an_answer_is_read(answer, expected):
    with scripted(answering(answer)) as server:
        assert fetch(server["url"]) == expected


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP 404 Not Found"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "the answer is not HTTP"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", f"the answer is larger than {LIMIT} bytes"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n",
            f"the answer is larger than {LIMIT} bytes",
        ),
        (b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 2048, f"the answer is larger than {LIMIT} bytes"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
            "unreachable (the connection closed in the middle of the answer)",
        ),
        (b"", "unreachable (Remote end closed connection without response)"),
    ],
    ids=[
        "status",
        "not_http",
        "declared_too_large",
        "chunks_too_large",
        "until_close_too_large",
        "cut",
        "closed",
    ],
)
def test_an_answer_that_cannot_be_used_says_why(answer, why):
    with scripted(answering(answer)) as server, pytest.raises(Unavailable) as raised:
        fetch(server["url"])
    assert str(raised.value) == why


def test_an_ocsp_request_is_posted_with_its_type_and_length_and_a_get_follows_redirects():
    moved = b"HTTP/1.1 302 Found\r\nLocation: /crl/next.crl\r\nContent-Length: 0\r\n\r\n"
    done = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with scripted(answering(done, moved, done)) as server:
        client = HttpClient()
        assert fetch(server["url"] + "ocsp", body=b"\x30\x03\x02\x01\x00", client=client) == b"ok"
        assert fetch(server["url"] + "crl/old.crl", client=client) == b"ok"
    posted, got, followed = server["requests"]
    assert posted.startswith(b"POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1:")
    head, _sep, body = posted.partition(b"\r\n\r\n")
    assert b"\r\nContent-Type: application/ocsp-request" in head and b"\r\nContent-Length: 5" in head
    assert body == b"\x30\x03\x02\x01\x00"
    assert got.startswith(b"GET /crl/old.crl HTTP/1.1\r\n")
    assert followed.startswith(b"GET /crl/next.crl HTTP/1.1\r\n")
    assert server["connections"] == 1, "one kept-alive connection for all three"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["told_to_close", "http_1_0"],
)
def test_a_connection_is_not_kept_when_the_answer_ends_it(answer):
    """The server would take a second request on the connection; the client, told otherwise, opens another."""
    with scripted(answering(answer, answer)) as server:
        client = HttpClient()
        fetch(server["url"], client=client)
        fetch(server["url"], client=client)
    assert server["connections"] == 2


def test_an_idle_connection_the_server_closed_is_replaced_by_a_new_one():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with scripted(answering(ok)) as server:  # one answer per connection, then the server closes it
        client = HttpClient()
        assert fetch(server["url"], client=client) == b"ok"
        time.sleep(0.1)
        assert fetch(server["url"], client=client) == b"ok"
    assert server["connections"] == 2


def test_threads_of_one_run_share_the_connections_kept_alive():
    """One checker's threads take turns on one connection rather than opening one each."""
    authority = Authority(ISSUER)
    with RevocationServer({"public": authority}) as server:
        checker = RevocationChecker(5)
        for _thread in range(4):
            leaf = LAB.leaf(ocsp_url=server.ocsp_url).cert
            worker = threading.Thread(target=lambda leaf=leaf: checker.check(leaf, ISSUER.cert))
            worker.start()
            worker.join(10)
        assert server.requests == {"ocsp": 4}
        assert server.connections == 1
        assert checker.check(LAB.leaf(ocsp_url=server.ocsp_url).cert, ISSUER.cert).state == GOOD
