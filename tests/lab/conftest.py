"""Lab fixtures: a lab brought up in a temporary directory and always brought down, plus Ansible runners."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from lab_harness import ROOT, VENV_BIN, WINDOWS, Lab, lab_cli, start_lab  # noqa: F401 - used by the tests


@pytest.fixture(scope="session", autouse=True)
def _windows_collection() -> None:
    if not WINDOWS.exists():
        subprocess.run(
            [str(ROOT / "scripts" / "install-windows-collection")],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PY": sys.executable},
        )


@pytest.fixture(scope="module")
def seed_lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("seed-lab")
    lab = start_lab(directory, 3, "seed")
    try:
        yield lab
    finally:
        lab_cli("down", "--dir", str(directory))


@pytest.fixture(scope="module")
def traps_lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("traps-lab")
    lab = start_lab(directory, 3, "traps")
    try:
        yield lab
    finally:
        lab_cli("down", "--dir", str(directory))
