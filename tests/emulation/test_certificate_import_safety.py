"""certificate_import on the hosts and PFX files that broke it (docs/windows-model.md, sections 5 and 6).

Each test reproduces one defect against the lab emulation, and the static checks tie the emulation to what
the .ps1 does:

1. a host without `EphemeralKeySet` (.NET Framework < 4.7.2, stock Server 2016 with 4.6.2): a probe import
   into the user key set fails over WinRM with "The specified network password is not correct.";
2. a PFX made with a NULL password opens only with NULL, one made with "" only with "" (PFXImportCertStore);
3. a PFX whose root is a v1 certificate (no BasicConstraints): the leaf is the certificate with the key;
4. `import_fails`: `changed` only after a write succeeded, and the writes listed on a partial failure;
5. dates and order independent of the host's culture (static checks of the .ps1);
7. thumbprints normalised one way.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from lab.modules import certificate_import as emulation
from lab.state import HostState
from tests.support import pki
from tests.support.lab_harness import ROOT, Lab, running_lab
from tests.support.return_schema import documented

MODULE = "mfa_server.tls.certificate_import"
PS1 = ROOT / "plugins" / "modules" / "certificate_import.ps1"
SERVER_2016_RELEASE = 394802  # .NET Framework 4.6.2 as Windows Server 2016 ships it


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    directory = tmp_path_factory.mktemp("import-safety-lab")
    scenario = directory / "scenario.json"
    scenario.write_text(
        json.dumps(
            {"base": "private-ca", "hosts": {"mfa01": {"dotnet_framework_release": SERVER_2016_RELEASE}}}
        )
    )
    with running_lab(directory / "lab", 3, str(scenario)) as running:
        yield running


def valid(result: dict) -> dict:
    return documented("certificate_import", result)


def chain(names: list[str]) -> tuple[pki.Issued, pki.Issued, pki.Issued]:
    root = pki.make_root("Safety Root CA")
    issuing = pki.make_intermediate(root, "Safety Issuing CA")
    return root, issuing, pki.make_leaf(issuing, names)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def store(lab: Lab, host: str, name: str) -> list[dict]:
    return lab.raw_state(host)["stores"][name]


def in_store(lab: Lab, host: str, name: str, thumbprint: str) -> dict | None:
    return next((e for e in store(lab, host, name) if e["thumbprint"] == thumbprint), None)


# ---- PFX files Windows treats differently from OpenSSL -------------------------------------------------


def pfx_empty_password(leaf: pki.Issued, cas: list[pki.Issued]) -> bytes:
    """A PFX made with the empty password "": cryptography's NoEncryption (bags in clear) MACs over ""."""
    return pkcs12.serialize_key_and_certificates(
        b"mfa", leaf.key, leaf.cert, [c.cert for c in cas] or None, serialization.NoEncryption()
    )


def pfx_null_password(leaf: pki.Issued, cas: list[pki.Issued]) -> bytes:
    """The same PFX with its MAC over a NULL password (what PFXExportCertStoreEx with NULL writes)."""
    return emulation.remac(pfx_empty_password(leaf, cas), None)


