"""`make demo`: the seed's failure as a phone sees it, then the verdict once a public certificate is served.

What is real: TLS servers on 127.0.0.1 serving a private-CA chain and then a publicly trusted one (the
lab's stand-in public CA), judged by `ansible localhost -m mfa_server.tls.tls_probe`. What this build
does not do yet: change a Windows host. The remediation against emulated MFA Servers comes with the lab.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from lab import pki  # noqa: E402

from ansible_runner import run_module  # noqa: E402
from servers import HTTPSServer  # noqa: E402

PUBLIC_NAME = "mfa.contoso.test"
PATH = "/MultiFactorAuthMobileAppWebService/PfPaWs.asmx"


def probe(server: HTTPSServer, trust_bundle: str | None) -> dict:
    args = {"targets": [{"url": f"https://{PUBLIC_NAME}{PATH}", "address": server.address}]}
    if trust_bundle:
        args["trust_bundle"] = trust_bundle
    result = run_module("mfa_server.tls.tls_probe", args)
    if result.get("failed"):
        sys.exit(f"tls_probe failed: {result.get('msg')}")
    return result["results"][0]


def show(title: str, outcome: dict) -> None:
    verdict = "COMPLIANT" if outcome["compliant"] else "NOT COMPLIANT"
    print(
        f"\n== {title}\n   {outcome['url']} via {outcome['address']}: {verdict}, trusted={outcome['trusted']}, "
        f"HTTP {outcome['http_status']}, {outcome['tls_version']}"
    )
    for cert in outcome["presented_chain"]:
        print(f"   sent: {cert['subject']}  (issuer {cert['issuer']})")
    for finding in outcome["findings"]:
        print(
            f"   [{finding['severity']}] {finding['code']}: {finding['message']}\n      fix: {finding['remediation']}"
        )


def main() -> None:
    private_root = pki.make_root("Contoso Private Root")
    private_ca = pki.make_intermediate(private_root, "Contoso Issuing CA")
    public_root = pki.make_root("Lab Public Root (stand-in for a public CA)")
    public_ca = pki.make_intermediate(public_root, "Lab Public Issuing CA")
    private_leaf = pki.make_leaf(private_ca, [PUBLIC_NAME])
    public_leaf = pki.make_leaf(public_ca, [PUBLIC_NAME])
    routes = {PATH: 200}
    with tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder, "public-roots.pem")
        bundle.write_bytes(public_root.pem())
        with HTTPSServer([private_leaf.pem(), private_ca.pem()], private_leaf.key_pem(), routes) as server:
            show(
                "Before: the seed's private-CA certificate, judged with Mozilla's roots", probe(server, None)
            )
        with HTTPSServer([public_leaf.pem(), public_ca.pem()], public_leaf.key_pem(), routes) as server:
            show(
                "After: a certificate from the (lab) public CA, judged with the lab's public roots",
                probe(server, str(bundle)),
            )
    print(
        "\nThis build judges endpoints only. Changing the IIS bindings of (emulated) MFA Servers is not "
        "part of it yet; see README.md, 'Status'."
    )


if __name__ == "__main__":
    main()
