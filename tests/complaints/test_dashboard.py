"""The SLA dashboard: numbers match what happened (a category of its own keeps the test's data apart)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from backend.complaints.dashboard import compute
from backend.complaints.tables import Complaint
from tests.complaints.helpers import photo, report
from tests.support.api import bearer, staff_token
from tests.support.asserts import assert_error


async def test_dashboard_counts(api, admin):
    code = f"dash_{uuid.uuid4().hex[:8]}"
    await api.put(f"/api/v1/complaints/categories/{code}", json={"name": "看板测试", "sla_hours": 72}, headers=admin)
    made = [await report(api, admin, 330302, category=code) for _ in range(4)]
    token = {"access_token": admin["Authorization"].split()[1]}
    # 1: resolved on time, confirmed, rated 5 · 2: resolved on time, rated 2 · 3: overdue (deadline moved back) · 4: open
    for i, (pair, c) in enumerate(made[:2]):
        await api.post(f"/api/v1/complaints/{c['id']}/accept", headers=admin)
        after = await photo(api, token, purpose="complaint_result")
        await api.post(f"/api/v1/complaints/{c['id']}/resolve", json={"notes": "整改完成并复查", "photo_ids": [after]}, headers=admin)
        if i == 0:
            await api.post(f"/mp/v1/complaints/{c['id']}/confirm", headers=bearer(pair))
        await api.post(f"/mp/v1/complaints/{c['id']}/rating", json={"score": 5 if i == 0 else 2}, headers=bearer(pair))
    past = datetime.now(UTC) - timedelta(hours=1)
    await Complaint.update({Complaint.deadline_at: past, Complaint.overdue: True}).where(Complaint.id == uuid.UUID(made[2][1]["id"]))

    resp = await api.get(f"/api/v1/complaints/dashboard?category={code}&district_adcode=330302", headers=admin)
    assert resp.status_code == 200, resp.text
    d = resp.json()
    assert d["total"] == 4 and d["open"] == 2 and d["overdue_open"] == 1
    assert d["due"] == 3 and d["handled_on_time"] == 2 and d["on_time_handling_rate"] == round(2 / 3, 4)
    assert d["rated"] == 2 and d["satisfied"] == 1 and d["satisfaction_rate"] == 0.5
    assert d["resolved"] == 2 and d["callback_verified"] == 2 and d["callback_verification_rate"] == 1.0
    assert d["mean_handling_hours"] is not None and d["mean_handling_hours"] < 0.1
    assert d["by_status"] == {"closed": 1, "resolved": 1, "dispatched": 2}
    assert d["by_district"][0]["district_adcode"] == 330302

    start = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    end = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    csv_resp = await api.get("/api/v1/complaints/export.csv", params={"start": start, "end": end, "district_adcode": 330302}, headers=admin)
    assert csv_resp.status_code == 200 and csv_resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_resp.text.lstrip("\ufeff"))))
    assert {m[1]["number"] for m in made} <= {r["number"] for r in rows}


async def test_dashboard_is_district_scoped(api):
    lc = await staff_token(api, "lc_inspector")
    assert (await api.get("/api/v1/complaints/dashboard", headers=lc)).json()["district_adcode"] == 330302
    assert_error(await api.get("/api/v1/complaints/dashboard?district_adcode=330303", headers=lc), 403, "FORBIDDEN_DISTRICT")


def test_compute_definitions():
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    h = timedelta(hours=1)
    base = {"overdue": False, "satisfaction": None, "citizen_feedback_at": None, "closed_at": None, "resolved_at": None,
            "paused_total_s": 0.0, "clock_started_at": now - 80 * h, "submitted_at": now - 80 * h,
            "breached_at": None, "paused_at": None}
    rows = [
        {**base, "status": "closed", "deadline_at": now - 8 * h, "resolved_at": now - 9 * h, "closed_at": now - 8.5 * h,
         "satisfaction": 4, "citizen_feedback_at": now - 8.5 * h},  # on time, closed on time, satisfied
        {**base, "status": "resolved", "deadline_at": now - 8 * h, "resolved_at": now - 7 * h},  # 1 h late
        {**base, "status": "rejected", "deadline_at": now + 10 * h, "closed_at": now - 1 * h},  # rejected in time
        {**base, "status": "dispatched", "deadline_at": now + 10 * h},  # not yet due
        # Breached, reopened, then resolved within the new clock's deadline: still late for the rates.
        {**base, "status": "resolved", "deadline_at": now - 1 * h, "resolved_at": now - 2 * h, "breached_at": now - 30 * h},
    ]
    f = compute(rows, now, confirm_window_s=7 * 24 * 3600)
    assert (f["due"], f["handled_on_time"], f["on_time_handling_rate"]) == (4, 2, 0.5)
    assert (f["rated"], f["satisfied"], f["resolved"], f["callback_verified"]) == (1, 1, 3, 1)
    assert f["mean_handling_hours"] == round((71 + 73 + 78) / 3, 3) and f["p90_handling_hours"] == 78
    assert f["open"] == 1 and f["overdue_open"] == 0