def root_without_basic_constraints(common_name: str) -> pki.Issued:
    """A v3 self-signed certificate with no extensions at all (no BasicConstraints)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.now() - dt.timedelta(days=1))
        .not_valid_after(pki.now() + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return pki.Issued(cert, key)


def v1_root(common_name: str) -> pki.Issued:
    """A real X.509 v1 self-signed certificate (no version field, no extensions), as old roots are."""
    v3 = root_without_basic_constraints(common_name)
    key = v3.key
    tbs = v3.cert.tbs_certificate_bytes
    header = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)
    body = tbs[header:]
    assert body.startswith(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2 (v3): dropped = v1
    tbs_v1 = pki._der(0x30, body[5:])
    signature = key.sign(tbs_v1, ec.ECDSA(hashes.SHA256()))
    algorithm = pki._der(0x30, bytes.fromhex("06082a8648ce3d040302"))  # ecdsa-with-SHA256
    cert = x509.load_der_x509_certificate(
        pki._der(0x30, tbs_v1 + algorithm + pki._der(0x03, b"\x00" + signature))
    )
    assert cert.version == x509.Version.v1 and len(cert.extensions) == 0
    return pki.Issued(cert, key)


def test_emulated_pfximportcertstore_is_exact_about_null_and_empty():
    _root, _issuing, leaf = chain(["exact.test"])
    null_made, empty_made = pfx_null_password(leaf, []), pfx_empty_password(leaf, [])
    # cryptography's NoEncryption MACs over "" (checked with the emulation's MAC, which agrees with OpenSSL's)
    assert emulation.windows_opens(empty_made, "")
    # OpenSSL (and so cryptography) is lenient: it tries NULL and "" itself, so both open both files ...
    for data in (null_made, empty_made):
        for password in (None, b""):
            assert pkcs12.load_key_and_certificates(data, password)[0] is not None
    # ... Windows is not: the MAC must be verified with exactly the password the file was made with.
    assert emulation.windows_opens(null_made, None) and not emulation.windows_opens(null_made, "")
    assert emulation.windows_opens(empty_made, "") and not emulation.windows_opens(empty_made, None)
    protected = pki.pfx_bytes(leaf, [], "Secret-1")
    assert emulation.windows_opens(protected, "Secret-1")
    assert not emulation.windows_opens(protected, "secret-1") and not emulation.windows_opens(protected, None)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_emulated_mac_check_agrees_with_openssl(tmp_path):
    """The MAC check of the emulation against files OpenSSL's own tool writes (-passout pass: is "")."""
    _root, _issuing, leaf = chain(["openssl.test"])
    (tmp_path / "leaf.pem").write_bytes(leaf.pem() + leaf.key_pem())
    for password in ("", "Other-2"):
        out = tmp_path / f"made-{len(password)}.pfx"
        made = subprocess.run(
            [
                *("openssl", "pkcs12", "-export", "-in", str(tmp_path / "leaf.pem")),
                *("-out", str(out), "-passout", f"pass:{password}"),
            ],
            capture_output=True,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        data = out.read_bytes()
        assert emulation.windows_opens(data, password)
        assert not emulation.windows_opens(data, None if password == "" else "")


# ---- 1. no EphemeralKeySet: never the user key set ---------------------------------------------------


def test_old_dotnet_host_imports_through_the_machine_key_set(lab):
    host = "mfa01"
    assert lab.raw_state(host)["dotnet_framework_release"] == SERVER_2016_RELEASE
    _root, issuing, leaf = chain([f"{host}.old-dotnet.test"])
    args = {"content": b64(pki.pfx_bytes(leaf, [issuing], "Pfx-Pass-1")), "password": "Pfx-Pass-1"}
    checked = valid(lab.module(host, MODULE, args, check=True))
    assert not checked["failed"] and checked["changed"], checked
    done = valid(lab.module(host, MODULE, args))
    assert not done["failed"] and done["changed"] and done["leaf_added"], done
    entry = in_store(lab, host, "My", leaf.sha1)
    assert entry and entry["has_private_key"] and entry["private_key_machine"] and not entry["exportable"]
    assert "Pfx-Pass-1" not in json.dumps(done)


def test_the_ps1_never_uses_the_user_key_set():
    """What the emulation assumes of the .ps1: every PFX import is MachineKeySet; the probe does not persist
    (no PersistKeySet) and releases its certificates; nothing depends on EphemeralKeySet."""
    source = PS1.read_text()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    for flag in ("EphemeralKeySet", "UserKeySet", "DefaultKeySet"):
        assert flag not in code, flag
    imports = re.findall(r"\.Import\(\$bytes, \$(\w+), \$(\w+)\)", code)
    assert len(imports) == 2, imports
    assert re.search(
        r"\$probeFlags = \[System\.Security\.Cryptography\.X509Certificates\.X509KeyStorageFlags\]"
        r"'MachineKeySet'",
        code,
    )
    assert re.search(
        r"\$flags = \[System\.Security\.Cryptography\.X509Certificates\.X509KeyStorageFlags\]"
        r"'MachineKeySet, PersistKeySet'",
        code,
    )
    assert ".Reset()" in code


# ---- 2. NULL and "" passwords ---------------------------------------------------------------------------


@pytest.mark.parametrize("made_with", ["null", "empty"])
@pytest.mark.parametrize("given", [None, ""])
def test_pfx_without_password_imports_whichever_way_it_was_made(lab, made_with, given):
    host = "mfa02"
    _root, issuing, leaf = chain([f"{made_with}-{given!r}.nopass.test"])
    data = (pfx_null_password if made_with == "null" else pfx_empty_password)(leaf, [issuing])
    args = {"content": b64(data)} | ({} if given is None else {"password": given})
    result = valid(lab.module(host, MODULE, args))
    assert not result["failed"] and result["changed"] and result["thumbprint"] == leaf.sha1, result
    assert in_store(lab, host, "My", leaf.sha1)["has_private_key"]
    again = valid(lab.module(host, MODULE, args))
    assert not again["failed"] and not again["changed"], again


def test_a_password_is_never_tried_as_null_or_empty(lab):
    host = "mfa02"
    _root, _issuing, leaf = chain(["wrong.nopass.test"])
    result = lab.module(host, MODULE, {"content": b64(pfx_null_password(leaf, [])), "password": "Guess-1"})
    assert result["failed"] and not result["changed"] and "cannot open the PFX" in result["msg"], result
    assert "Guess-1" not in json.dumps(result)
    assert in_store(lab, host, "My", leaf.sha1) is None


# ---- 3. the leaf is the certificate with the private key ----------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v3-without-basic-constraints"])
def test_pfx_with_a_root_without_basic_constraints(lab, version):
    host = "mfa03"
    if version == "v1":
        root = v1_root("Safety Legacy Root v1")
    else:
        root = root_without_basic_constraints("Safety Legacy Root v3")
    issuing = pki.make_intermediate(root, f"Safety Issuing CA under {version}")
    leaf = pki.make_leaf(issuing, [f"{version}.legacy-root.test"])
    args = {"content": b64(pki.pfx_bytes(leaf, [issuing, root], "Pfx-Pass-3")), "password": "Pfx-Pass-3"}
    result = valid(lab.module(host, MODULE, args))
    assert not result["failed"], result["msg"]
    assert result["thumbprint"] == leaf.sha1 and result["leaf_added"]
    assert [c["thumbprint"] for c in result["intermediates_added"]] == [issuing.sha1]
    assert [c["thumbprint"] for c in result["roots_skipped"]] == [root.sha1]
    assert in_store(lab, host, "Root", root.sha1) is None and in_store(lab, host, "CA", root.sha1) is None
    with_roots = valid(lab.module(host, MODULE, args | {"import_roots": True}))
    assert [c["thumbprint"] for c in with_roots["roots_added"]] == [root.sha1]
    assert in_store(lab, host, "Root", root.sha1) is not None


def test_chain_only_and_keyless_pfx_still_refused(lab):
    host = "mfa03"
    before = lab.raw_state(host)["stores"]
    root, issuing, leaf = chain(["refused.test"])
    keyless = lab.module(
        host,
        MODULE,
        {"content": b64(pki.pfx_bytes(leaf, [issuing], "P-4", include_key=False)), "password": "P-4"},
    )
    assert keyless["failed"] and not keyless["changed"] and "without its private key" in keyless["msg"]
    chain_only = pkcs12.serialize_key_and_certificates(
        b"ca", None, None, [issuing.cert, root.cert], serialization.BestAvailableEncryption(b"P-4")
    )
    refused = lab.module(host, MODULE, {"content": b64(chain_only), "password": "P-4"})
    assert refused["failed"] and not refused["changed"] and "no end-entity certificate" in refused["msg"]
    assert lab.raw_state(host)["stores"] == before


# ---- 4. changed only after a write succeeded -------------------------------------------------------------


def arm(lab: Lab, host: str, value) -> None:
    with HostState(lab.dir, host).change() as live:
        live["faults"]["import_fails"] = value


def test_import_failing_before_any_write_reports_no_change(lab):
    host = "mfa03"
    _root, issuing, leaf = chain(["fails-first.test"])
    args = {"content": b64(pki.pfx_bytes(leaf, [issuing], "P-5")), "password": "P-5"}
    before = lab.raw_state(host)["stores"]
    arm(lab, host, True)
    try:
        result = lab.module(host, MODULE, args)
    finally:
        arm(lab, host, False)
    assert result["failed"] and result["changed"] is False, result
    assert result["written"] == []
    assert "importing the PFX failed" in result["msg"] and "nothing was changed" in result["msg"]
    assert lab.raw_state(host)["stores"] == before


def test_import_failing_after_a_write_reports_the_change_and_lists_it(lab):
    host = "mfa03"
    _root, issuing, leaf = chain(["fails-later.test"])
    args = {"content": b64(pki.pfx_bytes(leaf, [issuing], "P-6")), "password": "P-6"}
    arm(lab, host, "CA")  # the leaf goes into My, then adding the intermediate to CA is refused
    try:
        result = lab.module(host, MODULE, args)
    finally:
        arm(lab, host, False)
    assert result["failed"] and result["changed"] is True, result
    assert result["written"] == [{"store": "My", "thumbprint": leaf.sha1, "action": "added"}]
    assert "LocalMachine\\CA" in result["msg"] and "run the module again" in result["msg"].lower()
    assert in_store(lab, host, "My", leaf.sha1)["has_private_key"]
    assert in_store(lab, host, "CA", issuing.sha1) is None
    finished = valid(lab.module(host, MODULE, args))
    assert finished["changed"] and not finished["leaf_added"]
    assert [c["thumbprint"] for c in finished["intermediates_added"]] == [issuing.sha1]
    assert finished["written"] == [{"store": "CA", "thumbprint": issuing.sha1, "action": "added"}]


# ---- 5. culture ---------------------------------------------------------------------------------------------


def test_ps1_formats_dates_and_sorts_without_the_culture():
    source = PS1.read_text()
    assert "Sort-Object" not in source and "-Format" not in source
    for call in re.findall(r"\.ToString\(([^)]*)\)", source):
        assert "InvariantCulture" in call, call
    assert "ConvertTo-IsoDate" in source


# ---- 7. thumbprints ---------------------------------------------------------------------------------------


def test_thumbprints_are_normalised_as_the_shared_rules_say(lab):
    rules = json.loads((ROOT / "tests" / "vectors" / "windows_rules.json").read_text())["thumbprints"]
    for rule in rules:
        assert emulation.normalize_thumbprint(rule["input"]) == rule["output"], rule
    host = "mfa02"
    _root, issuing, leaf = chain(["thumbprint.test"])
    args = {"content": b64(pki.pfx_bytes(leaf, [issuing], "P-7")), "password": "P-7"}
    assert valid(lab.module(host, MODULE, args))["changed"]
    spaced = " ".join(leaf.sha1[i : i + 2].lower() for i in range(0, 40, 2))
    with HostState(lab.dir, host).change() as live:  # as a hand-written scenario may hold it
        for entry in live["stores"]["My"]:
            if entry["thumbprint"] == leaf.sha1:
                entry["thumbprint"] = "\u200e" + spaced
    again = valid(lab.module(host, MODULE, args))
    assert not again["changed"] and again["thumbprint"] == leaf.sha1
    assert re.fullmatch(r"[0-9A-F]{40}", again["intermediates_present"][0]["thumbprint"])
