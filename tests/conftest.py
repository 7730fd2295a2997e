"""Shared fixtures. The working tree is importable as `ansible_collections.mfa_server.tls` through a
link `make setup` makes; the lab fixtures bring a lab up for a test module and always bring it down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_harness import ROOT, WINDOWS, Lab, lab_cli, start_lab

LINK = ROOT / ".cache" / "collections" / "ansible_collections" / "mfa_server" / "tls"
if not LINK.exists():
    raise RuntimeError(f"{LINK} is missing: run `make setup` first.")


@pytest.fixture(scope="session", autouse=True)
def _windows_collection() -> None:
    if not WINDOWS.exists():
        subprocess.run(
            [str(ROOT / "scripts" / "install-windows-collection")],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PY": sys.executable},
        )


def _lab(tmp_path_factory, scenario: str, hosts: int = 3):
    directory = Path(tmp_path_factory.mktemp(f"{scenario}-lab"))
    lab = start_lab(directory, hosts, scenario)
    try:
        yield lab
    finally:
        lab_cli("down", "--dir", str(directory))


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory) -> Lab:
    yield from _lab(tmp_path_factory, "seed")


@pytest.fixture(scope="module")
def traps_lab(tmp_path_factory) -> Lab:
    yield from _lab(tmp_path_factory, "traps")
