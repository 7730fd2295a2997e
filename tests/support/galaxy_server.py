"""A Galaxy server on 127.0.0.1 for tests that install collections offline, as AWX's project sync and a user's
`ansible-galaxy collection install` do against galaxy.ansible.com or Automation Hub.

It answers only what ansible-core's `ansible-galaxy` asks (lib/ansible/galaxy/api.py): the API root with its
`available_versions`, and of the v3 API the collection, its version list, one version's metadata and the
artifact download. The shapes follow Galaxy NG (pulp_ansible), which serves galaxy.ansible.com: paginated lists
under `data` with `links.next`, a version's `download_url`, `artifact.sha256` (ansible-galaxy checks the download
against it) and `metadata.dependencies` (what the resolver follows).

The artifacts are tarballs of collections as they lie installed (`collection_tarball`): a collection tarball is
its folder with MANIFEST.json and FILES.json at the root, and an installed collection keeps both.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Galaxy NG's artifact path (galaxy.ansible.com's download_url has this form).
ARTIFACTS = "/api/v3/plugin/ansible/content/published/collections/artifacts/"
# The timestamps Galaxy returns; ansible-galaxy compares `updated_at` with its response cache.
PUBLISHED_AT = "2026-01-01T00:00:00.000000Z"
COLLECTION = re.compile(
    r"^/api/v3/collections/(?P<ns>\w+)/(?P<name>\w+)/(?:versions/(?:(?P<version>[^/]+)/)?)?$"
)


@dataclass(frozen=True)
class Published:
    namespace: str
    name: str
    version: str
    dependencies: dict[str, str]
    requires_ansible: str | None
    tarball: Path
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.namespace}-{self.name}-{self.version}.tar.gz"


def collection_tarball(collection: Path, output: Path) -> Path:
    """The artifact of an installed collection: MANIFEST.json, FILES.json and the files FILES.json lists.

    The `ansible` package ships its collections without their CI and test folders while keeping FILES.json as
    built, so the artifact lists what is there (each file checked against its recorded digest) and MANIFEST.json
    records the digest of that FILES.json, as `ansible-galaxy collection build` writes them. Files an installer
    left beside the collection (a stamp) are not listed, so not packed."""
    manifest = json.loads((collection / "MANIFEST.json").read_text())
    files = json.loads((collection / "FILES.json").read_text())
    present = []
    for entry in files["files"]:
        path = collection / entry["name"]
        if entry["name"] != "." and not (path.exists() or path.is_symlink()):
            continue
        if (
            entry["ftype"] == "file"
            and hashlib.sha256(path.read_bytes()).hexdigest() != entry["chksum_sha256"]
        ):
            raise ValueError(f"{path} differs from its FILES.json digest: not the published collection")
        present.append(entry)
    files_json = json.dumps({**files, "files": present}, indent=4).encode()
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
    info = manifest["collection_info"]
    output.mkdir(parents=True, exist_ok=True)
    tarball = output / f"{info['namespace']}-{info['name']}-{info['version']}.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in (
            ("MANIFEST.json", json.dumps(manifest, indent=4).encode()),
            ("FILES.json", files_json),
        ):
            member = tarfile.TarInfo(name)
            member.size, member.mode = len(data), 0o644
            archive.addfile(member, io.BytesIO(data))
        for entry in (e for e in present if e["name"] != "."):
            # directories too, without their content: ansible-galaxy extracts each FILES.json entry by name
            archive.add(collection / entry["name"], arcname=entry["name"], recursive=False)
    return tarball


def published(tarball: Path) -> Published:
    """What Galaxy knows of an artifact once imported: its MANIFEST.json and meta/runtime.yml, and its digest."""
    import yaml

    with tarfile.open(tarball) as archive:
        info = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
        try:
            runtime = yaml.safe_load(archive.extractfile("meta/runtime.yml")) or {}
        except KeyError:
            runtime = {}
    return Published(
        namespace=info["namespace"],
        name=info["name"],
        version=info["version"],
        dependencies=dict(info.get("dependencies") or {}),
        requires_ansible=runtime.get("requires_ansible"),
        tarball=tarball,
        sha256=hashlib.sha256(tarball.read_bytes()).hexdigest(),
    )


class GalaxyServer:
    """The collections published on it, and every request it was asked (method and path), in order."""

    def __init__(self, url: str, collections: list[Published]) -> None:
        self.url = url
        self.collections = {(c.namespace, c.name, c.version): c for c in collections}
        self.requests: list[str] = []
        self._lock = threading.Lock()

    @property
    def api(self) -> str:
        """The URL an AWX Galaxy credential or `--server` names."""
        return f"{self.url}/api/"

    def downloads(self) -> list[str]:
        """The artifacts fetched so far, by file name."""
        with self._lock:
            return [path.removeprefix(f"GET {ARTIFACTS}") for path in self.requests if ARTIFACTS in path]

    def record(self, request: str) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, path: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for a GET of path (the query is ignored: one page holds every version)."""
        path = path.split("?", 1)[0]
        if path == "/api/":
            return self._json({"available_versions": {"v3": "v3/"}})
        if path.startswith(ARTIFACTS):
            for collection in self.collections.values():
                if path == ARTIFACTS + collection.filename:
                    return 200, collection.tarball.read_bytes(), "application/gzip"
            return self._not_found()
        match = COLLECTION.match(path)
        if not match:
            return self._not_found()
        versions = sorted(
            (
                c
                for (ns, name, _v), c in self.collections.items()
                if (ns, name) == (match["ns"], match["name"])
            ),
            key=lambda c: tuple(int(part) for part in re.match(r"\d+(?:\.\d+)*", c.version)[0].split(".")),
            reverse=True,
        )
        if not versions:
            return self._not_found()
        if match["version"]:
            chosen = [c for c in versions if c.version == match["version"]]
            return self._json(self._version(chosen[0])) if chosen else self._not_found()
        if path.endswith("/versions/"):
            return self._json(self._version_list(path, versions))
        return self._json(self._collection(versions))

    def _href(self, collection: Published) -> str:
        return f"/api/v3/collections/{collection.namespace}/{collection.name}/versions/{collection.version}/"

    def _collection(self, versions: list[Published]) -> dict:
        newest = versions[0]
        return {
            "href": f"/api/v3/collections/{newest.namespace}/{newest.name}/",
            "namespace": newest.namespace,
            "name": newest.name,
            "created_at": PUBLISHED_AT,
            "updated_at": PUBLISHED_AT,
            "highest_version": {"href": self._href(newest), "version": newest.version},
        }

    def _version_list(self, path: str, versions: list[Published]) -> dict:
        return {
            "meta": {"count": len(versions)},
            "links": {"first": path, "previous": None, "next": None, "last": path},
            "data": [
                {
                    "version": c.version,
                    "href": self._href(c),
                    "created_at": PUBLISHED_AT,
                    "updated_at": PUBLISHED_AT,
                    "requires_ansible": c.requires_ansible,
                    "marks": [],
                }
                for c in versions
            ],
        }

    def _version(self, collection: Published) -> dict:
        return {
            "href": self._href(collection),
            "namespace": {"name": collection.namespace},
            "collection": {"name": collection.name},
            "version": collection.version,
            "download_url": self.url + ARTIFACTS + collection.filename,
            "artifact": {
                "filename": collection.filename,
                "sha256": collection.sha256,
                "size": collection.tarball.stat().st_size,
            },
            "metadata": {"dependencies": collection.dependencies},
            "requires_ansible": collection.requires_ansible,
            "signatures": [],
        }

    @staticmethod
    def _json(body: dict) -> tuple[int, bytes, str]:
        return 200, json.dumps(body).encode(), "application/json"

    @staticmethod
    def _not_found() -> tuple[int, bytes, str]:
        # Galaxy NG's v3 error body, which ansible-galaxy's GalaxyError reads
        body = {"errors": [{"status": "404", "code": "not_found", "title": "Not found."}]}
        return 404, json.dumps(body).encode(), "application/json"


def _handler(server: GalaxyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.record(f"GET {self.path}")
            status, body, content_type = server.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Requests are recorded on the server, not written to stderr."""

    return Handler


@contextlib.contextmanager
def galaxy_server(tarballs: list[Path], host: str = "127.0.0.1") -> Iterator[GalaxyServer]:
    """A Galaxy server publishing the tarballs, on a free port of host, for the duration of the block."""
    if not host.startswith("127."):
        raise ValueError("the test Galaxy server listens on loopback only")
    httpd = ThreadingHTTPServer((host, 0), BaseHTTPRequestHandler)
    server = GalaxyServer(f"http://{host}:{httpd.server_address[1]}", [published(t) for t in tarballs])
    httpd.RequestHandlerClass = _handler(server)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
