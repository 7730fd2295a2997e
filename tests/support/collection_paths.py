"""Where Ansible finds mfa_server.tls (and ansible.windows) for tests that start ansible-doc or ansible.

In the working tree that is .cache/collections (the link `make setup` makes). In a copy laid out as
<dir>/ansible_collections/mfa_server/tls, as `ansible-test` needs it, it is <dir> itself."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def collection_roots() -> list[str]:
    roots = []
    if ROOT.parent.parent.name == "ansible_collections":
        roots.append(str(ROOT.parent.parent.parent))
    cache = ROOT / ".cache" / "collections"
    if cache.is_dir():
        roots.append(str(cache))
    return roots


def ansible_env() -> dict[str, str]:
    """The environment for an ansible command that must find this collection."""
    return {**os.environ, "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(collection_roots())}
