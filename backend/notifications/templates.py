"""Every message template in one place: zh-CN inbox text and WeChat subscribe-message fields.

WeChat checks each data value against its field type (47003 when it does not fit); we shorten
values safely instead of failing a send: thing ≤ 20 characters, name ≤ 10, phrase ≤ 5,
character_string / number / letter ≤ 32, time / date formatted in the city's zone (settings.TIMEZONE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.settings import Settings, get_settings

_ELLIPSIS = "…"

# WeChat field type → maximum length (characters).
FIELD_LIMITS = {
    "thing": 20,
    "name": 10,
    "phrase": 5,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
    "amount": 11,
}


@dataclass(frozen=True, slots=True)
class Template:
    """A message: inbox title/body formats and the WeChat fields filled from the same data."""

    key: str
    wechat_template_id: str
    title: str
    body: str
    page: str
    fields: dict[str, str] = field(default_factory=dict)  # wechat key (e.g. "thing1") → data key


TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in [
        Template(
            key="generic_notice",
            wechat_template_id="tmpl_generic_notice",
            title="{title}",
            body="{content}",
            page="pages/inbox/index",
            fields={"thing1": "title", "thing2": "content", "time3": "time"},
        ),
        Template(
            key="complaint_status",
            wechat_template_id="tmpl_complaint_status",
            title="您的投诉有新进展",
            body="投诉“{summary}”状态变为：{status}。{note}",
            page="pages/complaint/detail?id={subject_id}",
            fields={"thing1": "summary", "phrase2": "status", "time3": "time", "thing4": "note"},
        ),
        Template(
            key="complaint_assigned",
            wechat_template_id="tmpl_complaint_assigned",
            title="新的投诉待处理",
            body="投诉 {number}：{summary}，请在 {deadline} 前处理。",
            page="pages/case/detail?id={subject_id}",
            fields={"character_string1": "number", "thing2": "summary", "time3": "deadline"},
        ),
        Template(
            key="sla_reminder",
            wechat_template_id="tmpl_sla_reminder",
            title="投诉处理时限提醒",
            body="投诉 {number} {reminder}，截止时间 {deadline}。",
            page="pages/case/detail?id={subject_id}",
            fields={"character_string1": "number", "thing2": "reminder", "time3": "deadline"},
        ),
        Template(
            key="alarm_raised",
            wechat_template_id="tmpl_alarm_raised",
            title="监测报警：{level}",
            body="{project} 测点 {point} {level}：{detail}（{time}）",
            page="pages/alarm/detail?id={subject_id}",
            fields={"thing1": "project", "thing2": "point", "phrase3": "level", "time4": "time", "thing5": "detail"},
        ),
        Template(
            key="material_failed",
            wechat_template_id="tmpl_material_failed",
            title="材料检测不合格",
            body="{project} 的 {material} 检测不合格：{item}（{time}）",
            page="pages/material/detail?id={subject_id}",
            fields={"thing1": "material", "thing2": "project", "thing3": "item", "time4": "time"},
        ),
        Template(
            key="material_verdict_changed",
            wechat_template_id="tmpl_material_verdict_changed",
            title="材料检测结论变更",
            body="{project} 的 {material}：{change}（{time}）",
            page="pages/material/detail?id={subject_id}",
            fields={"thing1": "material", "thing2": "project", "thing3": "change", "time4": "time"},
        ),
        Template(
            key="material_alert",
            wechat_template_id="tmpl_material_alert",
            title="材料标签异常：{kind}",
            body="{project} 的 {material} 标签{kind}：{detail}（{time}）",
            page="pages/material/alert?id={subject_id}",
            fields={"thing1": "material", "thing2": "project", "phrase3": "kind", "time4": "time"},
        ),
        Template(
            key="vision_risk",
            wechat_template_id="tmpl_vision_risk",
            title="现场风险识别",
            body="{project} 发现风险：{risk}（{time}）",
            page="pages/risk/detail?id={subject_id}",
            fields={"thing1": "project", "thing2": "risk", "time3": "time"},
        ),
        Template(
            key="quality_hold",
            wechat_template_id="tmpl_quality_hold",
            title="质量暂停令",
            body="{project} 的 {enterprise} {action}：{reason}",
            page="pages/hold/detail?id={subject_id}",
            fields={"thing1": "project", "thing2": "enterprise", "phrase3": "action", "thing4": "reason"},
        ),
        Template(
            key="wages_unaffected",
            wechat_template_id="tmpl_wages_unaffected",
            title="工资照常发放",
            body="{project} 的劳务分包单位被质量暂停，您的工资不受影响，由总承包单位从工资专用账户代发",
            page="pages/wages/index?id={subject_id}",
            fields={"thing1": "project"},
        ),
        Template(
            key="wage_paid",
            wechat_template_id="tmpl_wage_paid",
            title="工资已发放",
            body="{project} {month} 工资已发放：{amount}",
            page="pages/wages/index?id={subject_id}",
            fields={"thing1": "project", "thing2": "month", "amount3": "amount"},
        ),
        Template(
            key="credit_list_changed",
            wechat_template_id="tmpl_credit_list_changed",
            title="信用名单变更",
            body="{enterprise}（{uscc}）{list_name}：{status_name}。{reason}",
            page="pages/inbox/index",
            fields={"thing1": "enterprise", "thing2": "list_name", "phrase3": "status_name", "time4": "time"},
        ),
    ]
}


class UnknownTemplate(KeyError):
    pass


def get_template(key: str) -> Template:
    try:
        return TEMPLATES[key]
    except KeyError as exc:
        raise UnknownTemplate(key) from exc


def wechat_template_id(settings: Settings, template: Template) -> str:
    """The deployment's template id (ZHIJIAN_WECHAT_TEMPLATE_IDS) or the default."""
    for pair in settings.WECHAT_TEMPLATE_IDS.split(","):
        key, _, value = pair.partition("=")
        if key.strip() == template.key and value.strip():
            return value.strip()
    return template.wechat_template_id


def _as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(get_settings().zone()).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _shorten(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1] + _ELLIPSIS


def fit_field(wechat_key: str, value: Any) -> str:
    """Make a value fit its WeChat field type (never raises)."""
    kind = re.sub(r"\d+$", "", wechat_key)
    if kind in ("time", "date"):
        if isinstance(value, datetime):
            local = value.astimezone(get_settings().zone())
            return local.strftime("%Y年%m月%d日 %H:%M") if kind == "time" else local.strftime("%Y年%m月%d日")
        return _shorten(_as_text(value), 20)
    text = _as_text(value)
    if kind in ("character_string", "letter", "number"):
        allowed = {"character_string": r"[^0-9A-Za-z_\-.:/#]", "letter": r"[^A-Za-z]", "number": r"[^0-9.\-]"}[kind]
        text = re.sub(allowed, "", text)
        return text[: FIELD_LIMITS[kind]] or "-"
    limit = FIELD_LIMITS.get(kind, 20)
    return _shorten(text, limit) or "-"


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: Template, data: dict[str, Any], subject_id: str = "") -> tuple[str, str, str, dict[str, dict[str, str]]]:
    """(title, body, page, wechat data) for one message."""
    values = _Blank({k: _as_text(v) for k, v in data.items()})
    values["subject_id"] = subject_id
    title = _shorten(template.title.format_map(values), 100)
    body = template.body.format_map(values)
    page = template.page.format_map(values)
    wechat = {key: {"value": fit_field(key, data.get(source))} for key, source in template.fields.items()}
    return title, body, page, wechat
