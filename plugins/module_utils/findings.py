# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding codes: the public contract of every verdict this collection gives.

A code never changes meaning; new codes may be added. `compliant` means no finding of severity error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"

# code -> (severity, remediation). Messages are built where the finding is made, naming the certificate.
CATALOGUE: dict[str, tuple[str, str]] = {
    "PRIVATE_CA": (
        ERROR,
        "Replace the certificate with one issued by a publicly trusted CA; phones ignore roots installed by hand.",
    ),
    "SELF_SIGNED": (
        ERROR,
        "Replace the self-signed certificate with one issued by a publicly trusted CA.",
    ),
    "INCOMPLETE_CHAIN": (
        ERROR,
        "Import the missing intermediate certificate(s) into LocalMachine\\CA (Intermediate Certification "
        "Authorities) on the server so that IIS sends the full chain; phones do not fetch intermediates.",
    ),
    "HOSTNAME_MISMATCH": (
        ERROR,
        "Use a certificate whose Subject Alternative Names include the host name clients use "
        "(the common name alone is not checked by phones).",
    ),
    "EXPIRED": (ERROR, "Renew the certificate and bind the renewed one."),
    "NOT_YET_VALID": (
        ERROR,
        "Bind a certificate that is already valid, or check the server's clock and the certificate's notBefore.",
    ),
    "EXPIRING_SOON": (WARNING, "Renew the certificate before it expires and bind the renewed one."),
    "WEAK_SIGNATURE": (ERROR, "Reissue the certificate signed with SHA-256 or stronger."),
    "WEAK_KEY": (
        ERROR,
        "Reissue the certificate with an RSA key of at least 2048 bits or an EC key of at least 256 bits.",
    ),
    "NO_SERVER_AUTH": (
        ERROR,
        "Use a certificate issued for TLS servers (Extended Key Usage: Server Authentication).",
    ),
    "LEGACY_TLS_ONLY": (
        ERROR,
        "Enable TLS 1.2 (and 1.3 where supported) in SCHANNEL on the server; phones refuse TLS 1.0 and 1.1.",
    ),
    # What phones require beyond a desktop browser (docs/phone-rules.md).
    "VALIDITY_TOO_LONG": (
        ERROR,
        "Reissue the certificate with a validity of at most 398 days (public CAs issue no longer ones); Apple "
        "devices refuse longer-lived server certificates.",
    ),
    "CT_MISSING": (
        ERROR,
        "Reissue the certificate from a public CA that embeds Certificate Transparency SCTs from enough distinct "
        "logs (every public CA does by default); Apple devices and Chrome refuse it without them.",
    ),
    "NO_FORWARD_SECRECY": (
        ERROR,
        "Enable TLS 1.3, or TLS 1.2 with ECDHE cipher suites (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), in the "
        "server's SCHANNEL cipher suite order; App Transport Security refuses suites without forward secrecy.",
    ),
    "LEGACY_TLS_ENABLED": (
        WARNING,
        "Turn TLS 1.0 and 1.1 off: set the binding's 'Disable legacy TLS' flag (sslFlags DisableLegacyTLS) or "
        "disable the protocols in SCHANNEL; phones do not need them.",
    ),
    "REVOKED": (
        ERROR,
        "Bind a new certificate at once: its CA has revoked this one, and clients that check revocation refuse it.",
    ),
    "REVOCATION_UNKNOWN": (
        INFO,
        "Nothing is required; check that the CA's OCSP responder or CRL is reachable if revocation matters here.",
    ),
    # The MFA Server's own path from the Mobile App Web Service to the Web Service SDK (docs/windows-model.md).
    "MFA_SERVER_RETIRED": (
        WARNING,
        "Plan the move to Microsoft Entra multifactor authentication with the MFA Server Migration Utility: since "
        "2024-09-30 MFA Server no longer services multifactor authentication requests.",
    ),
    "SDK_URL_UNSAFE": (
        ERROR,
        "Set the SDK URL in the component's web.config to https://<name>/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx "
        "with a host name that the certificate bound for that address names (not an IP address or localhost).",
    ),
    "SDK_CONNECTION_FAILED": (
        ERROR,
        "Check the SDK URL, the WEB_SERVICE_SDK_AUTHENTICATION_USERNAME/_PASSWORD account (a member of "
        "'PhoneFactor Admins') and that the Web Service SDK reaches the MFA Server service.",
    ),
    "COMPONENT_URL_NOT_FOUND": (
        ERROR,
        "Point the Mobile App Web Service URL in the MFA Server console at the virtual directory that exists "
        "(the upgrade from PhoneFactor renamed it), or restore the old name.",
    ),
    # What the scope adds (module_utils/scope.py): a component phones need without HTTPS, a waiver past its date.
    "MFA_COMPONENT_WITHOUT_HTTPS": (
        ERROR,
        "Add an HTTPS binding to the site of the Mobile App Web Service (IIS Manager, site, Bindings, Add, https), "
        "then run the remediate playbook to give it a publicly trusted certificate. If a proxy terminates HTTPS in "
        "front of it (SSL_REQUIRED false), probe the public URL with tls_probe and exclude the site "
        "(mfa_tls_exclude).",
    ),
    "WAIVER_EXPIRED": (
        ERROR,
        "Fix the endpoint (the other findings say how), or, if the exception still stands, give its waiver in "
        "mfa_tls_waivers a later 'until' and say why in its 'reason'.",
    ),
    "UNREACHABLE": (
        ERROR,
        "Check that the address and port are right, the site is started, and no firewall blocks the path.",
    ),
    "HTTP_NOT_FOUND": (
        ERROR,
        "Check the URL path and that the web component (e.g. the Mobile App Web Service) is installed there.",
    ),
    "CERTIFICATE_MISSING": (
        ERROR,
        "Bind a certificate that exists in LocalMachine\\My or WebHosting with its private key.",
    ),
    # What IIS shows and what HTTP.sys serves can diverge (server-side review only; docs/windows-model.md 4).
    "NO_HTTP_SYS_ENTRY": (
        ERROR,
        "Select the certificate for the binding in IIS Manager, or run the remediate playbook: the binding "
        "has no HTTP.sys entry, so the TLS handshake fails.",
    ),
    "OVERRIDDEN_BY_HIDDEN_ENTRY": (
        ERROR,
        "Delete the hidden entry (netsh http delete sslcert ipport=IP:port) or give that address an IIS binding "
        "of its own; until then connections to that address get the hidden entry's certificate.",
    ),
    "SERVED_BY_FALLBACK_ENTRY": (
        WARNING,
        "Give the binding an HTTP.sys entry of its own (select its certificate in IIS Manager, or let remediation "
        "change it together with the entry that serves it): IIS shows no certificate for it, and a change of "
        "that other entry changes what it serves.",
    ),
    "ORPHANED_HTTP_SYS_ENTRY": (
        WARNING,
        "Check which program registered the entry (netsh http show sslcert) and delete it if nothing uses it.",
    ),
    "FOREIGN_APP_ID": (
        WARNING,
        "Another program registered this HTTP.sys entry; remediation leaves it alone unless forced. Confirm "
        "the owner before changing it.",
    ),
    "LEGACY_METADATA": (
        WARNING,
        "Remove the legacy <customMetadata> properties 5506/5511 for the site from applicationHost.config "
        "(after a backup): IIS's metabase compatibility rewrites or deletes the HTTP.sys entry from them, "
        "e.g. at restart (event 15300).",
    ),
    "BINDING_UNREADABLE": (
        ERROR,
        "Fix the binding in IIS Manager (an IPv6 address must be in brackets, the port a number from 1 to "
        "65535); Windows cannot map it to an HTTP.sys entry.",
    ),
    "UNTRUSTED": (
        ERROR,
        "The chain fails validation for a reason not covered by another finding; inspect the certificate chain.",
    ),
    # What the host review says of a binding that only the MFA Server's own components call (host_review).
    "CALLED_ONLY_BY_MFA_SERVER": (
        INFO,
        "Nothing is required while only the MFA Server's own components call it; give it a publicly trusted "
        "certificate before phones or other hosts are sent to it.",
    ),
    "CHAIN_ORDER": (INFO, "Nothing is required; some old clients need the chain sent in issuing order."),
    "ROOT_SENT": (INFO, "Nothing is required; the server need not send the root, clients already hold it."),
}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    remediation: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def finding(code: str, message: str) -> Finding:
    severity, remediation = CATALOGUE[code]
    return Finding(code=code, severity=severity, message=message, remediation=remediation)


def has_error(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
