"""One accept loop for every listening socket of the fleet; each connection gets its own thread.

Hundreds of listeners (WinRM HTTPS and HTTP, IIS HTTPS per host) cost one thread here, not one each.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable

Handler = Callable[[socket.socket, tuple], None]


def listen(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Acceptor:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        # stop() (a signal handler) writes here, so that select() returns at once instead of at its timeout.
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self.selector.register(self._wake_read, selectors.EVENT_READ, None)

    def add(self, sock: socket.socket, handler: Handler) -> None:
        self.sockets.append(sock)
        self.selector.register(sock, selectors.EVENT_READ, handler)

    def serve_forever(self) -> None:
        while not self.stopping.is_set():
            for key, _events in self.selector.select(timeout=0.5):
                if key.data is None:  # the wake-up from stop()
                    continue
                try:
                    conn, addr = key.fileobj.accept()  # type: ignore[union-attr]
                except (BlockingIOError, OSError):
                    continue
                conn.setblocking(True)
                conn.settimeout(120)
                threading.Thread(target=_guarded, args=(key.data, conn, addr), daemon=True).start()
        for sock in [*self.sockets, self._wake_read, self._wake_write]:
            sock.close()

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")


def _guarded(handler: Handler, conn: socket.socket, addr: tuple) -> None:
    try:
        handler(conn, addr)
    except (OSError, ConnectionError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass
