# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certificate_preflight: judged in the controller's process, per host, at no module-execution cost."""

from __future__ import annotations

import base64

from ansible_collections.mfa_server.tls.plugins.module_utils import trust_store
from ansible_collections.mfa_server.tls.plugins.module_utils.pfx import PfxError, load_pfx
from ansible_collections.mfa_server.tls.plugins.module_utils.preflight import (
    describe_replacement,
    replacement_problems,
)
from ansible_collections.mfa_server.tls.plugins.plugin_utils.controller_action import (
    ActionFailure,
    ControllerAction,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "password": {"type": "str", "no_log": True},
    "public_names": {"type": "list", "elements": "str", "required": True},
    "trust_bundle": {"type": "path"},
    "min_days": {"type": "int", "default": 30},
    "return_content": {"type": "bool", "default": False},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PfxError, trust_store.TrustStoreError)

    def act(self, args: dict, task_vars: dict) -> dict:
        names = [name.strip() for name in args["public_names"] if name and name.strip()]
        if not names:
            raise ActionFailure("public_names is empty: give every host name phones use to reach the server.")
        path = args["path"]
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise ActionFailure(
                f"Cannot read the PFX {path}: {error.strerror}. Check mfa_tls_pfx_path."
            ) from error
        pfx = load_pfx(data, args["password"], path)
        facts = describe_replacement(pfx)
        problems = replacement_problems(pfx, names, trust_store.load(args["trust_bundle"]), args["min_days"])
        if problems:
            message = f"The certificate {facts['subject']} in {path} is not fit to serve {', '.join(names)}: "
            return facts | {"failed": True, "msg": message + " ".join(problems), "problems": problems}
        if args["return_content"]:
            facts["pfx_base64"] = base64.b64encode(data).decode("ascii")
        return facts | {"changed": False}
