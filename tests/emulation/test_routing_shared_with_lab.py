# Copyright: mfa_server.tls contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab routes requests and picks HTTP.sys entries with the collection's own functions (routing, iis_bindings):
one rule, so the lab cannot agree with the modules by sharing a misunderstanding written twice."""

from __future__ import annotations

from ansible_collections.mfa_server.tls.plugins.module_utils import iis_bindings, mfa_checks, routing
from lab import iis as lab_iis

PUBLIC = "mfa.contoso.com"
HOST_IP = "10.0.0.5"


def test_the_lab_and_the_modules_route_with_the_same_functions(monkeypatch):
    assert mfa_checks.route is routing.route
    assert routing.serving_entry is iis_bindings.serving_entry
    calls = []

    def recording(table, port, host, address):
        calls.append((port, host, address))
        return None

    monkeypatch.setattr(routing, "route", recording)
    data = {
        "sites": [
            {
                "id": 1,
                "name": "S",
                "state": "Started",
                "bindings": [{"protocol": "https", "binding_information": "*:443:"}],
            }
        ]
    }
    assert lab_iis.site_for(data, 443, "MFA.contoso.com:443", HOST_IP) is None
    assert calls == [(443, "mfa.contoso.com", HOST_IP)]
    monkeypatch.setattr(routing, "serving_entry", lambda *args: {"key": "from routing"})
    assert lab_iis.select_entry({"http_sys": []}, 443, PUBLIC, HOST_IP) == {"key": "from routing"}
