"""WeChat's documented rules for subscribe messages, as data: field types, page, state, error codes.

One module read by both sides: the backend fits values with it (backend/notifications/templates.py)
and decides retries with it (backend/notifications/delivery.py); the fake WeChat server
(scripts/fake_wechat.py) refuses exactly what these rules refuse. Pure standard library: the fake
imports it without the rest of the backend. Sources are cited per rule here and in docs/WECHAT_RULES.md.

S1 = developers.weixin.qq.com, 小程序 服务端 API "subscribeMessage.send" (发送订阅消息), its table
     "订阅消息参数值内容限制说明" and its error-code list (as summarised in ../shared/domain/wechat.md).
S2 = developers.weixin.qq.com, 小程序 消息推送 / "subscribe_msg_sent_event" (发送结果事件).
S3 = developers.weixin.qq.com, 小程序 全局错误码 (global error codes) and the developer community
     (developers.weixin.qq.com/community) for codes the send page does not list (45009, 40014).
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

# --- field types (S1, 参数值内容限制说明) -------------------------------------------------------

_ASCII_SYMBOLS = set(string.punctuation)


def _is_chinese(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _is_symbol(ch: str) -> bool:
    """A symbol: ASCII punctuation or a Unicode punctuation / symbol character (full-width ones too)."""
    return ch in _ASCII_SYMBOLS or unicodedata.category(ch)[0] in ("P", "S")


def _is_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _is_digit(ch: str) -> bool:
    return ch.isascii() and ch.isdigit()


_DATE_CN = r"\d{4}年\d{1,2}月\d{1,2}日"
_DATE_DASH = r"\d{4}-\d{1,2}-\d{1,2}"
_DATE_SLASH = r"\d{4}/\d{1,2}/\d{1,2}"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_DATE_ANY = f"(?:{_DATE_CN}|{_DATE_DASH}|{_DATE_SLASH})"
_TIME_POINT = re.compile(f"^(?:{_DATE_ANY} )?{_CLOCK}$")
_DATE_POINT = re.compile(f"^{_DATE_ANY}(?: {_CLOCK})?$")
_AMOUNT = re.compile(r"^([¥￥$€£])?(\d+)(?:\.(\d+))?(元)?$")


def _valid_calendar(point: str) -> bool:
    """The date and clock parts name a real day and a 24-hour time (25:00 or 2月30日 are refused)."""
    nums = [int(n) for n in re.findall(r"\d+", point)]
    has_date = bool(re.match(r"^\d{4}", point))
    if has_date:
        y, m, d, *rest = nums
        try:
            date(y, m, d)
        except ValueError:
            return False
    else:
        rest = nums
    if rest:
        h, mi, *s = rest
        if not (0 <= h <= 23 and 0 <= mi <= 59 and all(0 <= x <= 59 for x in s)):
            return False
    return True


def _range_ok(value: str, pattern: re.Pattern[str]) -> bool:
    parts = value.split("~")
    if len(parts) > 2:
        return False
    return all(pattern.match(p.strip()) and _valid_calendar(p.strip()) for p in parts)


def _check_thing(v: str) -> bool:
    return len(v) <= 20 and all(_is_chinese(c) or _is_digit(c) or _is_letter(c) or _is_symbol(c) or c == " " for c in v)


def _check_number(v: str) -> bool:
    return len(v) <= 32 and re.fullmatch(r"\d+(?:\.\d+)?", v) is not None


def _check_letter(v: str) -> bool:
    return len(v) <= 32 and all(_is_letter(c) for c in v)


def _check_symbol(v: str) -> bool:
    return len(v) <= 5 and all(_is_symbol(c) for c in v)


def _check_character_string(v: str) -> bool:
    return len(v) <= 32 and all(_is_digit(c) or _is_letter(c) or c in _ASCII_SYMBOLS for c in v)


def _check_time(v: str) -> bool:
    return _range_ok(v, _TIME_POINT)


def _check_date(v: str) -> bool:
    return _range_ok(v, _DATE_POINT)


def _check_amount(v: str) -> bool:
    m = _AMOUNT.match(v)
    if not m or not (m.group(1) or m.group(4)):
        return False  # one currency sign, or 元 at the end
    digits = len(m.group(2)) + len(m.group(3) or "")
    return digits <= 10


def _check_phone_number(v: str) -> bool:
    return len(v) <= 17 and all(_is_digit(c) or c in "+-()# " for c in v) and any(_is_digit(c) for c in v)


def _check_car_number(v: str) -> bool:
    if not 1 <= len(v) <= 8:
        return False
    inner = v[1:-1] if len(v) > 2 else ""
    ends_ok = all(_is_chinese(c) or _is_letter(c) or _is_digit(c) for c in (v[0], v[-1]))
    return ends_ok and all(_is_letter(c) or _is_digit(c) for c in inner)


def _check_name(v: str) -> bool:
    if any(_is_chinese(c) for c in v):  # mixed counts as Chinese
        return len(v) <= 10 and all(_is_chinese(c) or _is_letter(c) or _is_symbol(c) for c in v)
    return len(v) <= 20 and all(_is_letter(c) or _is_symbol(c) or c == " " for c in v)


def _check_phrase(v: str) -> bool:
    return len(v) <= 5 and all(_is_chinese(c) for c in v)


@dataclass(frozen=True, slots=True)
class FieldType:
    """One subscribe-message value type: its documented limit, what it allows, an example, the check."""

    name: str
    max_len: int | None
    allowed: str
    example: str
    source: str
    check: object  # Callable[[str], bool]; object keeps the dataclass hashable and simple

    def accepts(self, value: object) -> bool:
        """True when WeChat would take ``value`` for this type (a non-empty string that fits)."""
        return isinstance(value, str) and value != "" and value == value.strip() and self.check(value)  # type: ignore[operator]


FIELD_TYPES: dict[str, FieldType] = {
    t.name: t
    for t in [
        FieldType("thing", 20, "汉字、数字、字母或符号组合", "质量监督检查通知", "S1", _check_thing),
        FieldType("number", 32, "纯数字，可带小数", "12.5", "S1", _check_number),
        FieldType("letter", 32, "纯字母", "ABC", "S1", _check_letter),
        FieldType("symbol", 5, "纯符号", "%", "S1", _check_symbol),
        FieldType("character_string", 32, "数字、字母或符号组合", "TS-2026-0001", "S1", _check_character_string),
        FieldType(
            "time", None, "24小时制时间，可带年月日；时间段用“~”连接", "2019年10月1日 15:01", "S1", _check_time
        ),
        FieldType(
            "date", None, "年月日，可带24小时制时间；时间段用“~”连接", "2019年10月1日", "S1", _check_date
        ),
        FieldType("amount", 11, "1个币种符号+10位以内纯数字，可带小数，结尾可带“元”", "¥100.00", "S1", _check_amount),
        FieldType("phone_number", 17, "17位以内，数字、符号", "+86-0766-66888866", "S1", _check_phone_number),
        FieldType("car_number", 8, "8位以内，第一位与最后一位可为汉字，其余为字母或数字", "粤A8Z888挂", "S1", _check_car_number),
        FieldType("name", 10, "10个以内纯汉字或20个以内纯字母或符号；中文与字母混合按中文名算", "王建国", "S1", _check_name),
        FieldType("phrase", 5, "5个以内纯汉字", "配送中", "S1", _check_phrase),
    ]
}

_KEY = re.compile(r"^([a-z_]+?)(\d+)$")


def field_type(key: str) -> FieldType | None:
    """The type of a data key (``thing1`` → thing); None when the key names no known type."""
    m = _KEY.match(key)
    return FIELD_TYPES.get(m.group(1)) if m else None


def check_data(data: object) -> str | None:
    """The first data key WeChat would refuse (47003 names it), or None when every value fits."""
    if not isinstance(data, dict) or not data:
        return "data"
    for key, item in data.items():
        kind = field_type(str(key))
        if kind is None or not isinstance(item, dict) or not kind.accepts(item.get("value")):
            return str(key)
    return None


# --- the rest of the send body (S1) -------------------------------------------------------------

MINIPROGRAM_STATES = ("developer", "trial", "formal")  # S1: 跳转小程序类型, default formal
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")  # S1: 进入小程序查看的语言类型, default zh_CN
_PAGE = re.compile(r"^[A-Za-z0-9_\-/]+(?:\?[^\s#]*)?$")


def page_path(page: str) -> str:
    """The page's path without its query (``pages/case/detail?id=1`` → ``pages/case/detail``)."""
    return page.split("?", 1)[0].lstrip("/")


