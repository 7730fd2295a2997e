# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Facts about single X.509 certificates: names, keys, signatures, host name matching."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import warnings

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    HAS_CRYPTOGRAPHY = True
except ImportError:  # reported by the module with missing_required_lib
    HAS_CRYPTOGRAPHY = False


def load_der(der: bytes) -> x509.Certificate:
    """The certificate in `der`. The endpoints of a fleet send the same intermediates: one object per distinct
    certificate, so that what cryptography parses on first use (names, extensions, key) is parsed once."""
    return _load_der(bytes(der))


@functools.lru_cache(maxsize=256)
def _load_der(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle.

    cryptography warns about (and will one day refuse) certificates with a non-positive serial, one of
    which sits in the Mozilla bundle; it is still a root phones trust, so it is kept and the warning muted.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*serial number.*")
        return x509.load_pem_x509_certificates(data)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM, DER or a PKCS#7 certs-only blob (what AIA URLs serve)."""
    from cryptography.hazmat.primitives.serialization import pkcs7

    if b"-----BEGIN PKCS7-----" in data:
        return pkcs7.load_pem_pkcs7_certificates(data)
    if b"-----BEGIN CERTIFICATE-----" in data:
        return load_pem_bundle(data)
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        return pkcs7.load_der_pkcs7_certificates(data)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def sha1_thumbprint(cert: x509.Certificate) -> str:
    """Windows calls this the thumbprint: upper-case hex of the SHA-1 of the DER."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def sha256_thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def label(cert: x509.Certificate) -> str:
    """How messages name a certificate: its common name and thumbprint."""
    return f"'{common_name(cert.subject)}' ({sha1_thumbprint(cert)[:16]}...)"


def not_before(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc


def not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


# Apple measures a validity period as RFC 5280 defines it, notBefore through notAfter inclusive, in days of
# 86,400 seconds where any time beyond a whole day counts as one more day (support.apple.com 102028, 103214).
SECONDS_PER_DAY = 86_400


def validity_days(cert: x509.Certificate) -> int:
    """The certificate's validity period in days as Apple counts them (a 398-day limit allows at most
    398 * 86,400 seconds from notBefore through notAfter, both included)."""
    seconds = int((not_after(cert) - not_before(cert)).total_seconds()) + 1  # notAfter's own second counts
    return -(-seconds // SECONDS_PER_DAY)


def embedded_sct_log_ids(cert: x509.Certificate) -> list[bytes]:
    """The log id of every SCT embedded in the certificate (RFC 6962 3.3), duplicates included, in order.

    Only counted and compared by callers: the SCT signatures are not verified against a log list."""
    try:
        scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    except x509.ExtensionNotFound:
        return []
    return [sct.log_id for sct in scts]


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in san.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    ]


def describe(cert: x509.Certificate) -> dict[str, str]:
    """How a result names a certificate a server sent (tls_probe's `presented_chain` entries)."""
    return dict(_description(cert))  # a copy: callers own their results


# The endpoints of a fleet send the same intermediates: each is described once, not once per endpoint
# (certificates hash and compare by their DER).
@functools.lru_cache(maxsize=1024)
def _description(cert: x509.Certificate) -> dict[str, str]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sha1": sha1_thumbprint(cert),
        "sha256": sha256_thumbprint(cert),
        "not_before": not_before(cert).isoformat(),
        "not_after": not_after(cert).isoformat(),
    }


def key_type_and_bits(cert: x509.Certificate) -> tuple[str, int]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, 0


def key_description(cert: x509.Certificate) -> str:
    kind, bits = key_type_and_bits(cert)
    return f"{kind} {bits}"


def signature_hash_name(cert: x509.Certificate) -> str:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "unknown"
    return algorithm.name if algorithm is not None else "none"


def is_self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


@functools.lru_cache(maxsize=4096)  # asked several times per chain; certificates hash by their DER
def is_self_signed(cert: x509.Certificate) -> bool:
    return is_self_issued(cert) and signed_by(cert, cert)


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


# A fleet's chains share their intermediates and roots: each issuing link is verified once per run, not once
# per endpoint (certificates hash by their DER, so equal certificates share an entry).
@functools.lru_cache(maxsize=4096)
def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer` names and signed `cert`, for any signature hash (SHA-1 and MD5 included).

    cryptography's own check refuses legacy hashes; the diagnosis needs to see through them to say
    *why* a chain is refused.
    """
    if cert.issuer != issuer.subject:
        return False
    try:
        pad = cert.signature_algorithm_parameters
        hash_algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return False
    if not isinstance(pad, padding.PSS | padding.PKCS1v15):
        pad = None
    return verify_signature(
        issuer.public_key(), cert.signature, cert.tbs_certificate_bytes, hash_algorithm, pad
    )


def verify_signature(public_key, signature: bytes, data: bytes, hash_algorithm, rsa_padding=None) -> bool:
    """Whether `signature` over `data` verifies with `public_key`: RSA (PKCS#1 v1.5 unless `rsa_padding` says
    PSS), ECDSA or EdDSA, for any hash (certificates, OCSP responses and CRLs are signed the same ways)."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and hash_algorithm is not None:
            public_key.verify(signature, data, rsa_padding or padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def allows_server_auth(cert: x509.Certificate) -> bool:
    """No EKU extension means any use (RFC 5280); with one, serverAuth must be listed."""
    return lists_usage(cert, ExtendedKeyUsageOID.SERVER_AUTH, when_absent=True)


def lists_usage(cert: x509.Certificate, usage: x509.ObjectIdentifier, when_absent: bool) -> bool:
    """Whether the certificate's Extended Key Usage lists `usage`; `when_absent` without the extension."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return when_absent
    return usage in usages


def aia_ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def host_as_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The host as an IP address, or None for a DNS name."""
    if ":" not in host and not host.replace(".", "").isdigit():
        return None  # neither IPv6 (has a colon) nor IPv4 (digits and dots): spares a ValueError per name
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def dns_name_matches(pattern: str, host: str) -> bool:
    """RFC 6125 as phones apply it: a wildcard is a whole left-most label, matches exactly one label,
    and needs at least two labels after it (no `*.com`)."""
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if "*" not in pattern:
        return pattern == host
    pattern_labels = pattern.split(".")
    host_labels = host.split(".")
    if pattern_labels[0] != "*" or "*" in ".".join(pattern_labels[1:]) or len(pattern_labels) < 3:
        return False
    return (
        len(host_labels) == len(pattern_labels)
        and host_labels[0] != ""
        and host_labels[1:] == pattern_labels[1:]
    )


def matches_host(cert: x509.Certificate, host: str) -> bool:
    """Only Subject Alternative Names count; the common name is ignored, as phones ignore it."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    address = host_as_ip(host)
    if address is not None:
        return address in san.get_values_for_type(x509.IPAddress)
    return any(dns_name_matches(name, host) for name in san.get_values_for_type(x509.DNSName))
