"""The end-of-run audit can fail: a stored message WeChat would refuse is caught, naming the key."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from backend.notifications.tables import Notification
from tests.support import env
from tests.support.api import mp_login
from tests.support.wechat import replay_stored_messages

pytestmark = pytest.mark.asyncio


async def test_replay_catches_a_message_wechat_would_refuse(api, tmp_path):
    user = uuid.UUID((await mp_login(api))["user"]["id"])
    # the pre-fix alarm of issue #16: a UTC ISO time cut with an ellipsis
    bad = {"thing1": {"value": "测试项目"}, "thing2": {"value": "CX-03"}, "phrase3": {"value": "报警"},
           "time4": {"value": "2026-12-03 23:07:14…"}, "thing5": {"value": "超过报警值"}}
    row = Notification(recipient=user, template="alarm_raised", title="t", body="b", data=json.dumps(bad, ensure_ascii=False),
                       page="pages/alarm/detail?id=x", dedup_key=f"audit:{uuid.uuid4().hex}")
    await row.save()
    try:
        refused = await asyncio.to_thread(replay_stored_messages, env.DATABASE_URL, tmp_path / "fake.log")
    finally:
        await Notification.delete().where(Notification.id == row.id)
    ours = [r for r in refused if r["message"]["data"] == bad]
    assert [(r["errcode"], r["errmsg"]) for r in ours] == [(47003, "argument invalid! data.time4.value")]
    assert [r for r in refused if r["message"]["data"] != bad] == []  # everything else stored so far is valid
