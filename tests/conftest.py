"""Shared fixtures. The working tree is importable as `ansible_collections.mfa_server.tls` through a
link `make setup` makes; the lab fixtures bring a lab up for a test module and always bring it down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.lab_harness import ROOT, WINDOWS, Lab, running_lab

LINK = ROOT / ".cache" / "collections" / "ansible_collections" / "mfa_server" / "tls"
# The lab-based tests and this file are not in the Galaxy artifact: `ansible-test units` runs there without them.
if not LINK.exists():
    raise RuntimeError(f"{LINK} is missing: run `make setup` first.")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "early_run(name): reads the result of a run started once collection ends (ecosystem/early_runs.py)",
    )


def pytest_collection_modifyitems(config, items) -> None:
    names = [mark.args[0] for item in items for mark in item.iter_markers("early_run")]
    if names:
        from ecosystem import early_runs

        early_runs.start(names)


def pytest_sessionfinish(session, exitstatus) -> None:
    early_runs = sys.modules.get("ecosystem.early_runs")
    if early_runs is not None:
        early_runs.stop()


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
    with running_lab(directory, hosts, scenario) as lab:
        yield lab


@pytest.fixture(scope="module")
def private_ca_lab(tmp_path_factory) -> Lab:
    yield from _lab(tmp_path_factory, "private-ca")


@pytest.fixture(scope="module")
def traps_lab(tmp_path_factory) -> Lab:
    yield from _lab(tmp_path_factory, "traps")
