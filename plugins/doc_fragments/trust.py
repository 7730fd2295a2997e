# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """How a chain is trusted, for every module that judges one as a phone does (tls_probe, tls_facts,
    certificate_preflight). The types and defaults are those of module_utils/option_specs.py (TRUST,
    INTERMEDIATES, REVOCATION)."""

    # mfa_server.tls.trust
    DOCUMENTATION = r"""
options:
  trust_bundle:
    description:
      - A PEM file of the root CAs phones trust; a chain is trusted only when it ends at one of them.
      - Defaults to Mozilla's roots as shipped by the Python C(certifi) package.
    type: path
  require_ct:
    description:
      - Require what Apple's Certificate Transparency policy requires of a leaf that validates to the trust store
        and was issued after 2018-10-15, embedded SCTs from distinct logs, at least 2 for a lifetime of at most
        180 days and 3 above. Fewer is V(CT_MISSING), an error, so a replacement certificate is refused.
      - The SCTs are counted and their log ids compared, not verified against a log list.
      - When not set, V(true) with the default (Mozilla) trust store and V(false) with O(trust_bundle), whose
        roots may be private CAs that log nothing.
    type: bool
"""

    # mfa_server.tls.trust.intermediates
    INTERMEDIATES = r"""
options:
  extra_intermediates:
    description:
      - PEM files of intermediate CA certificates, used only to diagnose an incomplete chain.
      - They never make a chain trusted, as phones do not have them; they let the finding say which
        intermediate the server does not send.
    type: list
    elements: path
    default: []
  fetch_aia:
    description:
      - Download a missing intermediate from the certificate's Authority Information Access URL to diagnose an
        incomplete chain. The verdict never uses it, as phones do not.
    type: bool
    default: true
"""

    # mfa_server.tls.trust.revocation
    REVOCATION = r"""
options:
  check_revocation:
    description:
      - Ask the leaf certificate's OCSP responder, or when it names none its CRL distribution point, whether its
        CA has revoked it, for chains that validate to the trust store.
      - V(REVOKED), an error (the chain is not trusted, a replacement certificate is refused), when it has;
        V(REVOCATION_UNKNOWN), info that refuses nothing, with the reason when no verified answer could be had
        (no URL in the certificate, responder unreachable or too slow, error status, bad signature, stale answer).
      - Each certificate is looked up once per task, over plain HTTP (OCSP POST, CRL GET) from where the task
        runs; proxies come from the environment (C(http_proxy), C(no_proxy)).
    type: bool
    default: true
  revocation_timeout:
    description:
      - Seconds allowed for all revocation requests of one certificate (connection, request and answer), on
        their own, apart from any other timeout. Must be greater than 0.
    type: float
    default: 5
"""
