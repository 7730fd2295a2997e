"""The lab for tests: bring it up in a folder, read its ground truth, drive real Ansible against it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab import iis
from tests.support.module_task import BIN, ROOT, run_module_with_output

VENV_BIN = BIN
WINDOWS = ROOT / ".cache" / "collections" / "ansible_collections" / "ansible" / "windows"


def lab_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Lab:
    dir: Path

    def hosts(self) -> list[str]:
        return list(yaml.safe_load(self.inventory.read_text())["all"]["children"]["mfa_servers"]["hosts"])

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    def hostvars(self, host: str) -> dict:
        return yaml.safe_load(self.inventory.read_text())["all"]["children"]["mfa_servers"]["hosts"][host]

    def state(self, host: str) -> dict:
        out = lab_cli("state", "--dir", str(self.dir), "--host", host)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def raw_state(self, host: str) -> dict:
        return json.loads((self.dir / "hosts" / host / "state.json").read_text())

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        return env

    def module(
        self,
        host: str,
        module: str,
        args: dict | None = None,
        *,
        check: bool = False,
        diff: bool = False,
        extra: list[str] | None = None,
    ) -> dict:
        """One module run through the winrm connection plugin; the host's registered result, with
        `failed` always present."""
        result, _output = run_module_with_output(
            module,
            args or {},
            host=host,
            inventory=self.inventory,
            check=check,
            diff=diff,
            extra_args=extra,
            env=self.env(),
            timeout=120,
        )
        return result | {"failed": bool(result.get("failed"))}

    def probe_codes(self, host: str, **options) -> list[str]:
        """Finding codes of tls_probe (run on the controller, as a phone would) for the host's Mobile App
        Web Service, judged against the lab's public roots."""
        hostvars = self.hostvars(host)
        url = f"https://{hostvars['mfa_tls_public_name']}/MultiFactorAuthMobileAppWebService/PfPaWs.asmx"
        args = {
            "targets": [{"url": url, "address": hostvars["mfa_tls_probe_address"]}],
            "trust_bundle": str(self.dir / "trust" / "public-roots.pem"),
            "fetch_aia": False,
            **options,
        }
        result = self.module("localhost", "mfa_server.tls.tls_probe", args)
        assert not result["failed"], result
        return [f["code"] for f in result["results"][0]["findings"]]

    def playbook(self, playbook: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook), *extra]
        return subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, env=self.env(), timeout=timeout, check=False
        )


def start_lab(directory: Path, hosts: int, scenario: str = "private-ca", command_delay: float = 0.0) -> Lab:
    out = lab_cli(
        "up",
        "--hosts",
        str(hosts),
        "--dir",
        str(directory),
        "--scenario",
        scenario,
        "--command-delay",
        str(command_delay),
    )
    if out.returncode != 0:
        lab_cli("down", "--dir", str(directory))
        raise AssertionError(f"lab up failed: {out.stdout}{out.stderr}")
    return Lab(directory)


@contextlib.contextmanager
def running_lab(directory: Path, hosts: int, scenario: str = "private-ca") -> Iterator[Lab]:
    """A lab for the duration of the block, always brought down (its state stays in `directory`)."""
    lab = start_lab(directory, hosts, scenario)
    try:
        yield lab
    finally:
        lab_cli("down", "--dir", str(directory))


def configuration(state: dict) -> dict:
    """A host's configuration from its ground truth: what a change may alter (not counters or faults)."""
    return {
        key: state[key]
        for key in ("sites", "custom_metadata", "http_sys", "stores", "mfa", "files")
        if key in state
    }


def served_certificates(state: dict) -> dict[tuple[str, str], str]:
    """(site, binding information) -> the thumbprint IIS Manager shows for each HTTPS binding, read from its
    HTTP.sys entry as Microsoft.Web.Administration does ('' for none)."""
    return {
        (site["name"], binding["binding_information"]): iis.bound_certificate(state, binding)[0]
        for site, binding in iis.https_bindings(state)
    }


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of ansible-playbook's output: host -> {ok, changed, unreachable, failed, ...}."""
    result = {}
    for host, counts in re.findall(r"^(\S+)\s+: ((?:\w+=\d+\s*)+)$", output, re.M):
        result[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return result
