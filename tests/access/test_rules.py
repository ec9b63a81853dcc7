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


def _who(role, district=None):  # noqa: ANN001, ANN202
    from uuid import uuid4

    from backend.auth.principal import Principal

    return Principal(kind="user", id=uuid4(), role=role, district_id=district)


@pytest.mark.parametrize(("role", "action", "resource", "code"), [
    # separation of duties: the regulated party cannot loosen its own checks
    ("project_lead", "change_camera_settings", {"station_only": [{"field": "plan_spacing_m"}]}, "CAMERA_SETTING_STATION_ONLY"),
    ("inspector", "change_camera_settings", {"station_only": [{"field": "plan_spacing_m"}]}, None),
    ("project_lead", "change_camera_settings", {"station_only": []}, None),
    ("project_lead", "clear_alarm", {"rule": "threshold"}, "ALARM_CLEAR_NEEDS_SUPERVISOR"),
    ("supervisor", "clear_alarm", {"rule": "threshold"}, None),
    ("project_lead", "clear_alarm", {"rule": "offline"}, None),
    ("project_lead", "loosen_monitoring", {"supervising": False, "detail": {"fields": ["rate_per_day"]}},
     "THRESHOLD_LOOSENING_FORBIDDEN"),
    ("supervisor", "loosen_monitoring", {"supervising": True, "detail": {}}, None),
    # payroll steps: approving is the GC's; the GC submits only for a held subcontractor
    ("project_lead", "payroll_step", {"step": "approve", "side": "subcontractor", "held": False}, "FORBIDDEN_ROLE"),
    ("project_lead", "payroll_step", {"step": "approve", "side": "general_contractor", "held": False}, None),
    ("project_lead", "payroll_step", {"step": "submit", "side": "general_contractor", "held": False}, "FORBIDDEN_ROLE"),
    ("project_lead", "payroll_step", {"step": "submit", "side": "general_contractor", "held": True}, None),
    # who asks, not what state: roles and districts
    ("citizen", "view_complaint_as_citizen", {"citizen": None, "joined": False}, "FORBIDDEN_OWNER"),
    ("inspector", "read_city_queue", {}, "FORBIDDEN_DISTRICT"),
    ("citizen", "worker", {}, "FORBIDDEN_ROLE"),
    ("inspector", "review_content", {"district": 330303}, "FORBIDDEN_DISTRICT"),
    ("inspector", "review_content", {"district": 330302}, None),
])
def test_moved_rules_table(role, action, resource, code):
    from backend.access.policy import RULES
    from backend.auth.principal import Role

    reason = RULES[action](_who(Role(role), 330302 if role in ("inspector", "regulator_admin") else None), resource)
    got = reason if reason is None or isinstance(reason, str) else reason[0]
    assert got == code, (role, action, resource, reason)


@pytest.mark.parametrize(("role", "district", "asked", "shown", "code"), [
    ("inspector", 330302, None, 330302, None),
    ("inspector", 330302, 330303, None, "FORBIDDEN_DISTRICT"),
    ("regulator_admin", None, None, None, None),  # a city admin: the whole city
    ("regulator_admin", None, 330303, 330303, None),
    ("project_lead", None, None, None, "FORBIDDEN_ROLE"),
])
def test_staff_district_table(role, district, asked, shown, code):
    from backend.access.scope import staff_district
    from backend.auth.principal import Role
    from backend.errors import Forbidden

    try:
        assert staff_district(_who(Role(role), district), asked) == shown
        assert code is None
    except Forbidden as exc:
        assert exc.code == code
