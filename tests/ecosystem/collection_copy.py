"""The collection as the ecosystem's tools see it: a copy of the working tree or the Galaxy artifact's
content at <dir>/ansible_collections/mfa_server/tls (the layout ansible-test needs), the artifact itself, and
the environment for the tools in .venv/bin."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NAMESPACE, NAME = "mfa_server", "tls"


def tool_env(**extra: str) -> dict[str, str]:
    """The environment with .venv/bin first on PATH (ansible-test and ansible-runner start tools by name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **extra)
    return env


def source_files() -> list[str]:
    """The files of the working tree that belong to the project: tracked, or new and not ignored by git."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return sorted(name for name in listed if name and (ROOT / name).is_file())


def copy_collection(parent: Path) -> Path:
    """A copy of the project at parent/ansible_collections/mfa_server/tls (no .venv, .cache, lab state)."""
    target = parent / "ansible_collections" / NAMESPACE / NAME
    for name in source_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


def place_offline_get_pip(ansible_test_dir: Path | None = None) -> Path:
    """Puts the offline get-pip stand-in where ansible-test looks before it tries to download the real one.

    ansible-test's sanity and units bootstrap pip into every virtual environment it makes with
    ~/.ansible/test/cache/get_pip_<pip version>.py, downloaded from a host CI cannot reach. Each ansible-test
    release pins its own pip version: ansible_test_dir is the ansible_test package of another virtual
    environment (the lowest supported ansible-core), by default the one of this interpreter."""
    if ansible_test_dir is None:
        import ansible_test

        ansible_test_dir = Path(ansible_test.__file__).parent
    source = ansible_test_dir / "_internal" / "python_requirements.py"
    version = re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", source.read_text())[1]
    cache = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: an early run (early_runs) may read it while another test places it.
        partial = cache.with_name(f".{cache.name}.{os.getpid()}.{threading.get_ident()}")
        shutil.copy2(Path(__file__).with_name("get_pip_offline.py"), partial)
        partial.replace(cache)
    return cache


def build_artifact(output: Path) -> Path:
    """`ansible-galaxy collection build` of the working tree; the tarball."""
    output.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(VENV_BIN / "ansible-galaxy"),
            "collection",
            "build",
            "--force",
            "--output-path",
            str(output),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=tool_env(),
    )
    (artifact,) = output.glob(f"{NAMESPACE}-{NAME}-*.tar.gz")
    return artifact


def extract_artifact(artifact: Path, parent: Path) -> Path:
    """The artifact's files, and only those, at parent/ansible_collections/mfa_server/tls: what Galaxy and
    Automation Hub users get, laid out as ansible-test needs it (no lab, no benchmarks, no tests that need the
    lab)."""
    target = parent / "ansible_collections" / NAMESPACE / NAME
    target.mkdir(parents=True)
    with tarfile.open(artifact) as archive:
        archive.extractall(target, filter="data")
    return target
