"""WS-Management SOAP 1.2 envelopes: parse what pywinrm sends, build what WinRM answers.

Only the shell resource (`windows/shell/cmd`) and the six operations pywinrm and ansible-core's winrm
connection plugin use: Create, Command, Send, Receive, Signal, Delete.
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
DONE = SHELL + "CommandState/Done"
RUNNING = SHELL + "CommandState/Running"

ACTIONS = {
    TRANSFER + "Create": "Create",
    TRANSFER + "Delete": "Delete",
    SHELL + "Command": "Command",
    SHELL + "Send": "Send",
    SHELL + "Receive": "Receive",
    SHELL + "Signal": "Signal",
}


class WSManFault(Exception):
    """A fault WinRM would send back (HTTP 500 with a SOAP Fault body)."""

    def __init__(self, reason: str, code: int = 2150858770, subcode: str = "w:InvalidSelectors"):
        super().__init__(reason)
        self.reason, self.code, self.subcode = reason, code, subcode


@dataclass
class Request:
    operation: str
    message_id: str
    shell_id: str | None
    command_id: str | None = None
    command: str = ""
    arguments: list[str] = field(default_factory=list)
    stdin: bytes = b""
    stdin_end: bool = False
    signal: str = ""


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def parse(body: bytes) -> Request:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise WSManFault(f"The WS-Management service cannot process the request: {exc}") from exc
    header = root.find("s:Header", NS)
    soap_body = root.find("s:Body", NS)
    if header is None or soap_body is None:
        raise WSManFault("The WS-Management service cannot process the request: no SOAP header or body")
    action = header.findtext("a:Action", "", NS).strip()
    operation = ACTIONS.get(action)
    if operation is None:
        raise WSManFault(f"The WS-Management service cannot process the request: action {action!r}")
    shell_id = None
    for selector in header.iterfind("w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    request = Request(operation, header.findtext("a:MessageID", "", NS).strip(), shell_id)
    if operation == "Command":
        line = soap_body.find("rsp:CommandLine", NS)
        request.command = (line.findtext("rsp:Command", "", NS) if line is not None else "").strip()
        request.arguments = [a.text or "" for a in soap_body.iterfind("rsp:CommandLine/rsp:Arguments", NS)]
    elif operation == "Send":
        stream = soap_body.find("rsp:Send/rsp:Stream", NS)
        if stream is not None:
            request.command_id = stream.get("CommandId")
            request.stdin = base64.b64decode(stream.text or "")
            request.stdin_end = stream.get("End", "").lower() == "true"
    elif operation == "Receive":
        stream = soap_body.find("rsp:Receive/rsp:DesiredStream", NS)
        request.command_id = stream.get("CommandId") if stream is not None else None
    elif operation == "Signal":
        signal = soap_body.find("rsp:Signal", NS)
        if signal is not None:
            request.command_id = signal.get("CommandId")
            request.signal = signal.findtext("rsp:Code", "", NS).strip()
    return request


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    namespaces = " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xml:lang="en-US" {namespaces}><s:Header>'
        f"<a:Action>{action}</a:Action><a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def created(request: Request, shell_id: str, endpoint: str) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(endpoint)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL_URI}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
        "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
        "</rsp:Shell>"
    )
    return _envelope(TRANSFER + "CreateResponse", request.message_id, body)


def command_started(request: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(SHELL + "CommandResponse", request.message_id, body)


def sent(request: Request) -> bytes:
    return _envelope(SHELL + "SendResponse", request.message_id, "<rsp:SendResponse/>")


def received(request: Request, command_id: str, stdout: bytes, stderr: bytes, exit_code: int | None) -> bytes:
    streams = []
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        # WinRM sends output in chunks; one chunk per stream is enough for pywinrm.
        if data:
            streams.append(
                f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(data).decode()}</rsp:Stream>'
            )
        streams.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>')
    if exit_code is None:
        state = f'<rsp:CommandState CommandId="{command_id}" State="{RUNNING}"/>'
    else:
        state = (
            f'<rsp:CommandState CommandId="{command_id}" State="{DONE}">'
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    body = f'<rsp:ReceiveResponse SequenceID="0">{"".join(streams)}{state}</rsp:ReceiveResponse>'
    return _envelope(SHELL + "ReceiveResponse", request.message_id, body)


def signalled(request: Request) -> bytes:
    return _envelope(SHELL + "SignalResponse", request.message_id, "<rsp:SignalResponse/>")


def deleted(request: Request) -> bytes:
    return _envelope(TRANSFER + "DeleteResponse", request.message_id, "")


def fault(relates_to: str, error: WSManFault) -> bytes:
    body = (
        "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode>"
        f"<s:Value>{escape(error.subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(error.reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault Code="{error.code}" Machine="lab"><f:Message>{escape(error.reason)}'
        "</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)
