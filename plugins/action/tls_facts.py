# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_facts: two module executions on the Windows host, everything else on the controller.

Runs mfa_server.tls.iis_tls_info and mfa_server.tls.mfa_server_info on the host, then judges every
HTTPS binding server side (trust engine) and from the phone's side (probe from the controller), in
this process: no further module execution, no further WinRM round trip.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.mfa_server.tls.plugins.module_utils import trust_store
from ansible_collections.mfa_server.tls.plugins.module_utils.certificates import load_pem_bundle
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import Policy
from ansible_collections.mfa_server.tls.plugins.module_utils.host_review import review_host
from ansible_collections.mfa_server.tls.plugins.module_utils.issuer_lookup import IssuerLookup
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import ProbeSettings

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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            settings = _settings(args)
            probe_addresses = {int(port): str(address) for port, address in args["probe_addresses"].items()}
        except (trust_store.TrustStoreError, ValueError) as error:
            return result | {"failed": True, "msg": str(error)}

        facts = {}
        for module, module_args in (
            ("mfa_server.tls.iis_tls_info", {"sites": args["sites"]}),
            ("mfa_server.tls.mfa_server_info", {}),
        ):
            answer = self._execute_module(module_name=module, module_args=module_args, task_vars=task_vars)
            if answer.get("failed") or answer.get("unreachable"):
                answer["msg"] = f"{module} failed on the host: {answer.get('msg', 'no message')}"
                return result | answer
            facts[module] = answer

        public_name = args["public_name"] or task_vars.get("inventory_hostname")
        review = review_host(
            facts["mfa_server.tls.iis_tls_info"],
            facts["mfa_server.tls.mfa_server_info"],
            public_name,
            probe_addresses,
            settings,
        )
        return result | {
            "changed": False,
            "compliant": review["compliant"],
            "ansible_facts": {"mfa_tls": review},
        }


def _settings(args: dict) -> ProbeSettings:
    extra = []
    for path in args["extra_intermediates"]:
        try:
            with open(path, "rb") as handle:
                extra += load_pem_bundle(handle.read())
        except (OSError, ValueError) as error:
            raise ValueError(f"Cannot read intermediates from {path}: {error}; give PEM files.") from error
    return ProbeSettings(
        store=trust_store.load(args["trust_bundle"]),
        issuer_lookup=IssuerLookup(extra, args["fetch_aia"], args["timeout"]),
        policy=Policy(expiry_warning_days=args["expiry_warning_days"]),
        timeout=args["timeout"],
    )
