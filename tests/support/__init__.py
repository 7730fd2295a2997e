"""Test support: what the tests, the lab and the benchmarks build on, and what the unit tests need when they
run from the Galaxy artifact (which ships tests/unit and tests/support, not the lab).

- `pki`: the certificate factory (roots, intermediates, leaves, CT log stand-ins);
- `revocation`: an OCSP responder and CRL distribution point on loopback, with faults;
- `contract`: our PowerShell modules' documented contract, read without Windows or pwsh;
- `documentation`: a module's DOCUMENTATION with its doc fragments merged in, as ansible-doc shows it.

Import them as `tests.support.<module>`, with the repository (or collection) root on sys.path: pytest's
`pythonpath` in pyproject.toml, `python -m lab` from the root, bench/ and tests/unit/conftest.py (for
`ansible-test units`) put it there. Nothing here imports the lab.
"""
