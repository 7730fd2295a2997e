"""acme_http_challenge against the lab, and the lab's plain HTTP as IIS's static file handler serves it.

One lab, a scenario FILE with one situation per host:
- mfa01: the private-ca host, plus a folder with an extensionless file and a .txt file and no web.config;
- mfa02: `system.webServer/handlers` locked (overrideMode Deny), and a folder whose web.config sets it;
- mfa03: the site root is not writable for the module's account;
- mfa04: a web.config in .well-known\\acme-challenge that the module did not write and that maps no ".",
  and a stopped site that alone would answer a name on port 8081.
The ground truth (the host's state) shows what each run did; plain HTTP on the host's lab port 10080 (IIS
port 80) shows what the CA would get.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable

import pytest

from lab import iis
from lab.iis_http import DEFAULT_LOCKED_SECTIONS
from lab.state import HostState
from tests.support.lab_harness import Lab, configuration, running_lab
from tests.support.return_schema import documented

MODULE = "mfa_server.tls.acme_http_challenge"
ROOT = "C:\\inetpub\\wwwroot"
FOLDER = ROOT + "\\.well-known\\acme-challenge"
TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
KEY_AUTHORIZATION = TOKEN + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _site(site_id: int, name: str, state: str, info: str) -> dict:
    binding = {"protocol": "http", "binding_information": info, "ssl_flags": 0}
    return {
        "id": site_id,
        "name": name,
        "state": state,
        "physical_path": f"C:\\inetpub\\{name}",
        "bindings": [binding],
    }


HANDLERS_WEB_CONFIG = (
    "<configuration><system.webServer><handlers><clear /></handlers></system.webServer></configuration>"
)
SCENARIO = {
    "base": "private-ca",
    "hosts": {
        "mfa01": {
            "files": {
                "c:\\inetpub\\wwwroot\\downloads\\token-like": _b64("no extension"),
                "c:\\inetpub\\wwwroot\\downloads\\readme.txt": _b64("a text file"),
            }
        },
        "mfa02": {
            "iis": {"locked_sections": [*DEFAULT_LOCKED_SECTIONS, "system.webServer/handlers"]},
            "files": {
                "c:\\inetpub\\wwwroot\\app\\web.config": _b64(HANDLERS_WEB_CONFIG),
                "c:\\inetpub\\wwwroot\\app\\page.txt": _b64("page"),
            },
        },
        "mfa03": {"read_only_dirs": [ROOT]},
        "mfa04": {
            "files": {
                "c:\\inetpub\\wwwroot\\.well-known\\acme-challenge\\web.config": _b64("<configuration />")
            }
        },
    },
    "append": {"mfa04": {"sites": [_site(7, "parked", "Stopped", "*:8081:parked.lab.example")]}},
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("acme-http-lab")
    scenario = directory / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO, indent=1))
    with running_lab(directory / "lab", 4, str(scenario)) as running:
        yield running


def challenge(
    name: str = "mfa01.lab.example", token: str = TOKEN, key: str | None = KEY_AUTHORIZATION
) -> dict:
    item = {"name": name, "token": token}
    if key is not None:
        item["key_authorization"] = key
    return item


def get(lab: Lab, host: str, path: str, host_header: str, port: int = 80) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of a GET to the host's IIS `port` through the lab's listener."""
    connection = http.client.HTTPConnection(
        lab.hostvars(host)["ansible_host"], iis.lab_port(port), timeout=10
    )
    try:
        connection.request("GET", path, headers={"Host": host_header, "User-Agent": "test"})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def edit_files(lab: Lab, host: str, change: Callable[[dict], object]) -> None:
    """Changes a host's files directly, as another program on the host would."""
    with HostState(lab.dir, host).change() as data:
        change(data.setdefault("files", {}))


def substatus_counts(lab: Lab, host: str) -> dict[str, int]:
    return lab.raw_state(host)["counters"].get("http_requests", {})


