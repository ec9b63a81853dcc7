"""The regulators' console (监管驾驶舱): figures from every domain and a server-rendered page with SVG charts.

The page is plain HTML with inline SVG: nothing is fetched from the internet. A browser opens it with
a one-time ticket (``POST /api/v1/credit/console-ticket``, 60 s, used once) because a page load cannot
carry our Bearer header; the ticket holds the staff member's identity, so the figures are scoped as
the API would scope them.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

from backend.access import policy as access_policy
from backend.auth.principal import Principal, Role
from backend.complaints import dashboard as complaints_dashboard
from backend.credit import scoring
from backend.credit.tables import CreditListing
from backend.errors import Unauthorized
from backend.settings import Settings

_TICKET = "credit:console:"


async def issue_ticket(settings: Settings, redis: Redis, actor: Principal) -> str:
    access_policy.require(actor, "staff", {})
    ticket = secrets.token_urlsafe(24)
    who = {"id": str(actor.id), "role": actor.role.value, "district": actor.district_id, "name": actor.name}
    await redis.set(_TICKET + ticket, json.dumps(who), ex=settings.CREDIT_CONSOLE_TICKET_S)
    return ticket


async def redeem_ticket(redis: Redis, ticket: str) -> Principal:
    raw = await redis.getdel(_TICKET + ticket) if ticket else None
    if raw is None:
        # An anonymous caller like any other (the one code every guarded route uses), with the reason.
        raise Unauthorized("AUTH_REQUIRED", detail={"reason": "console ticket missing, expired or already used"})
    who = json.loads(raw)
    return Principal(kind="user", id=UUID(who["id"]), role=Role(who["role"]), district_id=who["district"], name=who["name"])


async def _open_alarms() -> int | None:
    """Unacknowledged monitoring alarms, if the monitoring tables exist yet (None: not installed)."""
    rows = await CreditListing.raw("SELECT to_regclass('public.monitoring_alarms') IS NOT NULL AS present")
    if not rows[0]["present"]:
        return None
    cols = await CreditListing.raw(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'monitoring_alarms'")
    names = {c["column_name"] for c in cols}
    if "acknowledged_at" in names:
        where = "acknowledged_at IS NULL"
    elif "status" in names:
        where = "status NOT IN ('acknowledged', 'closed', 'resolved', 'cleared')"
    else:
        where = "TRUE"
    return (await CreditListing.raw(f"SELECT count(*) AS n FROM monitoring_alarms WHERE {where}"))[0]["n"]


async def figures(settings: Settings, actor: Principal) -> dict[str, Any]:
    """Everything the console shows, as JSON-able numbers."""
    access_policy.require(actor, "staff", {})
    sla = await complaints_dashboard.dashboard(settings, actor, None, None, None, None)
    materials = (await CreditListing.raw(
        "SELECT count(*) FILTER (WHERE verdict = 'fail') AS failed, count(*) AS reports,"
        " count(*) FILTER (WHERE verdict = 'fail' AND created_at > now() - interval '30 days') AS failed_30d"
        " FROM material_lab_reports"))[0]
    lists = await CreditListing.raw(
        "SELECT list_kind, status, count(*) AS n FROM credit_listings"
        " WHERE status IN ('notice', 'appealed', 'active') GROUP BY list_kind, status")
    counts = {f"{k}_{s}": 0 for k in ("black", "red") for s in ("notice", "appealed", "active")}
    for r in lists:
        counts[f"{r['list_kind']}_{r['status']}"] = r["n"]
    bands = {b: 0 for _, b in scoring.BANDS}
    for r in await CreditListing.raw("SELECT band, count(*) AS n FROM credit_scores GROUP BY band"):
        bands[r["band"]] = r["n"]
    listed = await CreditListing.raw(
        "SELECT l.list_kind, l.status, e.name, e.uscc, s.score FROM credit_listings l"
        " JOIN enterprises e ON e.id = l.enterprise LEFT JOIN credit_scores s ON s.enterprise = l.enterprise"
        " WHERE l.status IN ('notice', 'appealed', 'active') ORDER BY l.list_kind, s.score, e.name LIMIT 50")
    return {
        "complaints": {
            "total": sla.total, "open": sla.open, "overdue_open": sla.overdue_open,
            "on_time_handling_rate": sla.on_time_handling_rate, "on_time_closure_rate": sla.on_time_closure_rate,
            "satisfaction_rate": sla.satisfaction_rate,
        },
        "alarms": {"open": await _open_alarms()},
        "materials": {"reports": materials["reports"], "failed": materials["failed"], "failed_30d": materials["failed_30d"]},
        "credit": {"lists": counts, "bands": bands,
                   "listed": [{"list": r["list_kind"], "status": r["status"], "name": r["name"], "uscc": r["uscc"],
                               "score": r["score"]} for r in listed]},
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"  # the complaints dashboard gives fractions


def _bars(title: str, data: list[tuple[str, float, str]], chart_id: str) -> str:
    """A small horizontal bar chart in inline SVG."""
    top = max([v for _, v, _ in data] + [1])
    rows = []
    for i, (label, value, color) in enumerate(data):
        y = 28 + i * 30
        width = 260 * value / top
        rows.append(
            f'<text x="0" y="{y + 15}" font-size="13">{html.escape(label)}</text>'
            f'<rect x="90" y="{y}" width="{width:.1f}" height="20" fill="{color}"/>'
            f'<text x="{96 + width:.1f}" y="{y + 15}" font-size="13" data-value="{value:g}">{value:g}</text>'
        )
    height = 40 + 30 * len(data)
    return (f'<svg id="{chart_id}" role="img" width="400" height="{height}" viewBox="0 0 400 {height}">'
            f'<text x="0" y="16" font-size="14" font-weight="bold">{html.escape(title)}</text>{"".join(rows)}</svg>')


def render_html(f: dict[str, Any]) -> str:
    """The console page: figure tiles, two charts and the list table."""
    c, m, cr = f["complaints"], f["materials"], f["credit"]
    alarms = f["alarms"]["open"]
    lists = cr["lists"]
    black = lists["black_active"] + lists["black_notice"] + lists["black_appealed"]
    red = lists["red_active"] + lists["red_notice"] + lists["red_appealed"]

    def tile(key: str, label: str, value: Any) -> str:
        return (f'<div class="tile"><div class="label">{html.escape(label)}</div>'
                f'<div class="value" id="{key}">{html.escape(str(value))}</div></div>')

    tiles = "".join([
        tile("complaints-total", "本月投诉", c["total"]),
        tile("complaints-on-time", "按时处置率", _pct(c["on_time_handling_rate"])),
        tile("complaints-overdue", "超时未办结", c["overdue_open"]),
        tile("alarms-open", "未确认告警", "0" if alarms is None else alarms),
        tile("materials-failed", "材料不合格", m["failed"]),
        tile("black-count", "黑名单（含公示）", black),
        tile("red-count", "红名单（含公示）", red),
    ])
    band_chart = _bars("信用等级分布", [(f"{b} 级", float(n), col) for (b, n), col in zip(
        cr["bands"].items(), ("#2e7d32", "#1565c0", "#f9a825", "#c62828"), strict=True)], "chart-bands")
    list_chart = _bars("红黑名单", [
        ("黑名单生效", float(lists["black_active"]), "#c62828"), ("黑名单公示", float(lists["black_notice"]), "#ef9a9a"),
        ("红名单生效", float(lists["red_active"]), "#2e7d32"), ("红名单公示", float(lists["red_notice"]), "#a5d6a7"),
    ], "chart-lists")
    names = {"black": "黑名单", "red": "红名单"}
    status_names = {"notice": "公示中", "appealed": "申诉中", "active": "已生效"}
    table = "".join(
        f'<tr class="listed {r["list"]}"><td>{names[r["list"]]}</td><td>{status_names[r["status"]]}</td>'
        f'<td>{html.escape(r["name"])}</td><td>{r["uscc"]}</td><td>{"" if r["score"] is None else r["score"]}</td></tr>'
        for r in cr["listed"]) or '<tr><td colspan="5">暂无</td></tr>'
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>质监监管驾驶舱</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; margin: 24px; background: #f5f7fa; color: #222; }}
h1 {{ font-size: 22px; margin: 0 0 16px; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 20px; }}
.tile {{ background: #fff; border-radius: 6px; padding: 12px 16px; min-width: 120px; box-shadow: 0 1px 3px #0002; }}
.tile .label {{ font-size: 13px; color: #666; }} .tile .value {{ font-size: 26px; font-weight: bold; color: #0d47a1; }}
.charts {{ display: flex; gap: 24px; background: #fff; padding: 16px; border-radius: 6px; margin-bottom: 20px; }}
table {{ border-collapse: collapse; background: #fff; width: 100%; }} td, th {{ border: 1px solid #ddd; padding: 6px 10px; font-size: 13px; }}
tr.black td:first-child {{ color: #c62828; font-weight: bold; }} tr.red td:first-child {{ color: #2e7d32; font-weight: bold; }}
</style></head>
<body><h1>质监监管驾驶舱</h1>
<div class="tiles">{tiles}</div>
<div class="charts">{band_chart}{list_chart}</div>
<h2 style="font-size:16px">信用名单</h2>
<table id="listed"><tr><th>名单</th><th>状态</th><th>企业</th><th>统一社会信用代码</th><th>信用分</th></tr>{table}</table>
<script type="application/json" id="figures">{html.escape(json.dumps(f, ensure_ascii=False, default=str))}</script>
</body></html>"""
