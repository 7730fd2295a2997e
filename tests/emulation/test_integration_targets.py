"""The Windows modules' integration targets (tests/integration/targets/) pass against the lab, unchanged.

They run through the real `ansible-test windows-integration`, as against a real Windows Server with IIS:
ansible-test wants the collection at `.../ansible_collections/mfa_server/tls` and reads
`tests/integration/inventory.winrm`, so the test copies the working tree to a temporary
`ansible_collections/mfa_server/tls` (ansible.windows linked next to it, from the pinned `ansible` wheel
`make setup` unpacked) and writes that inventory there from the lab's own inventory. windows-integration on
the controller's Python ("origin") installs nothing and reaches no network (only `sanity` bootstraps pip).

The host is one lab host from a scenario FILE written here: the private-ca host (MFA Server on Default Web Site) plus
the fixture tests/integration/targets/README.md describes for iis_binding_certificate (two sites, four
https bindings, no certificate and no HTTP.sys entry on ports 18443-18445) and the one of acme_http_challenge
(four sites with http bindings only, a root web.config with a rewrite rule), and the inventory sets
`mfa_tls_it_manage_host: false` (the lab has no `win_shell` / `win_certificate_store`). The targets run in
ansible-test's order (alphabetical), which certificate_import needs: it must find test-a absent.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab import iis
from tests.support.lab_harness import ROOT, VENV_BIN, WINDOWS, Lab, running_lab, served_certificates

TARGETS = (
    "acme_http_challenge",
    "certificate_import",
    "certificate_remove",
    "host_tls_info",
    "iis_binding_certificate",
    "iis_tls_info",
    "mfa_server_info",
)
IT_A = "0917EFDE6CF91E559A17EDEF5DE9B4973FB47F8A"
IT_INTERMEDIATE = "EB91FE0393A4E1B84AB8538E8F23D3CED9B07FF3"
# Not copied into the collection tree ansible-test sees (top level; __pycache__ anywhere).
SKIP = {".git", ".venv", ".cache", ".pytest_cache", ".ruff_cache", "lab-state"}


def _binding(protocol: str, info: str, flags: int = 0) -> dict:
    return {"protocol": protocol, "binding_information": info, "ssl_flags": flags}


# The README's table: site (id order), protocol, bindingInformation, sslFlags; no certificate anywhere.
FIXTURE_SITES = [
    {
        "id": 2,
        "name": "mfa-tls-it-1",
        "state": "Started",
        "physical_path": "C:\\inetpub\\mfa-tls-it",
        "bindings": [
            _binding("http", "*:18080:it1.mfa-tls-it.test"),
            _binding("https", "*:18443:"),
            _binding("https", "*:18444:sni.mfa-tls-it.test", 1),
            _binding("https", "[::1]:18445:"),
            _binding("https", "*:18446:"),
        ],
    },
    {
        "id": 3,
        "name": "mfa-tls-it-2",
        "state": "Started",
        "physical_path": "C:\\inetpub\\mfa-tls-it",
        "bindings": [
            _binding("http", "*:18081:it2.mfa-tls-it.test"),
            _binding("https", "*:18443:other.mfa-tls-it.test"),
        ],
    },
    {
        "id": 4,
        "name": "mfa-tls-it-3",
        "state": "Started",
        "physical_path": "C:\\inetpub\\mfa-tls-it",
        "bindings": [
            _binding("http", "*:18082:it3.mfa-tls-it.test"),
            _binding("https", "fd00:20::5:18447:"),  # IPv6 without brackets: Windows cannot map it
        ],
    },
]
# acme_http_challenge's fixture (tests/integration/targets/README.md): http bindings only, two sites sharing a
# physical path, a blank-host site, and a site whose root web.config redirects everything to HTTPS.
ACME_SITES = [
    {
        "id": 10 + index,
        "name": name,
        "state": "Started",
        "physical_path": f"C:\\inetpub\\acme-http-it-{folder}",
        "bindings": [_binding("http", info)],
    }
    for index, (name, folder, info) in enumerate(
        [
            ("acme-http-it-1", "shared", "*:18085:one.acme-http-it.test"),
            ("acme-http-it-2", "shared", "*:18085:two.acme-http-it.test"),
            ("acme-http-it-blank", "blank", "*:18087:"),
            ("acme-http-it-rewrite", "rewrite", "*:18088:"),
        ]
    )
]
ACME_REWRITE = ROOT / "tests" / "integration" / "targets" / "acme_http_challenge" / "files"
ACME_REWRITE /= "rewrite-web.config"
ACME_REWRITE_PATH = "c:\\inetpub\\acme-http-it-rewrite\\web.config"
IT_B = "6F5041D8D5E422265E245DFDE02BB686B708C0AB"
# Another program's entry for *:18446: (on a real host the target makes it with netsh after importing B).
FOREIGN_ENTRY = iis.new_entry(
    "ipport=0.0.0.0:18446", IT_B, "MY", app_id="{8e5c9a4b-1f2d-4c3b-9a7e-0d1c2b3a4f56}"
)


@pytest.fixture(scope="module")
def it_lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("it-lab")
    scenario = directory / "integration-fixture.json"
    fixture = {"sites": FIXTURE_SITES + ACME_SITES, "http_sys": [FOREIGN_ENTRY]}
    files = {ACME_REWRITE_PATH: base64.b64encode(ACME_REWRITE.read_bytes()).decode()}
    spec = {"base": "private-ca", "hosts": {"*": {"files": files}}, "append": {"*": fixture}}
    scenario.write_text(json.dumps(spec, indent=1))
    with running_lab(directory / "lab", 1, str(scenario)) as lab:
        yield lab


def winrm_inventory(lab: Lab) -> str:
    """tests/integration/inventory.winrm (group `windows`) from the lab's inventory.yml."""
    import yaml

    group = yaml.safe_load(lab.inventory.read_text())["all"]["children"]["mfa_servers"]
    lines = ["[windows]"]
    lines += [f"{name} ansible_host={hostvars['ansible_host']}" for name, hostvars in group["hosts"].items()]
    lines += ["", "[windows:vars]"]
    lines += [f"{key}={value}" for key, value in group["vars"].items() if key != "mfa_tls_trust_bundle"]
    lines.append("mfa_tls_it_manage_host=false")
    return "\n".join(lines) + "\n"


