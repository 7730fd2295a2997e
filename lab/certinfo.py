"""What Windows shows of a certificate (X509Certificate2 properties), computed from its DER."""

from __future__ import annotations

import base64
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID

_SHORT = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "S",
    NameOID.LOCALITY_NAME: "L",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.EMAIL_ADDRESS: "E",
}
_SIGNATURE_NAMES = {
    "1.2.840.113549.1.1.11": "sha256RSA",
    "1.2.840.113549.1.1.12": "sha384RSA",
    "1.2.840.113549.1.1.13": "sha512RSA",
    "1.2.840.113549.1.1.5": "sha1RSA",
    "1.2.840.113549.1.1.4": "md5RSA",
    "1.2.840.10045.4.3.2": "sha256ECDSA",
    "1.2.840.10045.4.3.3": "sha384ECDSA",
    "1.2.840.10045.4.3.4": "sha512ECDSA",
}


def dotnet_name(name: x509.Name) -> str:
    """As .NET prints Subject/Issuer: most specific RDN first, ", " between them."""
    parts = []
    for rdn in reversed(list(name.rdns)):
        for attr in rdn:
            parts.append(f"{_SHORT.get(attr.oid, attr.oid.dotted_string)}={attr.value}")
    return ", ".join(parts)


def iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=4096)
def load(der_b64: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(der_b64))


def thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ext.get_values_for_type(x509.DNSName), [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def key_details(cert: x509.Certificate) -> tuple[str, int]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return "unknown", 0


def summary(cert: x509.Certificate) -> dict:
    dns, ips = sans(cert)
    key_algorithm, key_size = key_details(cert)
    oid = cert.signature_algorithm_oid.dotted_string
    return {
        "thumbprint": thumbprint(cert),
        "subject": dotnet_name(cert.subject),
        "issuer": dotnet_name(cert.issuer),
        "serial_number": format(cert.serial_number, "X"),
        "san_dns_names": dns,
        "san_ip_addresses": ips,
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "key_algorithm": key_algorithm,
        "key_size": key_size,
        "signature_algorithm": _SIGNATURE_NAMES.get(oid, oid),
        "signature_algorithm_oid": oid,
    }
