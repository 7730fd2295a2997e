"""The ACME HTTP-01 rules on the Python side, against the vectors the C# side (_AcmeHttpChallenge.cs) is tested
with too (tests/vectors/acme_http_rules.json)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils import acme_http

VECTORS = json.loads((Path(__file__).parents[3] / "vectors" / "acme_http_rules.json").read_text())


def _why(row: dict) -> str:
    return row.get("_why") or row.get("name", "")


@pytest.mark.parametrize(
    "row", VECTORS["challenges"], ids=lambda r: f"{r['name']}/{r['token']}/{r['present']}"
)
def test_challenge_checks(row: dict) -> None:
    problem = acme_http.challenge_problem(row["name"], row["token"], row["key_authorization"], row["present"])
    assert problem == row["problem"]
    if problem:  # every refusal says what was wrong and what to pass instead
        message = acme_http.challenge_message(problem, row["name"], row["token"])
        assert "nothing was changed" in message and row["name"] in message


@pytest.mark.parametrize("row", VECTORS["sites"], ids=_why)
def test_site_selection(row: dict) -> None:
    bindings = [acme_http.HttpBinding(**b) for b in row["bindings"]]
    choice = acme_http.sites_for(bindings, row["name"], row["port"])
    assert (choice.sites, choice.stopped) == (row["sites"], row["stopped"])


@pytest.mark.parametrize("row", VECTORS["extensionless"], ids=lambda r: r["web_config"][:60])
def test_extensionless(row: dict) -> None:
    assert acme_http.serves_extensionless(row["web_config"]) is row["serves"]


@pytest.mark.parametrize("row", VECTORS["rewrite"], ids=_why)
def test_rewrite_capture(row: dict) -> None:
    capture = acme_http.capturing_rule(row["web_config"], row["url_path"], row["host"], row["port"])
    expected = row["capture"]
    assert (None if capture is None else {"rule": capture.rule, "why": capture.why}) == expected


@pytest.mark.parametrize("row", VECTORS["records"], ids=lambda r: ",".join(r["created"]) or "none")
def test_our_web_config_round_trips(row: dict) -> None:
    text = acme_http.web_config(row["created"])
    assert acme_http.our_record(text) == row["created"]
    assert acme_http.our_record(text.replace("\n", "\r\n")) == row["created"], "a CRLF copy is still ours"
    assert acme_http.serves_extensionless(text)
    assert acme_http.capturing_rule(text, ".well-known/acme-challenge/t", "a.example", 80) is None
    root = ET.fromstring(text.encode())
    web_server = root.find("system.webServer")
    assert web_server is not None
    assert web_server.find("httpRedirect").get("enabled") == "false"
    handlers = [h.get("name") for h in web_server.find("handlers") if h.tag == "add"]
    assert handlers == ["StaticFile"]
    assert root.find("system.web/authorization/allow").get("users") == "*"


@pytest.mark.parametrize("text", VECTORS["not_ours"])
def test_other_web_configs_are_not_ours(text: str) -> None:
    assert acme_http.our_record(text) is None


def state_from(row: dict) -> acme_http.FolderState:
    fields = dict(row)
    if isinstance(fields["web_config"], dict):
        fields["web_config"] = acme_http.web_config(fields["web_config"]["ours"])
    return acme_http.FolderState(**fields)


@pytest.mark.parametrize("row", VECTORS["plans"], ids=_why)
def test_plans(row: dict) -> None:
    state = state_from(row["state"])
    if row["mode"] == "present":
        plan = acme_http.plan_present(state, row["tokens"])
    else:
        plan = acme_http.plan_absent(state, row["tokens"])
    assert [[s.action, s.path] for s in plan.steps] == row["steps"]
    assert (plan.web_config, plan.problem) == (row["web_config"], row["problem"])
    for path, content in (row.get("written") or {}).items():
        step = next(s for s in plan.steps if s.path == path and s.action == "write")
        assert step.content == acme_http.web_config(content["ours"])
    for step in plan.steps:
        if step.action == "write" and step.path != acme_http.WEB_CONFIG:
            token = step.path.rsplit("/", 1)[1]
            assert (step.content, step.previous) == (row["tokens"][token], state.tokens.get(token))


def test_url_for_names_the_port_only_when_it_is_not_80() -> None:
    assert acme_http.url_for("a.example", "t", 80) == "http://a.example/.well-known/acme-challenge/t"
    assert acme_http.url_for("a.example", "t", 18080) == "http://a.example:18080/.well-known/acme-challenge/t"


def test_refusal_messages_name_the_cause_and_the_fix() -> None:
    bindings = [acme_http.HttpBinding("it1", "Started", "http", "*:18080:it1.mfa-tls-it.test")]
    choice = acme_http.sites_for(bindings, "nothing.mfa-tls-it.test", 18080)
    message = acme_http.no_site_message("nothing.mfa-tls-it.test", 18080, choice, bindings)
    assert "'*:18080:it1.mfa-tls-it.test' (it1)" in message and "'*:18080:nothing.mfa-tls-it.test'" in message
    capture = acme_http.Capture("HTTPS", "match")
    message = acme_http.capture_message(capture, "Default Web Site", "C:\\inetpub\\wwwroot\\web.config")
    assert "rule 'HTTPS'" in message and 'stopProcessing="true"' in message
    message = acme_http.locked_message("system.webServer/handlers", "Default Web Site")
    assert "appcmd unlock config" in message and "500.19" in message
