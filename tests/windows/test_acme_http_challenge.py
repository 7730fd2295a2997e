"""plugins/module_utils/_AcmeHttpChallenge.cs compiled with mcs and run under Mono.

- the shared vectors (tests/vectors/acme_http_rules.json) hold for AcmeHttp row by row, as they do for the
  Python side (tests/unit/plugins/module_utils/test_acme_http.py), and both sides word every refusal alike;
- ReadFolder, the plans and Apply run on a real folder: a present run makes the token servable, a second run
  changes nothing, absent removes exactly what was made, a failing step undoes what the run wrote.

Without mcs/mono the tests skip loudly; with CI=true they fail instead (CI installs Debian's mono-mcs and
mono-devel, as for _HttpSysSsl.cs).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import acme_http

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCE = ROOT / "plugins" / "module_utils" / "_AcmeHttpChallenge.cs"
DRIVER = HERE / "AcmeHttpChallengeDriver.cs"
VECTORS = json.loads((ROOT / "tests" / "vectors" / "acme_http_rules.json").read_text())
TIMEOUT = 60


def _missing(what: str) -> None:
    message = f"NOT TESTED: {what} is missing, so _AcmeHttpChallenge.cs was not compiled or run"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: CI must install it)")
    pytest.skip(message)


def _encode(value: str | None) -> str:
    return "!" if value is None else base64.b64encode(value.encode()).decode()


def _decode(field: str) -> str | None:
    return None if field == "!" else base64.b64decode(field).decode()


class Driver:
    def __init__(self, exe: Path):
        self.exe = exe

    def ask(self, requests: list[list[str | None]]) -> list[list[str | None]]:
        """One answer (its fields) per request (the command, then its fields)."""
        lines = ["\t".join([str(r[0]), *(_encode(v) for v in r[1:])]) for r in requests]
        result = subprocess.run(
            ["mono", str(self.exe)],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        answers = [[_decode(f) for f in line.split("\t")] for line in result.stdout.splitlines()]
        assert len(answers) == len(requests), result.stdout + result.stderr
        return answers

    def one(self, *request: str | None) -> list[str | None]:
        return self.ask([list(request)])[0]


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Driver:
    for tool in ("mcs", "mono"):
        if shutil.which(tool) is None:
            _missing(tool)
    exe = tmp_path_factory.mktemp("acme-http-cs") / "driver.exe"
    result = subprocess.run(
        ["mcs", "-sdk:4.5", "-warnaserror+", f"-out:{exe}", str(SOURCE), str(DRIVER)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if "SDK path could not be resolved" in result.stdout + result.stderr:
        _missing("the .NET 4.5 reference assemblies (Debian mono-devel)")
    assert result.returncode == 0, f"driver build failed:\n{result.stdout}{result.stderr}"
    return Driver(exe)


def _split(text: str | None) -> list[str]:
    return text.split("\n") if text else []


# ---- the vectors -----------------------------------------------------------------------------------------


def test_challenges(driver: Driver) -> None:
    rows = VECTORS["challenges"]
    answers = driver.ask(
        [
            ["challenge", r["name"], r["token"], r["key_authorization"], "1" if r["present"] else "0"]
            for r in rows
        ]
    )
    for row, (problem, message) in zip(rows, answers, strict=True):
        assert problem == row["problem"], row
        expected = acme_http.challenge_message(problem, row["name"], row["token"]) if problem else None
        assert message == expected


def test_sites(driver: Driver) -> None:
    rows = VECTORS["sites"]
    requests = []
    for row in rows:
        fields = [str(row["port"]), row["name"]]
        for b in row["bindings"]:
            fields += [b["site"], b["state"], b["protocol"], b["binding_information"]]
        requests.append(["sites", *fields])
    for row, (sites, stopped, message) in zip(rows, driver.ask(requests), strict=True):
        assert (_split(sites), _split(stopped)) == (row["sites"], row["stopped"]), row["_why"]
        if not row["sites"]:
            bindings = [acme_http.HttpBinding(**b) for b in row["bindings"]]
            choice = acme_http.sites_for(bindings, row["name"], row["port"])
            assert message == acme_http.no_site_message(row["name"], row["port"], choice, bindings)


def test_extensionless(driver: Driver) -> None:
    rows = VECTORS["extensionless"]
    answers = driver.ask([["extensionless", r["web_config"]] for r in rows])
    assert [a[0] == "1" for a in answers] == [r["serves"] for r in rows]


def test_rewrite(driver: Driver) -> None:
    rows = VECTORS["rewrite"]
    requests = [["rewrite", r["web_config"], r["url_path"], r["host"], str(r["port"])] for r in rows]
    for row, (rule, why, message) in zip(rows, driver.ask(requests), strict=True):
        got = None if rule is None else {"rule": rule, "why": why}
        assert got == row["capture"], row["_why"]
        if got:
            capture = acme_http.Capture(rule, why)
            assert message == acme_http.capture_message(capture, "Site", "C:\\site\\web.config")


def test_web_config_is_the_same_text_on_both_sides(driver: Driver) -> None:
    for row in VECTORS["records"]:
        text, record = driver.one("record", "\n".join(row["created"]))
        assert text == acme_http.web_config(row["created"]), "C# and Python write the same web.config"
        assert _split(record) == row["created"]
    for text in VECTORS["not_ours"]:
        assert driver.one("ourrecord", text) == [None]
    assert driver.one("ourrecord", acme_http.web_config(["acme-challenge"]).replace("\n", "\r\n")) == [
        "acme-challenge"
    ]


def requests_web_config(row: dict) -> str | None:
    web_config = row["state"]["web_config"]
    return acme_http.web_config(web_config["ours"]) if isinstance(web_config, dict) else web_config


def test_plans(driver: Driver) -> None:
    rows = VECTORS["plans"]
    requests = []
    for row in rows:
        state = row["state"]
        web_config = state["web_config"]
        if isinstance(web_config, dict):
            web_config = acme_http.web_config(web_config["ours"])
        wanted = row["tokens"] if row["mode"] == "present" else {}
        if row["mode"] == "absent":
            assert set(row["tokens"]) == set(state["tokens"]), "the driver names every state token"
        fields = [
            row["mode"],
            "1" if state["well_known"] else "0",
            "1" if state["challenge_dir"] else "0",
            web_config,
            str(state["others_in_challenge_dir"]),
            str(state["others_in_well_known"]),
        ]
        for token in sorted(set(state["tokens"]) | set(wanted)):
            fields += [token, state["tokens"].get(token), wanted.get(token)]
        requests.append(["plan", *fields])
    for row, answer in zip(rows, driver.ask(requests), strict=True):
        status, problem, existing, after, *rest = answer
        steps = [rest[i : i + 4] for i in range(0, len(rest), 4)]
        assert (status, problem) == (row["web_config"], row["problem"]), row["_why"]
        python_state = acme_http.FolderState(**{**row["state"], "web_config": requests_web_config(row)})
        python_existing = acme_http.existing_paths(python_state)
        assert _split(existing) == python_existing
        python_plan = (
            acme_http.plan_present(python_state, row["tokens"])
            if row["mode"] == "present"
            else acme_http.plan_absent(python_state, row["tokens"])
        )
        assert _split(after) == acme_http.paths_after(python_existing, python_plan)
        assert [[s[0], s[1]] for s in steps] == row["steps"], row["_why"]
        for path, content in (row.get("written") or {}).items():
            step = next(s for s in steps if s[1] == path)
            assert step[2] == acme_http.web_config(content["ours"])


def test_messages_match(driver: Driver) -> None:
    path = "C:\\inetpub\\wwwroot\\.well-known\\acme-challenge\\web.config"
    assert driver.one("message", "foreign", path) == [acme_http.foreign_web_config_message(path)]
    section, site = "system.webServer/handlers", "Default Web Site"
    assert driver.one("message", "locked", section, site) == [acme_http.locked_message(section, site)]


def test_sections_are_the_same_on_both_sides() -> None:
    source = SOURCE.read_text()
    for section in acme_http.WEB_CONFIG_SECTIONS:
        assert f'"{section}",' in source


# ---- the file system -----------------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, str | None]:
    """Every path under root (relative, '/' separated): file content, or None for a folder."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_text()) for p in sorted(root.rglob("*"))
    }


