"""Every message template in one place: zh-CN inbox text and WeChat subscribe-message fields.

WeChat checks each data value against its field type (47003 when it does not fit). fit_field() makes
every value fit the rules of backend/clients/wechat_rules.py (the same rules the fake WeChat server
enforces) whatever it arrives as — datetime, ISO string after a JSON round trip, number, None —
shortening text and showing times in the city's zone (settings.zone()).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from backend.clients import wechat_rules as rules
from backend.settings import Settings, get_settings

_ELLIPSIS = "…"

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


_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _moment(value: Any) -> datetime | None:
    """A point in time from a datetime, an ISO string (a JSON round trip) or epoch seconds; else None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _ISO_MOMENT.match(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 946684800 <= value <= 4102444800:
        moment = datetime.fromtimestamp(value, tz=UTC)
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored times are UTC
    return moment.astimezone(get_settings().zone())


def _as_text(value: Any) -> str:
    """A value as inbox text: times (datetime or ISO string) in the city's zone, None as empty."""
    moment = _moment(value)
    if moment is not None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _shorten(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1] + _ELLIPSIS


def _keep(text: str, allowed: Any) -> str:
    return "".join(c for c in text if allowed(c))


def _fit_number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "0"
    if isinstance(value, (int, float, Decimal)):
        number = abs(Decimal(str(value)))  # WeChat's number is digits only: no sign (say it in a thing)
    else:
        found = re.search(r"\d+(?:\.\d+)?", str(value))
        if not found:
            return "0"
        number = Decimal(found.group())
    text = format(number.normalize(), "f") if number == number.to_integral() else format(number, "f")
    return text[:32].rstrip(".") or "0"


def _fit_amount(value: Any) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = Decimal(str(value))
    else:
        found = re.search(r"\d+(?:\.\d+)?", str(value or "").replace(",", ""))
        number = Decimal(found.group()) if found else Decimal(0)
    text = f"{abs(number):.2f}"
    if len(text) - 1 > 10:  # over ten digits: drop the decimals first
        text = f"{abs(number):.0f}"[:10]
    return "¥" + text


def _fit_time(kind: str, value: Any, now: datetime | None) -> str:
    rule = rules.FIELD_TYPES[kind]
    moment = _moment(value)  # a machine time (ISO, epoch) is UTC: shown in the city's zone
    if moment is None and isinstance(value, str) and rule.accepts(value.strip()):
        return value.strip()  # already written for people ("15:01", "2019年10月1日")
    moment = moment or (now or datetime.now(UTC)).astimezone(get_settings().zone())
    return rules.local_time_value(moment) if kind == "time" else rules.local_date_value(moment)


def fit_field(wechat_key: str, value: Any, now: datetime | None = None) -> str:
    """Make a value fit its WeChat field type (backend/clients/wechat_rules.py); never raises.

    Times (datetime, ISO string, epoch seconds) are shown in the city's zone; a time that cannot be
    read becomes ``now`` (when the message was made) rather than a value WeChat refuses.
    """
    rule = rules.field_type(wechat_key)
    kind = rule.name if rule else "thing"
    if kind in ("time", "date"):
        return _fit_time(kind, value, now)
    if kind == "number":
        return _fit_number(value)
    if kind == "amount":
        return _fit_amount(value)
    text = re.sub(r"\s+", " ", _as_text(value)).strip()
    if kind == "thing":
        fitted = _shorten(_keep(text, _thing_char), 20)
    elif kind == "letter":
        fitted = _keep(text, lambda c: c.isascii() and c.isalpha())[:32]
    elif kind == "symbol":
        fitted = _keep(text, rules._is_symbol)[:5]
    elif kind == "character_string":
        fitted = _keep(text, lambda c: c.isascii() and c.isprintable() and c != " ")[:32]
    elif kind == "phone_number":
        fitted = _keep(text, lambda c: c.isascii() and (c.isdigit() or c in "+-()#"))[:17]
    elif kind == "car_number":
        fitted = _keep(text, lambda c: c.isalnum() and (c.isascii() or rules._is_chinese(c)))[:8]
    elif kind == "name":
        fitted = _keep(text, lambda c: rules._is_chinese(c) or (c.isascii() and c.isalpha()) or rules._is_symbol(c))
        fitted = _shorten(fitted, 10 if any(rules._is_chinese(c) for c in fitted) else 20)
    else:  # phrase
        fitted = _keep(text, rules._is_chinese)[:5]
    if rule is None or rule.accepts(fitted):
        return fitted or "无"
    return _FALLBACK[kind]


def _thing_char(c: str) -> bool:
    return rules._is_chinese(c) or (c.isascii() and c.isalnum()) or rules._is_symbol(c) or c == " "


# A value of each type that WeChat always takes, for an input with nothing usable in it.
_FALLBACK = {
    "thing": "无", "letter": "NA", "symbol": "-", "character_string": "-", "phone_number": "0",
    "car_number": "无", "name": "无", "phrase": "无",
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(
    template: Template, data: dict[str, Any], subject_id: str = "", now: datetime | None = None
) -> tuple[str, str, str, dict[str, dict[str, str]]]:
    """(title, body, page, wechat data) for one message; every WeChat value fits its field type."""
    values = _Blank({k: _as_text(v) for k, v in data.items()})
    values["subject_id"] = subject_id
    title = _shorten(template.title.format_map(values), 100)
    body = template.body.format_map(values)
    page = template.page.format_map(values)
    wechat = {key: {"value": fit_field(key, data.get(source), now)} for key, source in template.fields.items()}
    return title, body, page, wechat
