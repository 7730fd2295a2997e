"""Apple's certificate rules through the real `ansible-playbook` and tls_probe against real TLS servers on
127.0.0.1: a public certificate valid too long (VALIDITY_TOO_LONG), one without enough embedded SCTs
(CT_MISSING, when require_ct is asked for with the test's own bundle) and a correct one showing neither."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.findings import CATALOGUE
from tests.support import pki
from tests.support.chains import HOST, LabPKI
from tests.support.module_task import run_module
from tests.support.servers import HTTPSServer

DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def _valid_for(days: int) -> dict:
    """make_leaf dates giving `days` days as Apple counts them (notBefore through notAfter inclusive)."""
    start = pki.now() - DAY
    return {"not_before": start, "not_after": start + days * DAY - SECOND}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """name -> (leaf, server): each certificate on its own port, under the test's public CA; and the bundle."""
    lab = LabPKI()
    leaves = {
        "too_long": lab.leaf(ct_logs=pki.LAB_CT_LOGS, **_valid_for(500)),
        "one_sct": lab.leaf(ct_logs=pki.LAB_CT_LOGS[:1], **_valid_for(365)),
        "correct": lab.leaf(ct_logs=pki.LAB_CT_LOGS, **_valid_for(397)),
    }
    bundle = tmp_path_factory.mktemp("phone-rules") / "roots.pem"
    bundle.write_bytes(lab.trust_pem())
    with contextlib.ExitStack() as stack:
        servers = {
            name: (leaf, stack.enter_context(HTTPSServer([leaf.pem(), lab.public_ca.pem()], leaf.key_pem())))
            for name, leaf in leaves.items()
        }
        yield servers, str(bundle)


def _probe(servers: dict, names: list[str], args: dict) -> dict[str, dict]:
    targets = [{"url": f"https://{HOST}/", "address": servers[name][1].address} for name in names]
    result = run_module("mfa_server.tls.tls_probe", {"targets": targets} | args)
    assert result.get("failed") is not True, result
    return dict(zip(names, result["results"], strict=True))


def _codes(outcome: dict) -> list[str]:
    """The codes that decide the verdict (errors and warnings); information findings of other checks, such as
    the revocation check's, say nothing about these rules."""
    return [f["code"] for f in outcome["findings"] if f["severity"] != "info"]


def test_the_probe_applies_the_validity_and_ct_rules(served):
    servers, bundle = served
    outcomes = _probe(
        servers, ["too_long", "one_sct", "correct"], {"trust_bundle": bundle, "require_ct": True}
    )

    too_long = outcomes["too_long"]
    assert _codes(too_long) == ["VALIDITY_TOO_LONG"]
    assert too_long["trusted"] is False and too_long["compliant"] is False
    (finding,) = [f for f in too_long["findings"] if f["code"] == "VALIDITY_TOO_LONG"]
    assert finding["severity"] == CATALOGUE["VALIDITY_TOO_LONG"][0] == "error"
    assert "valid for 500 days" in finding["message"] and "at most 398 days" in finding["message"]
    assert servers["too_long"][0].sha1[:16] in finding["message"], "the message names the certificate"

    one_sct = outcomes["one_sct"]
    assert _codes(one_sct) == ["CT_MISSING"]
    assert one_sct["trusted"] is False and one_sct["compliant"] is False
    (finding,) = [f for f in one_sct["findings"] if f["code"] == "CT_MISSING"]
    message = finding["message"]
    assert "embeds 1 SCT(s) from 1 distinct" in message and "requires SCTs from 3 distinct logs" in message
    assert "valid for 365 days" in message and servers["one_sct"][0].sha1[:16] in message

    correct = outcomes["correct"]
    assert _codes(correct) == [] and correct["trusted"] is True and correct["compliant"] is True


def test_a_custom_bundle_does_not_require_ct_unless_asked(served):
    servers, bundle = served
    outcome = _probe(servers, ["one_sct"], {"trust_bundle": bundle})["one_sct"]
    assert _codes(outcome) == [] and outcome["trusted"] is True and outcome["compliant"] is True