def test_present_serves_the_token_and_absent_removes_everything(lab: Lab) -> None:
    url = f"/.well-known/acme-challenge/{TOKEN}"
    before = configuration(lab.raw_state("mfa01"))
    assert get(lab, "mfa01", url, "mfa01.lab.example")[0] == 404

    checked = documented(
        "acme_http_challenge",
        lab.module("mfa01", MODULE, {"challenges": [challenge()]}, check=True, diff=True),
    )
    assert checked["changed"] and configuration(lab.raw_state("mfa01")) == before, "check mode writes nothing"
    assert checked["diff"]["before"]["paths"] == []
    assert checked["diff"]["after"]["paths"] == [
        ROOT + "\\.well-known\\",
        FOLDER + "\\",
        f"{FOLDER}\\{TOKEN}",
        FOLDER + "\\web.config",
    ]

    placed = documented("acme_http_challenge", lab.module("mfa01", MODULE, {"challenges": [challenge()]}))
    assert placed["changed"] and placed["folders"] == checked["folders"]
    assert placed["challenges"][0]["sites"] == ["Default Web Site"]
    assert KEY_AUTHORIZATION not in json.dumps(placed), "the key authorization is never returned"
    # What the CA gets: the key authorization, as text/plain; the Host header may carry the port.
    assert get(lab, "mfa01", url, "mfa01.lab.example:80") == (200, "text/plain", KEY_AUTHORIZATION.encode())
    # The blank-host binding answers any name, as IIS routes it.
    assert get(lab, "mfa01", url, "other.lab.example")[0] == 200
    # Never served: the web.config itself (a hidden segment), nor the folder (no directory browsing).
    assert get(lab, "mfa01", "/.well-known/acme-challenge/web.config", "mfa01.lab.example")[0] == 404
    assert get(lab, "mfa01", "/.well-known/acme-challenge/", "mfa01.lab.example")[0] == 403

    again = lab.module("mfa01", MODULE, {"challenges": [challenge()]})
    assert not again["changed"] and again["folders"][0]["web_config"] == "ours"

    removed = documented(
        "acme_http_challenge",
        lab.module("mfa01", MODULE, {"state": "absent", "challenges": [challenge(key=None)]}),
    )
    assert removed["changed"] and removed["folders"][0]["web_config"] == "removed"
    assert configuration(lab.raw_state("mfa01")) == before, "absent leaves the host as it was"
    assert not [d for d in lab.raw_state("mfa01")["dirs"] if ".well-known" in d.lower()]
    assert get(lab, "mfa01", url, "mfa01.lab.example")[0] == 404
    counts = substatus_counts(lab, "mfa01")
    assert counts["200.0"] == 2 and counts["404.8"] == 1 and counts["403.14"] == 1 and counts["404.0"] >= 2


def test_the_static_file_handler_needs_a_mime_map(lab: Lab) -> None:
    """Without a web.config that maps ".", IIS answers 404.3 for a file without an extension; a .txt file is in
    IIS's default MIME map."""
    before = substatus_counts(lab, "mfa01").get("404.3", 0)
    assert get(lab, "mfa01", "/downloads/token-like", "mfa01.lab.example")[0] == 404
    assert substatus_counts(lab, "mfa01")["404.3"] == before + 1
    assert get(lab, "mfa01", "/downloads/readme.txt", "mfa01.lab.example") == (
        200,
        "text/plain",
        b"a text file",
    )


def test_the_module_web_config_serves_only_extensionless_files(lab: Lab) -> None:
    """Its <clear/> drops the inherited MIME map: a .txt file next to the token is not served (404.3)."""
    token = "second_token"
    lab.module("mfa01", MODULE, {"challenges": [challenge(token=token, key=token + ".x")]})
    notes = f"{FOLDER}\\notes.txt".lower()
    edit_files(lab, "mfa01", lambda files: files.update({notes: _b64("notes")}))
    assert get(lab, "mfa01", "/.well-known/acme-challenge/notes.txt", "a.example")[0] == 404
    assert get(lab, "mfa01", f"/.well-known/acme-challenge/{token}", "a.example")[0] == 200
    # A file the module did not write keeps its web.config and folders in place.
    kept = lab.module("mfa01", MODULE, {"state": "absent", "challenges": [challenge(token=token, key=None)]})
    assert kept["folders"][0]["web_config"] == "kept"
    edit_files(lab, "mfa01", lambda files: files.pop(notes))
    cleaned = lab.module(
        "mfa01", MODULE, {"state": "absent", "challenges": [challenge(token=token, key=None)]}
    )
    assert cleaned["changed"] and cleaned["folders"][0]["web_config"] == "removed"


