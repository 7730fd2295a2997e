# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Routing-aware planning and verification by regression, through remediate.yml against the lab.

`sdk-catch-all`: the Web Service SDK alone on the catch-all `*:443:`, whose callers (the Mobile App Web
Service and the User Portal) reach it by the internal name in their web.config, with a certificate for that
name; an SNI binding for the public name on the same port serves the other two components. Judged by the public
name, the catch-all used to get the other binding's verdict, was planned to get the public certificate (which
does not name its callers), failed its verification with a 404 and rolled everything back with a false "does not
serve its previous certificate".

`mfa8-leftover-mobile-app`: MFA Server 8.0 with the Mobile App Web Service's application left without its
PfPaWs.asmx, 404 before any change: the User Portal's fix used to be rolled back on every run for that 404.
"""

from __future__ import annotations

import pytest

from tests.support.lab_harness import lab_cli, recap, running_lab
from tests.support.playbook_runs import compliance, remediate, replacement_thumbprint

SDK_URL = "https://mfa-sdk.corp.contoso.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
PUBLIC_ENTRY = "hostnameport=mfa01.lab.example:443"
FALSE_ALARM = "does not serve its previous certificate"


def _entries(lab) -> dict[str, str]:
    return {e["key"]: e["certificate_hash"] for e in lab.state("mfa01")["http_sys"]}


def _executions(lab) -> int:
    return sum(lab.state("mfa01")["counters"]["modules"].values())


def _fault(lab, *fault: str) -> None:
    armed = lab_cli("fault", "--dir", str(lab.dir), "--host", "mfa01", *fault)
    assert armed.returncode == 0, armed.stderr


def _review(lab) -> dict:
    hostvars = lab.hostvars("mfa01")
    args = {
        "public_name": hostvars["mfa_tls_public_name"],
        "probe_addresses": hostvars["mfa_tls_probe_addresses"],
        "trust_bundle": str(lab.dir / "trust" / "public-roots.pem"),
        "fetch_aia": False,
    }
    result = lab.module("mfa01", "mfa_server.tls.tls_facts", args)
    assert not result["failed"], result.get("msg")
    return result["ansible_facts"]["mfa_tls"]


@pytest.fixture(scope="module")
def sdk_lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("sdk-catch-all-lab"), 1, "sdk-catch-all") as lab:
        yield lab


@pytest.fixture(scope="module")
def leftover_lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("mfa8-leftover-lab"), 1, "mfa8-leftover-mobile-app") as lab:
        yield lab


def test_the_sdk_catch_all_is_judged_by_the_name_its_callers_use(sdk_lab):
    review = _review(sdk_lab)
    (sdk,) = [e for e in review["endpoints"] if e["component"] == "web_service_sdk"]
    assert (sdk["site"], sdk["binding_information"], sdk["url"]) == ("MFA SDK", "*:443:", SDK_URL)
    assert [(c["who"], c["url"]) for c in sdk["reached_by"]] == [
        ("the Mobile App Web Service", SDK_URL),
        ("the User Portal", SDK_URL),
    ]
    assert sdk["routing"]["http_sys_entry"] == "ipport=0.0.0.0:443" and sdk["routing"]["alone"] is True
    # Its own verdict, not the SNI binding's: the SDK answers there, with the internal certificate.
    internal = _entries(sdk_lab)["ipport=0.0.0.0:443"]
    assert sdk["phone"]["http_status"] == 200 and sdk["phone"]["presented_chain"][0]["sha1"] == internal
    assert "HTTP_NOT_FOUND" not in sdk["codes"]
    # Only its MFA callers reach it, from the host, which trusts the internal CA: phones' rules do not count.
    assert sdk["compliant"] is True and "PRIVATE_CA" not in sdk["codes"], sdk["codes"]
    (note,) = [f for f in sdk["server_side"]["findings"] if f["code"] == "CALLED_ONLY_BY_MFA_SERVER"]
    assert "PRIVATE_CA do not apply" in note["message"], note["message"]


def test_a_rolled_back_change_checks_each_endpoint_through_the_binding_it_reaches(sdk_lab):
    """The SNI binding's change fails (the new chain lacks its intermediate); after the rollback each target,
    reached through its own binding, serves its previous certificate: no false alarm."""
    before = sdk_lab.state("mfa01")["http_sys"]
    _fault(sdk_lab, "no-intermediates")
    try:
        failed = remediate(sdk_lab)
    finally:
        _fault(sdk_lab, "clear")
    assert failed.returncode != 0
    assert "INCOMPLETE_CHAIN" in failed.stdout and "was rolled back" in failed.stdout, failed.stdout[-4000:]
    assert "(verified)" in failed.stdout and FALSE_ALARM not in failed.stdout
    assert sdk_lab.state("mfa01")["http_sys"] == before


def test_the_sdk_catch_all_keeps_its_certificate_and_the_remediated_host_is_compliant(sdk_lab, tmp_path):
    before = _entries(sdk_lab)
    counted = _executions(sdk_lab)
    run = remediate(sdk_lab)
    assert run.returncode == 0, run.stdout[-4000:]
    assert _executions(sdk_lab) - counted == 3, "a host that changes needs three module executions"
    output = run.stdout + run.stderr
    assert FALSE_ALARM not in output
    after = _entries(sdk_lab)
    assert after[PUBLIC_ENTRY] == replacement_thumbprint(sdk_lab)
    assert after["ipport=0.0.0.0:443"] == before["ipport=0.0.0.0:443"], (
        "the SDK's own certificate was replaced"
    )
    # "Compliant" means remediation has nothing left to do: the SDK's internal certificate is not a failure.
    judged = compliance(sdk_lab, tmp_path / "reports")
    assert judged.returncode == 0, judged.stdout[-3000:]

    again = remediate(sdk_lab)
    assert again.returncode == 0 and recap(again.stdout)["mfa01"]["changed"] == 0, again.stdout[-3000:]


def test_naming_the_sdk_catch_all_is_refused_saying_who_calls_it(sdk_lab):
    """The new certificate does not name the internal name the SDK's callers use: changing the binding would cut
    them off, so naming it explicitly is refused before anything changes, with who calls it by which URL."""
    before = sdk_lab.state("mfa01")["http_sys"]
    run = remediate(
        sdk_lab, "-e", '{"mfa_tls_bindings": [{"site": "MFA SDK", "binding_information": "*:443:"}]}'
    )
    assert run.returncode != 0
    assert (
        "Binding '*:443:' of site 'MFA SDK' cannot be changed: the Mobile App Web Service calls it as "
        f"{SDK_URL} (web.config 'pfMobile App Web Service_pfwssdk_PfWsSdk')"
    ) in " ".join((run.stdout + run.stderr).split()), run.stdout[-3000:]
    assert sdk_lab.state("mfa01")["http_sys"] == before


def test_a_404_that_was_there_before_keeps_the_fix_and_is_reported_as_remaining(leftover_lab):
    run = remediate(leftover_lab)
    assert run.returncode == 0, run.stdout[-4000:]
    assert _entries(leftover_lab)["ipport=0.0.0.0:443"] == replacement_thumbprint(leftover_lab)
    output = " ".join((run.stdout + run.stderr).split())
    assert "Remaining after the change, as before it" in output
    assert (
        "https://mfa01.lab.example/MultiFactorAuthMobileAppWebService/PfPaWs.asmx: HTTP_NOT_FOUND" in output
    )
    assert "was rolled back" not in output
    review = _review(leftover_lab)
    portal = next(e for e in review["endpoints"] if e["component"] == "user_portal")
    assert portal["compliant"] is True


def test_a_change_that_introduces_a_failure_still_rolls_back(tmp_path):
    """The same host, now with the new chain's intermediate missing: the certificate finding is the change's,
    so it rolls back, while the 404 it did not cause is not what the failure names."""
    with running_lab(tmp_path / "lab", 1, "mfa8-leftover-mobile-app") as lab:
        before = lab.state("mfa01")["http_sys"]
        _fault(lab, "no-intermediates")
        failed = remediate(lab)
        assert failed.returncode != 0
        assert lab.state("mfa01")["http_sys"] == before
    assert "was rolled back" in failed.stdout and "(verified)" in failed.stdout, failed.stdout[-4000:]
    cause = failed.stdout[failed.stdout.index("Cause:") :]
    assert "INCOMPLETE_CHAIN" in cause and "HTTP_NOT_FOUND" not in cause.split("\n")[0]