def _run(driver: Driver, root: Path, mode: str, tokens: dict[str, str | None], rollback: bool | str = True):
    fields = [str(root), mode, rollback if isinstance(rollback, str) else "1" if rollback else "0"]
    for token, value in tokens.items():
        fields += [token, value]
    status, problem, outcome, rolled_back, *rest = driver.one("run", *fields)
    steps = [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]
    return status, problem, outcome, rolled_back == "1", steps


def test_present_twice_then_absent_on_a_real_folder(driver: Driver, tmp_path: Path) -> None:
    root = tmp_path / "wwwroot"
    root.mkdir()
    (root / "iisstart.htm").write_text("IIS")
    tokens = {"tokA": "tokA.thumb", "tokB": "tokB.thumb"}
    status, problem, outcome, _rolled, steps = _run(driver, root, "present", tokens)
    assert (status, problem, outcome) == ("created", None, "ok")
    assert [a for a, _p in steps] == ["mkdir", "mkdir", "write", "write", "write"]
    tree = _tree(root)
    assert tree[".well-known/acme-challenge/tokA"] == "tokA.thumb", "no BOM, no newline"
    assert tree[".well-known/acme-challenge/web.config"] == acme_http.web_config(
        [".well-known", "acme-challenge"]
    )

    assert _run(driver, root, "present", tokens)[:3] == ("ours", None, "ok")
    assert _tree(root) == tree, "a second run writes nothing"

    # One name's clean-up leaves the other's token served (the web.config stays while a token remains).
    status, _problem, outcome, _rolled, steps = _run(driver, root, "absent", {"tokA": None})
    assert (status, outcome, steps) == ("kept", "ok", [("delete", ".well-known/acme-challenge/tokA")])
    status, _problem, outcome, _rolled, steps = _run(driver, root, "absent", {"tokB": None})
    assert (status, outcome) == ("removed", "ok")
    assert _tree(root) == {"iisstart.htm": "IIS"}, "absent removes exactly what present made"
    assert _run(driver, root, "absent", {"tokB": None})[:3] == ("none", None, "ok"), "and is safe to repeat"


