# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certificate_preflight: judged in the controller's process at no module-execution cost, once for every
host name it is given (the remediate role runs it once for the whole play)."""

from __future__ import annotations

import base64

from ansible_collections.mfa_server.tls.plugins.module_utils import trust_store
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import (
    Policy,
    resolve_require_ct,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.iis_bindings import normalize_thumbprint
from ansible_collections.mfa_server.tls.plugins.module_utils.pfx import PfxError, load_pfx
from ansible_collections.mfa_server.tls.plugins.module_utils.preflight import (
    describe_replacement,
    replacement_problems,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.revocation import RevocationChecker
from ansible_collections.mfa_server.tls.plugins.plugin_utils.controller_action import (
    ActionFailure,
    ControllerAction,
)

ARGUMENT_SPEC = {
    "path": {"type": "path"},
    # The PFX as base64 instead of a file: a certificate made on the controller (the acme source) is never written.
    "content": {"type": "str", "no_log": True},
    "thumbprint": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "public_names": {"type": "list", "elements": "str", "default": []},
    "hosts": {"type": "list", "elements": "str", "default": []},
    "trust_bundle": {"type": "path"},
    "require_ct": {"type": "bool"},  # unset: true with the default (Mozilla) store, false with trust_bundle
    "min_days": {"type": "int", "default": 30},
    "check_revocation": {"type": "bool", "default": True},
    "revocation_timeout": {"type": "float", "default": 5},
    "return_content": {"type": "bool", "default": False},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PfxError, trust_store.TrustStoreError)

    def act(self, args: dict, task_vars: dict) -> dict:
        names = [name.strip() for name in args["public_names"] + self._host_names(args["hosts"], task_vars)]
        names = list(dict.fromkeys(name for name in names if name))
        if not names:
            raise ActionFailure(
                "public_names and hosts are empty: give every host name phones use to reach the servers."
            )
        if [args["path"], args["content"], args["thumbprint"]].count(None) != 2:
            raise ActionFailure(
                "Give the new certificate either as mfa_tls_pfx_path (with mfa_tls_pfx_password), a PFX file on "
                "the controller, or as mfa_tls_thumbprint, a certificate already in the hosts' machine store; "
                "not both, not neither (or as mfa_tls_certificate_source=acme, ordered on the controller)."
            )
        if args["thumbprint"] is not None:
            thumbprint = normalize_thumbprint(args["thumbprint"])
            if thumbprint is None:
                raise ActionFailure(
                    f"mfa_tls_thumbprint '{args['thumbprint']}' is not a SHA-1 thumbprint (40 hexadecimal "
                    "characters): copy it from the certificate's Thumbprint field."
                )
            # Only the hosts know this certificate: iis_binding_certificate checks it there before any change.
            return {"changed": False, "thumbprint": thumbprint}
        path, data = self._pfx_data(args)
        pfx = load_pfx(data, args["password"], path)
        facts = describe_replacement(pfx)
        policy = Policy(require_ct=resolve_require_ct(args["require_ct"], args["trust_bundle"]))
        problems = replacement_problems(
            pfx,
            names,
            trust_store.load(args["trust_bundle"]),
            args["min_days"],
            policy=policy,
            revocation=self._revocation(args),
        )
        if problems:
            message = f"The certificate {facts['subject']} in {path} is not fit to serve {', '.join(names)}: "
            return facts | {"failed": True, "msg": message + " ".join(problems), "problems": problems}
        if args["return_content"]:
            facts["pfx_base64"] = base64.b64encode(data).decode("ascii")
        return facts | {"changed": False}

    @staticmethod
    def _pfx_data(args: dict) -> tuple[str, bytes]:
        """What messages call the PFX, and its bytes, from `path` or from `content`."""
        if args["content"] is not None:
            try:
                return "the PFX content", base64.b64decode(args["content"], validate=True)
            except ValueError as error:
                raise ActionFailure("content is not base64: give the PFX file's bytes as base64.") from error
        path = args["path"]
        try:
            with open(path, "rb") as handle:
                return path, handle.read()
        except OSError as error:
            raise ActionFailure(
                f"Cannot read the PFX {path}: {error.strerror}. Check mfa_tls_pfx_path."
            ) from error

    @staticmethod
    def _revocation(args: dict) -> RevocationChecker | None:
        if not args["check_revocation"]:
            return None
        if args["revocation_timeout"] <= 0:
            raise ActionFailure(
                f"revocation_timeout must be greater than 0, got {args['revocation_timeout']}."
            )
        return RevocationChecker(args["revocation_timeout"])

    @staticmethod
    def _host_names(hosts: list[str], task_vars: dict) -> list[str]:
        """Each inventory host's mfa_tls_public_name (the name phones use), else the host's own name."""
        hostvars = task_vars.get("hostvars") or {}
        return [str((hostvars.get(host) or {}).get("mfa_tls_public_name") or host) for host in hosts]
