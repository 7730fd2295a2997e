"""One HTTP/1.1 request read off a connection, as both of the emulated IIS listeners (HTTP and HTTPS) read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

MAX_LINE = 8192
MAX_BODY = 1 << 20


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    payload: bytes = b""

    @property
    def closes(self) -> bool:
        """Whether the client wants the connection closed after the answer (or speaks HTTP/1.0)."""
        return self.headers.get("connection", "").lower() == "close" or self.version == "HTTP/1.0"


def read_request(reader: BinaryIO) -> Request | None:
    """The next request on the connection; None when the client has closed it."""
    request_line = reader.readline(MAX_LINE)
    if not request_line:
        return None
    headers = {}
    while True:
        line = reader.readline(MAX_LINE)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _sep, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = min(int(headers.get("content-length") or 0), MAX_BODY)
    payload = reader.read(length) if length else b""
    parts = request_line.decode("latin-1").split()
    return Request(
        method=parts[0].upper() if parts else "GET",
        target=parts[1] if len(parts) > 1 else "/",
        version=parts[2] if len(parts) > 2 else "HTTP/1.1",
        headers=headers,
        payload=payload,
    )