def collection_tree(base: Path, lab: Lab) -> Path:
    root = base / "ansible_collections" / "mfa_server" / "tls"
    output = ROOT / "tests" / "output"  # ansible-test's own results of a run by hand

    def ignore(folder: str, names: list[str]) -> list[str]:
        top = Path(folder) == ROOT
        return [n for n in names if n == "__pycache__" or (top and n in SKIP) or Path(folder, n) == output]

    shutil.copytree(ROOT, root, symlinks=True, ignore=ignore)
    (base / "ansible_collections" / "ansible").mkdir()
    (base / "ansible_collections" / "ansible" / "windows").symlink_to(WINDOWS.resolve())
    (root / "tests" / "integration" / "inventory.winrm").write_text(winrm_inventory(lab))
    return root


def test_integration_targets_pass_against_the_lab(it_lab, tmp_path):
    root = collection_tree(tmp_path, it_lab)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", ANSIBLE_NOCOLOR="1")
    out = subprocess.run(
        [
            str(VENV_BIN / "ansible-test"),
            "windows-integration",
            *TARGETS,
            "--color",
            "no",
            "--continue-on-error",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-8000:]
    for target in TARGETS:
        assert f"Running {target} integration test role" in text, text[-3000:]
    recaps = re.findall(r"^mfa01\s+: ok=(\d+) .*failed=(\d+)", text, re.M)
    assert len(recaps) == len(TARGETS) and all(failed == "0" for _ok, failed in recaps), recaps

    # The lab's ground truth agrees with what the targets asserted through the modules.
    truth = it_lab.state("mfa01")
    ran = truth["counters"]["modules"]
    assert all(ran.get(target) for target in TARGETS), ran
    assert any(c["thumbprint"] == IT_A and c["has_private_key"] for c in truth["stores"]["My"])
    assert any(c["thumbprint"] == IT_INTERMEDIATE for c in truth["stores"]["CA"])
    served = {k: v for k, v in served_certificates(truth).items() if k[0] in ("mfa-tls-it-1", "mfa-tls-it-2")}
    assert set(served.values()) == {IT_A, IT_B}  # A where the targets bound it; B on the foreign entry
    assert served[("mfa-tls-it-1", "*:18446:")] == IT_B
    fixture = [s for s in truth["sites"] if s["name"].startswith("mfa-tls-it-")]
    assert fixture == FIXTURE_SITES  # IIS configuration is never touched
    entries = {e["key"]: e for e in truth["http_sys"] if ":1844" in e["key"]}
    assert set(entries) == {
        "ipport=0.0.0.0:18443",
        "hostnameport=sni.mfa-tls-it.test:18444",
        "ipport=[::1]:18445",
        "ipport=0.0.0.0:18446",
    }
    for key in ("ipport=0.0.0.0:18443", "hostnameport=sni.mfa-tls-it.test:18444", "ipport=[::1]:18445"):
        entry = entries[key]
        assert (entry["certificate_hash"], entry["app_id"], entry["default_flags"]) == (
            IT_A,
            "{4dc3e181-e14b-4a21-b022-59fc669b0914}",
            0,
        ), key
    assert entries["ipport=0.0.0.0:18446"] == FOREIGN_ENTRY  # given back exactly after the forced take-over
    default_site = next(s for s in truth["sites"] if s["name"] == "Default Web Site")
    assert IT_A not in json.dumps(default_site)  # never touched
    # acme_http_challenge removed everything it placed and nothing else.
    acme_files = {path for path in truth["files"] if "acme-http-it" in path}
    assert acme_files == {ACME_REWRITE_PATH}
    assert not [d for d in it_lab.raw_state("mfa01")["dirs"] if "acme-http-it" in d.lower()]
