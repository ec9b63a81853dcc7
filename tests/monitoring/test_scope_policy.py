"""A list and the policy never disagree: /mp/v1/monitoring/alarms lists exactly the open alarms whose detail the
caller may open (read_monitoring), for each kind of non-staff caller — the project's lead, its supervisor, the
safety director named on the work (a contractor's user who is no lead), and a user of the same contractor who is
neither (scope.answerable_projects_sql against policy.read_monitoring)."""

from __future__ import annotations

import pytest

from backend.projects.tables import ProjectParty
from tests.access.world import enterprise_user
from tests.monitoring.helpers import make_sensor, reading, tokens
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio


async def test_my_alarms_lists_what_the_policy_lets_each_caller_open(api, admin, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    gc = await ProjectParty.select(ProjectParty.enterprise).where(
        (ProjectParty.project == s["project_id"]) & (ProjectParty.role == "general_contractor")).first()
    director = await enterprise_user(api, admin, "project_lead", str(gc["enterprise"]))
    bystander = await enterprise_user(api, admin, "project_lead", str(gc["enterprise"]))
    resp = await api.patch(f"/api/v1/monitoring/works/{s['work_id']}", headers=toks["lead_wang"],
                           json={"safety_director_id": director["id"]})
    assert resp.status_code == 200, resp.text
    start_iot()
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})

    async def listed(headers):  # noqa: ANN001, ANN202
        resp = await api.get("/mp/v1/monitoring/alarms?limit=200", headers=headers)
        assert resp.status_code == 200, resp.text
        return {a["id"] for a in resp.json() if a["sensor_id"] == s["id"]}

    [alarm] = await eventually(lambda: listed(toks["lead_wang"]), timeout=30)
    for name, headers, sees in (("lead", toks["lead_wang"], True), ("supervisor", toks["sup_li"], True),
                                ("safety director", director["headers"], True),
                                ("same contractor, no role on the project", bystander["headers"], False)):
        detail = await api.get(f"/mp/v1/monitoring/alarms/{alarm}", headers=headers)
        assert (detail.status_code == 200) is sees, (name, detail.status_code, detail.text)
        assert (alarm in await listed(headers)) is sees, name
