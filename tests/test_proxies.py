"""Forwarded headers from TRUSTED_PROXIES (meet_external/http/proxies.py): the client address, the
scheme and the host, read from the right end, over every header line (docs/operators.md)."""

import ipaddress
import json
import logging

import pytest

from meet_external.ops import audit

from .conftest import ROOMS_URL, TOKEN_URL

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ff::/48"))
PEER = "10.1.2.3"


@pytest.fixture
def audited():
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(record.getMessage()))

    handler = Collect()
    audit.logger.addHandler(handler)
    yield lines
    audit.logger.removeHandler(handler)


@pytest.fixture
def proxied(make_client):
    with make_client(trusted_proxies=PROXIES, client_address=(PEER, 4000)) as client:
        yield client


def client_address(client, credentials, user, audited, headers) -> str:
    """The address the server took for a failed token request (as the brake and the audit log see it)."""
    response = client.post(TOKEN_URL, headers=headers,
                           json=credentials.token_request(user.email, client_secret="wrong"))
    assert response.status_code == 401, response.text
    return audited[-1]["client_address"]


@pytest.mark.parametrize("lines, expected", [
    (["203.0.113.9"], "203.0.113.9"),
    (["6.6.6.6", "203.0.113.9"], "203.0.113.9"),  # a client's own line, then the proxy's
    (["6.6.6.6, 203.0.113.9", "10.0.0.5"], "203.0.113.9"),  # trusted hops are skipped
    (["203.0.113.9:4711"], "203.0.113.9"),
    (["[2001:db8::1]:443"], "2001:db8::1"),
    (["203.0.113.9:" + "9" * 300], "203.0.113.9"),
    (["2001:DB8:0:0::1"], "2001:db8::1"),
    (["10.0.0.7", "10.0.0.5"], "10.0.0.7"),  # every hop trusted: the left-most
], ids=["one", "two lines", "two lines and a trusted hop", "IPv4 with port", "IPv6 with port", "huge port",
        "IPv6 normalised", "all trusted"])
def test_the_client_is_the_right_most_untrusted_hop_over_all_lines(proxied, credentials, user, audited,
                                                                   lines, expected):
    headers = [("X-Forwarded-For", line) for line in lines]
    assert client_address(proxied, credentials, user, audited, headers) == expected


@pytest.mark.parametrize("value", ["unknown", "evil.example", "1.2.3.4, garbage", "_hidden",
                                   "fe80::1%eth0", "9" * 300, "[::1"])
def test_a_forwarded_value_that_is_no_ip_address_leaves_the_peers(proxied, credentials, user, audited, value):
    """A 300-character "address" was a 500 on PostgreSQL (the brake's column is 64 wide)."""
    assert client_address(proxied, credentials, user, audited, {"X-Forwarded-For": value}) == PEER


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(make_client, credentials, user, audited):
    with make_client(trusted_proxies=PROXIES, client_address=("192.0.2.1", 4000)) as client:
        headers = {"X-Forwarded-For": "203.0.113.9"}
        assert client_address(client, credentials, user, audited, headers) == "192.0.2.1"


def test_an_ipv6_proxy_is_trusted_by_network(make_client, credentials, user, audited):
    with make_client(trusted_proxies=PROXIES, client_address=("2001:db8:ff::2", 4000)) as client:
        headers = {"X-Forwarded-For": "203.0.113.9"}
        assert client_address(client, credentials, user, audited, headers) == "203.0.113.9"


def first_link(client, token, headers) -> tuple:
    auth = [("Authorization", f"Bearer {token}")]
    created = client.post(ROOMS_URL, headers=auth + headers)
    client.post(ROOMS_URL, headers=auth)
    listing = client.get(f"{ROOMS_URL}?page_size=1", headers=auth + headers).json()
    return created.headers["location"].split("/external-api")[0], listing["next"].split("/external-api")[0]


@pytest.mark.parametrize("headers, origin", [
    ([("X-Forwarded-Proto", "https")], "https://testserver"),
    ([("X-Forwarded-Proto", "HTTPS")], "https://testserver"),
    ([("X-Forwarded-Proto", "http, https")], "https://testserver"),
    ([("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http")], "http://testserver"),
    ([("X-Forwarded-Proto", "gopher")], "http://testserver"),
    ([("X-Forwarded-Host", "meet.example.org")], "http://meet.example.org"),
    ([("X-Forwarded-Host", "evil.example, meet.example.org:8443")], "http://meet.example.org:8443"),
    ([("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Host", "meet.example.org")],
     "http://meet.example.org"),
    ([("X-Forwarded-Host", "meet.example.org:99999")], "http://testserver"),
    ([("X-Forwarded-Host", "a b")], "http://testserver"),
    ([("X-Forwarded-Host", "x/y")], "http://testserver"),
], ids=["https", "upper case", "list: right end", "two lines: the last", "not a scheme", "host",
        "list: right end", "two lines: the last", "bad port ignored", "space ignored", "path ignored"])
def test_scheme_and_host_come_from_the_right_end(proxied, credentials, user, headers, origin):
    token = proxied.post(TOKEN_URL, json=credentials.token_request(user.email)).json()["access_token"]
    assert first_link(proxied, token, headers) == (origin, origin)
