"""The stage and inspection tables (pure): every allowed move, and the refusals on both sides of each."""

from __future__ import annotations

import pytest

from backend.auth.principal import Role
from backend.lifecycle.rules import (
    INSPECTION_TRANSITIONS,
    STAGE_ACTIONS,
    STAGE_ORDER,
    InspectionStatus,
    Stage,
    TransitionRefused,
    is_repeat_failure,
    next_inspection_status,
    reached,
    stage_action,
)


def test_the_stage_actions_walk_the_stages_in_order_once():
    moves = list(STAGE_ACTIONS.values())
    assert [m.source for m in moves] == list(STAGE_ORDER[:-1])
    assert [m.target for m in moves] == list(STAGE_ORDER[1:])


@pytest.mark.parametrize("action", list(STAGE_ACTIONS))
@pytest.mark.parametrize("stage", list(Stage))
def test_an_action_is_allowed_only_from_its_stage(action, stage):
    if STAGE_ACTIONS[action].source is stage:
        assert stage_action(action, stage.value).target is STAGE_ACTIONS[action].target
    else:
        with pytest.raises(TransitionRefused):
            stage_action(action, stage.value)


def test_who_moves_which_stage_and_which_are_gated():
    assert STAGE_ACTIONS["permit"].roles == {Role.INSPECTOR, Role.REGULATOR_ADMIN}
    assert STAGE_ACTIONS["accept_foundation"].roles == {Role.SUPERVISOR}  # GB 50300-2013 6.0.3
    assert STAGE_ACTIONS["file"].roles == {Role.REGULATOR_ADMIN}
    assert {a for a, m in STAGE_ACTIONS.items() if m.gated} == {"accept_foundation", "accept_structure", "accept_completion"}


def test_unknown_action_is_refused():
    with pytest.raises(TransitionRefused):
        stage_action("demolish", "started")


@pytest.mark.parametrize(("current", "stage", "expected"), [
    ("approved", Stage.PERMITTED, False), ("permitted", Stage.PERMITTED, True), ("started", Stage.PERMITTED, True),
    ("permitted", Stage.STARTED, False), ("filed", Stage.STARTED, True),
])
def test_reached(current, stage, expected):
    assert reached(current, stage) is expected


@pytest.mark.parametrize("status", list(InspectionStatus))
@pytest.mark.parametrize("action", ["pass", "fail", "resubmit", "audit_uphold", "audit_overturn"])
def test_inspection_moves(status, action):
    target = INSPECTION_TRANSITIONS.get((status, action))
    if target is None:
        with pytest.raises(TransitionRefused):
            next_inspection_status(status.value, action)
    else:
        assert next_inspection_status(status.value, action) is target


def test_a_repeat_failure_is_the_second_of_a_chain():
    assert is_repeat_failure(0) is False
    assert is_repeat_failure(1) is True
