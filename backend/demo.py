"""Idempotent demo data: Wenzhou's 12 districts with stations, enterprises, users and projects.

Demo passwords are for a developer's machine only; seed-demo refuses to run in production.
"""

from __future__ import annotations

from shapely.geometry import shape

from backend.accounts.tables import User
from backend.auth.passwords import hash_password
from backend.auth.principal import Role
from backend.demo_workforce import seed_workforce
from backend.districts import service as districts_service
from backend.districts.tables import District
from backend.enterprises.service import normalize_uscc
from backend.enterprises.tables import Enterprise
from backend.geo.districts import default_geojson_path, load_geojson
from backend.projects.tables import Project, ProjectLead, ProjectParty
from backend.settings import Settings

BOUNDARY_SOURCE = "DataV.GeoAtlas 330300_full (simplified, GCJ-02), via anzhou99/GeoJsons c509f3a — demo only"
ADMIN_PASSWORD = "Admin-demo-2026"
STAFF_PASSWORD = "Demo-pass-2026"

ENTERPRISES = [
    ("91330302MA2AB1C2DL", "温州城建开发有限公司", ["owner"], 330302),
    ("91330303MA2CD3E4FR", "浙江瓯江建设集团有限公司", ["general_contractor"], 330303),
    ("91330304MA2EF5G6HY", "温州安居劳务有限公司", ["labour_subcontractor"], 330304),
    ("91330381MA2GH7J8K6", "温州正衡工程监理有限公司", ["supervision"], 330381),
    ("91330382MA2JK9L0M1", "温州东海劳务分包有限公司", ["labour_subcontractor"], 330382),
    ("91330300MA2LM1N2PN", "浙江永固水泥有限公司", ["manufacturer"], None),
    ("91330302MA2NP3Q4RA", "温州市建设工程检测中心", ["testing_lab"], 330302),
]

# username, role, name, district, enterprise uscc, openid
USERS = [
    ("admin", Role.REGULATOR_ADMIN, "市住建局管理员", None, None, None),
    ("lc_admin", Role.REGULATOR_ADMIN, "鹿城站站长", 330302, None, None),
    ("lc_inspector", Role.INSPECTOR, "鹿城监督员张工", 330302, None, None),
    ("lw_inspector", Role.INSPECTOR, "龙湾监督员陈工", 330303, None, None),
    ("ra_inspector", Role.INSPECTOR, "瑞安监督员林工", 330381, None, None),
    ("lead_wang", Role.PROJECT_LEAD, "项目经理王工", None, "91330303MA2CD3E4FR", "demo-lead"),
    ("sup_li", Role.SUPERVISOR, "总监理工程师李工", None, "91330381MA2GH7J8K6", "demo-supervisor"),
]

# name, permit, district, address, parties (uscc, role), leads
PROJECTS = [
    (
        "滨江商务区T05地块住宅项目",
        "330302202603150101",
        330302,
        "鹿城区滨江街道",
        [
            ("91330302MA2AB1C2DL", "owner"),
            ("91330303MA2CD3E4FR", "general_contractor"),
            ("91330304MA2EF5G6HY", "labour_subcontractor"),
            ("91330381MA2GH7J8K6", "supervision"),
        ],
        ["lead_wang"],
    ),
    (
        "龙湾万达广场二期",
        "330303202604020201",
        330303,
        "龙湾区永中街道",
        [("91330303MA2CD3E4FR", "general_contractor"), ("91330382MA2JK9L0M1", "labour_subcontractor")],
        ["lead_wang"],
    ),
    (
        "瑞安市人民医院新院区",
        "330381202605100301",
        330381,
        "瑞安市安阳街道",
        [("91330381MA2GH7J8K6", "supervision")],
        [],
    ),
    ("乐清中学新校区", "330382202606180401", 330382, "乐清市城南街道", [], []),
]


def _square(lng: float, lat: float, half_deg: float = 0.0012) -> dict:
    ring = [
        [lng - half_deg, lat - half_deg],
        [lng + half_deg, lat - half_deg],
        [lng + half_deg, lat + half_deg],
        [lng - half_deg, lat + half_deg],
        [lng - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


async def seed(settings: Settings) -> list[str]:
    """Load or refresh the demo data; safe to run repeatedly."""
    features = load_geojson(settings.DISTRICTS_GEOJSON or default_geojson_path())
    await districts_service.import_districts(features, source=BOUNDARY_SOURCE, approximate=True)
    for f in features:
        await districts_service.ensure_station(f.adcode, f"温州市{f.name}建设工程质量安全监督站", phone="0577-12345")

    enterprise_ids = {}
    for uscc, name, kinds, district in ENTERPRISES:
        code = normalize_uscc(uscc)
        row = await Enterprise.select(Enterprise.id).where(Enterprise.uscc == code).first()
        if row is None:
            ent = Enterprise(uscc=code, name=name, kinds=kinds, district=district)
            await ent.save()
            enterprise_ids[uscc] = ent.id
        else:
            enterprise_ids[uscc] = row["id"]

    user_ids = {}
    for username, role, name, district, uscc, openid in USERS:
        row = await User.select(User.id).where(User.username == username).first()
        if row is None:
            password = ADMIN_PASSWORD if username == "admin" else STAFF_PASSWORD
            user = User(
                role=role.value,
                username=username,
                display_name=name,
                password_hash=hash_password(password),
                district=district,
                enterprise=enterprise_ids.get(uscc) if uscc else None,
                openid=openid,
            )
            await user.save()
            user_ids[username] = user.id
        else:
            user_ids[username] = row["id"]

    for name, permit, district, address, parties, leads in PROJECTS:
        if await Project.exists().where(Project.permit_no == permit):
            continue
        boundary = await District.select(District.boundary).where(District.adcode == district).output(
            load_json=True
        ).first()
        point = shape(boundary["boundary"]).representative_point()
        project = Project(
            name=name,
            permit_no=permit,
            address=address,
            lng=point.x,
            lat=point.y,
            geofence=_square(point.x, point.y),
            district=district,
            created_by=user_ids["admin"],
        )
        await project.save()
        for uscc, role in parties:
            await ProjectParty.insert(ProjectParty(project=project.id, enterprise=enterprise_ids[uscc], role=role))
        for username in leads:
            await ProjectLead.insert(ProjectLead(project=project.id, user=user_ids[username]))

    from backend.lifecycle.demo import STAGED, seed_stages  # issue 20: a demo project at each stage

    await seed_stages(user_ids, enterprise_ids)
    workforce = await seed_workforce(settings)  # issue 19: roster, a month of clocks, a paid payroll

    return [
        *workforce,
        f"districts: {len(features)} with stations",
        f"staged projects (立项 … 备案): {len(STAGED)}",
        f"enterprises: {len(ENTERPRISES)}, users: {len(USERS)}, projects: {len(PROJECTS)}",
        f"staff sign-in: admin / {ADMIN_PASSWORD} (city-wide); lc_inspector, lw_inspector / {STAFF_PASSWORD}",
        "mini-program demo codes: 'demo-lead:<n>' (project lead), 'demo-citizen:<n>' (a citizen)",
    ]