def test_folders_that_existed_stay(driver: Driver, tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / ".well-known").mkdir(parents=True)
    (root / ".well-known" / "security.txt").write_text("Contact: mailto:security@contoso.com")
    assert _run(driver, root, "present", {"t": "t.k"})[2] == "ok"
    assert acme_http.our_record((root / ".well-known/acme-challenge/web.config").read_text()) == [
        "acme-challenge"
    ]
    assert _run(driver, root, "absent", {"t": None})[:3] == ("removed", None, "ok")
    assert _tree(root) == {
        ".well-known": None,
        ".well-known/security.txt": "Contact: mailto:security@contoso.com",
    }


def test_a_foreign_web_config_is_judged_and_never_removed(driver: Driver, tmp_path: Path) -> None:
    root = tmp_path / "site"
    folder = root / ".well-known" / "acme-challenge"
    folder.mkdir(parents=True)
    (folder / "web.config").write_text("<configuration />")
    status, problem, outcome, _rolled, steps = _run(driver, root, "present", {"t": "t.k"})
    assert (status, problem, outcome, steps) == ("foreign", "foreign_web_config", "refused", [])
    assert not (folder / "t").exists()
    serving = (
        '<configuration><system.webServer><staticContent><mimeMap fileExtension="." mimeType="text/json" />'
        "</staticContent></system.webServer></configuration>"
    )
    (folder / "web.config").write_text(serving)
    assert _run(driver, root, "present", {"t": "t.k"})[:3] == ("foreign", None, "ok")
    assert _run(driver, root, "absent", {"t": None})[:3] == ("foreign", None, "ok")
    assert _tree(root) == {
        ".well-known": None,
        ".well-known/acme-challenge": None,
        ".well-known/acme-challenge/web.config": serving,
    }


def test_a_failing_write_undoes_the_run(driver: Driver, tmp_path: Path) -> None:
    """A write the file system refuses (a folder already has the token's name) fails the run; what the run
    wrote before it (the web.config, the other token) is removed again, and the message names the path."""
    root = tmp_path / "site"
    blocker = root / ".well-known" / "acme-challenge" / "zz"
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("x")
    before = _tree(root)
    status, _problem, outcome, rolled_back, steps = _run(driver, root, "present", {"a": "a.k", "zz": "zz.k"})
    assert status == "created" and [a for a, _p in steps] == ["write", "write", "write"]
    assert outcome.startswith(f"writing {blocker} failed: "), outcome
    assert rolled_back
    assert _tree(root) == before, "the web.config and token a are gone again"


def test_revert_undoes_a_completed_present_run(driver: Driver, tmp_path: Path) -> None:
    """When a later folder fails, the module reverts the folders it already changed."""
    root = tmp_path / "site"
    root.mkdir()
    assert _run(driver, root, "present", {"t": "t.k"}, rollback="revert")[2] == "reverted"
    assert _tree(root) == {}
