"""Templates: every value is fitted to its WeChat field type wherever it comes from (table-driven)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.clients import wechat_rules as rules
from backend.notifications.templates import TEMPLATES, fit_field, render


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("thing1", "短文本", "短文本"),
        ("thing1", "一" * 20, "一" * 20),  # exactly at the limit: unchanged
        ("thing1", "一" * 21, "一" * 19 + "…"),  # one over: shortened to 20
        ("thing2", "  多个   空格\n换行  ", "多个 空格 换行"),
        ("thing3", "", "无"),
        ("thing3", None, "无"),
        ("phrase3", "报警升级中", "报警升级中"),
        ("phrase3", "严重报警升级", "严重报警升"),
        ("phrase3", "alarm", "无"),
        ("name1", "张" * 11, "张" * 9 + "…"),
        ("character_string1", "ZJ-2026/11-24 #0001 测试", "ZJ-2026/11-24#0001"),
        ("character_string1", "A" * 40, "A" * 32),
        ("number2", "12.5 mm", "12.5"),
        ("number2", -3.25, "3.25"),
        ("amount3", "1234.5元", "¥1234.50"),
        ("amount3", Decimal(88), "¥88.00"),
        ("time3", datetime(2026, 11, 24, 1, 2, tzinfo=UTC), "2026年11月24日 09:02"),
        # the alarm bug of issue #16: a UTC ISO string after a JSON round trip, shown in the city's zone
        ("time4", "2026-12-03T23:07:14.123456+00:00", "2026年12月4日 07:07"),
        ("time4", "2026-12-03 23:07:14", "2026年12月4日 07:07"),  # naive: stored times are UTC
        ("time4", 1764803234, "2025年12月4日 07:07"),  # epoch seconds
        ("time4", "15:01", "15:01"),  # already a documented form: kept
        ("date4", datetime(2026, 11, 24, 17, 0, tzinfo=UTC), "2026年11月25日"),
        ("date4", "2026-11-24T17:00:00Z", "2026年11月25日"),
    ],
)
def test_fit_field(key, value, expected):
    assert fit_field(key, value) == expected


def test_unreadable_time_becomes_the_moment_the_message_was_made():
    now = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)
    assert fit_field("time3", None, now) == "2026年12月4日 00:30"
    assert fit_field("time3", "现在", now) == "2026年12月4日 00:30"


def _random_values(rng: random.Random) -> list[object]:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 366 * 86400))
    text = "".join(rng.choice("质监深基坑测点报警ABCxyz0123456789 -_.,:;!?（）【】\n\t😀/#%¥") for _ in range(rng.randrange(0, 60)))
    return [
        None, "", moment, moment.isoformat(), json.loads(json.dumps(moment.isoformat())), moment.timestamp(),
        rng.uniform(-1e6, 1e6), rng.randrange(-10**12, 10**12), Decimal(str(round(rng.uniform(0, 1e9), 2))), text,
        text * 5, True,
    ]


@pytest.mark.parametrize("kind", sorted(rules.FIELD_TYPES))
def test_every_fitted_value_is_accepted_by_the_rules(kind):
    rng = random.Random(kind)
    for _ in range(40):
        for value in _random_values(rng):
            fitted = fit_field(f"{kind}1", value)
            assert rules.FIELD_TYPES[kind].accepts(fitted), (kind, value, fitted)


def test_every_template_renders_valid_wechat_data():
    rng = random.Random(16)
    for template in TEMPLATES.values():
        assert all(rules.field_type(k) is not None for k in template.fields), template.key
        for _ in range(30):
            values = _random_values(rng)
            data = {source: rng.choice(values) for source in template.fields.values()}
            title, _body, page, wechat = render(template, data, subject_id="abc")
            assert len(title) <= 100
            assert "{" not in page and (page.endswith("abc") or "?" not in page)
            assert rules.check_data(wechat) is None, (template.key, data, wechat)


def test_missing_data_renders_a_valid_placeholder_not_an_error():
    _title, body, _, wechat = render(TEMPLATES["alarm_raised"], {"project": "测试项目"})
    assert "测试项目" in body and wechat["thing2"]["value"] == "无"
    assert rules.check_data(wechat) is None


def test_inbox_text_shows_iso_times_in_the_city_zone():
    _, body, _, _ = render(TEMPLATES["alarm_raised"], {"project": "P", "time": "2026-12-03T23:07:14+00:00"})
    assert "2026-12-04 07:07" in body
