"""Demo projects at every stage of a project's life (立项 … 备案), each with its stage events as if moved by
the parties allowed to (station, lead, supervisor, regulator admin). Idempotent: a project that exists is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from shapely.geometry import shape

from backend.districts.tables import District
from backend.lifecycle.rules import STAGE_ACTIONS, STAGE_ORDER, Stage
from backend.lifecycle.tables import StageEvent
from backend.projects.tables import Project, ProjectLead, ProjectParty

# name, permit, district, address, stage. (滨江商务区T05地块住宅项目 and the other seeded projects are at 开工.)
STAGED = [
    ("瓯海大学城配套小学", "330304202611020501", 330304, "瓯海区茶山街道", Stage.APPROVED),
    ("洞头海岛客运中心", "330305202609150601", 330305, "洞头区北岙街道", Stage.PERMITTED),
    ("永嘉瓯北滨江安置房", "330324202603010701", 330324, "永嘉县瓯北街道", Stage.FOUNDATION_ACCEPTED),
    ("平阳鳌江文体中心", "330326202511200801", 330326, "平阳县鳌江镇", Stage.STRUCTURE_ACCEPTED),
    ("苍南灵溪人才公寓", "330327202502100901", 330327, "苍南县灵溪镇", Stage.COMPLETION_ACCEPTED),
    ("龙港新城商务楼", "330383202406011001", 330383, "龙港市新城街道", Stage.FILED),
]
PARTIES = [("91330303MA2CD3E4FR", "general_contractor"), ("91330381MA2GH7J8K6", "supervision")]
_ACTOR = {"permit": "admin", "start": "lead_wang", "accept_foundation": "sup_li", "accept_structure": "sup_li",
          "accept_completion": "admin", "file": "admin"}
_ROLE = {"admin": "regulator_admin", "lead_wang": "project_lead", "sup_li": "supervisor"}
_NOTE = {"permit": "施工许可证已核发", "start": "开工报告已确认", "accept_foundation": "地基与基础分部工程验收合格",
         "accept_structure": "主体结构分部工程验收合格", "accept_completion": "竣工验收合格（质监站监督）",
         "file": "竣工验收备案"}


def _square(lng: float, lat: float, half: float = 0.0012) -> dict[str, Any]:
    ring = [[lng - half, lat - half], [lng + half, lat - half], [lng + half, lat + half], [lng - half, lat + half],
            [lng - half, lat - half]]
    return {"type": "Polygon", "coordinates": [ring]}


async def seed_stages(user_ids: dict[str, UUID], enterprise_ids: dict[str, UUID]) -> int:
    """Create the staged demo projects that are missing; returns how many were made."""
    made = 0
    for name, permit, district, address, stage in STAGED:
        if await Project.exists().where(Project.permit_no == permit):
            continue
        boundary = await District.select(District.boundary).where(District.adcode == district).output(
            load_json=True).first()
        point = shape(boundary["boundary"]).representative_point()
        moves = [a for a, m in STAGE_ACTIONS.items() if STAGE_ORDER.index(m.target) <= STAGE_ORDER.index(stage)]
        status = "completed" if stage in (Stage.COMPLETION_ACCEPTED, Stage.FILED) else (
            "planned" if stage in (Stage.APPROVED, Stage.PERMITTED) else "under_construction")
        # The registration (立项) some months back, then one move every ~70 days.
        start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC) - timedelta(days=70 * len(moves))
        project = Project(name=name, permit_no=permit, address=address, lng=point.x, lat=point.y,
                          geofence=_square(point.x, point.y), district=district, status=status, stage=stage.value,
                          created_by=user_ids["admin"], created_at=start, updated_at=start)
        async with Project._meta.db.transaction():
            await project.save()
            for uscc, role in PARTIES:
                await ProjectParty.insert(ProjectParty(project=project.id, enterprise=enterprise_ids[uscc], role=role))
            await ProjectLead.insert(ProjectLead(project=project.id, user=user_ids["lead_wang"]))
            for i, action in enumerate(moves, 1):
                move = STAGE_ACTIONS[action]
                detail = {"permit_no": permit, "issued_on": (start + timedelta(days=70)).date().isoformat(),
                          "authority": "温州市住房和城乡建设局"} if action == "permit" else {}
                who = _ACTOR[action]
                await StageEvent.insert(StageEvent(
                    id=uuid4(), project=project.id, action=action, from_stage=move.source.value,
                    to_stage=move.target.value, actor=user_ids[who], actor_role=_ROLE[who],
                    at=start + timedelta(days=70 * i), note=_NOTE[action], detail=detail))
        made += 1
    return made
