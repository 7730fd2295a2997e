"""The collection as users get it: the Galaxy artifact installed as the README says into a fresh HOME (its
dependencies from a Galaxy server on loopback) and run by FQCN against the lab, its documentation, the working
tree ahead of an installed copy, the execution environment's build context, and an AWX project sync followed by a
compliance job through ansible-runner (what AWX runs) with its set_stats artifact."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ecosystem.collection_copy import ROOT, VENV_BIN, build_artifact, tool_env

from tests.support.galaxy_server import GalaxyServer, collection_tarball, galaxy_server
from tests.support.lab_harness import WINDOWS, Lab, recap, running_lab, served_certificates
from tests.support.playbook_runs import replacement_password, replacement_thumbprint

# What must never ship: lab state, virtual environments, reports, caches, tool output.
FORBIDDEN = (
    "lab-state/",
    ".venv/",
    ".cache/",
    "reports/",
    "artifacts/",
    "context/",
    "ee-collections/",
    "tests/output/",
    "__pycache__/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".git/",
)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    return build_artifact(tmp_path_factory.mktemp("galaxy-build"))


@pytest.fixture(scope="module")
def galaxy(tmp_path_factory) -> Iterator[GalaxyServer]:
    """Galaxy without the internet: a server on 127.0.0.1 publishing this collection's dependencies, as tarballs
    of the copies `make setup` installed from the pinned ansible wheel. ansible-galaxy reaches it as it reaches
    galaxy.ansible.com: through `--server`, or an AWX Galaxy credential's ANSIBLE_GALAXY_SERVER_* variables."""
    output = tmp_path_factory.mktemp("galaxy-artifacts")
    tarballs = [collection_tarball(_installed_dependency(name), output) for name in _dependency_closure()]
    with galaxy_server(tarballs) as server:
        yield server


def _installed_dependency(name: str) -> Path:
    return WINDOWS.parents[1].joinpath(*name.split("."))


def _dependency_closure() -> list[str]:
    """The collections galaxy.yml declares and, transitively, theirs (community.general needs
    community.library_inventory_filtering_v1): what installing this collection pulls from Galaxy."""
    found: list[str] = []
    pending = sorted(yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"])
    while pending:
        name = pending.pop(0)
        if name not in found:
            found.append(name)
            manifest = json.loads((_installed_dependency(name) / "MANIFEST.json").read_text())
            pending += sorted(manifest["collection_info"]["dependencies"])
    return found


def _installed_from(galaxy: GalaxyServer, output: str, downloaded_before: list[str]) -> None:
    """Every dependency was installed, and downloaded from this Galaxy server during the install."""
    downloads = galaxy.downloads()[len(downloaded_before) :]
    for name in _dependency_closure():
        assert re.search(rf"^{re.escape(name)}:\S+ was installed successfully$", output, re.M), output
        assert any(d.startswith(name.replace(".", "-") + "-") for d in downloads), (name, downloads)


@dataclass(frozen=True)
class User:
    """A user of the installed collection: a HOME that held no ~/.ansible, and an unrelated working directory
    (not the repository, no ansible.cfg), with no ANSIBLE_* variable set."""

    home: Path
    elsewhere: Path

    @property
    def collections(self) -> Path:
        """Where `ansible-galaxy collection install` puts a collection by default: ~/.ansible/collections."""
        return self.home / ".ansible" / "collections" / "ansible_collections"

    @property
    def tree(self) -> Path:
        return self.collections / "mfa_server" / "tls"

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / tool), *args],
            cwd=cwd or self.elsewhere,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env=tool_env(HOME=str(self.home)),
        )


@pytest.fixture(scope="module")
def installed(artifact, galaxy, tmp_path_factory) -> User:
    """The artifact installed as the README says, `ansible-galaxy collection install <artifact>`, into the empty
    default path of a fresh HOME, its dependencies fetched from the (offline) Galaxy server."""
    base = tmp_path_factory.mktemp("user")
    user = User(home=base / "home", elsewhere=base / "elsewhere")
    user.home.mkdir()
    user.elsewhere.mkdir()
    before = galaxy.downloads()
    completed = user.run("ansible-galaxy", "collection", "install", str(artifact), "--server", galaxy.api)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    assert f"mfa_server.tls:{version} was installed successfully" in completed.stdout, completed.stdout
    _installed_from(galaxy, completed.stdout, before)
    installed_names = {f"{p.parent.name}.{p.name}" for p in user.collections.glob("*/*") if p.is_dir()}
    assert installed_names == {"mfa_server.tls", *_dependency_closure()}
    # the only copy Ansible finds from there: the runs below use the installed artifact, not the working tree
    listed = user.run("ansible-galaxy", "collection", "list", "mfa_server.tls", "--format", "json")
    assert list(json.loads(listed.stdout)) == [str(user.collections)], listed.stdout + listed.stderr
    return user


