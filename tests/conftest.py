"""Shared fixtures. The working tree is importable as `ansible_collections.mfa_server.tls` through a
link `make setup` makes; the lab fixtures bring a lab up for a test module and always bring it down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The test helpers and the lab package, as pyproject.toml's `pythonpath` puts them; `ansible-test units`
# uses its own pytest configuration, so they are added here as well.
for _folder in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from lab_harness import ROOT, WINDOWS, Lab, running_lab  # noqa: E402

LINK = ROOT / ".cache" / "collections" / "ansible_collections" / "mfa_server" / "tls"
# `ansible-test units` runs the unit tests from a copy laid out as ansible_collections/mfa_server/tls, where
# the collection is importable without the link and the lab (with ansible.windows) is not used.
UNDER_ANSIBLE_TEST = ROOT.parent.parent.name == "ansible_collections"
if not LINK.exists() and not UNDER_ANSIBLE_TEST:
    raise RuntimeError(f"{LINK} is missing: run `make setup` first.")


@pytest.fixture(scope="session", autouse=True)
def _windows_collection() -> None:
    if not WINDOWS.exists() and not UNDER_ANSIBLE_TEST:
        subprocess.run(
            [str(ROOT / "scripts" / "install-windows-collection")],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PY": sys.executable},
        )


def _lab(tmp_path_factory, scenario: str, hosts: int = 3):
    directory = Path(tmp_path_factory.mktemp(f"{scenario}-lab"))
    with running_lab(directory, hosts, scenario) as lab:
        yield lab


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory) -> Lab:
    yield from _lab(tmp_path_factory, "seed")


@pytest.fixture(scope="module")
def traps_lab(tmp_path_factory) -> Lab:
    yield from _lab(tmp_path_factory, "traps")
