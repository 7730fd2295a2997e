"""mfa_server.tls.acme_http_challenge: the .ps1 with its C# util (_AcmeHttpChallenge.cs), on the lab's files.

The rules are the shared ones (plugins/module_utils/acme_http.py, the same vectors as the C#); what this file
adds is what the .ps1 reads from IIS and the file work, done on the host's file model (lab.iis_files):

- the sites, their state, physical paths and http bindings come from the host's `sites`;
- a section is locked for the folder when the host's `iis.locked_sections` (default: IIS's, lab.iis_http)
  names it, as the effective override mode Deny Microsoft.Web.Administration reports;
- writes run inside one state change: a failed present run leaves the host exactly as it was (the C# undoes
  its writes), a failed absent run keeps what it removed before the failure (the C# does not undo those).
"""

from __future__ import annotations

import sys
from pathlib import Path

from lab import iis_files
from lab.iis_http import DEFAULT_LOCKED_SECTIONS

_COLLECTIONS = Path(__file__).resolve().parents[2] / ".cache" / "collections"
if _COLLECTIONS.is_dir() and str(_COLLECTIONS) not in sys.path:
    sys.path.append(str(_COLLECTIONS))

from ansible_collections.mfa_server.tls.plugins.module_utils import acme_http as rules  # noqa: E402

IIS_MISSING = (
    "IIS is not installed on this host (Microsoft.Web.Administration.dll not found in System32\\inetsrv), so "
    "nothing was changed. Install the Web Server (IIS) role, or place the token on the hosts that serve the name."
)


def _full(root: str, relative: str) -> str:
    """Path.Combine(root, relative) on Windows: a trailing separator is kept."""
    return root.rstrip("\\") + "\\" + relative.replace("/", "\\")


def _bindings(data: dict) -> list[rules.HttpBinding]:
    return [
        rules.HttpBinding(
            site["name"], site.get("state") or "Unknown", b["protocol"], b["binding_information"]
        )
        for site in data["sites"]
        for b in site["bindings"]
    ]


def folder_state(data: dict, root: str, tokens: list[str]) -> rules.FolderState:
    """AcmeHttp.ReadFolder on the lab's files."""
    well_known = _full(root, rules.WELL_KNOWN)
    folder = _full(root, rules.CHALLENGE_DIR)
    named = {"web.config", *(t.lower() for t in tokens)}
    challenge_dir = iis_files.is_dir(data, folder)
    return rules.FolderState(
        well_known=iis_files.is_dir(data, well_known),
        challenge_dir=challenge_dir,
        web_config=iis_files.read_text(data, _full(root, rules.WEB_CONFIG)),
        tokens={t: iis_files.read_text(data, _full(root, f"{rules.CHALLENGE_DIR}/{t}")) for t in tokens},
        others_in_challenge_dir=len([n for n in iis_files.children(data, folder) if n not in named]),
        others_in_well_known=len([n for n in iis_files.children(data, well_known) if n != "acme-challenge"]),
    )


def run(m) -> None:
    present = m.params["state"] == "present"
    port = int(m.params["port"])
    m.result.update({"challenges": [], "folders": [], "unserved": []})
    if not 1 <= port <= 65535:
        m.fail(
            f"port {port} is not a TCP port (1 to 65535), so nothing was changed. HTTP-01 is fetched from port 80; "
            "give another port only when a load balancer forwards port 80 to it."
        )
    challenges = m.params["challenges"]
    for challenge in challenges:
        problem = rules.challenge_problem(
            challenge["name"], challenge["token"], challenge.get("key_authorization"), present
        )
        if problem:
            m.fail(rules.challenge_message(problem, challenge["name"], challenge["token"]))
    data = m.host.state.read()
    if not data["iis"]["installed"]:
        m.fail(IIS_MISSING)
    folders, rows = _targets(m, data, challenges, port, present)
    if present:
        _check_locks(m, data, folders)
    for folder in folders:
        tokens = list(folder["tokens"])
        folder["state"] = folder_state(data, folder["root"], tokens)
        if present:
            folder["plan"] = rules.plan_present(folder["state"], folder["tokens"])
        else:
            folder["plan"] = rules.plan_absent(folder["state"], tokens)
        if folder["plan"].problem:
            m.fail(rules.foreign_web_config_message(_full(folder["root"], rules.WEB_CONFIG)))
    changed = _report(m, folders, rows)
    if changed and not m.check_mode:
        _apply(m, folders, present)
    m.result["changed"] = changed