def test_artifact_holds_the_collection_and_nothing_else(artifact):
    with tarfile.open(artifact) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert (
        manifest["collection_info"]["namespace"] == "mfa_server"
        and manifest["collection_info"]["name"] == "tls"
    )
    for required in (
        "plugins/modules/tls_probe.py",
        "plugins/modules/iis_tls_info.ps1",
        "plugins/module_utils/_HttpSysSsl.cs",
        "roles/compliance/meta/argument_specs.yml",
        "playbooks/compliance.yml",
        "meta/runtime.yml",
        "meta/execution-environment.yml",
        "meta/ee-requirements.txt",
        "meta/ee-bindep.txt",
        "CHANGELOG.md",
        "changelogs/changelog.yaml",
    ):
        assert required in names, f"{required} is missing from the artifact"
    for name in names:
        assert not any(f"/{name}/".find(f"/{bad}") >= 0 for bad in FORBIDDEN), f"{name} must not ship"
        assert not name.endswith((".pyc", ".tar.gz", ".log")), f"{name} must not ship"


# All the artifact may hold, at its top level and in tests/: a new folder ships only once it is added here.
# Left out on purpose (galaxy.yml build_ignore): the lab, bench/, scripts/, collections/ (an AWX project sync's
# requirements), the development pins and tool configuration, and the tests that need the lab.
ARTIFACT_TOP_LEVEL = {
    "CHANGELOG.md",
    "CHANGELOG.rst",
    "FILES.json",
    "LICENSES",
    "MANIFEST.json",
    "README.md",
    "awx",
    "changelogs",
    "docs",
    "execution-environment.yml",
    "meta",
    "playbooks",
    "plugins",
    "roles",
    "tests",
}
# What ansible-test runs from the artifact: units (with their helpers, vectors and the integration targets
# they check), sanity, and windows-integration against real Windows hosts.
ARTIFACT_TESTS = {
    "chains.py",
    "collection_paths.py",
    "config.yml",
    "integration",
    "ps_spec.py",
    "sanity",
    "servers.py",
    "support",
    "unit",
    "vectors",
}


def test_artifact_holds_only_the_allowed_top_level_entries_and_tests(artifact):
    with tarfile.open(artifact) as archive:
        names = [name.split("/") for name in archive.getnames()]
    top = {parts[0] for parts in names}
    tests = {parts[1] for parts in names if parts[0] == "tests" and len(parts) > 1}
    unexpected = sorted(top - ARTIFACT_TOP_LEVEL)
    unexpected += sorted(f"tests/{name}" for name in tests - ARTIFACT_TESTS)
    assert not unexpected, f"not allowed in the artifact: {unexpected} (galaxy.yml build_ignore, or allow it)"
    assert {"unit", "support", "sanity"} <= tests, f"ansible-test needs them in the artifact: {sorted(tests)}"


@pytest.fixture(scope="module")
def fqcn_lab(tmp_path_factory) -> Iterator[Lab]:
    """A private-ca fleet of its own: the install story remediates it, which the AWX job's private-ca lab must not see."""
    with running_lab(tmp_path_factory.mktemp("fqcn-lab"), 3, "private-ca") as lab:
        yield lab


def _tail(completed: subprocess.CompletedProcess) -> str:
    return completed.stdout[-4000:] + completed.stderr[-2000:]


