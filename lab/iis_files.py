"""The files on an emulated host's disk: what IIS serves from its sites' physical paths, what modules write.

The smallest model that serves HTTP-01 (docs/windows-model.md section 12). It lives in the host's state
document (lab/state.py), so that every change is atomic with the rest of the host and the ground truth shows it:

  files           {lower-case Windows path: base64 content}: the map put_file writes too (one file system).
  dirs            [Windows path]: folders that exist (powershell_mkdtemp adds its folders here as well).
  read_only_dirs  [Windows path] (optional, set by a scenario FILE): folders below which the module's account
                  may create and delete nothing, as an ACL without Modify for it would make them.

Windows paths compare without case (NTFS as Windows uses it). A folder exists when `dirs` lists it, when a file
or a listed folder lies below it, or when it is (or holds) a site's or an MFA component's physical path: IIS
content is there. Errors carry the messages .NET gives for the same failure, since the module reports them.
"""

from __future__ import annotations

import base64


class FileSystemError(OSError):
    """A file operation Windows refuses; the message is the .NET exception's."""


def key(path: str) -> str:
    return path.replace("/", "\\").rstrip("\\").lower()


def join(root: str, relative: str) -> str:
    """root + relative ("/" or "\\" separated), as Path.Combine does on Windows."""
    return root.rstrip("\\/") + "\\" + relative.replace("/", "\\").strip("\\")


def _parent(path: str) -> str:
    return key(path).rsplit("\\", 1)[0]


def _content_roots(data: dict) -> set[str]:
    roots = {key(site.get("physical_path") or "") for site in data.get("sites") or []}
    roots |= {key(c.get("physical_path") or "") for c in (data.get("mfa") or {}).get("components") or []}
    return {root for root in roots if root}


def read(data: dict, path: str) -> bytes | None:
    content = (data.get("files") or {}).get(key(path))
    return None if content is None else base64.b64decode(content)


def read_text(data: dict, path: str) -> str | None:
    content = read(data, path)
    return None if content is None else content.decode("utf-8-sig", errors="replace")


def is_file(data: dict, path: str) -> bool:
    return key(path) in (data.get("files") or {})


def is_dir(data: dict, path: str) -> bool:
    wanted = key(path)
    if not wanted or is_file(data, path):
        return False
    prefix = wanted + "\\"
    listed = [key(d) for d in data.get("dirs") or []]
    below = [*(data.get("files") or {}), *listed, *_content_roots(data)]
    return wanted in listed or wanted in _content_roots(data) or any(p.startswith(prefix) for p in below)


def children(data: dict, path: str) -> list[str]:
    """The names (lower case) of the files and folders directly in a folder."""
    prefix = key(path) + "\\"
    names = set()
    listed = [key(d) for d in data.get("dirs") or []]
    for entry in [*(data.get("files") or {}), *listed, *_content_roots(data)]:
        if entry.startswith(prefix):
            names.add(entry[len(prefix) :].split("\\", 1)[0])
    return sorted(names)


def _check_writable(data: dict, path: str) -> None:
    target = key(path)
    for folder in data.get("read_only_dirs") or []:
        folder = key(folder)
        if target == folder or target.startswith(folder + "\\"):
            raise FileSystemError(f"Access to the path '{path}' is denied.")


def _check_parent(data: dict, path: str) -> None:
    if not is_dir(data, _parent(path)):
        raise FileSystemError(f"Could not find a part of the path '{path}'.")


def write(data: dict, path: str, content: bytes) -> None:
    if is_dir(data, path):
        raise FileSystemError(f"Access to the path '{path}' is denied.")  # File.WriteAllText on a folder
    _check_writable(data, path)
    _check_parent(data, path)
    data.setdefault("files", {})[key(path)] = base64.b64encode(content).decode()


def delete(data: dict, path: str) -> None:
    if not is_file(data, path):
        return  # File.Delete of a missing file does nothing
    _check_writable(data, path)
    del data["files"][key(path)]


def make_dir(data: dict, path: str) -> None:
    if is_dir(data, path):
        return  # Directory.CreateDirectory of an existing folder does nothing
    if is_file(data, path):
        raise FileSystemError(
            f"Cannot create '{path}' because a file or directory with the same name already exists."
        )
    _check_writable(data, path)
    _check_parent(data, path)
    data.setdefault("dirs", []).append(path)


def remove_dir(data: dict, path: str) -> None:
    if not is_dir(data, path):
        raise FileSystemError(f"Could not find a part of the path '{path}'.")
    if children(data, path):
        raise FileSystemError("The directory is not empty.")
    _check_writable(data, path)
    data["dirs"] = [d for d in data.get("dirs") or [] if key(d) != key(path)]
