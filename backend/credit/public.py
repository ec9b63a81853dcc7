"""The public credit lists (公示): listings in notice and in force, for anyone, without signing in.

公示 means public: a notice period nobody outside can see is meaningless (issue 19 build 5). Each entry gives
the firm (name, unified social credit code), the list, the reason and the dates — nothing personal (no
officer, no appeal text, no score). The JSON feed follows Open311's conventions (a flat array of objects with
snake_case keys and ISO 8601 times, as GeoReport v2's service_requests.json), and both answers are cached in
Redis for settings.CREDIT_PUBLIC_CACHE_S and marked cacheable for proxies.
"""

from __future__ import annotations

import html
from typing import Any

import msgspec
from redis.asyncio import Redis

from backend.credit import listings
from backend.credit.schemas import PublicListing
from backend.credit.tables import CreditListing
from backend.settings import Settings

CACHE_KEY = "credit:public:lists:v1"
PUBLIC_STATUSES = ("notice", "appealed", "active")


def _entry(r: dict[str, Any]) -> PublicListing:
    return PublicListing(
        id=r["id"], enterprise_name=r["enterprise_name"], uscc=r["uscc"], list_kind=r["list_kind"],
        list_name=listings.LIST_NAMES[r["list_kind"]], status=r["status"], status_name=listings.STATUS_NAMES[r["status"]],
        in_force=listings.restricting(r), reason=r["reason"], proposed_at=r["proposed_at"],
        notice_ends_at=r["notice_ends_at"], effective_at=r["effective_at"],
    )


async def public_lists(settings: Settings, redis: Redis) -> bytes:
    """The lists in notice and in force as JSON bytes (cached)."""
    cached = await redis.get(CACHE_KEY)
    if cached is not None:
        return cached
    rows = await CreditListing.select(
        *CreditListing.all_columns(), CreditListing.enterprise.name.as_alias("enterprise_name"),
        CreditListing.enterprise.uscc.as_alias("uscc"),
    ).where(CreditListing.status.is_in(list(PUBLIC_STATUSES))).order_by(CreditListing.proposed_at, ascending=False)
    body = msgspec.json.encode([_entry(r) for r in rows])
    await redis.set(CACHE_KEY, body, ex=settings.CREDIT_PUBLIC_CACHE_S)
    return body


def render_html(entries: list[dict[str, Any]]) -> str:
    """The public page: one table per list, every value escaped."""
    parts = [("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>建筑市场信用红黑名单公示</title>"
              "</head><body><h1>建筑市场信用红黑名单公示</h1>")]
    for kind in ("black", "red"):
        parts.append(f"<h2>{html.escape(listings.LIST_NAMES[kind])}</h2><table><thead><tr><th>企业名称</th>"
                     "<th>统一社会信用代码</th><th>状态</th><th>列入事由</th><th>公示日期</th><th>公示截止</th><th>生效日期</th>"
                     "</tr></thead><tbody>")
        for e in (x for x in entries if x["list_kind"] == kind):
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(v or ''))}</td>" for v in (
                e["enterprise_name"], e["uscc"], e["status_name"], e["reason"], e["proposed_at"][:10],
                e["notice_ends_at"][:10], (e["effective_at"] or "")[:10])) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("<p><a href=\"lists.json\">JSON</a></p></body></html>")
    return "".join(parts)