def test_installed_collection_runs_compliance_and_remediation_by_fqcn(installed, fqcn_lab, tmp_path):
    """The collection playbooks by FQCN from an unrelated directory: compliance fails as phones would, the
    remediation replaces the certificates, then a user's own playbook with the role by FQCN passes."""
    lab, inventory = fqcn_lab, str(fqcn_lab.inventory)
    hosts = set(lab.hosts())
    failing = installed.run(
        "ansible-playbook",
        "-i",
        inventory,
        "mfa_server.tls.compliance",
        "-e",
        f"mfa_tls_report_dir={tmp_path / 'before'}",
    )
    assert failing.returncode == 2, _tail(failing)
    assert set(recap(failing.stdout)) == hosts and all(
        c["failed"] == 1 for c in recap(failing.stdout).values()
    )
    before = json.loads((tmp_path / "before" / "mfa-tls-compliance.json").read_text())["hosts"]
    for host in hosts:
        assert before[host]["compliant"] is False
        assert all("PRIVATE_CA" in endpoint["codes"] for endpoint in before[host]["endpoints"])

    # the lab's public CA issued it for the lab's names (`lab up` writes it beside the inventory)
    pfx = {
        "mfa_tls_pfx_path": str(lab.dir / "certs" / "replacement.pfx"),
        "mfa_tls_pfx_password": replacement_password(lab),
    }
    fixed = installed.run(
        "ansible-playbook", "-i", inventory, "mfa_server.tls.remediate", "-e", json.dumps(pfx)
    )
    assert fixed.returncode == 0, _tail(fixed)
    assert set(recap(fixed.stdout)) == hosts and all(c["changed"] > 0 for c in recap(fixed.stdout).values())
    new = replacement_thumbprint(lab)
    for host in hosts:
        assert set(served_certificates(lab.state(host)).values()) == {new}, host

    site = installed.elsewhere / "site.yml"
    play = {
        "name": "Compliance",
        "hosts": "mfa_servers",
        "gather_facts": False,
        "roles": ["mfa_server.tls.compliance"],
    }
    site.write_text(yaml.safe_dump([play]))
    passing = installed.run(
        "ansible-playbook", "-i", inventory, str(site), "-e", f"mfa_tls_report_dir={tmp_path / 'after'}"
    )
    assert passing.returncode == 0, _tail(passing)
    assert (
        json.loads((tmp_path / "after" / "mfa-tls-compliance.json").read_text())["summary"]["compliant"]
        is True
    )


def _documentable_plugins(tree: Path) -> dict[str, list[str]]:
    """Plugin type -> the FQCNs of a collection's plugins of that type, from its plugins/ folders. modules/
    documents the modules and the action plugins of the same name; module_utils, plugin_utils and doc_fragments
    have no page of their own (the fragments show in the modules' pages)."""
    from ansible.constants import DOCUMENTABLE_PLUGINS

    found = {}
    for folder in sorted(p for p in (tree / "plugins").iterdir() if p.is_dir()):
        kind = "module" if folder.name == "modules" else folder.name
        if kind in DOCUMENTABLE_PLUGINS:
            stems = {
                p.stem
                for p in folder.iterdir()
                if p.suffix in (".py", ".yml", ".yaml") and p.stem != "__init__"
            }
            found[kind] = [f"mfa_server.tls.{stem}" for stem in sorted(stems)]
    return found


def _rendered(user: User, kind: str, names: list[str]) -> dict[str, str]:
    """ansible-doc's page of each plugin or role, from the user's directory: FQCN -> the path it was read from.
    The pages must render without an error or a warning. The one warning left is ansible-core's own, about the
    collection it keeps inside its package (ansible/_internal/ansible_collections, no MANIFEST.json), which
    ansible-core 2.21 prints for every role page."""
    completed = user.run("ansible-doc", "-t", kind, *names)
    own = [
        line
        for line in completed.stderr.splitlines()
        if "/ansible/_internal/ansible_collections/" not in line
    ]
    assert completed.returncode == 0 and not own, _tail(completed)
    # "> MODULE mfa_server.tls.tls_probe (<path>)", "> ROLE: *mfa_server.tls.compliance* (<path>)"
    return dict(re.findall(r"^> [A-Z]+:? \*?([\w.]+)\*? \((.+)\)$", completed.stdout, re.M))


def _listed(user: User, kind: str) -> set[str]:
    completed = user.run("ansible-doc", "-t", kind, "-l", "mfa_server.tls", "--json")
    assert completed.returncode == 0, _tail(completed)
    return set(json.loads(completed.stdout))


