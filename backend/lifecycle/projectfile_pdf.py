"""The project file as an indexed PDF (reportlab): cover, table of contents, one section per record kind,
each record with who did it and when, photos as thumbnails. Reproducible: ``invariant=1`` (fixed creation
date and document id) and nothing taken from the clock."""

from __future__ import annotations

import io
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    Image,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from backend.lifecycle.projectfile import ProjectFile
from backend.lifecycle.rules import STAGE_ZH, Stage

# A CID font of the PDF standard's Adobe-GB1 collection: readers supply the glyphs, nothing is embedded,
# so the bytes do not depend on which fonts this machine has.
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

_ACTION_ZH = {
    "permit": "施工许可", "start": "开工", "accept_foundation": "地基与基础验收", "accept_structure": "主体结构验收",
    "accept_completion": "竣工验收", "file": "竣工验收备案",
    "submitted": "报验", "passed": "合格", "failed": "不合格", "resubmitted": "重新报验", "reminded": "逾期提醒",
    "escalated": "上报质监站", "audit_uphold": "监督复核：维持", "audit_overturn": "监督复核：改判", "document": "上传附件",
}
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11, wordWrap="CJK")
_H1 = ParagraphStyle("H1", fontName=FONT, fontSize=15, leading=20, spaceBefore=6, spaceAfter=8)
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=24, leading=32, alignment=1, spaceAfter=18)
_CENTER = ParagraphStyle("center", parent=_BODY, fontSize=11, leading=16, alignment=1)
_TOC_STYLES = [ParagraphStyle("toc0", fontName=FONT, fontSize=11, leading=18, leftIndent=6 * mm)]


class _Doc(BaseDocTemplate):
    def __init__(self, buf: io.BytesIO, title: str) -> None:
        super().__init__(buf, pagesize=A4, invariant=1, title=title, author="质监 Zhijian", subject="项目电子档案",
                         leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._footer)])
        self._title = title
        self._headings = 0

    def _footer(self, canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawString(15 * mm, 8 * mm, f"{self._title} — 项目电子档案")
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    def afterFlowable(self, flowable: Any) -> None:
        if isinstance(flowable, Paragraph) and flowable.style.name == "H1":
            text = flowable.getPlainText()
            key = f"s{getattr(flowable, 'section_no', 0)}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(text, key, level=0)
            self.notify("TOCEntry", (0, text, self.page, key))


def _p(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(escape(text), style)


def _records_table(section: Any, zone: ZoneInfo) -> Table:
    rows = [[_p("时间"), _p("人员"), _p("对象"), _p("事项"), _p("说明")]]
    for r in section.records:
        rows.append([_p(r.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")), _p(r.who), _p(r.subject),
                     _p(_ACTION_ZH.get(r.action, r.action)), _p(r.note)])
    table = Table(rows, colWidths=[26 * mm, 32 * mm, 38 * mm, 24 * mm, 60 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3eaf5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _photo_grid(section: Any, thumbs: dict[UUID, bytes]) -> Table:
    cells = []
    for ph in section.photos:
        image = Image(io.BytesIO(thumbs[ph.media_id]), width=40 * mm, height=30 * mm, kind="proportional")
        cells.append([image, _p(f"{ph.subject}（{str(ph.media_id)[:8]}）")])
    rows = [cells[i:i + 4] for i in range(0, len(cells), 4)]
    rows[-1] += [""] * (4 - len(rows[-1]))
    return Table(rows, colWidths=[45 * mm] * 4)


_DOC_TYPE_ZH = {"application/pdf": "PDF 文档", "image/jpeg": "JPEG 图片", "image/png": "PNG 图片"}


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def _documents_table(pf: ProjectFile, thumbs: dict[UUID, bytes], zone: ZoneInfo) -> Table:
    """工序报验附件: each document's lot, name, type and size, who uploaded it and when, a thumbnail of images."""
    rows: list[list[Any]] = [[_p("检验批"), _p("文件名"), _p("类型"), _p("上传人"), _p("上传时间"), _p("缩略图")]]
    for i, d in enumerate(pf.documents, 1):
        thumb: Any = _p("—（原件见 ZIP 包）")
        if d.id in thumbs:
            thumb = Image(io.BytesIO(thumbs[d.id]), width=30 * mm, height=22 * mm, kind="proportional")
        rows.append([_p(d.lot), _p(f"{i:03d}-{d.name}"), _p(f"{_DOC_TYPE_ZH.get(d.content_type, d.content_type)}，"
                                                            f"{_size(d.bytes)}"),
                     _p(d.who), _p(d.uploaded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")), thumb])
    table = Table(rows, colWidths=[30 * mm, 38 * mm, 24 * mm, 30 * mm, 24 * mm, 34 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3eaf5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def render_pdf(pf: ProjectFile, thumbs: dict[UUID, bytes], zone: ZoneInfo) -> bytes:
    """The indexed PDF of a gathered project file."""
    p = pf.project
    buf = io.BytesIO()
    doc = _Doc(buf, p["name"])
    last = pf.last_record_at
    story: list[Any] = [
        Spacer(1, 40 * mm), _p("项目电子档案", _TITLE), _p(p["name"], _CENTER), Spacer(1, 6 * mm),
        _p(f"施工许可证号：{p['permit_no']}", _CENTER), _p(f"地址：{p['address'] or '—'}", _CENTER),
        _p(f"当前阶段：{STAGE_ZH[Stage(p['stage'])]}", _CENTER),
        _p(f"档案期间：{pf.start.isoformat()} 至 {pf.end.isoformat()}（{pf.zone_name}）", _CENTER),
        _p(f"期间最后一条记录：{last.astimezone(zone).strftime('%Y-%m-%d %H:%M') if last else '无'}", _CENTER),
        Spacer(1, 10 * mm),
    ]
    if pf.parties:
        parties = Table([[_p("角色"), _p("单位"), _p("统一社会信用代码")]]
                        + [[_p(r), _p(n), _p(u)] for r, n, u in pf.parties], colWidths=[30 * mm, 90 * mm, 50 * mm])
        parties.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
        story.append(parties)
    toc = TableOfContents()
    toc.levelStyles = _TOC_STYLES
    story += [PageBreak(), _p("目录", _H1.clone("toc-title")), toc]
    for n, section in enumerate(pf.sections, 1):
        heading = _p(f"{n}. {section.title}", _H1)
        heading.section_no = n  # type: ignore[attr-defined]
        story += [PageBreak(), heading, _p(f"本期记录 {len(section.records)} 条，照片 {len(section.photos)} 张。"),
                  Spacer(1, 3 * mm)]
        story.append(_records_table(section, zone) if section.records else _p("本期无记录。"))
        if section.photos:
            story += [Spacer(1, 4 * mm), _p("照片（缩略图；原图见 ZIP 包 photos/ 目录）"), Spacer(1, 2 * mm),
                      _photo_grid(section, thumbs)]
        if section.key == "inspections" and pf.documents:
            story += [Spacer(1, 4 * mm), _p(f"报验附件 {len(pf.documents)} 份（原件见 ZIP 包 documents/ 目录）"),
                      Spacer(1, 2 * mm), _documents_table(pf, thumbs, zone)]
    doc.multiBuild(story)
    return buf.getvalue()
