"""Templates: WeChat field limits are met by shortening, never by failing (table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.notifications.templates import TEMPLATES, fit_field, render


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("thing1", "短文本", "短文本"),
        ("thing1", "一" * 20, "一" * 20),  # exactly at the limit: unchanged
        ("thing1", "一" * 21, "一" * 19 + "…"),  # one over: shortened to 20
        ("thing2", "  多个   空格\n换行  ", "多个 空格 换行"),
        ("thing3", "", "-"),
        ("phrase3", "报警升级中", "报警升级中"),
        ("phrase3", "严重报警升级", "严重报警…"),
        ("name1", "张" * 11, "张" * 9 + "…"),
        ("character_string1", "ZJ-2026/11-24 #0001 测试", "ZJ-2026/11-24#0001"),
        ("character_string1", "A" * 40, "A" * 32),
        ("number2", "12.5 mm", "12.5"),
        ("time3", datetime(2026, 11, 24, 1, 2, tzinfo=UTC), "2026年11月24日 09:02"),
        ("date4", datetime(2026, 11, 24, 17, 0, tzinfo=UTC), "2026年11月25日"),
    ],
)
def test_fit_field(key, value, expected):
    assert fit_field(key, value) == expected


def test_every_template_renders_within_limits():
    long = "很长的内容" * 20
    for template in TEMPLATES.values():
        data = {source: long for source in template.fields.values()}
        title, body, page, wechat = render(template, data, subject_id="abc")
        assert title and len(title) <= 100 and body
        assert "{" not in page and (page.endswith("abc") or "?" not in page)
        for key, item in wechat.items():
            if key.startswith("thing"):
                assert len(item["value"]) <= 20
            if key.startswith("phrase"):
                assert len(item["value"]) <= 5


def test_missing_data_renders_blank_not_error():
    title, body, _, wechat = render(TEMPLATES["alarm_raised"], {"project": "测试项目"})
    assert "测试项目" in body and wechat["thing2"]["value"] == "-"
