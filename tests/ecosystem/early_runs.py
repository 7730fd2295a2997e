"""Long tool runs started as soon as pytest knows the tests that read them will run.

`ansible-test sanity` and `units` take about three minutes per ansible-core version and keep one core busy,
while the tests before them (ACME, labs) leave a core mostly idle on a 2-core machine. A test marked
`@pytest.mark.early_run("<name>")` reads the result of the job registered under that name with `@job("<name>")`:
tests/conftest.py starts every job whose test was collected once collection ends, one after the other in one
background thread, and the test waits for it. A job whose test was not collected never starts; a test run alone
runs its job then, in the foreground. Processes still running when the session ends are killed, and the jobs'
folders removed.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_registry: dict[str, Callable[[Path], Any]] = {}
_futures: dict[str, concurrent.futures.Future] = {}
_processes: list[subprocess.Popen] = []
_folders: list[Path] = []
_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def job(name: str):
    """Registers `function(folder)` as the early run `name`; `folder` is its own, removed when the session ends,
    and what the function returns is what its tests read."""

    def register(function: Callable[[Path], Any]):
        _registry[name] = function
        return function

    return register


def start(names: list[str]) -> None:
    """Starts the registered jobs among `names`, in that order, in one background thread."""
    global _pool
    for name in dict.fromkeys(names):
        if name in _registry and name not in _futures:
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="early-run")
            _futures[name] = _pool.submit(_call, name)


def result(name: str) -> Any:
    """The job's result: waits for it when it was started early, else runs it now."""
    future = _futures.get(name)
    return future.result() if future is not None else _call(name)


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run that stop() can end: the command, its output, and its exit code (killed after `timeout`)."""
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        with _lock:
            _processes.append(process)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            err += f"\n(killed after {timeout:g} s)"
        return subprocess.CompletedProcess(cmd, process.returncode, out, err)


def stop() -> None:
    """Kills what is still running and removes the jobs' folders (the end of the session)."""
    with _lock:
        for process in _processes:
            if process.poll() is None:
                process.kill()
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
    for folder in _folders:
        shutil.rmtree(folder, ignore_errors=True)


def _call(name: str) -> Any:
    folder = Path(tempfile.mkdtemp(prefix=f"early-run-{name}-"))
    with _lock:
        _folders.append(folder)
    return _registry[name](folder)
