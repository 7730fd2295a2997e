"""Offline stand-in for ansible-test's get-pip bootstrap script (see tests/ecosystem/collection_copy.py).

ansible-test runs `python get_pip_<version>.py [pip options] pip==<version> --no-setuptools --no-wheel`
to put pip into each empty virtual environment it creates, and downloads the real script from a host that
is not reachable from CI. This stand-in installs the pip bundled with the interpreter (ensurepip), which
needs no network; ansible-test then installs its pinned requirements with it from the package index.
"""

import ensurepip

ensurepip.bootstrap(upgrade=True, default_pip=True)
