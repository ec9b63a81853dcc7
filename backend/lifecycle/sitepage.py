"""The live site view as one server-rendered page (plain HTML, inline SVG, nothing fetched but frame images)."""

from __future__ import annotations

import html
import json
from typing import Any

_LEVEL = {1: ("预警", "#f9a825"), 2: ("报警", "#ef6c00"), 3: ("危险", "#c62828")}
_SLA = {"on_time": ("正常", "#2e7d32"), "due_soon": ("临期", "#f9a825"), "overdue": ("超时", "#c62828"),
        "paused": ("暂停计时", "#757575")}
_BATCH = {"registered": "已登记", "entry_accepted": "进场合格", "entry_rejected": "进场不合格", "sampled": "已取样",
          "conforming": "检测合格", "partially_checked": "部分判定", "non_conforming": "检测不合格", "removed": "已退场"}
_BATCH_COLOR = {"entry_rejected": "#c62828", "non_conforming": "#c62828", "conforming": "#2e7d32",
                "removed": "#9e9e9e"}
_COMPLAINT = {"submitted": "已提交", "dispatched": "已分派", "accepted": "已受理", "in_progress": "处理中",
              "waiting_info": "待补充材料", "reopened": "重新处理"}
_BLOCK = {"material_batch_failed": "不合格材料未退场", "quality_hold_active": "质量暂停未解除",
          "danger_alarm_open": "危险报警未消除", "complaint_open": "投诉未办结", "inspection_open": "报验未通过"}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def timeline_svg(timeline: list[dict[str, Any]]) -> str:
    """The stages as a line of dots: reached filled, the current one ringed, each with its date."""
    step, width = 150, 150 * len(timeline) + 40
    parts = [f'<line x1="40" y1="40" x2="{40 + step * (len(timeline) - 1)}" y2="40" stroke="#bbb" stroke-width="4"/>']
    for i, item in enumerate(timeline):
        x = 40 + i * step
        fill = "#1565c0" if item["reached"] else "#fff"
        if item["reached"] and i + 1 < len(timeline) and timeline[i + 1]["reached"]:
            parts.append(f'<line x1="{x}" y1="40" x2="{x + step}" y2="40" stroke="#1565c0" stroke-width="4"/>')
        ring = f'<circle cx="{x}" cy="40" r="17" fill="none" stroke="#ef6c00" stroke-width="3"/>' \
            if item["current"] else ""
        day = (item["at"] or "")[:10]
        parts.append(f'<g class="stage{" reached" if item["reached"] else ""}{" current" if item["current"] else ""}"'
                     f' data-stage="{item["stage"]}">{ring}<circle cx="{x}" cy="40" r="11" fill="{fill}"'
                     f' stroke="#1565c0" stroke-width="3"/><text x="{x}" y="78" font-size="13" text-anchor="middle">'
                     f'{_e(item["zh"])}</text><text x="{x}" y="96" font-size="11" fill="#666" text-anchor="middle">'
                     f'{_e(day)}</text></g>')
    return (f'<svg id="stage-timeline" role="img" width="{width}" height="110" viewBox="0 0 {width} 110">'
            f'{"".join(parts)}</svg>')


