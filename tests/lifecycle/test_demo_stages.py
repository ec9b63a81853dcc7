"""The demo holds a project at every stage, each with its audited moves, and its site page data."""

from __future__ import annotations

import pytest

from backend.lifecycle.demo import STAGED
from backend.lifecycle.rules import STAGE_ORDER

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_demo_has_a_project_at_each_stage(api, admin):
    seen = {}
    for _, permit, *_ in STAGED + [(None, "330302202603150101")]:
        project = (await api.get("/api/v1/projects", params={"q": permit}, headers=admin)).json()["items"][0]
        stage = (await api.get(f"/api/v1/projects/{project['id']}/stage", headers=admin)).json()
        seen[stage["stage"]] = stage
        # One event per move up to the stage, by the party allowed to make it, in order.
        assert [e["to_stage"] for e in stage["events"]] == [s.value for s in STAGE_ORDER[1:STAGE_ORDER.index(
            next(s for s in STAGE_ORDER if s.value == stage["stage"])) + 1]] or stage["stage"] == "started"
    assert set(seen) == {s.value for s in STAGE_ORDER}
    assert [(e["action"], e["actor_role"]) for e in seen["filed"]["events"]] == [
        ("permit", "regulator_admin"), ("start", "project_lead"), ("accept_foundation", "supervisor"),
        ("accept_structure", "supervisor"), ("accept_completion", "regulator_admin"), ("file", "regulator_admin")]
    assert seen["approved"]["next_actions"] == ["permit"]
