"""The project file (电子档案): indexed PDF looked at as images (pdftoppm) and as text, ZIP of originals, same bytes twice."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.clients.s3 import S3Client
from backend.media.tables import Media
from backend.settings import get_settings
from tests.complaints.helpers import report
from tests.lifecycle.helpers import inspection, people, photo, planned_project
from tests.support.asserts import assert_error
from tests.support.images import encode, picture

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[2]
PDFTOPPM = shutil.which("pdftoppm")


async def _life(api, admin) -> dict:
    p = await people(api)
    project = await planned_project(api, admin)
    pid = project["id"]
    permit = {"permit_no": "330302202612049999", "issued_on": "2026-12-02", "authority": "温州市鹿城区住房和城乡建设局"}
    assert (await api.post(f"/api/v1/projects/{pid}/stage", json={"action": "permit", "permit": permit},
                           headers=p["lc_inspector"])).status_code == 200
    assert (await api.post(f"/api/v1/projects/{pid}/stage", json={"action": "start"}, headers=p["lead_wang"])).status_code == 200
    photos = [await photo(api, p["lead_wang"], seed) for seed in (5, 6)]
    req = (await inspection(api, project, p["lead_wang"], "foundation", "筏板基础钢筋", photos)).json()
    answer_photo = await photo(api, p["sup_li"], 7)
    answered = await api.post(f"/api/v1/inspection-requests/{req['id']}/answer",
                              json={"passed": False, "findings": "钢筋间距偏差超限", "photo_ids": [answer_photo]},
                              headers=p["sup_li"])
    assert answered.status_code == 200, answered.text
    pdf_doc = b"%PDF-1.4\n% hidden-works record\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
    up = await api.post(f"/api/v1/inspection-requests/{req['id']}/documents",
                        files={"file": ("隐蔽验收记录.pdf", pdf_doc, "application/pdf")}, headers=p["lead_wang"])
    assert up.status_code == 201, up.text
    assert up.json()["name"] == "隐蔽验收记录.pdf" and up.json()["bytes"] == len(pdf_doc)
    bad = await api.post(f"/api/v1/inspection-requests/{req['id']}/documents",
                         files={"file": ("x.exe", b"MZ\x90\x00" * 100, "application/octet-stream")}, headers=p["lead_wang"])
    assert_error(bad, 400, "DOCUMENT_INVALID")
    assert_error(await api.post(f"/api/v1/inspection-requests/{req['id']}/documents",
                                files={"file": ("a.pdf", pdf_doc, "application/pdf")}, headers=p["lc_inspector"]),
                 403, "FORBIDDEN_ROLE")
    image_doc = encode(picture(1200, 900, 11), ".jpg")  # a scanned acceptance sheet, by the supervisor
    up = await api.post(f"/api/v1/inspection-requests/{req['id']}/documents",
                        files={"file": ("验收记录扫描件.jpg", image_doc, "image/jpeg")}, headers=p["sup_li"])
    assert up.status_code == 201, up.text
    listed = (await api.get(f"/api/v1/inspection-requests/{req['id']}/documents", headers=p["lc_inspector"])).json()
    assert [d["name"] for d in listed] == ["隐蔽验收记录.pdf", "验收记录扫描件.jpg"] and listed[0]["url"]
    _, complaint = await report(api, admin, 330302, project_id=pid)
    return {"pdf_doc": pdf_doc, "image_doc": image_doc, "project": project, "request": req, "photos": photos + [answer_photo], "complaint": complaint, "people": p}


def _pages(pdf: bytes, tmp: Path) -> list[np.ndarray]:
    (tmp / "f.pdf").write_bytes(pdf)
    subprocess.run([PDFTOPPM, "-r", "40", "-png", str(tmp / "f.pdf"), str(tmp / "page")], check=True, timeout=120)
    return [cv2.imread(str(path)) for path in sorted(tmp.glob("page-*.png"))]


def _text(pdf: bytes, tmp: Path) -> str:
    (tmp / "t.pdf").write_bytes(pdf)
    return subprocess.run([shutil.which("pdftotext") or "pdftotext", "-enc", "UTF-8", str(tmp / "t.pdf"), "-"],
                          check=True, capture_output=True, timeout=120).stdout.decode()


@pytest.mark.skipif(PDFTOPPM is None, reason="missing: pdftoppm (Debian/Ubuntu: apt-get install poppler-utils)")
async def test_project_file_pdf_and_zip(api, admin, tmp_path):
    life = await _life(api, admin)
    pid, insp = life["project"]["id"], life["people"]["lc_inspector"]
    today = datetime.now(UTC).date().isoformat()
    params = {"start": "2026-01-01", "end": today}
    pdf = await api.get(f"/api/v1/projects/{pid}/file/pdf", params=params, headers=insp)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text[:300]
    assert pdf.content.startswith(b"%PDF")
    again = await api.get(f"/api/v1/projects/{pid}/file/pdf", params=params, headers=life["people"]["lead_wang"])
    assert again.content == pdf.content  # reproducible: the same records give the same bytes

    # Looked at as images: cover, contents, six sections; the inspection section shows three thumbnails.
    pages = _pages(pdf.content, tmp_path)
    assert len(pages) >= 8
    for page in pages:
        assert page is not None and float(page.std()) > 3  # nothing blank
    colourful = [i for i, page in enumerate(pages) if len(np.unique(page.reshape(-1, 3), axis=0)) > 800]
    assert colourful, "no page shows photos"
    text = _text(pdf.content, tmp_path)
    assert "项目电子档案" in text and "目录" in text and life["project"]["name"] in text
    for title in ("项目阶段", "工序报验", "材料进场与检测", "监督抽查与质量暂停", "危大工程监测告警", "投诉处理"):
        assert text.count(title) >= 2, title  # in the contents and as a heading
    assert "筏板基础钢筋" in text and "钢筋间距偏差超限" in text and "施工许可" in text
    assert life["complaint"]["number"] in text and "市民" in text  # citizens are not named
    flat = text.replace("\n", "")
    assert "（监理）" in flat and "（监督员）" in flat and "（项目负责人）" in flat  # who did what
    # Issue 20: the request's documents are listed in the file — name, type, who uploaded them when — and the
    # image document is shown as a thumbnail (one image more than the photos: 3 of the request, 1 of the complaint).
    assert "报验附件 2 份" in flat and "001-隐蔽验收记录.pdf" in flat and "002-验收记录扫描件.jpg" in flat
    assert "PDF 文档" in flat and "JPEG 图片" in flat
    listing = flat[flat.index("报验附件 2 份"):][:700]
    assert "（项目负责人）" in listing and "（监理）" in listing, listing  # who uploaded each
    assert datetime.now(get_settings().zone()).strftime("%Y-%m-%d") in listing, listing  # when (local time)
    (tmp_path / "i.pdf").write_bytes(pdf.content)
    images = subprocess.run([shutil.which("pdfimages") or "pdfimages", "-list", str(tmp_path / "i.pdf")], check=True,
                            capture_output=True, timeout=60).stdout.decode().splitlines()[2:]
    sizes = sorted((int(line.split()[3]), int(line.split()[4])) for line in images if line.split()[2] == "image")
    assert len(sizes) == 3 + 1 + 1, images
    assert (320, 240) in sizes  # the 1200×900 scan, as a 320-pixel thumbnail (not the original embedded)

    # The ZIP: manifest, the PDF, every original photo byte for byte.
    z = await api.get(f"/api/v1/projects/{pid}/file/zip", params=params, headers=insp)
    assert z.status_code == 200, z.text[:300]
    assert (await api.get(f"/api/v1/projects/{pid}/file/zip", params=params, headers=insp)).content == z.content
    archive = zipfile.ZipFile(io.BytesIO(z.content))
    names = archive.namelist()
    assert names[:2] == ["manifest.json", "project_file.pdf"] and archive.read("project_file.pdf") == pdf.content
    manifest = json.loads(archive.read("manifest.json"))
    sections = {s["key"]: s for s in manifest["sections"]}
    assert [r["action"] for r in sections["stages"]["records"]] == ["permit", "start"]
    assert [r["action"] for r in sections["inspections"]["records"]] == ["submitted", "failed", "document", "document"]
    assert [(d["name"], d["content_type"]) for d in manifest["documents"]] == [
        ("隐蔽验收记录.pdf", "application/pdf"), ("验收记录扫描件.jpg", "image/jpeg")]
    assert archive.read(manifest["documents"][0]["file"]) == life["pdf_doc"]
    assert archive.read(manifest["documents"][1]["file"]) == life["image_doc"]  # the original, not the thumbnail
    listed = {ph["media_id"]: ph["file"] for ph in sections["inspections"]["photos"]}
    assert set(listed) == set(life["photos"])
    s3 = S3Client(get_settings())
    for media_id, name in listed.items():
        row = await Media.select(Media.key, Media.bytes).where(Media.id == media_id).first()
        stored = await s3.get_bytes("photos", row["key"])  # the verified image kept in S3
        assert len(stored) == row["bytes"] and archive.read(name) == stored
    assert len(sections["complaints"]["photos"]) == 1

    # A range before anything happened: the sections are empty, the PDF still has its index.
    empty = await api.get(f"/api/v1/projects/{pid}/file/zip", params={"start": "2020-01-01", "end": "2020-12-31"},
                          headers=insp)
    assert all(s["records"] == [] for s in json.loads(zipfile.ZipFile(io.BytesIO(empty.content)).read("manifest.json"))["sections"])

    # The same file from the command line.
    out = tmp_path / "cli"
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "backend.cli", "project-file", pid, "--start", "2026-01-01", "--end", today,
                         "--out", str(out)], check=True, cwd=ROOT, env=os.environ.copy(), timeout=300, capture_output=True)
    cli_pdf = (out / f"project-file-2026-01-01-{today}.pdf").read_bytes()
    if cli_pdf != pdf.content:  # say what differs
        import difflib

        diff = "\n".join(difflib.unified_diff(_text(pdf.content, tmp_path).splitlines(),
                                               _text(cli_pdf, tmp_path).splitlines(), lineterm="", n=1))
        pytest.fail(f"CLI PDF differs from the API's:\n{diff[:3000]}")
    assert (out / f"project-file-2026-01-01-{today}.zip").read_bytes() == z.content


async def test_project_file_refusals(api, admin):
    p = await people(api)
    project = await planned_project(api, admin)
    url = f"/api/v1/projects/{project['id']}/file/pdf"
    assert_error(await api.get(url, params={"start": "2026-12-02", "end": "2026-12-01"}, headers=p["lc_inspector"]), 400,
                 "FILE_RANGE_INVALID")
    assert_error(await api.get(url, params={"start": "2000-01-01", "end": "2026-12-01"}, headers=p["lc_inspector"]), 400,
                 "FILE_RANGE_INVALID")
    assert_error(await api.get(url, params={"start": "2026-01-01", "end": "2026-12-01"}, headers=p["lw_inspector"]), 403,
                 "FORBIDDEN_DISTRICT")
    assert_error(await api.get(url, params={"start": "2026-01-01"}, headers=p["lc_inspector"]), 400, "VALIDATION_ERROR")
