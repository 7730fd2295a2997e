"""Makes `ansible_collections.mfa_server.tls` importable from the working tree (see Makefile setup)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".cache" / "collections"
if not (COLLECTIONS / "ansible_collections" / "mfa_server" / "tls").exists():
    raise RuntimeError("The collection link is missing: run `make setup` first.")
sys.path.insert(0, str(COLLECTIONS))
