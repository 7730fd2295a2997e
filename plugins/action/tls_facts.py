# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_facts: two module executions on the Windows host, everything else on the controller.

Runs mfa_server.tls.iis_tls_info and mfa_server.tls.mfa_server_info on the host, then judges every
HTTPS binding server side (trust engine) and from the phone's side (probe from the controller), in
this process: no further module execution, no further WinRM round trip.
"""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils.host_review import review_host
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import ProbeInputError, settings_from
from ansible_collections.mfa_server.tls.plugins.plugin_utils.controller_action import (
    ActionFailure,
    ControllerAction,
)

ARGUMENT_SPEC = {
    "public_name": {"type": "str"},
    "probe_addresses": {"type": "dict", "default": {}},
    "sites": {"type": "list", "elements": "str", "default": []},
    "trust_bundle": {"type": "path"},
    "extra_intermediates": {"type": "list", "elements": "path", "default": []},
    "fetch_aia": {"type": "bool", "default": True},
    "expiry_warning_days": {"type": "int", "default": 30},
    "timeout": {"type": "float", "default": 10},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (ProbeInputError,)

    def act(self, args: dict, task_vars: dict) -> dict:
        settings = settings_from(args)
        try:
            probe_addresses = {int(port): str(address) for port, address in args["probe_addresses"].items()}
        except ValueError as error:
            raise ActionFailure(
                f"probe_addresses maps IIS ports to host:port; a key is not a port: {error}."
            ) from error
        facts = {}
        for module, module_args in (
            ("mfa_server.tls.iis_tls_info", {"sites": args["sites"]}),
            ("mfa_server.tls.mfa_server_info", {}),
        ):
            answer = self._execute_module(module_name=module, module_args=module_args, task_vars=task_vars)
            if answer.get("failed") or answer.get("unreachable"):
                return answer | {"msg": f"{module} failed on the host: {answer.get('msg', 'no message')}"}
            facts[module] = answer
        review = review_host(
            facts["mfa_server.tls.iis_tls_info"],
            facts["mfa_server.tls.mfa_server_info"],
            args["public_name"] or task_vars.get("inventory_hostname"),
            probe_addresses,
            settings,
        )
        return {"changed": False, "compliant": review["compliant"], "ansible_facts": {"mfa_tls": review}}
