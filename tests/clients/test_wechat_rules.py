"""WeChat's subscribe-message rules as data (backend/clients/wechat_rules.py): boundaries on both sides."""

from __future__ import annotations

import pytest

from backend.clients import wechat_rules as rules


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [
        ("thing", "一" * 20, True),
        ("thing", "一" * 21, False),
        ("thing", "CX-03 深层水平位移 32.5mm", True),
        ("thing", "换\n行", False),
        ("thing", "", False),
        ("number", "1" * 32, True),
        ("number", "1" * 33, False),
        ("number", "12.5", True),
        ("number", "-12.5", False),
        ("number", "12.5mm", False),
        ("letter", "A" * 32, True),
        ("letter", "A" * 33, False),
        ("letter", "AB1", False),
        ("symbol", "%%%%%", True),
        ("symbol", "%%%%%%", False),
        ("symbol", "a%", False),
        ("character_string", "ZJ-2026/11-24#0001", True),
        ("character_string", "A" * 33, False),
        ("character_string", "ZJ 0001", False),
        ("character_string", "编号1", False),
        ("time", "15:01", True),
        ("time", "2019年10月1日 15:01", True),
        ("time", "2019年10月1日 15:01~2019年10月1日 18:00", True),
        ("time", "2026-12-03 23:07", True),
        ("time", "2026-12-03T23:07:14.123+00:00", False),
        ("time", "2026-12-03 23:07:14…", False),
        ("time", "25:00", False),
        ("time", "2019年2月30日 15:01", False),
        ("time", "现在", False),
        ("date", "2019年10月1日", True),
        ("date", "2019年10月1日 15:01", True),
        ("date", "15:01", False),
        ("date", "2019年13月1日", False),
        ("amount", "¥100.00", True),
        ("amount", "100.00元", True),
        ("amount", "¥1234567890", True),
        ("amount", "¥12345678901", False),
        ("amount", "100", False),
        ("amount", "¥¥100", False),
        ("phone_number", "+86-0766-66888866", True),
        ("phone_number", "1" * 18, False),
        ("phone_number", "电话123", False),
        ("car_number", "粤A8Z888挂", True),
        ("car_number", "粤A8Z888挂1", False),
        ("car_number", "粤A中Z88", False),
        ("name", "张" * 10, True),
        ("name", "张" * 11, False),
        ("name", "A" * 20, True),
        ("name", "A" * 21, False),
        ("name", "张A" * 5, True),
        ("name", "张A" * 6, False),
        ("name", "张三1", False),
        ("phrase", "配送中", True),
        ("phrase", "报警升级中", True),
        ("phrase", "严重报警升级", False),
        ("phrase", "报警1", False),
    ],
)
def test_field_type_limits(kind, value, ok):
    assert rules.FIELD_TYPES[kind].accepts(value) is ok


def test_every_documented_type_is_present_with_source():
    assert set(rules.FIELD_TYPES) == {
        "thing", "number", "letter", "symbol", "character_string", "time", "date", "amount",
        "phone_number", "car_number", "name", "phrase",
    }
    for t in rules.FIELD_TYPES.values():
        assert t.source and t.allowed and t.accepts(t.example), t.name


def test_check_data_names_the_refused_key():
    assert rules.check_data({"thing1": {"value": "好"}, "time2": {"value": "15:01"}}) is None
    assert rules.check_data({"thing1": {"value": "好"}, "time2": {"value": "现在"}}) == "time2"
    assert rules.check_data({"thing1": {"value": 5}}) == "thing1"  # values are strings
    assert rules.check_data({"unknown1": {"value": "x"}}) == "unknown1"
    assert rules.check_data({}) == "data"
    assert rules.errmsg_47003("time2") == "argument invalid! data.time2.value"


@pytest.mark.parametrize(
    ("page", "ok"),
    [("", True), ("pages/case/detail?id=1", True), ("pages/case/detail", True), ("pages/nope/index", False),
     ("pages/case/detail?id=1 2", False), ("https://example.com", False)],
)
def test_page_rule(page, ok):
    assert rules.page_ok(page, frozenset({"pages/case/detail"})) is ok


@pytest.mark.parametrize(
    ("errcode", "action"),
    [
        (-1, rules.Action.RETRY), (rules.NETWORK_ERROR, rules.Action.RETRY), (45009, rules.Action.RETRY),
        (40001, rules.Action.REFRESH_TOKEN), (40014, rules.Action.REFRESH_TOKEN), (42001, rules.Action.REFRESH_TOKEN),
        (40003, rules.Action.BAD_OPENID), (43101, rules.Action.NO_QUOTA),
        (40037, rules.Action.FAIL), (41030, rules.Action.FAIL), (47003, rules.Action.FAIL), (99999, rules.Action.FAIL),
    ],
)
def test_error_code_actions(errcode, action):
    assert rules.action_for(errcode) is action
