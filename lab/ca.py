"""The lab's certificate authorities, created once per lab directory and kept under DIR/ca.

- `winrm`: signs the WinRM listener certificates (trust/winrm-ca.pem; the controller validates them).
- `public-root` -> `public-issuing`: the stand-in for a publicly trusted CA (trust/public-roots.pem).
- `private-root` -> `private-issuing`: an enterprise CA whose root no phone trusts.

The public issuing CA issues what public CAs issue (CA/Browser Forum Baseline Requirements): leaves valid for
397 days (at most 398 are allowed), with embedded SCTs from three (lab) CT logs, an OCSP responder and a CRL
distribution point. Its responder (lab/revocation.py) listens on a loopback address chosen when the CA is
created and kept in DIR/ca/responder.json, since every certificate it issues names it; every certificate it
issues, and its revocation, is kept in DIR/ca/issued.json, which the responder follows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support import pki

ROOTS = {
    "winrm": "mfa_server.tls lab WinRM CA",
    "public-root": "Lab Public Root CA G1",
    "private-root": "Contoso Internal Root CA",
}
INTERMEDIATES = {
    "public-issuing": ("public-root", "Lab Public Issuing CA R1"),
    "private-issuing": ("private-root", "Contoso Issuing CA 01"),
}
# The issuing CAs with an OCSP responder and a CRL: the public one. The enterprise CA's revocation service
# (LDAP CRLs in Active Directory) is not modelled: phones never reach it and private chains are not checked.
REVOCATION_SERVED = ("public-issuing",)
# notBefore through notAfter, both seconds included, as the Baseline Requirements and Apple count (hence the
# second less, as Let's Encrypt's 90-day certificates have).
PUBLIC_LEAF_VALIDITY = dt.timedelta(days=397, seconds=-1)
# The reasons a public CA may give for a server certificate (CA/Browser Forum Baseline Requirements 7.2.2).
REVOCATION_REASONS = (
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "privilege_withdrawn",
)
RESPONDER_FILE, INDEX_FILE = "responder.json", "issued.json"
# The responder's address: 127.214-253.x.y, away from the fleet's 127.64-213.0.0/16 ranges (lab/folder.py).
RESPONDER_PORT = 8080
RESPONDER_OCTETS = range(214, 254)


def _save(path: Path, issued: pki.Issued) -> None:
    path.with_suffix(".key").write_bytes(issued.key_pem())
    path.with_suffix(".key").chmod(0o600)
    path.with_suffix(".pem").write_bytes(issued.pem())


def _load(path: Path) -> pki.Issued:
    cert = x509.load_pem_x509_certificate(path.with_suffix(".pem").read_bytes())
    key = serialization.load_pem_private_key(path.with_suffix(".key").read_bytes(), password=None)
    return pki.Issued(cert, key)  # type: ignore[arg-type]


def _free_responder_address(ca_dir: Path) -> str:
    start = int(hashlib.sha1(str(ca_dir.resolve()).encode()).hexdigest(), 16)
    span = len(RESPONDER_OCTETS) * 256 * 254
    for offset in range(0, span, 7919):  # a prime stride: neighbouring lab directories land far apart
        slot = (start + offset) % span
        octet = RESPONDER_OCTETS[slot // (256 * 254)]
        address = f"127.{octet}.{slot // 254 % 256}.{slot % 254 + 1}"
        if responder_address_free(address, RESPONDER_PORT):
            return address
    raise RuntimeError("no free loopback address for the lab CA's revocation responder")


def responder_address_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class LabCA:
    def __init__(self, lab_dir: Path):
        self.dir = Path(lab_dir) / "ca"
        self._cache: dict[str, pki.Issued] = {}

    def ensure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, common_name in ROOTS.items():
            if not (self.dir / f"{name}.pem").exists():
                _save(self.dir / name, pki.make_root(common_name))
        for name, (parent, common_name) in INTERMEDIATES.items():
            if not (self.dir / f"{name}.pem").exists():
                _save(self.dir / name, pki.make_intermediate(self[parent], common_name))
        if not (self.dir / RESPONDER_FILE).exists():
            address = {"host": _free_responder_address(self.dir), "port": RESPONDER_PORT}
            (self.dir / RESPONDER_FILE).write_text(json.dumps(address))

    def responder_address(self) -> tuple[str, int]:
        address = json.loads((self.dir / RESPONDER_FILE).read_text())
        return address["host"], int(address["port"])

    def ocsp_url(self) -> str:
        host, port = self.responder_address()
        return f"http://{host}:{port}/ocsp"

    def crl_url(self, issuing: str) -> str:
        host, port = self.responder_address()
        return f"http://{host}:{port}/crl/{issuing}.crl"

    def __getitem__(self, name: str) -> pki.Issued:
        if name not in self._cache:
            self._cache[name] = _load(self.dir / name)
        return self._cache[name]

    def chain(self, kind: str) -> list[pki.Issued]:
        """Issuing CA first, then the root, for a leaf of `kind` public|private."""
        return [self[f"{kind}-issuing"], self[f"{kind}-root"]]

    def leaf(self, kind: str, names: list[str], **kwargs) -> pki.Issued:
        issuing = f"{kind}-issuing"
        if issuing not in REVOCATION_SERVED:
            return pki.make_leaf(self[issuing], names, **kwargs)
        not_before = kwargs.get("not_before") or pki.default_start()
        public = {
            "not_before": not_before,
            "not_after": not_before + PUBLIC_LEAF_VALIDITY,
            "ct_logs": pki.LAB_CT_LOGS,
            "ocsp_url": self.ocsp_url(),
            "crl_url": self.crl_url(issuing),
            "serial_number": x509.random_serial_number(),
        }
        leaf = pki.make_leaf(self[issuing], names, **(public | kwargs))
        self._record(issuing, leaf, names)
        return leaf

    def winrm_leaf(self, names: list[str]) -> pki.Issued:
        return pki.make_leaf(self["winrm"], names)

    def expired_leaf(self, names: list[str]) -> pki.Issued:
        start = pki.now() - dt.timedelta(days=400)
        return self.leaf("public", names, not_before=start, not_after=start + dt.timedelta(days=365))

    def issued(self) -> dict[str, dict[str, dict]]:
        """Issuing CA -> serial (hex) -> {thumbprint, names, not_after, revoked: None | {at, reason}}."""
        path = self.dir / INDEX_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def index_stamp(self) -> tuple[int, int] | None:
        """Changes whenever the index is written (each write is a new file, hence a new inode)."""
        try:
            status = (self.dir / INDEX_FILE).stat()
            return status.st_ino, status.st_mtime_ns
        except FileNotFoundError:
            return None

    def revoke(self, thumbprint: str, reason: str = "key_compromise") -> dict:
        """Revoke the certificate this CA issued with `thumbprint` (SHA-1, as Windows shows it); the responder
        answers "revoked" and lists it in the CRL from its next request on."""
        wanted = thumbprint.replace(" ", "").replace(":", "").upper()
        if reason not in REVOCATION_REASONS:
            raise ValueError(
                f"'{reason}' is not a reason a public CA gives; one of {', '.join(REVOCATION_REASONS)}"
            )
        with self._index() as index:
            for issuing, entries in index.items():
                for serial, entry in entries.items():
                    if entry["thumbprint"] == wanted:
                        entry["revoked"] = entry.get("revoked") or {
                            "at": pki.now().isoformat(),
                            "reason": reason,
                        }
                        return {"issuer": issuing, "serial": serial, **entry}
        raise KeyError(f"the lab CA issued no certificate with the thumbprint {wanted}")

    def _record(self, issuing: str, leaf: pki.Issued, names: list[str]) -> None:
        with self._index() as index:
            index.setdefault(issuing, {})[format(leaf.cert.serial_number, "x")] = {
                "thumbprint": leaf.sha1,
                "names": names,
                "not_after": leaf.cert.not_valid_after_utc.isoformat(),
                "revoked": None,
            }

    @contextlib.contextmanager
    def _index(self) -> Iterator[dict]:
        """The index for a change, locked against other lab commands, written whole (the responder never
        reads half a file)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / f"{INDEX_FILE}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            index = self.issued()
            yield index
            temporary = self.dir / f"{INDEX_FILE}.tmp"
            temporary.write_text(json.dumps(index, indent=1))
            os.replace(temporary, self.dir / INDEX_FILE)
