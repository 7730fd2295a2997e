"""A small certificate factory: roots, intermediates and leaves with `cryptography`.

Used by the tests (every finding code is provoked by a real chain made here), by the lab (its CAs and host
certificates) and by the benchmarks. It is test support, not lab code, because the unit tests ship in the
Galaxy artifact and the lab does not.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ExtensionOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def new_key(kind: str = "ec", bits: int = 2048) -> PrivateKey:
    """`kind` is "ec" (P-256, or P-192 when bits < 256) or "rsa" (with `bits`)."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    curve = ec.SECP192R1() if bits < 256 else ec.SECP256R1()
    return ec.generate_private_key(curve)


@dataclass
class Issued:
    cert: x509.Certificate
    key: PrivateKey = field(repr=False)

    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def sha1(self) -> str:
        return self.cert.fingerprint(hashes.SHA1()).hex().upper()  # the Windows thumbprint is SHA-1


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mfa_server.tls lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


# cryptography refuses to sign with SHA-1 or MD5; the tests need such certificates (WEAK_SIGNATURE), so
# they are made by signing with SHA-256 and re-signing the TBS part with the legacy hash. The RSA
# signature OIDs for SHA-256, SHA-1 and MD5 have the same length, so a byte swap keeps the DER valid.
_RSA_SIGNATURE_OIDS = {
    "sha256": bytes.fromhex("06092a864886f70d01010b"),
    "sha1": bytes.fromhex("06092a864886f70d010105"),
    "md5": bytes.fromhex("06092a864886f70d010104"),
}


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _sign(builder: x509.CertificateBuilder, signer: PrivateKey, hash_alg: hashes.HashAlgorithm | None):
    if hash_alg is None or hash_alg.name not in ("sha1", "md5"):
        return builder.sign(signer, hash_alg or hashes.SHA256())
    if not isinstance(signer, rsa.RSAPrivateKey):
        raise ValueError("legacy (SHA-1/MD5) signatures are only made with RSA issuer keys")
    modern = builder.sign(signer, hashes.SHA256())
    legacy_oid = _RSA_SIGNATURE_OIDS[hash_alg.name]
    tbs = modern.tbs_certificate_bytes.replace(_RSA_SIGNATURE_OIDS["sha256"], legacy_oid, 1)
    signature = signer.sign(tbs, padding.PKCS1v15(), hash_alg)
    algorithm = _der(0x30, legacy_oid + b"\x05\x00")
    certificate = _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(certificate)


def default_start(not_after: dt.datetime | None = None) -> dt.datetime:
    """A day ago, and never after a day before `not_after`: a caller's "expired a day ago" read the clock an
    instant earlier, and a second boundary between the two reads would put the start after the end."""
    start = now() - dt.timedelta(days=1)
    return min(start, not_after - dt.timedelta(days=1)) if not_after is not None else start


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
    serial_number: int | None = None,
) -> x509.CertificateBuilder:
    start = not_before or default_start(not_after)
    end = not_after or start + dt.timedelta(days=365)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def _aia(ca_issuers_url: str | None, ocsp_url: str | None = None) -> x509.AuthorityInformationAccess:
    descriptions = []
    if ocsp_url:
        descriptions.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
        )
    if ca_issuers_url:
        descriptions.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers_url)
            )
        )
    return x509.AuthorityInformationAccess(descriptions)


