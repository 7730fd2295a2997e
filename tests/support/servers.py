"""Real servers on 127.0.0.1 for tests and benchmarks: HTTPS with a chosen chain, plain HTTP files."""

from __future__ import annotations

import http.server
import socketserver
import ssl
import tempfile
import threading
import warnings
from pathlib import Path


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class HTTPSServer:
    """Serves `chain` (leaf first, in the order given, as Schannel would send it) and answers each
    path in `routes` with its status, 404 elsewhere. `plain=True` speaks plain HTTP on the port, so a TLS
    handshake fails.

    The versions accepted are `min_tls` to `max_tls`. By default a correct server: TLS 1.2 and 1.3; a
    `max_tls` below 1.2 alone makes a legacy-only server (TLS 1.0 up to it). `ciphers` (an OpenSSL cipher
    string) narrows the TLS 1.0-1.2 suites, e.g. "AES128-GCM-SHA256" (RSA key exchange, no forward secrecy,
    which needs an RSA certificate); Python cannot narrow the TLS 1.3 suites, all of which are forward-secret."""

    def __init__(
        self,
        chain_pem: list[bytes],
        key_pem: bytes,
        routes: dict[str, int] | None = None,
        max_tls: ssl.TLSVersion | None = None,
        plain: bool = False,
        *,
        min_tls: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
    ) -> None:
        self.routes = routes if routes is not None else {"/": 200}
        self.context = None if plain else self._context(chain_pem, key_pem, min_tls, max_tls, ciphers)
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._handle(self.request)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @staticmethod
    def _context(
        chain_pem: list[bytes],
        key_pem: bytes,
        min_tls: ssl.TLSVersion | None,
        max_tls: ssl.TLSVersion | None,
        ciphers: str | None,
    ) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Level 0 lets the server load weak keys and SHA-1 chains, which the tests must serve (and lets
        # OpenSSL 3 speak TLS 1.0/1.1 at all).
        context.set_ciphers(f"{ciphers or 'DEFAULT'}:@SECLEVEL=0")
        maximum = max_tls or ssl.TLSVersion.MAXIMUM_SUPPORTED
        if min_tls is None:
            legacy_only = max_tls is not None and max_tls < ssl.TLSVersion.TLSv1_2
            min_tls = ssl.TLSVersion.TLSv1 if legacy_only else ssl.TLSVersion.TLSv1_2
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0/1.1; serving them is the point of a legacy test server.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = min_tls
            context.maximum_version = maximum
        with tempfile.TemporaryDirectory() as folder:
            cert_file, key_file = Path(folder, "chain.pem"), Path(folder, "key.pem")
            cert_file.write_bytes(b"".join(chain_pem))
            key_file.write_bytes(key_pem)
            context.load_cert_chain(cert_file, key_file)
        return context

    def _handle(self, sock) -> None:
        sock.settimeout(5)
        try:
            stream = self.context.wrap_socket(sock, server_side=True) if self.context else sock
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 16384:
                chunk = stream.recv(4096)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1].decode() if request.count(b" ") >= 2 else "/"
            status = self.routes.get(path.split("?")[0], 404)
            reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
            stream.sendall(
                f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
        except (OSError, ssl.SSLError):
            pass  # a failed handshake is what some tests provoke

    def __enter__(self) -> HTTPSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class FileServer:
    """Plain HTTP serving fixed bytes per path (an AIA caIssuers URL)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
