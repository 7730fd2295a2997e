# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""certificate_preflight: judged in the controller's process at no module-execution cost, once for every
host name it is given (the remediate role runs it once for the whole play)."""

from __future__ import annotations

import base64

from ansible_collections.mfa_server.tls.plugins.module_utils import option_specs
from ansible_collections.mfa_server.tls.plugins.module_utils.chain_evaluation import Policy
from ansible_collections.mfa_server.tls.plugins.module_utils.iis_bindings import normalize_thumbprint
from ansible_collections.mfa_server.tls.plugins.module_utils.pfx import PfxError, load_pfx
from ansible_collections.mfa_server.tls.plugins.module_utils.preflight import (
    describe_replacement,
    replacement_problems,
)
from ansible_collections.mfa_server.tls.plugins.module_utils.probe import (
    ProbeInputError,
    revocation_from,
    trust_from,
)
from ansible_collections.mfa_server.tls.plugins.plugin_utils._controller_action import (
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
    # The chain is judged as the probe judges it, with the same trust options (option_specs).
    **option_specs.TRUST,
    **option_specs.REVOCATION,
    "min_days": {"type": "int", "default": 30},
    "return_content": {"type": "bool", "default": False},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PfxError, ProbeInputError)

    def act(self, args: dict, task_vars: dict) -> dict:
        names = [name.strip() for name in args["public_names"] + self._host_names(args["hosts"], task_vars)]
        names = list(dict.fromkeys(name for name in names if name))
        if not names:
            raise ActionFailure(
                "public_names and hosts are empty: give every host name phones use to reach the servers."
            )
        # An AWX survey sends an optional text question left blank as '' (or null): not given.
        args = args | {
            key: args[key] if _given(args[key]) else None for key in ("path", "content", "thumbprint")
        }
        if args["path"] is not None and args["content"] is not None:
            raise ActionFailure(
                "Both mfa_tls_pfx_path and mfa_tls_pfx_content are set: give the PFX once, either as a file on the "
                "controller (mfa_tls_pfx_path) or as its base64 content (mfa_tls_pfx_content, for example from "
                "the 'MFA TLS certificate' credential in AWX), not both."
            )
        if [args["path"], args["content"], args["thumbprint"]].count(None) != 2:
            raise ActionFailure(
                "Give the new certificate either as mfa_tls_pfx_path (with mfa_tls_pfx_password), a PFX file on "
                "the controller, or as mfa_tls_pfx_content, the PFX as base64 (the 'MFA TLS certificate' "
                "credential in AWX), or as mfa_tls_thumbprint, a certificate already in the hosts' machine store; "
                "one of them, not several, not none (or mfa_tls_certificate_source=acme, ordered on the controller)."
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
        store, require_ct = trust_from(args)
        problems = replacement_problems(
            pfx,
            names,
            store,
            args["min_days"],
            policy=Policy(require_ct=require_ct),
            revocation=revocation_from(args),
        )
        if problems:
            return refusal(facts, path, names, problems)
        if args["return_content"]:
            facts["pfx_base64"] = base64.b64encode(data).decode("ascii")
        return facts | {"changed": False}

    @staticmethod
    def _pfx_data(args: dict) -> tuple[str, bytes]:
        """What messages call the PFX, and its bytes, from `path` or from `content`."""
        if args["content"] is not None:
            # Pasted base64 is wrapped (`base64` breaks lines at 76 columns, a credential field keeps them).
            text = "".join(args["content"].split())
            try:
                return "the PFX content", base64.b64decode(text, validate=True)
            except ValueError as error:
                raise ActionFailure(
                    "The PFX content (mfa_tls_pfx_content) is not base64: give the PFX file's bytes as base64, "
                    "for example the output of `base64 -w0 certificate.pfx`."
                ) from error
        path = args["path"]
        try:
            with open(path, "rb") as handle:
                return path, handle.read()
        except OSError as error:
            raise ActionFailure(
                f"Cannot read the PFX {path}: {error.strerror}. Check mfa_tls_pfx_path."
            ) from error

    @staticmethod
    def _host_names(hosts: list[str], task_vars: dict) -> list[str]:
        """Each inventory host's mfa_tls_public_name (the name phones use), else the host's own name."""
        hostvars = task_vars.get("hostvars") or {}
        return [str((hostvars.get(host) or {}).get("mfa_tls_public_name") or host) for host in hosts]


def refusal(facts: dict, path: str, names: list[str], problems: list[str]) -> dict:
    """The failed result for an unfit certificate, as people read it: the message is one line that names the
    certificate and the codes (Ansible prints it twice, as the error and in the result), and each problem is
    one line of `problems`, printed once, in the result shown indented. Nothing else of the certificate is
    returned: its description holds the intermediates' PEM, which would be printed with the failure."""
    codes = list(dict.fromkeys(problem.split(":", 1)[0] for problem in problems))
    message = (
        f"The certificate {facts['subject']} ({facts['thumbprint']}) in {path} is not fit to serve "
        f"{', '.join(names)}: {', '.join(codes)}. Nothing was changed; each problem is listed under 'problems'."
    )
    return {"failed": True, "msg": message, "problems": problems, "_ansible_verbose_always": True}


def _given(value: str | None) -> bool:
    return value is not None and bool(str(value).strip())
