"""The lab's certificate authorities, created once per lab directory and kept under DIR/ca.

- `winrm`: signs the WinRM listener certificates (trust/winrm-ca.pem; the controller validates them).
- `public-root` -> `public-issuing`: the stand-in for a publicly trusted CA (trust/public-roots.pem).
- `private-root` -> `private-issuing`: an enterprise CA whose root no phone trusts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab import pki

ROOTS = {
    "winrm": "mfa_server.tls lab WinRM CA",
    "public-root": "Lab Public Root CA G1",
    "private-root": "Contoso Internal Root CA",
}
INTERMEDIATES = {
    "public-issuing": ("public-root", "Lab Public Issuing CA R1"),
    "private-issuing": ("private-root", "Contoso Issuing CA 01"),
}


def _save(path: Path, issued: pki.Issued) -> None:
    path.with_suffix(".key").write_bytes(issued.key_pem())
    path.with_suffix(".key").chmod(0o600)
    path.with_suffix(".pem").write_bytes(issued.pem())


def _load(path: Path) -> pki.Issued:
    cert = x509.load_pem_x509_certificate(path.with_suffix(".pem").read_bytes())
    key = serialization.load_pem_private_key(path.with_suffix(".key").read_bytes(), password=None)
    return pki.Issued(cert, key)  # type: ignore[arg-type]


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

    def __getitem__(self, name: str) -> pki.Issued:
        if name not in self._cache:
            self._cache[name] = _load(self.dir / name)
        return self._cache[name]

    def chain(self, kind: str) -> list[pki.Issued]:
        """Issuing CA first, then the root, for a leaf of `kind` public|private."""
        return [self[f"{kind}-issuing"], self[f"{kind}-root"]]

    def leaf(self, kind: str, names: list[str], **kwargs) -> pki.Issued:
        return pki.make_leaf(self[f"{kind}-issuing"], names, **kwargs)

    def winrm_leaf(self, names: list[str]) -> pki.Issued:
        return pki.make_leaf(self["winrm"], names)

    def expired_leaf(self, names: list[str]) -> pki.Issued:
        start = pki.now() - dt.timedelta(days=400)
        return pki.make_leaf(
            self["public-issuing"], names, not_before=start, not_after=start + dt.timedelta(days=365)
        )