def page_ok(page: str, pages: set[str] | frozenset[str]) -> bool:
    """S1: a page of this mini-program (listed in its app.json), parameters allowed (``index?foo=bar``).

    An empty page is allowed: the card then opens nothing. Anything else not in ``pages`` is 41030.
    """
    if page == "":
        return True
    return bool(_PAGE.match(page)) and page_path(page) in pages


# --- error codes and what each means for a retry (S1, S3) --------------------------------------


class Action(str, Enum):
    """What the sender does with an errcode."""

    RETRY = "retry"  # transient: try again after back-off
    REFRESH_TOKEN = "refresh_token"  # the token is no good: refresh once (shared, locked) and retry once
    NO_QUOTA = "no_quota"  # the user has no acceptance left: do not retry, the inbox copy stays
    BAD_OPENID = "bad_openid"  # do not retry; stop pushing to this openid until the user signs in again
    FAIL = "fail"  # our request is wrong (template, page, data): do not retry, record and fix the cause


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    errmsg: str
    meaning: str
    action: Action
    source: str


ERROR_CODES: dict[int, ErrorCode] = {
    e.code: e
    for e in [
        ErrorCode(-1, "system error", "系统繁忙", Action.RETRY, "S1"),
        ErrorCode(40001, "invalid credential, access_token is invalid or not latest", "token 无效或不是最新", Action.REFRESH_TOKEN, "S1"),
        ErrorCode(40003, "invalid openid", "touser 不是本小程序的用户", Action.BAD_OPENID, "S1"),
        ErrorCode(40014, "invalid access_token", "不合法的 access_token", Action.REFRESH_TOKEN, "S3"),
        ErrorCode(40037, "invalid template_id", "模板 id 不正确", Action.FAIL, "S1"),
        ErrorCode(41030, "invalid page", "page 路径不正确（须在现网版本的 app.json 中）", Action.FAIL, "S1"),
        ErrorCode(42001, "access_token expired", "access_token 过期", Action.REFRESH_TOKEN, "S3"),
        ErrorCode(43101, "user refuse to accept the msg", "用户拒绝接受消息（无可用订阅次数）", Action.NO_QUOTA, "S1"),
        ErrorCode(45009, "reach max api daily quota limit", "接口调用超过每日限额", Action.RETRY, "S3"),
        ErrorCode(47001, "data format error", "请求体不是合法的 JSON", Action.FAIL, "S3"),
        ErrorCode(47003, "argument invalid!", "模板参数不准确（值不符合字段类型）", Action.FAIL, "S1"),
    ]
}

#: our own errcode for "WeChat could not be reached or answered nonsense" (never sent by WeChat).
NETWORK_ERROR = -2


def action_for(errcode: int) -> Action:
    """What to do after ``errcode``: unknown codes are not retried (a wrong request stays wrong)."""
    if errcode == NETWORK_ERROR:
        return Action.RETRY
    known = ERROR_CODES.get(errcode)
    return known.action if known else Action.FAIL


def errmsg_47003(key: str) -> str:
    """The documented 47003 message, naming the refused data key (``argument invalid! data.thing1.value``)."""
    return f"argument invalid! data.{key}.value" if key != "data" else "argument invalid! data"


# --- the push that reports the final result (S2) -----------------------------------------------

#: subscribe_msg_sent_event ErrorStatus values: "success", "fail: user refuse", "fail: system error".
SENT_EVENT_STATUSES = ("success", "fail: user refuse", "fail: system error")


def local_time_value(moment: datetime) -> str:
    """A local datetime in the documented time format (``2019年10月1日 15:01``)."""
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def local_date_value(moment: datetime | date) -> str:
    """A local date in the documented date format (``2019年10月1日``)."""
    return f"{moment.year}年{moment.month}月{moment.day}日"