def _targets(
    m, data: dict, challenges: list[dict], port: int, present: bool
) -> tuple[list[dict], list[dict]]:
    bindings = _bindings(data)
    roots = {site["name"]: site.get("physical_path") for site in data["sites"]}
    folders: list[dict] = []
    rows: list[dict] = []
    for challenge in challenges:
        name, token = challenge["name"].lower(), challenge["token"]
        choice = rules.sites_for(bindings, name, port)
        if not choice.sites and present:
            if not m.params["skip_unserved"]:
                m.fail(rules.no_site_message(name, port, choice, bindings))
            m.result["unserved"].append(name)
        row = {"name": name, "token": token, "url": rules.url_for(name, token, port), "sites": choice.sites}
        row.update({"files": [], "changed": False})
        for site in choice.sites:
            root = roots.get(site)
            if not root:
                m.fail(
                    f"site '{site}' has no physical path for its root application, so nothing was changed. Fix the "
                    "site's root virtual directory in IIS."
                )
            if present:
                root_config = iis_files.join(root, "web.config")
                text = iis_files.read_text(data, root_config)
                capture = rules.capturing_rule(text, f"{rules.CHALLENGE_DIR}/{token}", name, port)
                if capture is not None:
                    m.fail(rules.capture_message(capture, site, root_config))
            folder = next((f for f in folders if f["root"].lower() == root.lower()), None)
            if folder is None:
                folder = {"root": root, "sites": [], "tokens": {}}
                folders.append(folder)
            if site not in folder["sites"]:
                folder["sites"].append(site)
            folder["tokens"][token] = challenge.get("key_authorization") or ""
            row["files"].append(_full(root, f"{rules.CHALLENGE_DIR}/{token}"))
        rows.append(row)
    return folders, rows


def _check_locks(m, data: dict, folders: list[dict]) -> None:
    locked = set((data.get("iis") or {}).get("locked_sections") or DEFAULT_LOCKED_SECTIONS)
    for folder in folders:
        for site in folder["sites"]:
            for section in rules.WEB_CONFIG_SECTIONS:
                if section in locked:
                    m.fail(rules.locked_message(section, site))


def _report(m, folders: list[dict], rows: list[dict]) -> bool:
    before: list[str] = []
    after: list[str] = []
    for folder in folders:
        root, plan = folder["root"], folder["plan"]
        existing = rules.existing_paths(folder["state"])
        before += [_full(root, p) for p in existing]
        after += [_full(root, p) for p in rules.paths_after(existing, plan)]
        written = [_full(root, s.path) for s in plan.steps if s.action in ("mkdir", "write")]
        removed = [_full(root, s.path) for s in plan.steps if s.action in ("delete", "rmdir")]
        for row in rows:
            files = {f.lower() for f in row["files"]}
            if any(path.lower() in files for path in written + removed):
                row["changed"] = True
        m.result["folders"].append(
            {
                "path": _full(root, rules.CHALLENGE_DIR),
                "sites": folder["sites"],
                "web_config": plan.web_config,
                "written": written,
                "removed": removed,
                "changed": bool(plan.steps),
            }
        )
    m.result["challenges"] = rows
    changed = any(folder["plan"].steps for folder in folders)
    if changed and m.diff:
        m.result["diff"] = {"before": {"paths": before}, "after": {"paths": after}}
    return changed


_WHAT = {
    "mkdir": "creating the folder",
    "write": "writing",
    "rmdir": "removing the folder",
    "delete": "removing",
}


def _step(data: dict, root: str, step: rules.Step) -> None:
    path = _full(root, step.path)
    if step.action == "mkdir":
        iis_files.make_dir(data, path)
    elif step.action == "write":
        iis_files.write(data, path, (step.content or "").encode("utf-8"))
    elif step.action == "delete":
        iis_files.delete(data, path)
    else:
        iis_files.remove_dir(data, path)


class _Undone(Exception):
    """Leaves the state change unwritten: the present run is undone as a whole, as Apply and Revert do."""


def _apply(m, folders: list[dict], present: bool) -> None:
    failure: tuple[str, str] | None = None
    try:
        with m.host.state.change() as data:
            for folder in folders:
                for step in folder["plan"].steps:
                    try:
                        _step(data, folder["root"], step)
                    except iis_files.FileSystemError as error:
                        path = _full(folder["root"], step.path)
                        failure = (f"{_WHAT[step.action]} {path} failed: {error}".rstrip("."), folder["root"])
                        break
                if failure:
                    break
            if failure and present:
                raise _Undone
    except _Undone:
        pass
    if failure is None:
        return
    cause, root = failure
    if present:
        m.result["changed"] = False
        m.fail(
            f"{cause}. Nothing was changed. Give the account that runs the module Modify rights on {root}, or "
            "close the program that holds the file."
        )
    m.result["changed"] = True
    m.fail(
        f"{cause}. Some files or folders of this run may remain: run the module again with state=absent once the "
        f"cause is fixed (give the account Modify rights on {root})."
    )
