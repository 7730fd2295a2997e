"""The lab CA's revocation service: `python -m lab up` starts it beside the fleet, `lab down` stops it,
`lab revoke` revokes.

The responder itself (OCSP answers and a CRL signed by the issuing CA, over HTTP on loopback) is
tests/support/revocation.py, which the unit tests use too; this module keeps it in step with the lab CA's
state in DIR/ca (see lab/ca.py) and serves it at the address the lab's certificates name.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading
from pathlib import Path

from cryptography import x509

from lab.ca import REVOCATION_SERVED, LabCA
from tests.support.revocation import Authority, Revocation, RevocationServer


class LabRevocation:
    """The authorities of the lab CA's issuing CAs that have a revocation service, kept in step with
    DIR/ca/issued.json (written by `lab up`, `lab cert`, `lab revoke`)."""

    def __init__(self, lab_dir: Path) -> None:
        self.ca = LabCA(lab_dir)
        self.authorities = {name: Authority(self.ca[name], known=set()) for name in REVOCATION_SERVED}
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        stamp = self.ca.index_stamp()
        with self._lock:
            if stamp == self._seen:
                return
            self._seen = stamp
            issued = self.ca.issued()
            for name, authority in self.authorities.items():
                entries = issued.get(name, {})
                revoked = {
                    int(serial, 16): Revocation(
                        dt.datetime.fromisoformat(entry["revoked"]["at"]),
                        x509.ReasonFlags[entry["revoked"]["reason"]] if entry["revoked"]["reason"] else None,
                    )
                    for serial, entry in entries.items()
                    if entry.get("revoked")
                }
                authority.load(revoked, {int(serial, 16) for serial in entries})


def serve_lab(lab_dir: Path) -> int:
    """`python -m lab revocation-serve`: until SIGTERM, at the address in DIR/ca/responder.json."""
    service = LabRevocation(lab_dir)
    host, port = service.ca.responder_address()
    try:
        server = RevocationServer(service.authorities, host, port, before_request=service.refresh)
    except OSError as error:
        print(
            f"lab: the revocation responder cannot listen on {host}:{port} ({error.strerror}); the lab CA's "
            f"certificates name this address ({service.ca.dir / 'responder.json'})",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(
        json.dumps({"revocation_responder": server.base_url, "authorities": sorted(service.authorities)}),
        flush=True,
    )
    stop.wait()
    server.stop()
    print("lab: revocation responder stopped", flush=True)
    return 0
