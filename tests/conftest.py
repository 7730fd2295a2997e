"""The working tree is importable as `ansible_collections.mfa_server.tls` through a link `make setup` makes."""

from pathlib import Path

LINK = (
    Path(__file__).resolve().parent.parent
    / ".cache"
    / "collections"
    / "ansible_collections"
    / "mfa_server"
    / "tls"
)
if not LINK.exists():
    raise RuntimeError(f"{LINK} is missing: run `make setup` first.")
