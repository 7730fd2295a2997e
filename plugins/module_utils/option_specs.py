# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options several modules share, each written once: its type and default here, its documentation in
one doc fragment (plugins/doc_fragments; each group below has the fragment of the same name, and
tests/unit/plugins/test_doc_fragments.py keeps the two the same).

The argument specs of tls_probe (module and action), tls_facts and certificate_preflight are built from these
groups, and probe.settings_from takes its defaults from them. Nothing here imports anything, so a module
can build its argument spec even when a library it needs for its work is missing.
"""

from __future__ import annotations

# mfa_server.tls.trust
TRUST = {
    "trust_bundle": {"type": "path"},
    # No default: unset means true with the default (Mozilla) store, false with trust_bundle (resolve_require_ct).
    "require_ct": {"type": "bool"},
}
# mfa_server.tls.trust.intermediates
INTERMEDIATES = {
    "extra_intermediates": {"type": "list", "elements": "path", "default": []},
    "fetch_aia": {"type": "bool", "default": True},
}
# mfa_server.tls.trust.revocation
REVOCATION = {
    "check_revocation": {"type": "bool", "default": True},
    "revocation_timeout": {"type": "float", "default": 5},
}
# mfa_server.tls.probe
PROBE = {
    "expiry_warning_days": {"type": "int", "default": 30},
    "timeout": {"type": "float", "default": 10},
}
# mfa_server.tls.probe.verdict
VERDICT = {
    "fail_when_noncompliant": {"type": "bool", "default": False},
}

# What tls_probe takes beyond the groups; probe.settings_from reads the last two as well.
_TARGETS = {
    "targets": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "url": {"type": "str", "required": True},
            "address": {"type": "str"},
            "check_http_status": {"type": "bool", "default": True},
            "send_name": {"type": "bool", "default": True},
        },
    },
    # Each target's finding codes before a change, in the order of targets: verification by regression.
    "baseline": {
        "type": "list",
        "elements": "dict",
        "options": {
            "url": {"type": "str"},
            "codes": {"type": "list", "elements": "str", "default": []},
        },
    },
}
_PROBE_ONLY = {
    "intermediates_pem": {"type": "list", "elements": "str", "default": []},
    "concurrency": {"type": "int", "default": 16},
}

# Every option probe.settings_from reads, with the default it takes when the option is absent or null.
SETTINGS = {**TRUST, **INTERMEDIATES, **REVOCATION, **PROBE, **_PROBE_ONLY}
TLS_PROBE = {**_TARGETS, **SETTINGS, **VERDICT}


def with_defaults(params: dict, spec: dict) -> dict:
    """`params` for the options of `spec`, an option that is absent or null taking the spec's default.

    Callers other than AnsibleModule (the action plugins' own callers, tests, benchmarks) may give only some
    options; null is what a role passes for a variable left unset.
    """
    return {
        name: params[name] if params.get(name) is not None else option.get("default")
        for name, option in spec.items()
    }
