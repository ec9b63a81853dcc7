"""A project's life (项目全生命周期), pure: the stage table, who may move it, the inspection-request machine.

Sources of the rules:
- 施工许可 before any work: 《建筑工程施工许可管理办法》(住房和城乡建设部令第18号, 2014; 2021 修正) 第二条、第三条.
- 分部工程验收 (地基与基础, 主体结构) is organised by the chief supervising engineer (总监理工程师):
  GB 50300-2013《建筑工程施工质量验收统一标准》6.0.3.
- 检验批 / 分项工程 are accepted by the supervising engineer (专业监理工程师) on the contractor's request:
  GB 50300-2013 6.0.1, 6.0.2 (here: an inspection request, 工序报验).
- 竣工验收 is organised by the owner (建设单位) under the station's supervision (《房屋建筑和市政基础设施工程
  竣工验收规定》建质〔2013〕171号 第六条、第九条); the station records it here.
- 竣工验收备案 with the construction department: 《房屋建筑和市政基础设施工程竣工验收备案管理办法》
  (住房和城乡建设部令第2号, 2009 修正) 第四条.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.auth.principal import Role


class Stage(StrEnum):
    APPROVED = "approved"  # 已立项
    PERMITTED = "permitted"  # 已取得施工许可
    STARTED = "started"  # 已开工
    FOUNDATION_ACCEPTED = "foundation_accepted"  # 地基与基础分部工程已验收
    STRUCTURE_ACCEPTED = "structure_accepted"  # 主体结构分部工程已验收
    COMPLETION_ACCEPTED = "completion_accepted"  # 已竣工验收
    FILED = "filed"  # 已竣工验收备案


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)

STAGE_ZH = {
    Stage.APPROVED: "立项", Stage.PERMITTED: "施工许可", Stage.STARTED: "开工",
    Stage.FOUNDATION_ACCEPTED: "地基与基础验收", Stage.STRUCTURE_ACCEPTED: "主体结构验收",
    Stage.COMPLETION_ACCEPTED: "竣工验收", Stage.FILED: "竣工验收备案",
}


class InspectionStage(StrEnum):
    """The part of the works an inspection lot belongs to (分部工程)."""

    FOUNDATION = "foundation"  # 地基与基础
    STRUCTURE = "structure"  # 主体结构
    FINISHING = "finishing"  # 装饰装修、屋面、安装等


@dataclass(frozen=True, slots=True)
class StageAction:
    """One move of the stage machine: from → to, who may make it, whether gates apply and which lots count."""

    source: Stage
    target: Stage
    roles: frozenset[Role]
    gated: bool = False
    # Inspection requests that must be answered (and not left failed) first; None: none; "all": every stage.
    inspections: tuple[InspectionStage, ...] = ()
    project_party: bool = False  # the actor must be the project's (lead of it, or its supervision enterprise)


_STATION = frozenset({Role.INSPECTOR, Role.REGULATOR_ADMIN})

# action → StageAction. The one table every stage transition goes through.
STAGE_ACTIONS: dict[str, StageAction] = {
    "permit": StageAction(Stage.APPROVED, Stage.PERMITTED, _STATION),
    "start": StageAction(Stage.PERMITTED, Stage.STARTED, frozenset({Role.PROJECT_LEAD, *_STATION}), project_party=True),
    "accept_foundation": StageAction(Stage.STARTED, Stage.FOUNDATION_ACCEPTED, frozenset({Role.SUPERVISOR}),
                                     gated=True, inspections=(InspectionStage.FOUNDATION,), project_party=True),
    "accept_structure": StageAction(Stage.FOUNDATION_ACCEPTED, Stage.STRUCTURE_ACCEPTED, frozenset({Role.SUPERVISOR}),
                                    gated=True, inspections=(InspectionStage.STRUCTURE,), project_party=True),
    "accept_completion": StageAction(Stage.STRUCTURE_ACCEPTED, Stage.COMPLETION_ACCEPTED, _STATION,
                                     gated=True, inspections=tuple(InspectionStage)),
    "file": StageAction(Stage.COMPLETION_ACCEPTED, Stage.FILED, frozenset({Role.REGULATOR_ADMIN})),
}


class TransitionRefused(ValueError):
    def __init__(self, action: str, current: str) -> None:
        super().__init__(f"{action} is not allowed from {current}")
        self.action = action
        self.current = current


def stage_action(action: str, current: str) -> StageAction:
    """The move an action makes from the current stage, or TransitionRefused."""
    move = STAGE_ACTIONS.get(action)
    if move is None or move.source.value != current:
        raise TransitionRefused(action, current)
    return move


def reached(current: str, stage: Stage) -> bool:
    """Whether a project at `current` has reached `stage` (or gone past it)."""
    return STAGE_ORDER.index(Stage(current)) >= STAGE_ORDER.index(stage)


class InspectionStatus(StrEnum):
    SUBMITTED = "submitted"  # 已报验，待监理答复
    PASSED = "passed"  # 验收合格
    FAILED = "failed"  # 不合格，待整改后重新报验
    RESUBMITTED = "resubmitted"  # 不合格后已重新报验 (the new request carries on)


# (from, action) → to. An audit by the station may overturn an answer (监督抽查); an upheld answer stays.
INSPECTION_TRANSITIONS: dict[tuple[InspectionStatus, str], InspectionStatus] = {
    (InspectionStatus.SUBMITTED, "pass"): InspectionStatus.PASSED,
    (InspectionStatus.SUBMITTED, "fail"): InspectionStatus.FAILED,
    (InspectionStatus.FAILED, "resubmit"): InspectionStatus.RESUBMITTED,
    (InspectionStatus.PASSED, "audit_uphold"): InspectionStatus.PASSED,
    (InspectionStatus.FAILED, "audit_uphold"): InspectionStatus.FAILED,
    (InspectionStatus.RESUBMITTED, "audit_uphold"): InspectionStatus.RESUBMITTED,
    (InspectionStatus.PASSED, "audit_overturn"): InspectionStatus.FAILED,
    (InspectionStatus.FAILED, "audit_overturn"): InspectionStatus.PASSED,
}

# Not settled: blocks the acceptance of its stage.
INSPECTION_OPEN = frozenset({InspectionStatus.SUBMITTED, InspectionStatus.FAILED})


def next_inspection_status(current: str, action: str) -> InspectionStatus:
    """The status an inspection action leads to, or TransitionRefused."""
    target = INSPECTION_TRANSITIONS.get((InspectionStatus(current), action))
    if target is None:
        raise TransitionRefused(action, current)
    return target


# Credit (信用) from inspection requests: the second failure running of the same lot counts against the
# general contractor; an answer after the deadline against the supervision enterprise (see credit.scoring).
REPEAT_FAILURE_KIND = "inspection_failed_repeat"
LATE_ANSWER_KIND = "inspection_answer_late"


def is_repeat_failure(previous_failures: int) -> bool:
    """A failure is a repeat when the same lot failed before (the chain of re-requests)."""
    return previous_failures >= 1
