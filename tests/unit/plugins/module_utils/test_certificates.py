"""Host name matching as phones do it (RFC 6125, no common-name fallback)."""

import pytest

from ansible_collections.mfa_server.tls.plugins.module_utils.certificates import dns_name_matches


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("mfa.contoso.com", "mfa.contoso.com", True),
        ("MFA.Contoso.com", "mfa.contoso.COM", True),
        ("mfa.contoso.com.", "mfa.contoso.com", True),
        ("mfa.contoso.com", "portal.contoso.com", False),
        ("*.contoso.com", "mfa.contoso.com", True),
        ("*.contoso.com", "contoso.com", False),
        ("*.contoso.com", "a.mfa.contoso.com", False),
        ("*.com", "contoso.com", False),
        ("m*.contoso.com", "mfa.contoso.com", False),
        ("mfa.*.com", "mfa.contoso.com", False),
        ("*.*.contoso.com", "a.b.contoso.com", False),
    ],
)
def test_dns_name_matching(pattern, host, matches):
    assert dns_name_matches(pattern, host) is matches
