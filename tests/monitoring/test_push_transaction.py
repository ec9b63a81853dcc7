"""Alarm pushes are written in the ingest's own transaction (issue 18): the alarm event, its notifications,
the escalation chain and the outbox rows that deliver them carry one transaction id (xmin), so no push is
sent after a commit and none can exist without its alarm. Through the real iot worker and broker."""

from __future__ import annotations

import pytest

from backend.monitoring.tables import AlarmEvent
from tests.monitoring.helpers import make_sensor, reading, tokens
from tests.support.workers import eventually

pytestmark = pytest.mark.asyncio


async def _xmins(alarm_id: str, kind: str) -> dict[str, set[str]]:
    """The transaction ids of the event of ``kind``, and of what reports it."""
    ev = await AlarmEvent.raw(
        "SELECT xmin::text AS x, notified_at FROM monitoring_alarm_events WHERE alarm = {}::uuid AND kind = {}",
        alarm_id, kind)
    notes = await AlarmEvent.raw(
        "SELECT n.xmin::text AS x, n.id FROM notifications n WHERE n.subject_type = 'monitoring_alarm'"
        " AND n.subject_id = {}", alarm_id)
    chains = await AlarmEvent.raw(
        "SELECT xmin::text AS x FROM escalations WHERE subject_type = 'monitoring_alarm' AND subject_id = {}", alarm_id)
    outbox = await AlarmEvent.raw(
        "SELECT o.xmin::text AS x FROM outbox o JOIN notification_deliveries d ON d.id = o.ref WHERE o.kind = 'wechat'"
        " AND d.notification = ANY({}::uuid[])", [n["id"] for n in notes])
    return {"event": {r["x"] for r in ev}, "notified": {str(r["notified_at"] is not None) for r in ev},
            "notifications": {r["x"] for r in notes}, "chains": {r["x"] for r in chains},
            "outbox": {r["x"] for r in outbox}}


async def test_alarm_push_is_written_with_the_alarm(api, start_iot, publisher):
    toks = await tokens(api)
    s = await make_sensor(api, toks)
    start_iot()
    publisher.send(s["topic"], {"readings": [reading(0, 0.0), reading(1, 0.5), reading(20, 12.0)]})

    async def raised():
        rows = (await api.get("/mp/v1/monitoring/alarms", headers=toks["lead_wang"])).json()
        return [a for a in rows if a["sensor_id"] == s["id"]]

    [alarm] = await eventually(raised, timeout=30)
    got = await _xmins(alarm["id"], "raised")
    # the lead is told at once (step 0 of the chain), in the very transaction that raised the alarm
    assert len(got["event"]) == 1 and got["notified"] == {"True"}
    assert got["notifications"] == got["event"] and got["chains"] == got["event"]
    assert got["outbox"] <= got["event"]
    # The reading back under the clearing value: the "cleared" message goes out with the clearing batch.
    publisher.send(s["topic"], {"readings": [reading(30 + i, 0.1) for i in range(6)]})

    async def cleared():
        rows = await AlarmEvent.raw("SELECT 1 FROM monitoring_alarm_events WHERE alarm = {}::uuid AND kind = 'cleared'",
                                    alarm["id"])
        return rows

    assert await eventually(cleared, timeout=15)
    after = await _xmins(alarm["id"], "cleared")
    assert after["notified"] == {"True"}
    assert after["event"] <= after["notifications"]  # the clear message shares the clearing transaction
