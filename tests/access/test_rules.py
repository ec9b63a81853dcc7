"""Pure rules of the access policy, table-driven: outbound addresses, client addresses, webhook scope."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("url", "allow", "refused"), [
    ("http://127.0.0.1/x", (), True), ("http://localhost/x", (), True), ("http://[::1]/x", (), True),
    ("http://127.0.0.1/x", ("127.0.0.0/8",), False), ("http://10.1.2.3/x", ("10.1.0.0/16",), False),
    ("http://10.2.0.1/x", ("10.1.0.0/16",), True), ("http://192.168.0.10/x", (), True), ("http://172.16.5.4/x", (), True),
    ("http://100.64.0.1/x", (), True), ("http://8.8.8.8/x", (), False), ("http://114.114.114.114:8080/x", (), False),
    ("rtsp://10.0.0.9/stream", (), True), ("file:///etc/passwd", (), True), ("gopher://8.8.8.8/", (), True),
])
def test_outbound_rule_table(url, allow, refused):
    from backend.access.addresses import check_outbound_url
    from backend.errors import AppError

    try:
        check_outbound_url(url, allow)
        assert not refused, url
    except AppError as exc:
        assert refused and exc.code == "OUTBOUND_URL_REFUSED", (url, exc.code)


@pytest.mark.parametrize(("peer", "xff", "trusted", "client"), [
    ("203.0.113.5", "198.51.100.1", (), "203.0.113.5"),  # no trusted proxy: the header is ignored
    ("10.0.0.2", "198.51.100.1", ("10.0.0.0/8",), "198.51.100.1"),
    ("10.0.0.2", "1.2.3.4, 198.51.100.1", ("10.0.0.0/8",), "198.51.100.1"),  # the left part is the client's own words
    ("10.0.0.2", "198.51.100.1, 10.0.0.3", ("10.0.0.0/8",), "198.51.100.1"),  # two proxies
    ("203.0.113.5", "10.0.0.2", ("10.0.0.0/8",), "203.0.113.5"),  # an untrusted peer cannot claim anything
])
def test_client_address_table(peer, xff, trusted, client):
    from backend.access.addresses import client_address

    assert client_address(peer, xff, trusted) == client


@pytest.mark.parametrize(("hook", "template", "data", "delivered"), [
    ({"templates": ["material_failed"], "districts": []}, "material_failed", {"district_adcode": 330302}, True),
    ({"templates": ["material_failed"], "districts": [330302]}, "material_failed", {"district_adcode": 330302}, True),
    ({"templates": ["material_failed"], "districts": [330303]}, "material_failed", {"district_adcode": 330302}, False),
    ({"templates": ["material_failed"], "districts": [330302]}, "material_failed", {}, False),  # no district: city-wide only
    ({"templates": ["material_failed"], "districts": []}, "complaint_created", {"district_adcode": 330302}, False),
    ({"templates": [], "districts": []}, "material_failed", {}, False),  # nothing subscribed: nothing delivered
    ({"templates": ["alarm_raised"], "districts": [330302]}, "alarm_raised", {"district": "330302"}, True),
])
def test_webhook_scope_table(hook, template, data, delivered):
    from backend.notifications.webhook_scope import matches

    assert matches(hook, template, data) is delivered