def test_installed_collection_documents_every_plugin_and_role(installed):
    plugins = _documentable_plugins(installed.tree)
    actions = {f"mfa_server.tls.{p.stem}" for p in (installed.tree / "plugins" / "action").glob("*.py")}
    assert actions and actions <= set(plugins["module"]), "an action plugin without its documentation"
    roles = [f"mfa_server.tls.{p.name}" for p in sorted((installed.tree / "roles").iterdir()) if p.is_dir()]
    for kind, names in [*plugins.items(), ("role", roles)]:
        pages = _rendered(installed, kind, names)
        assert set(pages) == set(names), f"{kind}: no page for {sorted(set(names) - set(pages))}"
        assert all(path.startswith(str(installed.tree)) for path in pages.values()), pages
        assert _listed(installed, kind) == set(names), f"ansible-doc -t {kind} -l lists other {kind}s"


def test_the_working_tree_wins_over_an_installed_copy(installed):
    """From the repository, its ansible.cfg puts the working tree first and keeps Ansible's default paths: the
    copy installed in ~/.ansible/collections is found, behind the working tree."""
    link = ROOT / ".cache" / "collections" / "ansible_collections"
    module = installed.run("ansible-doc", "-t", "module", "mfa_server.tls.tls_probe", "--json", cwd=ROOT)
    filename = json.loads(module.stdout)["mfa_server.tls.tls_probe"]["doc"]["filename"]
    assert filename == str(link / "mfa_server" / "tls" / "plugins" / "modules" / "tls_probe.py"), filename
    role = installed.run("ansible-doc", "-t", "role", "mfa_server.tls.remediate", "--json", cwd=ROOT)
    assert json.loads(role.stdout)["mfa_server.tls.remediate"]["path"] == str(link / "mfa_server" / "tls")
    # the search order: the working tree's two links, then Ansible's defaults, ~ being the user's HOME
    config = installed.run("ansible-config", "dump", "--only-changed", "--format", "json", cwd=ROOT)
    (paths,) = [
        entry["value"] for entry in json.loads(config.stdout) if entry.get("name") == "COLLECTIONS_PATHS"
    ]
    assert paths == [
        str(link.parent),
        str(ROOT / "collections"),
        str(installed.collections.parent),
        "/usr/share/ansible/collections",
    ]
    listed = installed.run(
        "ansible-galaxy", "collection", "list", "mfa_server.tls", "--format", "json", cwd=ROOT
    )
    assert set(json.loads(listed.stdout)) == {
        str(link),
        str(ROOT / "collections" / "ansible_collections"),
        str(installed.collections),
    }, listed.stdout + listed.stderr


