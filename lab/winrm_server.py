"""The WinRM listener of one emulated host: HTTP/1.1 on /wsman, Basic and NTLM, WS-Man shells.

A request handler instance lives as long as its TCP connection, which is where NTLM keeps its context.
Shells and commands are kept per host in memory; a command runs when its stdin is complete (or on the
first Receive when it takes no stdin), and Receive answers all of its output at once.
"""

from __future__ import annotations

import http.server
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field

from lab import executor, wsman
from lab.auth import ConnectionAuth, Unauthorized
from lab.state import count


@dataclass
class Command:
    cmdline: str
    stdin: bytearray = field(default_factory=bytearray)
    stdin_done: bool = False
    result: tuple[bytes, bytes, int] | None = None


class Shells:
    """Open shells of one host; WinRM limits them, so does this (MaxShellsPerUser 30)."""

    MAX = 30

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shells: dict[str, dict[str, Command]] = {}

    def create(self) -> str:
        with self.lock:
            if len(self.shells) >= self.MAX:
                self.shells.pop(next(iter(self.shells)))  # oldest: ansible sometimes leaves shells open
            shell_id = str(uuid.uuid4()).upper()
            self.shells[shell_id] = {}
            return shell_id

    def get(self, shell_id: str | None) -> dict[str, Command]:
        with self.lock:
            if shell_id not in self.shells:
                raise wsman.WSManFault(
                    "The request for the Windows Remote Shell with ShellId "
                    f"{shell_id} failed because the shell was not found on the server."
                )
            return self.shells[shell_id]

    def delete(self, shell_id: str | None) -> None:
        with self.lock:
            self.shells.pop(shell_id or "", None)


class WinRMHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    # set by the listener factory
    host: executor.Host
    shells: Shells
    user: str
    password: str
    bindings = None
    https = False

    def setup(self) -> None:
        super().setup()
        self.auth = ConnectionAuth(self.user, self.password, self.bindings)

    def log_message(self, format, *args) -> None:  # quiet: the daemon log would fill up
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, close: bool = False) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].lower() != "/wsman":
            self._send(404)
            return
        try:
            self.auth.check(self.headers.get("Authorization", ""))
        except Unauthorized as exc:
            headers = {"WWW-Authenticate": exc.token} if exc.token else None
            if not exc.token:
                self.send_response(401)
                self.send_header("WWW-Authenticate", "Negotiate")
                self.send_header("WWW-Authenticate", "NTLM")
                self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(401, headers=headers)
            return
        encrypted = "multipart/encrypted" in self.headers.get("Content-Type", "")
        if encrypted:
            if not self.auth.can_seal:
                self._send(400, close=True)
                return
            body = self.auth.unseal(body)
        elif not self.https and self.auth.can_seal and body:
            # WinRM refuses unencrypted messages over HTTP once NTLM could seal them (AllowUnencrypted=false)
            self._send(400, close=True)
            return
        if not body:  # pywinrm's empty POST that sets up message encryption
            self._send(200)
            return
        try:
            answer, status = self._operation(wsman.parse(body)), 200
        except wsman.WSManFault as fault:
            answer, status = wsman.fault("", fault), 500
        except executor.DropConnection:
            self.close_connection = True
            self.connection.close()
            return
        except Exception as exc:  # a lab bug: answer a fault that names it instead of dropping the connection
            traceback.print_exc()
            answer, status = (
                wsman.fault("", wsman.WSManFault(f"lab internal error on {self.host.name}: {exc!r}")),
                500,
            )
        if encrypted:
            sealed, content_type = self.auth.seal(answer)
            self._send(status, sealed, {"Content-Type": content_type})
        else:
            self._send(status, answer, {"Content-Type": "application/soap+xml;charset=UTF-8"})

    def _operation(self, request: wsman.Request) -> bytes:
        op = request.operation
        if op == "Create":
            return wsman.created(request, self.shells.create(), f"https://{self.host.name}/wsman")
        if op == "Delete":
            self.shells.delete(request.shell_id)
            return wsman.deleted(request)
        commands = self.shells.get(request.shell_id)
        if op == "Command":
            command_id = str(uuid.uuid4()).upper()
            cmdline = " ".join([request.command, *request.arguments]).strip()
            commands[command_id] = Command(cmdline)
            with self.host.state.change() as data:
                count(data)
            return wsman.command_started(request, command_id)
        command = commands.get(request.command_id or "")
        if command is None:
            raise wsman.WSManFault(
                f"The command {request.command_id} was not found in shell {request.shell_id}."
            )
        if op == "Send":
            command.stdin.extend(request.stdin)
            command.stdin_done = command.stdin_done or request.stdin_end
            return wsman.sent(request)
        if op == "Receive":
            if command.result is None:
                if self.host.command_delay:
                    time.sleep(
                        self.host.command_delay
                    )  # this connection's thread only: hosts stay concurrent
                command.result = executor.run(self.host, command.cmdline, bytes(command.stdin))
            stdout, stderr, rc = command.result
            return wsman.received(request, request.command_id or "", stdout, stderr, rc)
        if op == "Signal":
            commands.pop(request.command_id or "", None)
            return wsman.signalled(request)
        raise wsman.WSManFault(f"operation {op} is not supported")