def test_a_locked_section_is_refused_before_anything_changes(lab: Lab) -> None:
    before = configuration(lab.raw_state("mfa02"))
    refused = lab.module("mfa02", MODULE, {"challenges": [challenge("mfa02.lab.example")]})
    assert refused["failed"] and not refused["changed"]
    assert (
        "system.webServer/handlers is locked" in refused["msg"] and "appcmd unlock config" in refused["msg"]
    )
    assert configuration(lab.raw_state("mfa02")) == before
    # What IIS does with a web.config that sets a locked section: 500.19 for that folder.
    assert get(lab, "mfa02", "/app/page.txt", "mfa02.lab.example")[0] == 500
    assert substatus_counts(lab, "mfa02")["500.19"] == 1


def test_a_folder_the_account_cannot_write_fails_and_changes_nothing(lab: Lab) -> None:
    before = configuration(lab.raw_state("mfa03"))
    failed = lab.module("mfa03", MODULE, {"challenges": [challenge("mfa03.lab.example")]})
    assert failed["failed"] and not failed["changed"]
    assert f"creating the folder {ROOT}\\.well-known failed: Access to the path" in failed["msg"]
    assert "Nothing was changed" in failed["msg"] and "Modify rights" in failed["msg"]
    assert configuration(lab.raw_state("mfa03")) == before
    # The clean-up after such a failure has nothing to do and does not fail.
    cleanup = lab.module(
        "mfa03", MODULE, {"state": "absent", "challenges": [challenge("mfa03.lab.example", key=None)]}
    )
    assert not cleanup["failed"] and not cleanup["changed"]


def test_a_foreign_web_config_without_extensionless_files_is_refused(lab: Lab) -> None:
    before = configuration(lab.raw_state("mfa04"))
    refused = lab.module("mfa04", MODULE, {"challenges": [challenge("mfa04.lab.example")]})
    assert (
        refused["failed"] and "was not written by this module" in refused["msg"] and "404.3" in refused["msg"]
    )
    assert configuration(lab.raw_state("mfa04")) == before
    # absent never removes it.
    cleanup = lab.module(
        "mfa04", MODULE, {"state": "absent", "challenges": [challenge("mfa04.lab.example", key=None)]}
    )
    assert (
        cleanup["folders"][0]["web_config"] == "foreign" and configuration(lab.raw_state("mfa04")) == before
    )


def test_a_name_only_a_stopped_site_would_answer(lab: Lab) -> None:
    refused = lab.module("mfa04", MODULE, {"port": 8081, "challenges": [challenge("parked.lab.example")]})
    assert refused["failed"] and "'parked'" in refused["msg"] and "stopped" in refused["msg"]
    # HTTP.sys has no site for it, and answers 400 itself.
    assert get(lab, "mfa04", "/", "parked.lab.example", port=8081)[0] == 400


def test_a_name_no_started_site_serves_is_skipped_when_asked(lab: Lab) -> None:
    """skip_unserved, for a fleet run that places every token on every host: the name is listed, nothing is written."""
    before = configuration(lab.raw_state("mfa04"))
    skipped = documented(
        "acme_http_challenge",
        lab.module(
            "mfa04",
            MODULE,
            {"port": 8081, "skip_unserved": True, "challenges": [challenge("parked.lab.example")]},
        ),
    )
    assert not skipped["failed"] and not skipped["changed"]
    assert skipped["unserved"] == ["parked.lab.example"]
    assert skipped["challenges"][0]["sites"] == [] and skipped["folders"] == []
    assert configuration(lab.raw_state("mfa04")) == before


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (challenge("*.lab.example"), "DNS-01"),
        (challenge(token="../web.config"), "base64url"),
        (challenge(key="wrong.thumbprint"), "key_authorization"),
        (challenge(key=None), "key_authorization"),
    ],
)
def test_malformed_challenges_are_refused(lab: Lab, item: dict, message: str) -> None:
    refused = lab.module("mfa01", MODULE, {"challenges": [item]})
    assert refused["failed"] and message in refused["msg"] and "nothing was changed" in refused["msg"]
