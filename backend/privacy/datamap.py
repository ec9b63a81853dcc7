"""The data map (个人信息处理记录): every personal field Zhijian holds, why, on what legal basis, who reads it, where it
is copied and how long it is kept — the annotations beside the tables, checked against them.

`check()` compares the annotations with the live table classes: a column whose name looks personal (``PERSONAL_NAME``)
must be annotated, either `Personal(...)` or `NotPersonal(why)`, and an annotation must name a column that exists —
so a new personal column without an annotation fails the test run. References to people (foreign keys to users and
workers) are listed from the tables themselves. `render()` writes docs/PERSONAL_DATA.md (``python -m backend.cli
data-map``); a test checks the committed page against a fresh render, so the page cannot drift from the tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from piccolo.columns import ForeignKey
from piccolo.table import Table

# Legal bases (PIPL = 《中华人民共和国个人信息保护法》, 2021).
CONSENT = ("PIPL 第13条第1项 同意: the acceptance of the current notice (version, time) is recorded in privacy_consents "
           "and required before the first report or clock-in (backend/privacy/consent.py)")
COMPLAINT_DUTY = ("PIPL 第13条第3项 履行法定职责: 《建设工程质量管理条例》第53条 (任何单位和个人有权对建设工程的质量"
                  "事故、质量缺陷检举、控告、投诉) — the station must handle the report")
REAL_NAME = ("PIPL 第13条第3项 履行法定义务: 《保障农民工工资支付条例》(国务院令第724号) 第28条 (用工实名登记); "
             "建市〔2019〕18号《建筑工人实名制管理办法（试行）》")
WAGE_LEDGER = "《保障农民工工资支付条例》第15条 (工资支付台账, kept at least 3 years); 第28条"
ACCOUNT = "PIPL 第13条第2项 (necessary to provide the service the person asked for: sign-in, messages to them)"
STAFF = "PIPL 第13条第2项 人力资源管理 / 第3项 履行法定职责 (regulators' and enterprises' acts are on record)"

# Retention rules (PIPL 第19条: no longer than the purpose needs). Enforcement: see `enforced` of each field.
KEEP_CASE = ("the complaint's file: identity, text and exact location anonymised 3 years after the case is "
             "closed")
KEEP_WAGES = "3 years after the worker's last payroll is paid (工资支付台账, 条例第15条), then deleted"
KEEP_ATTENDANCE = "3 years after the clock (attendance record), then deleted; selfies 90 days after the clock"
KEEP_ACCOUNT = "while the account is open; on closing: deleted or anonymised (what the law keeps excepted)"
KEEP_STAFF = "while the person holds the role, then 3 years after the account is disabled, then anonymised"
KEEP_SIGNED = ("kept with the record it signs for as long as that record is kept: who made an official decision is "
               "part of the record of the decision (PIPL 第13条第3项 履行法定职责; 第47条第2款: where a law sets the "
               "keeping, only storage and security go on)")
KEEP_PROJECT_FILE = ("with the project while it is built and 5 years after its 竣工验收备案 (the project file goes to the "
                     "city construction archive after 备案, 《城市建设档案管理规定》第6条; 5 years = the longest fixed "
                     "warranty, 《建设工程质量管理条例》第40条 屋面防水), then cleared")

# The default of `Personal.enforced`: a field left with it fails tests/privacy/test_retention.py (every personal
# field must say where its retention is applied).
NOT_ENFORCED = "not enforced: kept with its record (the daily retention job has no rule for this field yet)"
# What the daily retention job (backend/privacy/retention.py, `python -m backend.cli retention`) really does.
_RUN = "daily job (backend/privacy/retention.py), rule "
BY_CASE = (_RUN + "`case`: RETENTION_CASE_YEARS after closing (closed, rejected or merged) the reporter, text, "
           "contact, address and comment are cleared, the point coarsened to 0.01° (about 1 km), the joiners deleted")
BY_CASE_PHOTOS = _RUN + "`case_photos`: the reporter's photos (S3 objects and rows) deleted with the case's anonymising"
BY_SELFIES = _RUN + "`selfies`: RETENTION_SELFIE_DAYS after upload the selfie's S3 objects and media row are deleted"
BY_CLOCKS = _RUN + "`clocks`: the whole clock record deleted RETENTION_ATTENDANCE_YEARS after the clock"
BY_CARDS = (_RUN + "`bank_cards`: cleared when the worker has been on no roster and in no unpaid or recently paid "
            "payroll for RETENTION_WAGE_YEARS")
BY_WORKERS = (_RUN + "`workers`: with the bank card (same condition, RETENTION_WAGE_YEARS) the name, ID number and its "
              "hash, sex, birth date (set to 1900-01-01), phone and its hash, WeChat link and face photo (S3 objects "
              "and media row) are cleared; the anonymous row stays for the payroll lines that point at it")
ON_CLOSING = "on account closing: backend/privacy/rights.py close_account"
BY_STAFF = (_RUN + "`staff`: RETENTION_STAFF_YEARS after a staff account is disabled (users.disabled_at) its name "
            "becomes 已离职人员, sign-in name, password, phone and WeChat ids are cleared, the console mirror deleted")
ACCOUNT_FIELD = (ON_CLOSING + " (citizens and workers); staff accounts: " + BY_STAFF)
BY_SCAN_POINTS = (_RUN + "`scan_points`: RETENTION_SCAN_POINT_DAYS after the scan the point is set to NULL, and its "
                  "copy in the alert the scan raised (material_alerts.detail) removed")
BY_REQUESTS = (_RUN + "`requests`: RETENTION_REQUEST_YEARS after the answer (or refusal) the request and its trail are "
               "deleted")
BY_INBOX = (_RUN + "`inbox`: RETENTION_INBOX_DAYS after sending the text (body and template data) is cleared; the "
            "title, time and delivery receipts stay; and " + ON_CLOSING + " (every message deleted)")
BY_KEY_PERSONNEL = (_RUN + "`key_personnel`: RETENTION_PROJECT_FILE_YEARS after the project's 竣工验收备案 (stage "
                    "`filed`) name and certificate number are cleared; deleted with the project before that")
WITH_SIGNED_RECORD = ("by law with the signed record: no separate deletion (it goes only with its record); the "
                      "person's own account is anonymised by rule `staff` of the daily job")


@dataclass(frozen=True)
class Personal:
    """A personal field: whose, what, how sensitive, why, on what basis, read by whom, copied where, kept how long."""

    subject: str  # citizen | worker | staff | any user
    what: str
    category: str  # general | sensitive (PIPL 第28条: 生物识别、金融账户、行踪轨迹、特定身份 …)
    purpose: str
    basis: str
    readers: str  # in the words of docs/ACCESS.md
    copies: str  # exports, webhooks, logs, S3, messages
    retention: str
    enforced: str = NOT_ENFORCED


@dataclass(frozen=True)
class NotPersonal:
    """A column whose name looks personal but holds no personal information (and why)."""

    why: str


# A column whose name matches this must be annotated below.
PERSONAL_NAME = re.compile(
    r"(^|_)(name|username|phone|id_number|openid|unionid|lng|lat|address|photo|selfie|face|bank|card|birth|sex"
    r"|contact|email|device|description|comment|body|accuracy)(_|$)|_media_id$"
)

_ORG = NotPersonal("an organisation's or a place's public particulars, not a person's")
_OBJECT = NotPersonal("names a thing (project, camera, point, team, category, key), not a person")

FIELDS: dict[str, Personal | NotPersonal] = {
    # --- accounts: every user (citizens, workers, staff) ---
    "users.display_name": Personal(
        "any user", "display name (WeChat nickname or the name staff are created with)", "general",
        "shown on what the user did (case timeline, sign-offs)", ACCOUNT, "the user; staff of the cases they act on",
        "no exports; never in webhooks", KEEP_ACCOUNT + "; staff: " + KEEP_STAFF, enforced=ACCOUNT_FIELD),
    "users.openid": Personal(
        "any user", "WeChat openid of this mini-program", "general", "sign-in and subscribe messages", ACCOUNT,
        "no one through the API (server use only)", "sent to WeChat with each message",
        KEEP_ACCOUNT + "; staff: " + KEEP_STAFF, enforced=ACCOUNT_FIELD),
    "users.unionid": Personal(
        "any user", "WeChat unionid (when WeChat gives it)", "general", "sign-in across the city's mini-programs",
        ACCOUNT, "no one through the API", "none", KEEP_ACCOUNT + "; staff: " + KEEP_STAFF, enforced=ACCOUNT_FIELD),
    "users.username": Personal(
        "staff", "staff sign-in name", "general", "password sign-in", STAFF, "the user; admins of their district",
        "audit logs", KEEP_STAFF, enforced=BY_STAFF),
    "users.phone": Personal(
        "any user", "mobile phone number", "general", "contact by the station about the user's case or account",
        ACCOUNT, "the user; admins", "masked in every list; never in webhooks or logs",
        KEEP_ACCOUNT + "; staff: " + KEEP_STAFF, enforced=ACCOUNT_FIELD),
    "wechat_bindings.openid": Personal(
        "any user", "an openid WeChat refused (errcode 40003): no pushes to it until the user signs in again",
        "general", "not sending messages WeChat will refuse", ACCOUNT, "no one through the API", "none",
        KEEP_ACCOUNT + "; staff: " + KEEP_STAFF,
        enforced=ON_CLOSING + " (the row deleted); staff accounts: " + BY_STAFF + " (the row deleted)"),
    "console_users.username": Personal(
        "staff", "admin console sign-in name (mirrors the staff account)", "general", "the admin console", STAFF,
        "city admins", "none", KEEP_STAFF, enforced=BY_STAFF),
    "console_users.first_name": Personal(
        "staff", "admin console first name", "general", "the admin console", STAFF, "city admins", "none",
        KEEP_STAFF, enforced=BY_STAFF),
    "console_users.last_name": Personal(
        "staff", "admin console last name", "general", "the admin console", STAFF, "city admins", "none",
        KEEP_STAFF, enforced=BY_STAFF),
    "console_users.email": Personal(
        "staff", "admin console e-mail: a placeholder <sign-in name>@console.invalid (required and unique)",
        "general", "the admin console", STAFF, "city admins", "none", KEEP_STAFF, enforced=BY_STAFF),
    "credit_audit.actor_name": Personal(
        "staff", "name of the regulator who changed a credit record", "general", "accountability of credit decisions",
        STAFF + "; 《网络安全法》第21条第3项 (such logs kept at least 6 months); 建市〔2017〕241号《建筑市场信用管理暂行办法》"
        "(a credit record can be appealed and corrected over its whole publication period)", "regulators", "none",
        KEEP_SIGNED, enforced=WITH_SIGNED_RECORD),
    # --- complaints: citizens ---
    "complaints.description": Personal(
        "citizen", "the report's text (may name people or a home)", "general", "handling the report",
        COMPLAINT_DUTY, "the reporter and the assigned district's staff; joiners and the public (Open311) with phone "
        "numbers masked", "the public Open311 feed (phones masked); webhooks of complaint events; WeChat message "
        "fields (cut); not in the CSV export", KEEP_CASE, enforced=BY_CASE),
    "complaints.address": Personal(
        "citizen", "where the problem is (often the reporter's home)", "general", "sending the inspector",
        COMPLAINT_DUTY, "the reporter, the assigned district's staff", "nowhere public (Open311 and joiners get "
        "none); not in the CSV export", KEEP_CASE,
        enforced=BY_CASE),
    "complaints.lng": Personal(
        "citizen", "exact location longitude (GCJ-02)", "sensitive", "routing to the district, sending the "
        "inspector (PIPL 第28条: 行踪轨迹 when it is where the person is)", COMPLAINT_DUTY,
        "the reporter, the assigned district's staff", "the public Open311 feed coarsened to 3 decimals (≈ 100 m)",
        KEEP_CASE, enforced=BY_CASE),
    "complaints.lat": Personal(
        "citizen", "exact location latitude (GCJ-02)", "sensitive", "as longitude", COMPLAINT_DUTY,
        "the reporter, the assigned district's staff", "the public Open311 feed coarsened to 3 decimals (≈ 100 m)",
        KEEP_CASE, enforced=BY_CASE),
    "complaints.contact": Personal(
        "citizen", "contact details the citizen chose to leave", "general", "call-back verification (回访)",
        CONSENT, "the reporter, the assigned district's staff", "never in Open311, webhooks or exports", KEEP_CASE,
        enforced=BY_CASE),
    "complaints.satisfaction_comment": Personal(
        "citizen", "the citizen's comment on the handling", "general", "satisfaction figures", CONSENT,
        "the reporter, the district's staff", "dashboard (counts only)", KEEP_CASE,
        enforced=BY_CASE),
    "complaints.resolution_notes": NotPersonal("the station's account of the work done on the site"),
    "complaint_categories.name": _OBJECT,
    "complaint_categories.description": _OBJECT,
    "material_scans.lng": Personal(
        "any user", "where a label was scanned (GCJ-02)", "sensitive", "detecting diverted material (行踪轨迹)",
        "PIPL 第13条第3项 (材料质量追溯, the station's duty)", "district staff of the batch's project",
        "the alert the scan raised (material_alerts.detail)", "1 year after the scan, then the point is dropped",
        enforced=BY_SCAN_POINTS),
    "material_scans.lat": Personal(
        "any user", "as longitude", "sensitive", "as longitude", "PIPL 第13条第3项", "as longitude",
        "as longitude", "1 year after the scan, then the point is dropped", enforced=BY_SCAN_POINTS),
    # --- workers (实名制) ---
    "workers.name": Personal(
        "worker", "real name", "general", "real-name registration, attendance, wages", REAL_NAME,
        "the worker; the employer and GC of a project the worker is on; district staff",
        "national-platform exports (WorkerMaster …)", KEEP_WAGES,
        enforced=BY_WORKERS),
    "workers.id_number_enc": Personal(
        "worker", "resident ID number, encrypted (AES-GCM, key id beside it)", "sensitive",
        "real-name registration (特定身份; GB/T 35273-2020 附录B lists ID numbers as sensitive)", REAL_NAME,
        "masked to all; unmasked only to leads of the worker's current employer or general contractor and to a city "
        "admin, each read audited (pii_reads)",
        "exports (masked unless the caller may unmask, then audited)", KEEP_WAGES,
        enforced=BY_WORKERS),
    "workers.id_number_hash": Personal(
        "worker", "keyed hash of the ID number (finds a record; not reversible without the key)", "sensitive",
        "duplicate check, look-up by inspectors", REAL_NAME, "no one through the API", "none", KEEP_WAGES,
        enforced=BY_WORKERS),
    "workers.sex": Personal(
        "worker", "sex (from the ID number)", "general", "national-platform fields", REAL_NAME,
        "as the name", "exports", KEEP_WAGES,
        enforced=BY_WORKERS),
    "workers.birth_date": Personal(
        "worker", "birth date (from the ID number)", "general", "age checks (16 or older)", REAL_NAME,
        "as the name", "exports", KEEP_WAGES,
        enforced=BY_WORKERS),
    "workers.phone_enc": Personal(
        "worker", "mobile phone, encrypted", "general", "contact about wages; a sign-in factor", REAL_NAME,
        "masked; unmasked as the ID number", "exports (masked as the ID number)", KEEP_WAGES,
        enforced=BY_WORKERS),
    "workers.phone_hash": Personal(
        "worker", "keyed hash of the phone", "general", "linking a WeChat account", REAL_NAME,
        "no one through the API", "none", KEEP_WAGES,
        enforced=BY_WORKERS),
    "workers.bank_card_enc": Personal(
        "worker", "wage bank card number, encrypted", "sensitive", "paying wages (金融账户)",
        WAGE_LEDGER, "masked; unmasked as the ID number", "payroll exports (masked as the ID number)", KEEP_WAGES,
        enforced=BY_CARDS),
    "workers.face_media_id": Personal(
        "worker", "registration face photo (the S3 object it names)", "sensitive",
        "identity at registration (生物识别 when used to recognise the face)", REAL_NAME + "; PIPL 第29条",
        "the worker; the employer and GC; district staff", "S3 (private bucket, signed URLs)", KEEP_WAGES,
        enforced=BY_WORKERS),
    "worker_clocks.lng": Personal(
        "worker", "where the worker clocked in (GCJ-02)", "sensitive", "attendance on the site (行踪轨迹)",
        REAL_NAME, "the worker; the employer and GC of the project; district staff", "attendance exports",
        KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.lat": Personal(
        "worker", "as longitude", "sensitive", "as longitude", REAL_NAME, "as longitude", "attendance exports",
        KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.accuracy_m": Personal(
        "worker", "GPS accuracy of the clock", "general", "judging the geofence fairly", REAL_NAME,
        "as the location", "none", KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.device_id": Personal(
        "worker", "the phone's device id as the mini-program reports it", "general", "spotting shared phones",
        REAL_NAME, "the employer and GC; district staff", "none", KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.selfie_media_id": Personal(
        "worker", "the clock-in selfie (the S3 object it names)", "sensitive",
        "proving who clocked in (生物识别 when compared with the face photo)", REAL_NAME + "; PIPL 第29条",
        "the worker; the employer and GC of the project; district staff", "S3 (private bucket)", KEEP_ATTENDANCE,
        enforced=BY_SELFIES),
    "worker_clocks.raw_lng": Personal(
        "worker", "the reading as the phone sent it, before conversion (its coordinate type kept beside it)",
        "sensitive", "judging the geofence under the declared and the other coordinate system (行踪轨迹)",
        REAL_NAME, "as the location", "none", KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.raw_lat": Personal(
        "worker", "as raw_lng", "sensitive", "as raw_lng", REAL_NAME, "as the location", "none", KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.selfie_sha256": Personal(
        "worker", "sha256 of the clock-in selfie", "general", "flagging one photo reused across workers or days",
        REAL_NAME, "no one through the API", "none", KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.selfie_phash": Personal(
        "worker", "perceptual hash (dHash) of the selfie: finds near-same images, cannot rebuild the face",
        "general", "flagging a resized or re-saved copy of a selfie", REAL_NAME, "no one through the API", "none",
        KEEP_ATTENDANCE,
        enforced=BY_CLOCKS),
    "worker_clocks.body_hash": NotPersonal("sha256 of the clock request, for idempotency (no value is recoverable)"),
    "worker_teams.name": _OBJECT,
    # --- project life (issue 20) ---
    "project_key_personnel.name": Personal(
        "staff", "a key person's name (项目经理, 总监理工程师, 专职安全员 …)", "general",
        "checking that key posts are filled by certified people", STAFF + "; 《建设工程质量管理条例》第26、37条",
        "readers of the project", "the project file (PDF)", KEEP_PROJECT_FILE, enforced=BY_KEY_PERSONNEL),
    "project_key_personnel.certificate_no": Personal(
        "staff", "the key person's registration certificate number", "general", "checking the certificate",
        STAFF, "readers of the project", "the project file (PDF)", KEEP_PROJECT_FILE, enforced=BY_KEY_PERSONNEL),
    "inspection_requests.description": NotPersonal("the contractor's description of the work to inspect"),
    "inspection_documents.name": NotPersonal("a document's file name (inspection records)"),
    "material_use_decisions.decider_name": Personal(
        "staff", "name of the supervisor who allowed a batch's use", "general", "accountability of the decision",
        STAFF + "; 《建设工程质量管理条例》第37条 (未经监理工程师签字，建筑材料不得在工程上使用: the signature is the record)",
        "readers of the project", "the batch trail", KEEP_SIGNED + "; deleted with its batch",
        enforced=WITH_SIGNED_RECORD),
    # --- content security (WeChat) ---
    "content_checks.openid": Personal(
        "citizen", "the reporter's openid, sent to WeChat's msgSecCheck / mediaCheckAsync", "general",
        "WeChat's content security check of what the citizen publishes", ACCOUNT,
        "no one through the API", "WeChat (the check)", KEEP_CASE,
        enforced=BY_CASE),
    # --- media: every photo a person uploads ---
    "media.key": Personal(
        "any user", "S3 key of an uploaded photo (complaint photo, selfie, face, evidence)", "general",
        "the purpose of the record it is attached to", "that record's basis",
        "whoever may read the record it is attached to (signed URLs, minutes)", "S3", "that record's retention",
        enforced="daily job: rules `case_photos`, `selfies` and `workers` (face photos) remove the S3 objects with "
                 "the row; staff's evidence photos (complaint results, inspections) are the station's record and are "
                 "kept with it"),
    # --- people's requests about their own data (issue 23) ---
    "privacy_requests.requested_change": Personal(
        "any user", "what a person asks to be corrected, in their words (may hold the right value of a field)",
        "general", "answering the request (PIPL 第46条)", "PIPL 第13条第3项 (第50条: requests must be handled)",
        "the person; admins of the responsible station", "none", "3 years after the answer (record of the request)",
        enforced=BY_REQUESTS),
    # --- organisations and things ---
    "api_keys.name": _OBJECT,
    "cameras.name": _OBJECT,
    "dangerous_works.name": _OBJECT,
    "districts.name": _ORG,
    "districts.center_lng": _ORG,
    "districts.center_lat": _ORG,
    "enterprises.name": _ORG,
    "enterprises.address": _ORG,
    "enterprises.phone": _ORG,
    "stations.name": _ORG,
    "stations.address": _ORG,
    "stations.phone": _ORG,
    "projects.name": _ORG,
    "projects.address": _ORG,
    "projects.lng": _ORG,
    "projects.lat": _ORG,
    "monitoring_points.name": _OBJECT,
    "notifications.body": Personal(
        "any user", "text of a message to the person (may name their case)", "general", "the inbox",
        ACCOUNT, "the recipient", "WeChat (subscribe message fields), webhooks",
        "1 year after sending (the inbox); all of it on account closing", enforced=BY_INBOX),
    "webhooks.name": _OBJECT,
}

PEOPLE_TABLES = {"users": "any user", "workers": "worker"}


def _columns(tables: Iterable[type[Table]]) -> dict[str, object]:
    return {f"{t._meta.tablename}.{c._meta.name}": c for t in tables for c in t._meta.columns}


def references(tables: Iterable[type[Table]]) -> list[tuple[str, str]]:
    """Every column that points at a person (a foreign key to users or workers): (table.column, whose)."""
    out = []
    for key, column in sorted(_columns(tables).items()):
        if isinstance(column, ForeignKey):
            target = column._foreign_key_meta.resolved_references._meta.tablename
            if target in PEOPLE_TABLES:
                out.append((key, PEOPLE_TABLES[target]))
    return out


def check(tables: Iterable[type[Table]]) -> list[str]:
    """What is wrong with the annotations: unannotated personal-looking columns, annotations of missing columns."""
    columns = _columns(list(tables))
    problems = [f"{key}: looks personal but has no annotation in backend/privacy/datamap.py FIELDS "
                "(add Personal(...) or NotPersonal(why))"
                for key, column in sorted(columns.items())
                if PERSONAL_NAME.search(key.split(".", 1)[1]) and not isinstance(column, ForeignKey)
                and key not in FIELDS]
    problems += [f"{key}: annotated in FIELDS but no such column" for key in sorted(FIELDS) if key not in columns]
    return problems


def render(tables: Iterable[type[Table]]) -> str:
    """docs/PERSONAL_DATA.md."""
    tables = list(tables)
    personal = {k: v for k, v in FIELDS.items() if isinstance(v, Personal)}
    lines = [
        "# Personal data map (个人信息处理记录)",
        "",
        "Generated by `python -m backend.cli data-map` from `backend/privacy/datamap.py` and the table classes; do",
        "not edit by hand. A test fails when a column that looks personal has no annotation, when an annotation names",
        "a column that does not exist, or when this page differs from a fresh render.",
        "",
        "Categories follow PIPL 第28条 (sensitive: biometrics, financial accounts, whereabouts, specific identity …)",
        "and GB/T 35273-2020. Readers are said in the words of the access policy (docs/ACCESS.md).",
        "",
    ]
    for subject in ("citizen", "worker", "any user", "staff"):
        rows = [(k, v) for k, v in personal.items() if v.subject == subject]
        if not rows:
            continue
        lines += [f"## {subject.capitalize()}", "",
                  "| field | what | category | purpose | legal basis | who may read | copied to | retention | "
                  "retention enforced |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for key, f in rows:
            cells = (f"`{key}`", f.what, f.category, f.purpose, f.basis, f.readers, f.copies, f.retention, f.enforced)
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        lines.append("")
    lines += ["## References to a person", "",
              "Columns that point at a user or a worker (foreign keys): the person is found through them, so they",
              "follow the retention of the record they sit in and are cleared or anonymised with the person.", "",
              "| column | points at |", "|---|---|"]
    lines += [f"| `{key}` | {whose} |" for key, whose in references(tables)]
    lines += ["", "## Looked at and not personal", "", "| column | why |", "|---|---|"]
    lines += [f"| `{k}` | {v.why} |" for k, v in sorted(FIELDS.items()) if isinstance(v, NotPersonal)]
    lines.append("")
    return "\n".join(lines)