def _crl_distribution_point(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


# Certificate Transparency (RFC 6962 3.3): a public CA embeds the signed certificate timestamps (SCTs) that logs
# returned for the precertificate, as the extension 1.3.6.1.4.1.11129.2.4.2 whose value is an OCTET STRING
# holding a TLS-encoded SignedCertificateTimestampList. `cryptography` parses that extension but cannot build
# one, so it is encoded here. The lab's logs are names only: a log id is the SHA-256 of the name (a real one is
# the SHA-256 of the log's public key), and the signature is made with a per-log key but is never verified by
# the trust engine, which counts SCTs from distinct logs as Apple's policy does (docs/phone-rules.md).
LAB_CT_LOGS = ("lab-ct-log-argon", "lab-ct-log-xenon", "lab-ct-log-nimbus")


def ct_log_id(log_name: str) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(log_name.encode())
    return digest.finalize()


def _tls_vector(data: bytes, length_bytes: int = 2) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _sct(log_name: str, timestamp: dt.datetime, tbs_digest: bytes) -> bytes:
    """One SCT v1: version, log id, timestamp (ms), no extensions, an ECDSA-SHA256 signature."""
    log_key = ec.derive_private_key(int.from_bytes(ct_log_id(log_name), "big") % (2**255), ec.SECP256R1())
    millis = int(timestamp.timestamp() * 1000).to_bytes(8, "big")
    signature = log_key.sign(millis + tbs_digest, ec.ECDSA(hashes.SHA256()))
    hash_sha256, sig_ecdsa = 4, 3  # RFC 5246 7.4.1.4.1 HashAlgorithm / SignatureAlgorithm codes
    return (
        b"\x00"
        + ct_log_id(log_name)
        + millis
        + _tls_vector(b"")
        + bytes([hash_sha256, sig_ecdsa])
        + _tls_vector(signature)
    )


def _sct_list(log_names: list[str], timestamp: dt.datetime, subject_key: bytes) -> x509.UnrecognizedExtension:
    scts = b"".join(_tls_vector(_sct(name, timestamp, subject_key)) for name in log_names)
    return x509.UnrecognizedExtension(
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, _der(0x04, _tls_vector(scts))
    )


def make_root(
    common_name: str,
    *,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
) -> Issued:
    key = key or new_key()
    name = _name(common_name)
    builder = (
        _builder(name, name, key.public_key(), not_before, not_after or now() + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return Issued(_sign(builder, key, hash_alg), key)


def make_intermediate(
    issuer: Issued,
    common_name: str,
    *,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    aia_url: str | None = None,
    path_length: int | None = 0,
) -> Issued:
    """An issuing CA; `path_length=None` lets it sign further intermediates."""
    key = key or new_key()
    builder = (
        _builder(
            _name(common_name),
            issuer.cert.subject,
            key.public_key(),
            not_before,
            not_after or now() + dt.timedelta(days=1825),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    if aia_url:
        builder = builder.add_extension(_aia(aia_url), critical=False)
    return Issued(_sign(builder, issuer.key, hash_alg), key)


def make_leaf(
    issuer: Issued | None,
    names: list[str],
    *,
    common_name: str | None = None,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    aia_url: str | None = None,
    include_san: bool = True,
    ocsp_url: str | None = None,
    crl_url: str | None = None,
    ct_logs: list[str] | tuple[str, ...] = (),
    serial_number: int | None = None,
) -> Issued:
    """A server certificate for `names` (DNS names or IP addresses). `issuer=None` makes it self-signed.

    `ocsp_url` and `aia_url` go into Authority Information Access, `crl_url` into CRL Distribution Points;
    `ct_logs` names the lab CT logs (LAB_CT_LOGS) whose SCTs are embedded, one per log.
    """
    key = key or new_key()
    subject = _name(common_name or (names[0] if names else "server"))
    issuer_name = issuer.cert.subject if issuer else subject
    not_before = not_before or default_start(not_after)
    builder = (
        _builder(subject, issuer_name, key.public_key(), not_before, not_after, serial_number)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(key), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku if eku is not None else [SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(_aki(issuer), critical=False)
    if include_san and names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
    if aia_url or ocsp_url:
        builder = builder.add_extension(_aia(aia_url, ocsp_url), critical=False)
    if crl_url:
        builder = builder.add_extension(_crl_distribution_point(crl_url), critical=False)
    if ct_logs:
        subject_key = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
        builder = builder.add_extension(_sct_list(list(ct_logs), not_before, subject_key), critical=False)
    signer = issuer.key if issuer else key
    return Issued(_sign(builder, signer, hash_alg), key)


def pfx_bytes(leaf: Issued, chain: list[Issued], password: str | None, *, include_key: bool = True) -> bytes:
    """A PKCS#12 file as Windows' certificate export writes it (leaf, its key, then the chain)."""
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(
        name=b"mfa_server.tls",
        key=leaf.key if include_key else None,
        cert=leaf.cert,
        cas=[c.cert for c in chain] or None,
        encryption_algorithm=encryption,
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _aki(issuer: Issued) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage(key: PrivateKey) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