def render_html(d: dict[str, Any]) -> str:
    """The page of one project's live state."""
    p, w = d["project"], d["workers"]
    failed = sum(n for s, n in d["batches"].items() if s in ("entry_rejected", "non_conforming"))
    active_holds = [h for h in d["holds"] if h["status"] == "active"]
    open_requests = d["inspections"].get("submitted", 0) + d["inspections"].get("failed", 0)

    def tile(key: str, label: str, value: Any, warn: bool = False) -> str:
        return (f'<div class="tile{" warn" if warn else ""}"><div class="label">{_e(label)}</div>'
                f'<div class="value" id="{key}">{_e(value)}</div></div>')

    tiles = "".join([
        tile("workers-on-site", "今日在场 / 花名册", f'{w["on_site_today"]} / {w["roster"]}'),
        tile("alarms-open", "未消除告警", len(d["alarms"]), any(a["level"] >= 3 for a in d["alarms"])),
        tile("complaints-open", "未办结投诉", len(d["complaints"]), any(c["sla"] == "overdue" for c in d["complaints"])),
        tile("batches-failed", "不合格批次", failed, failed > 0),
        tile("holds-active", "质量暂停", len(active_holds), bool(active_holds)),
        tile("inspections-open", "待处理报验", open_requests),
        tile("personnel-flags", "关键人员缺失/证书过期", len(d["personnel_flags"]), bool(d["personnel_flags"])),
    ])
    alarms = "".join(
        f'<tr class="alarm level-{a["level"]}"><td style="color:{_LEVEL.get(a["level"], ("", "#222"))[1]}">'
        f'{_e(_LEVEL.get(a["level"], ("正常", ""))[0])}</td><td>{_e(a["point"])}</td><td>{_e(a["metric"])}</td>'
        f'<td class="latest">{_e(a["latest_value"])} {_e(a["unit"])}</td><td>{_e((a["latest_at"] or "")[:16])}</td></tr>'
        for a in d["alarms"]) or '<tr><td colspan="5">无</td></tr>'
    cameras = "".join(
        f'<div class="camera" data-camera="{c["id"]}"><div class="name">{_e(c["name"])}</div>'
        + (f'<img src="{_e(c["evidence_url"])}" alt="{_e(c["name"])}" width="240">' if c["evidence_url"]
           else '<div class="noframe">暂无分析画面</div>')
        + f'<div class="meta">分析于 {_e((c["analysed_at"] or "—")[:16])} · 24 小时告警 {c["alerts_24h"]}'
        + (f' · 最近 {_e(c["last_rule"])}' if c["last_rule"] else "") + '</div></div>'
        for c in d["cameras"]) or '<div class="noframe">本项目未接入摄像头</div>'
    complaints = "".join(
        f'<tr class="complaint sla-{c["sla"]}"><td>{_e(c["number"])}</td><td>{_e(_COMPLAINT.get(c["status"], c["status"]))}</td>'
        f'<td>{_e(c["deadline_at"][:16].replace("T", " "))}</td><td style="color:{_SLA[c["sla"]][1]}">{_SLA[c["sla"]][0]}</td></tr>'
        for c in d["complaints"]) or '<tr><td colspan="4">无</td></tr>'
    top = max(list(d["batches"].values()) + [1])
    bars = "".join(
        f'<text x="0" y="{24 + i * 26 + 14}" font-size="12">{_e(_BATCH.get(s, s))}</text>'
        f'<rect x="90" y="{24 + i * 26}" width="{200 * n / top:.1f}" height="18" fill="{_BATCH_COLOR.get(s, "#1565c0")}"/>'
        f'<text x="{96 + 200 * n / top:.1f}" y="{24 + i * 26 + 14}" font-size="12" data-value="{n}">{n}</text>'
        for i, (s, n) in enumerate(d["batches"].items()))
    batch_svg = (f'<svg id="chart-batches" role="img" width="340" height="{30 + 26 * max(len(d["batches"]), 1)}">'
                 f'<text x="0" y="14" font-size="13" font-weight="bold">材料批次（按结论）</text>{bars}</svg>')
    holds = "".join(f'<tr><td>{_e(h["enterprise"])}</td><td>{"暂停中" if h["status"] == "active" else "已解除"}</td>'
                    f'<td>{_e(h["started_at"][:16])}</td></tr>' for h in d["holds"]) or '<tr><td colspan="3">无</td></tr>'
    flags = "".join(f'<li class="flag {f["flag"]}">{_e(f["role_zh"])} {_e(f["name"])}：'
                    f'{"未登记" if f["flag"] == "missing" else "证书已过期"}</li>' for f in d["personnel_flags"]) \
        or "<li>齐全有效</li>"
    blocking = "".join(f'<li class="blocking {b["kind"]}"><a href="{_e(b["link"])}">{_e(_BLOCK.get(b["kind"], b["kind"]))}'
                       f'：{_e(b["label"])}</a></li>' for b in d["blocking"])
    gate = (f'<ul id="blocking">{blocking}</ul>' if blocking
            else '<p id="blocking-none">下一验收节点无阻断事项</p>' if d["next_actions"] else "")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(p["name"])} · 工地实时状态</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; margin: 20px; background: #f5f7fa; color: #222; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} h2 {{ font-size: 15px; margin: 14px 0 6px; }}
.sub {{ color: #666; font-size: 13px; margin-bottom: 10px; }}
.panel {{ background: #fff; border-radius: 6px; padding: 10px 14px; margin-bottom: 12px; box-shadow: 0 1px 3px #0002; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 12px; }}
.tile {{ background: #fff; border-radius: 6px; padding: 8px 14px; min-width: 110px; box-shadow: 0 1px 3px #0002; }}
.tile .label {{ font-size: 12px; color: #666; }} .tile .value {{ font-size: 22px; font-weight: bold; color: #0d47a1; }}
.tile.warn .value {{ color: #c62828; }}
.row {{ display: flex; gap: 12px; }} .row > .panel {{ flex: 1; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ddd; padding: 4px 8px; font-size: 12px; }}
.cameras {{ display: flex; gap: 10px; flex-wrap: wrap; }} .camera {{ font-size: 12px; }}
.noframe {{ color: #999; font-size: 12px; }} #blocking a {{ color: #c62828; }}
</style></head>
<body><h1>{_e(p["name"])}</h1>
<div class="sub">施工许可 {_e(p["permit_no"])} · {_e(p["address"])} · 当前阶段 <b id="stage">{_e(p["stage_zh"])}</b>
 · 更新于 {_e(d["generated_at"][:16].replace("T", " "))}</div>
<div class="panel">{timeline_svg(d["timeline"])}{gate}</div>
<div class="tiles">{tiles}</div>
<div class="row"><div class="panel"><h2>未消除告警（最新读数）</h2><table id="alarms"><tr><th>级别</th><th>测点</th>
<th>监测项</th><th>最新读数</th><th>时间</th></tr>{alarms}</table></div>
<div class="panel"><h2>投诉与办理时限</h2><table id="complaints"><tr><th>编号</th><th>状态</th><th>办结时限</th><th>时限状态</th></tr>
{complaints}</table></div></div>
<div class="row"><div class="panel"><h2>摄像头最新分析画面</h2><div class="cameras">{cameras}</div></div>
<div class="panel">{batch_svg}<h2>关键岗位人员</h2><ul id="personnel-flags">{flags}</ul><h2>质量暂停</h2><table id="holds"><tr><th>单位</th><th>状态</th><th>开始</th></tr>{holds}</table></div></div>
<script type="application/json" id="site-data">{html.escape(json.dumps(d, ensure_ascii=False, default=str))}</script>
</body></html>"""
