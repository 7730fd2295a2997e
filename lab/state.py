"""The persisted Windows state of one emulated host: IIS, HTTP.sys, certificate stores, MFA Server.

One JSON document per host, `DIR/hosts/<name>/state.json`, changed only inside `HostState.change()`,
which holds a thread lock and an exclusive `flock` (the lab daemon and the `lab` CLI both write) and
replaces the file atomically. Private keys live next to it in `keys/<thumbprint>.pem`: the lab's
HTTPS listener serves them, no module answer ever carries one.

Document layout (every key always present):
  host      name, computer_name, public_name, domain, ip, ipv6, winrm_address, os_*
  sites     [{id, name, state, physical_path, bindings: [{protocol, binding_information, ssl_flags}]}]
            (applicationHost.config holds no certificate: a binding's certificate is its HTTP.sys entry's)
  custom_metadata [{path, property_id, value}]  (applicationHost.config <customMetadata>, 5506/5511 only)
  http_sys  [{key, certificate_hash, certificate_store_name, app_id, default_flags, cert_check_mode,
            revocation_freshness_time, revocation_url_retrieval_timeout, ctl_identifier, ctl_store_name}]
            (key like "ipport=0.0.0.0:443"; the one place a certificate is bound; lab.iis.new_entry)
  stores    {My|WebHosting|CA|Root: [{thumbprint, der_b64, has_private_key, private_key_machine,
            exportable, friendly_name}]}
  mfa       {installed, version, product_name, install_path, service: {...}, components: [{component,
            site, virtual_path, physical_path, app_pool, marker_file_present, web_config: {...}}]}
  schannel  [{protocol, side, enabled, disabled_by_default}]
  dotnet_tls[{framework, wow6432, sch_use_strong_crypto, system_default_tls_versions}]
  files     {windows path: base64}         (what put_file wrote)
  counters  {winrm_commands, modules: {name: count}}
  faults    {import_fails, set_fails_after, drop_connection, no_intermediates}
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

IIS_APP_ID = "{4dc3e181-e14b-4a21-b022-59fc669b0914}"
STORES = ("My", "WebHosting", "CA", "Root")
NO_FAULTS = {
    "import_fails": False,
    "set_fails_after": None,
    "drop_connection": None,
    "no_intermediates": False,
}

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(str(path), threading.Lock())


class HostState:
    def __init__(self, lab_dir: Path, name: str):
        self.name = name
        self.dir = Path(lab_dir) / "hosts" / name
        self.path = self.dir / "state.json"
        self.keys = self.dir / "keys"
        self._lock_path = self.dir / "state.lock"
        self._cache: tuple[int, dict] | None = None

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        with _thread_lock(self.path):
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self._lock_path, "a+") as fd:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _load(self) -> dict:
        stat = self.path.stat()
        stamp = stat.st_mtime_ns ^ stat.st_ino
        if self._cache and self._cache[0] == stamp:
            return copy.deepcopy(self._cache[1])
        data = json.loads(self.path.read_text())
        self._cache = (stamp, data)
        return copy.deepcopy(data)

    def read(self) -> dict:
        with self._locked(exclusive=False):
            return self._load()

    def version(self) -> int:
        """Changes whenever the document does (the HTTPS listener rebuilds its TLS contexts then)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return 0
        return stat.st_mtime_ns ^ stat.st_ino

    @contextlib.contextmanager
    def change(self) -> Iterator[dict]:
        """Yields the document to change in place; written back only when the block ends without error."""
        with self._locked(exclusive=True):
            data = self._load()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)

    def create(self, data: dict) -> None:
        with self._locked(exclusive=True):
            self._write(data)

    def _write(self, data: dict) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
        self._cache = None

    # --- private keys, kept lab-side ---------------------------------------------------------------

    def save_key(self, thumbprint: str, key_pem: bytes) -> None:
        self.keys.mkdir(parents=True, exist_ok=True)
        path = self.keys / f"{thumbprint.upper()}.pem"
        path.write_bytes(key_pem)
        path.chmod(0o600)

    def key_path(self, thumbprint: str) -> Path | None:
        path = self.keys / f"{thumbprint.upper()}.pem"
        return path if path.exists() else None


def count(data: dict, module: str | None = None) -> None:
    counters = data.setdefault("counters", {"winrm_commands": 0, "modules": {}})
    if module is None:
        counters["winrm_commands"] = counters.get("winrm_commands", 0) + 1
    else:
        counters["modules"][module] = counters["modules"].get(module, 0) + 1


def find_cert(data: dict, store: str, thumbprint: str) -> dict | None:
    thumbprint = thumbprint.upper()
    names = {k.lower(): k for k in data["stores"]}
    for entry in data["stores"].get(names.get((store or "").lower(), ""), []):
        if entry["thumbprint"] == thumbprint:
            return entry
    return None


def host_names(lab_dir: Path) -> list[str]:
    hosts = Path(lab_dir) / "hosts"
    if not hosts.is_dir():
        return []
    return sorted(p.name for p in hosts.iterdir() if (p / "state.json").exists())
