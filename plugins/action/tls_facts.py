# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tls_facts: one module execution on the Windows host, everything else on the controller.

Runs mfa_server.tls.host_tls_info on the host (IIS, HTTP.sys, certificates and the MFA Server install in one
powershell.exe: on Windows each module execution costs seconds), then judges every HTTPS binding server
side (trust engine) and from the phone's side (probe from the controller), in this process: no further
module execution, no further WinRM round trip.
"""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils import option_specs, scope
from ansible_collections.mfa_server.tls.plugins.module_utils.host_review import review_host
from ansible_collections.mfa_server.tls.plugins.module_utils.mfa_checks import (
    ConsoleUrlError,
    MfaOptions,
    parse_console_url,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import ProbeInputError, settings_from
from ansible_collections.mfa_server.tls.plugins.module_utils.remediation_plan import (
    PLAN_OPTIONS,
    PlanError,
    plan_from_options,
)
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import (
    ActionFailure,
    ControllerAction,
)

ARGUMENT_SPEC = {
    "public_name": {"type": "str"},
    "probe_addresses": {"type": "dict", "default": {}},
    "sites": {"type": "list", "elements": "str", "default": []},
    # The probe's own options, as tls_probe takes them (one definition each, in option_specs).
    **option_specs.TRUST,
    **option_specs.INTERMEDIATES,
    **option_specs.REVOCATION,
    **option_specs.PROBE,
    # The MFA Server's own SDK path (mfa_checks): the SOAP test from the controller, and the console's URL.
    "check_sdk_connection": {"type": "bool", "default": False},
    "mobile_app_web_service_url": {"type": "str"},
    # The remediate role plans in the same task (one task on every host fewer); see remediation_plan.
    "plan": {"type": "dict", "options": PLAN_OPTIONS},
    # Fails the task when the host is not compliant (the compliance role fails hosts with compliance_verdict,
    # which prints one line per problem instead of the whole review).
    **option_specs.VERDICT,
    # What the verdict counts (scope, include, exclude, waivers, fail_when_not_applicable); see scope.
    **scope.SCOPE_OPTIONS,
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (ProbeInputError, PlanError, ConsoleUrlError, scope.ScopeError)

    def act(self, args: dict, task_vars: dict) -> dict:
        settings = settings_from(args)
        try:
            probe_addresses = {int(port): str(address) for port, address in args["probe_addresses"].items()}
        except ValueError as error:
            raise ActionFailure(
                f"probe_addresses maps IIS ports to host:port; a key is not a port: {error}."
            ) from error
        if args["mobile_app_web_service_url"]:  # a wrong URL fails before the host is asked
            parse_console_url(args["mobile_app_web_service_url"])
        host = task_vars.get("inventory_hostname")
        scope_settings = scope.settings_from(args, host)  # a bad waiver fails before the host is asked too
        module = "mfa_server.tls.host_tls_info"
        answer = self._execute_module(
            module_name=module, module_args={"sites": args["sites"]}, task_vars=task_vars
        )
        if answer.get("failed") or answer.get("unreachable"):
            return answer | {"msg": f"{module} failed on the host: {answer.get('msg', 'no message')}"}
        review = review_host(
            answer["iis"],
            answer["mfa_server"],
            args["public_name"] or task_vars.get("inventory_hostname"),
            probe_addresses,
            settings,
            MfaOptions(args["check_sdk_connection"], args["mobile_app_web_service_url"]),
            scope_settings,
        )
        result = {"changed": False, "compliant": review["compliant"], "ansible_facts": {"mfa_tls": review}}
        warnings = list(answer.get("warnings") or [])
        if args["plan"] is not None:
            planned = plan_from_options(review, args["plan"])
            # A plan changes nothing: `changed` stays false (the recap counts what the import and the bind
            # change), and its diff is shown by the task that stands in for the bind in check mode.
            result["plan"] = planned["plan"]
            warnings += planned["warnings"]
            warnings += [
                f"Not fixed by a certificate change: {f['where']}: {f['message']}"
                for f in review["mfa_findings"]
                if f["code"] == "MFA_COMPONENT_WITHOUT_HTTPS"
            ]
        failing = args["fail_when_noncompliant"] and not review["compliant"]
        if review.get("not_applicable"):
            # Said on every run (a warning is the one line the default output always shows), so that a host of
            # the group without MFA Server is never passed over in silence; a failure says it once, below.
            result["msg"] = _not_applicable_line(host, review, result.get("plan"))
            if not failing:
                warnings.append(result["msg"])
        if warnings:
            result["warnings"] = warnings
        if failing:
            # A failed task's facts are not set; its registered result still holds them for fleet_report.
            result |= {"failed": True, "msg": f"{host} is not compliant: {'; '.join(review['problems'])}"}
        return result


def _not_applicable_line(host: str | None, review: dict, plan: dict | None) -> str:
    if plan is None:
        what = "its bindings are reported, none of them counts"
        if review["compliant"]:
            what += " (mfa_tls_fail_when_not_applicable: true makes this a failure)"
    elif plan["bindings"]:
        what = "only the bindings named in mfa_tls_bindings change"
    else:
        what = "remediation changes nothing on it"
    return f"{host}: {review['not_applicable']}; {what}."