def _checkout(target: Path) -> Path:
    """The project as Git checks it out (a clone, AWX's project sync): its files and links, without .git and
    without what `make setup` makes (.venv, .cache)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source, copy = ROOT / name, target / name
        if source.is_symlink() or source.is_file():  # a file deleted in the working tree is not checked out
            copy.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                copy.symlink_to(os.readlink(source))
            else:
                shutil.copy2(source, copy)
    return target


def test_a_clone_runs_its_playbooks_with_the_dependencies_installed_in_home(installed, tmp_path):
    """A clone without `make setup`: its playbooks find the clone itself (collections/, on ansible.cfg's path),
    and the dependencies in ~/.ansible/collections, which ansible.cfg no longer hides."""
    clone = _checkout(tmp_path / "clone")
    assert not (clone / ".cache").exists()
    playbooks = sorted(str(p.relative_to(clone)) for p in (clone / "playbooks").glob("*.yml"))
    checked = installed.run("ansible-playbook", "-i", "localhost,", "--syntax-check", *playbooks, cwd=clone)
    assert checked.returncode == 0, _tail(checked)
    own = installed.run("ansible-doc", "-t", "role", "mfa_server.tls.remediate", "--json", cwd=clone)
    assert json.loads(own.stdout)["mfa_server.tls.remediate"]["path"] == str(
        clone / "collections" / "ansible_collections" / "mfa_server" / "tls"
    )
    dependency = installed.run("ansible-doc", "-t", "module", "ansible.windows.win_ping", "--json", cwd=clone)
    assert json.loads(dependency.stdout)["ansible.windows.win_ping"]["doc"]["filename"].startswith(
        str(installed.collections)
    )


def test_ansible_builder_creates_the_execution_environment_context(artifact, tmp_path):
    project = tmp_path / "project"
    (project / "meta").mkdir(parents=True)
    shutil.copy2(ROOT / "execution-environment.yml", project)
    for name in ("execution-environment.yml", "ee-requirements.txt", "ee-bindep.txt"):
        shutil.copy2(ROOT / "meta" / name, project / "meta")
    (project / "ee-collections").mkdir()
    shutil.copy2(artifact, project / "ee-collections")
    context = tmp_path / "context"
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-builder"),
            "create",
            "--context",
            str(context),
            "-f",
            "execution-environment.yml",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=tool_env(),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (containerfile,) = [p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()]
    text = containerfile.read_text()
    assert "ansible-core==2.21.5" in text and "ansible-runner==" in text
    assert "ansible-galaxy collection install" in text and "install-from-bindep" in text
    build = context / "_build"
    python = (build / "requirements.txt").read_text()
    assert "pywinrm[kerberos]" in python and "cryptography" in python and "ansible-core" not in python
    assert "krb5" in (build / "bindep.txt").read_text()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())["collections"]
    names = {entry["name"] for entry in galaxy}
    assert "ansible.windows" in names
    assert f"/build/collections/{artifact.name}" in names, "the EE installs this collection's artifact"
    assert (build / "collections" / artifact.name).is_file()
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    for path in meta["dependencies"].values():
        assert (ROOT / path).is_file()


# AWX's job environment for the collection and role paths (awx/main/tasks/jobs.py, RunJob.build_env): the
# variable, the project's ansible.cfg setting it honours, the folder of the private data dir where the project
# sync's content is copied, and the defaults AWX writes out.
AWX_PATH_VARS = (
    (
        "ANSIBLE_COLLECTIONS_PATHS",
        "collections_paths",
        "requirements_collections",
        "~/.ansible/collections:/usr/share/ansible/collections",
    ),
    (
        "ANSIBLE_ROLES_PATH",
        "roles_path",
        "requirements_roles",
        "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles",
    ),
    (
        "ANSIBLE_COLLECTIONS_PATH",
        "collections_path",
        "requirements_collections",
        "~/.ansible/collections:/usr/share/ansible/collections",
    ),
)


def _awx_job_paths(private: Path) -> dict[str, str]:
    """The path variables AWX sets for a job, computed as AWX does: the setting of the project's ansible.cfg, as
    written (relative paths then resolve against the job's working directory, the project), goes before the
    defaults, and the project sync's folder before everything. AWX's /runner is the private data dir here."""
    parser = configparser.ConfigParser()
    parser.read(private / "project" / "ansible.cfg")
    env = {}
    for variable, setting, folder, default in AWX_PATH_VARS:
        paths = default.split(":")
        configured = parser.get("defaults", setting, fallback=None)
        for path in configured.split(":") if configured else []:
            if path not in paths:  # AWX's own loop: the whole setting goes in front for each path it adds
                paths = [configured, *paths]
        env[variable] = os.pathsep.join([str(private / folder), *paths])
    return env


def _awx_project_sync(
    checkout: Path, cache: Path, galaxy: GalaxyServer, home: Path
) -> subprocess.CompletedProcess:
    """AWX's project update (awx/playbooks/project_update.yml, "Fetch galaxy collections from
    collections/requirements.(yml/yaml)"): `ansible-galaxy collection install -r` of the checkout's file into the
    project's cache, named by ANSIBLE_COLLECTIONS_PATH, from the organization's Galaxy credentials
    (ANSIBLE_GALAXY_SERVER_LIST and ANSIBLE_GALAXY_SERVER_SERVER0_URL, RunProjectUpdate.build_env)."""
    update = cache.parents[2] / "awx-project-update"  # AWX runs it from its own playbooks' folder
    update.mkdir(parents=True)
    return subprocess.run(
        [
            str(VENV_BIN / "ansible-galaxy"),
            "collection",
            "install",
            "-r",
            str(checkout / "collections" / "requirements.yml"),
        ],
        cwd=update,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=tool_env(
            HOME=str(home),
            ANSIBLE_COLLECTIONS_PATH=str(cache),
            ANSIBLE_GALAXY_SERVER_LIST="server0",
            ANSIBLE_GALAXY_SERVER_SERVER0_URL=galaxy.api,
        ),
    )


def _awx_private_data_dir(
    private: Path, checkout: Path, synced: Path, lab: Lab, extravars: dict
) -> dict[str, str]:
    """The job's private data dir as AWX lays it out (RunJob, make_local_copy): project/ a copy of the checkout
    (links kept, no .git), requirements_collections/ the project sync's collections, the inventory and the
    extra variables; env/envvars holds the path variables. Returns those variables."""
    shutil.copytree(checkout, private / "project", symlinks=True, ignore=shutil.ignore_patterns(".git"))
    shutil.copytree(synced, private / "requirements_collections", symlinks=True)
    (private / "inventory").mkdir()
    shutil.copy2(lab.inventory, private / "inventory" / "hosts.yml")
    (private / "env").mkdir()
    (private / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    paths = _awx_job_paths(private)
    (private / "env" / "envvars").write_text(yaml.safe_dump(paths))
    return paths


def test_awx_project_sync_offline_then_the_compliance_job_through_ansible_runner(
    galaxy, private_ca_lab, tmp_path
):
    """What AWX does for a compliance job template on a project that is this repository: the project sync
    installs collections/requirements.yml from the Galaxy credential's server, then ansible-runner runs the
    playbook with the project as the private data dir's project."""
    home = tmp_path / "home"  # the execution environment's user, with nothing installed in ~/.ansible
    home.mkdir()
    checkout = _checkout(tmp_path / "projects" / "_8__mfa_tls")
    stage = tmp_path / "projects" / ".__awx_cache" / "_8__mfa_tls" / "stage" / "requirements_collections"
    before = galaxy.downloads()
    synced = _awx_project_sync(checkout, stage, galaxy, home)
    assert synced.returncode == 0, _tail(synced)
    _installed_from(galaxy, synced.stdout, before)
    assert not (stage / "ansible_collections" / "mfa_server").exists(), (
        "the collection itself is the checkout"
    )

    private, reports = tmp_path / "job", tmp_path / "reports"
    extravars = {"mfa_tls_report_dir": str(reports), "mfa_tls_fail_on_noncompliant": False}
    paths = _awx_private_data_dir(private, checkout, stage, private_ca_lab, extravars)
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-runner"),
            "run",
            str(private),
            "-p",
            "playbooks/compliance.yml",
            "--ident",
            "compliance",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=tool_env(HOME=str(home)),
    )
    artifacts = private / "artifacts" / "compliance"
    assert (artifacts / "status").read_text() == "successful", _tail(completed)
    assert (artifacts / "rc").read_text() == "0"
    events = [json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")]
    (stats,) = [e for e in events if e.get("event") == "playbook_on_stats"]
    custom = stats["event_data"]["artifact_data"]["mfa_tls_compliance"]
    assert set(custom) == set(private_ca_lab.hosts())
    for verdict in custom.values():
        assert verdict["compliant"] is False and "PRIVATE_CA" in verdict["codes"]
    assert list(reports.glob("*.xml"))

    # The roles ran from the project (its collections/ link, through ansible.cfg's setting on AWX's path) ...
    project_collection = private / "project" / "collections" / "ansible_collections" / "mfa_server" / "tls"
    role_tasks = {
        e["event_data"]["task_path"]
        for e in events
        if "/roles/" in e.get("event_data", {}).get("task_path", "")
    }
    assert role_tasks and all(path.startswith(f"{project_collection}/roles/") for path in role_tasks), (
        role_tasks
    )
    # ... and the dependencies from the project sync's collections, the only place that holds them.
    listed = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "list", "--format", "json"],
        cwd=private / "project",
        capture_output=True,
        text=True,
        check=False,
        env=tool_env(HOME=str(home), **paths),
    )
    found: dict[str, list[str]] = {}
    for location, collections in json.loads(listed.stdout).items():
        for name in collections:
            found.setdefault(name, []).append(location)
    for name in _dependency_closure():
        assert found[name] == [str(private / "requirements_collections" / "ansible_collections")], (
            name,
            found,
        )
    assert found["mfa_server.tls"] == [str(project_collection.parents[1])], found
