"""Retention that runs (issue 23, part 2): the data map's retention rules applied to the tables and to S3.

PIPL 第19条: personal information is kept no longer than its purpose needs; 第47条: past its time it is deleted
(or, where deleting is not possible, made anonymous — 第73条第4项: 匿名化 is processing after which the person can no
longer be identified and which cannot be reversed).

Each rule is a cut-off (``now`` minus a retention from settings) and a SQL selection of what is past it; a run
works every rule in batches, removes S3 objects *before* the rows that name them (a failed run leaves rows that the
next run finds again; removing a missing object is harmless), and writes one ``retention_runs`` row with the
counts. A dry run counts what a real run would change and changes nothing. ``now`` is injected so that tests (and
an operator checking "what would go next month") move the clock.

Rules (the `enforced` text of each field in backend/privacy/datamap.py says which rule covers it):
- ``case``: a complaint closed (closed / rejected / merged) more than RETENTION_CASE_YEARS ago loses its reporter
  (``citizen``), ``description`` (free text that may name people or a home), ``contact``, ``address`` and
  ``satisfaction_comment``; its point is coarsened to 0.01° (about a
  kilometre: still the district, no longer the home); the reporter's name is removed from its timeline (event
  ``actor``), the joiners (``complaint_supporters``) are deleted, the content checks forget the openid;
- ``case_photos``: the photos the citizen attached to such a complaint (S3 objects and media rows);
- ``selfies``: clock-in selfies (media ``purpose = 'selfie'``, attached or not) older than RETENTION_SELFIE_DAYS,
  S3 objects and media rows; the clock keeps its hashes (no face can be rebuilt from them);
- ``clocks``: clock records (location included) older than RETENTION_ATTENDANCE_YEARS, with their review events;
- ``bank_cards``: the bank card of a worker on no roster (every stint exited) whose last exit, last paid payroll
  and registration are all older than RETENTION_WAGE_YEARS;
- ``workers``: the same worker's identity: name, ID number (and its look-up hash), sex, birth date (set to
  1900-01-01: the column is required), phone (and hash), the WeChat link and bind code cleared, the registration
  face photo removed (S3 objects and media row); the row stays, anonymous, for the payroll lines that point at it;
- ``scan_points``: a label scan's point (``material_scans.lng/lat``) older than RETENTION_SCAN_POINT_DAYS, and the
  copy of it in the alert the scan raised (``material_alerts.detail``, as old), are dropped (counted together);
- ``requests``: a privacy request answered or rejected more than RETENTION_REQUEST_YEARS ago is deleted with its
  trail (the person's words, the answer);
- ``inbox``: an inbox message older than RETENTION_INBOX_DAYS loses its text (``body`` and the template ``data``);
  the row (title, time, delivery receipts) stays as the record that the person was told;
- ``staff``: a staff account (any role but citizen and worker) disabled more than RETENTION_STAFF_YEARS ago loses
  its name (``已离职人员``), sign-in name, password, phone and WeChat ids; its admin-console mirror
  (``console_users``) and console sessions are deleted. Names copied onto signed records (credit audit, material
  use decisions) stay with those records (see the data map);
- ``key_personnel``: a project filed (竣工验收备案, stage ``filed``) more than RETENTION_PROJECT_FILE_YEARS ago loses
  its key people's names and certificate numbers (the project file itself is the city archive's by then).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from backend import db
from backend.clients.s3 import S3Client
from backend.media.service import BUCKET as PHOTO_BUCKET
from backend.settings import Settings

log = structlog.get_logger("zhijian.privacy.retention")

CLOSED_STATES = ("closed", "rejected", "merged")
RULES = ("case", "case_photos", "selfies", "clocks", "bank_cards", "workers", "scan_points", "requests", "inbox",
         "staff", "key_personnel")
GONE_STAFF_NAME = "已离职人员"
ERASED_BIRTH_DATE = "1900-01-01"


def years_before(moment: datetime, years: int) -> datetime:
    """The same calendar moment ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


@dataclass(frozen=True)
class Cutoffs:
    case: datetime
    selfie: datetime
    attendance: datetime
    wage: datetime
    scan_point: datetime
    request: datetime
    inbox: datetime
    staff: datetime
    project_file: datetime

    @classmethod
    def of(cls, settings: Settings, now: datetime) -> Cutoffs:
        return cls(
            case=years_before(now, settings.RETENTION_CASE_YEARS),
            selfie=now - timedelta(days=settings.RETENTION_SELFIE_DAYS),
            attendance=years_before(now, settings.RETENTION_ATTENDANCE_YEARS),
            wage=years_before(now, settings.RETENTION_WAGE_YEARS),
            scan_point=now - timedelta(days=settings.RETENTION_SCAN_POINT_DAYS),
            request=years_before(now, settings.RETENTION_REQUEST_YEARS),
            inbox=now - timedelta(days=settings.RETENTION_INBOX_DAYS),
            staff=years_before(now, settings.RETENTION_STAFF_YEARS),
            project_file=years_before(now, settings.RETENTION_PROJECT_FILE_YEARS),
        )


# --- what is past its time (each returns ids; $1 is the cut-off) -----------------------------------------------

_CASES_DUE = """
SELECT c.id FROM complaints c
WHERE c.status = ANY($2::text[]) AND c.closed_at < $1
  AND (c.citizen IS NOT NULL OR c.contact <> '{}'::jsonb OR c.address <> '' OR c.satisfaction_comment <> ''
       OR c.description <> ''
       OR c.lng <> round(c.lng::numeric, 2)::float8 OR c.lat <> round(c.lat::numeric, 2)::float8
       OR EXISTS (SELECT 1 FROM complaint_supporters s WHERE s.complaint = c.id))
ORDER BY c.closed_at
"""

_CASE_PHOTOS_DUE = """
SELECT m.id, m.key, m.thumb_key, m.incoming_key FROM media m JOIN complaints c
  ON m.attached_type = 'complaint' AND m.attached_id = c.id::text AND m.owner = c.citizen
WHERE c.status = ANY($2::text[]) AND c.closed_at < $1
ORDER BY m.created_at
"""

_SELFIES_DUE = """
SELECT m.id, m.key, m.thumb_key, m.incoming_key FROM media m
WHERE m.purpose = 'selfie' AND m.created_at < $1
ORDER BY m.created_at
"""

_CLOCKS_DUE = "SELECT id FROM worker_clocks WHERE at < $1 ORDER BY at"

_GONE_WORKER = """
w.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM project_workers pw WHERE pw.worker = w.id AND pw.exited_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM project_workers pw WHERE pw.worker = w.id AND pw.exited_at >= $1)
  AND NOT EXISTS (SELECT 1 FROM payroll_lines l JOIN payrolls p ON p.id = l.payroll
                  WHERE l.worker = w.id AND (p.status <> 'paid' OR p.updated_at >= $1))
"""

_CARDS_DUE = f"SELECT w.id FROM workers w WHERE w.bank_card_enc <> '' AND {_GONE_WORKER} ORDER BY w.created_at"

_WORKERS_DUE = f"""
SELECT w.id, w.face_media_id FROM workers w
WHERE (w.name <> '' OR w.id_number_enc <> '' OR w.phone_enc <> '' OR w.phone_hash <> '' OR w.sex <> ''
       OR w.face_media_id IS NOT NULL OR w."user" IS NOT NULL OR w.bind_code_hash <> ''
       OR w.birth_date <> DATE '{ERASED_BIRTH_DATE}')
  AND {_GONE_WORKER}
ORDER BY w.created_at
"""

_SCAN_POINTS_DUE = """
SELECT id FROM material_scans WHERE at < $1 AND (lng IS NOT NULL OR lat IS NOT NULL) ORDER BY at
"""

# The alert a scan raised copies its point (written with the scan, so "older than the cut-off" is the same moment).
_ALERT_POINTS_DUE = "SELECT id FROM material_alerts WHERE at < $1 AND detail ?| '{lng,lat}' ORDER BY at"

_REQUESTS_DUE = """
SELECT id FROM privacy_requests WHERE status IN ('answered', 'rejected') AND answered_at < $1 ORDER BY answered_at
"""

_INBOX_DUE = """
SELECT id FROM notifications WHERE created_at < $1 AND (body <> '' OR data <> '{}'::jsonb) ORDER BY created_at
"""

_STAFF_DUE = f"""
SELECT u.id FROM users u
WHERE u.role NOT IN ('citizen', 'worker') AND NOT u.is_active AND u.disabled_at < $1
  AND (u.username IS NOT NULL OR u.password_hash IS NOT NULL OR u.openid IS NOT NULL OR u.unionid IS NOT NULL
       OR u.phone <> '' OR u.display_name <> '{GONE_STAFF_NAME}'
       OR EXISTS (SELECT 1 FROM wechat_bindings b WHERE b."user" = u.id))
ORDER BY u.disabled_at
"""


_KEY_PERSONNEL_DUE = """
SELECT k.id FROM project_key_personnel k JOIN projects p ON p.id = k.project
WHERE p.stage = 'filed' AND (k.name <> '' OR k.certificate_no <> '')
  AND (SELECT max(e.at) FROM project_stage_events e WHERE e.project = p.id AND e.to_stage = 'filed') < $1
ORDER BY k.id
"""


async def _count(conn: asyncpg.Connection, sql: str, *args: Any) -> int:
    return await conn.fetchval(f"SELECT count(*) FROM ({sql}) q", *args)


def _batch(sql: str, size: int) -> str:
    return f"{sql} LIMIT {int(size)}"


# --- the changes ----------------------------------------------------------------------------------------------

async def _anonymise_cases(conn: asyncpg.Connection, ids: list) -> None:
    async with conn.transaction():
        await conn.execute(
            "UPDATE complaint_events e SET actor = NULL FROM complaints c"
            " WHERE e.complaint = c.id AND c.id = ANY($1::uuid[]) AND e.actor = c.citizen", ids)
        await conn.execute("DELETE FROM complaint_supporters WHERE complaint = ANY($1::uuid[])", ids)
        await conn.execute("UPDATE content_checks SET openid = '' WHERE complaint = ANY($1::uuid[])", ids)
        await conn.execute(
            "UPDATE complaints SET citizen = NULL, contact = '{}'::jsonb, address = '', satisfaction_comment = '',"
            " description = '',"
            " lng = round(lng::numeric, 2)::float8, lat = round(lat::numeric, 2)::float8, updated_at = now()"
            " WHERE id = ANY($1::uuid[])", ids)


async def _remove_media(conn: asyncpg.Connection, s3: S3Client, rows: list) -> int:
    """S3 objects first, then the rows (and every reference to them). Returns the objects removed."""
    objects = 0
    for r in rows:
        for key in {r["key"], r["thumb_key"], r["incoming_key"]} - {""}:
            await s3.remove(PHOTO_BUCKET, key)
            objects += 1
    ids = [r["id"] for r in rows]
    async with conn.transaction():
        await conn.execute("UPDATE worker_clocks SET selfie_media_id = NULL WHERE selfie_media_id = ANY($1::uuid[])",
                           ids)
        await conn.execute("DELETE FROM media WHERE id = ANY($1::uuid[])", ids)
    return objects


async def _delete_clocks(conn: asyncpg.Connection, ids: list) -> None:
    async with conn.transaction():  # review events go with their clock (ON DELETE CASCADE)
        await conn.execute("DELETE FROM worker_clocks WHERE id = ANY($1::uuid[])", ids)


async def _clear_cards(conn: asyncpg.Connection, ids: list) -> None:
    await conn.execute("UPDATE workers SET bank_card_enc = '' WHERE id = ANY($1::uuid[])", ids)


async def _anonymise_workers(conn: asyncpg.Connection, s3: S3Client, rows: list) -> int:
    """The face photos first (S3, then media rows), then the identity. Returns the S3 objects removed."""
    faces = [r["face_media_id"] for r in rows if r["face_media_id"] is not None]
    objects = 0
    if faces:
        media = await conn.fetch("SELECT id, key, thumb_key, incoming_key FROM media WHERE id = ANY($1::uuid[])", faces)
        objects = await _remove_media(conn, s3, media)
    await conn.execute(
        "UPDATE workers SET name = '', id_number_enc = '', id_number_hash = 'erased:' || id::text, sex = '',"
        f" birth_date = DATE '{ERASED_BIRTH_DATE}', phone_enc = '', phone_hash = '', bank_card_enc = '',"
        " face_media_id = NULL, \"user\" = NULL, bind_code_hash = '', bind_code_expires_at = NULL"
        " WHERE id = ANY($1::uuid[])", [r["id"] for r in rows])
    return objects


async def _drop_scan_points(conn: asyncpg.Connection, ids: list) -> None:
    await conn.execute("UPDATE material_scans SET lng = NULL, lat = NULL WHERE id = ANY($1::uuid[])", ids)


async def _drop_alert_points(conn: asyncpg.Connection, ids: list) -> None:
    await conn.execute("UPDATE material_alerts SET detail = detail - 'lng' - 'lat' WHERE id = ANY($1::uuid[])", ids)


async def _delete_requests(conn: asyncpg.Connection, ids: list) -> None:
    await conn.execute("DELETE FROM privacy_requests WHERE id = ANY($1::uuid[])", ids)  # events cascade


async def _clear_inbox(conn: asyncpg.Connection, ids: list) -> None:
    await conn.execute("UPDATE notifications SET body = '', data = '{}'::jsonb WHERE id = ANY($1::uuid[])", ids)


async def _anonymise_staff(conn: asyncpg.Connection, ids: list) -> None:
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM console_sessions WHERE user_id IN (SELECT c.id FROM console_users c JOIN users u"
            " ON u.username = c.username WHERE u.id = ANY($1::uuid[]))", ids)
        await conn.execute("DELETE FROM console_users c USING users u WHERE u.username = c.username"
                           " AND u.id = ANY($1::uuid[])", ids)
        await conn.execute("DELETE FROM wechat_bindings WHERE \"user\" = ANY($1::uuid[])", ids)
        await conn.execute(
            "UPDATE users SET display_name = $2, username = NULL, password_hash = NULL, phone = '', openid = NULL,"
            " unionid = NULL WHERE id = ANY($1::uuid[])", ids, GONE_STAFF_NAME)


async def _clear_key_personnel(conn: asyncpg.Connection, ids: list) -> None:
    await conn.execute("UPDATE project_key_personnel SET name = '', certificate_no = '' WHERE id = ANY($1::int[])",
                       ids)


async def run(settings: Settings, s3: S3Client, *, now: datetime | None = None, dry_run: bool = False
              ) -> dict[str, Any]:
    """Apply every rule as of ``now`` (default: the clock); log and return the run: {id, as_of, dry_run, counts}."""
    now = now or db.utcnow()
    cut = Cutoffs.of(settings, now)
    batch = settings.RETENTION_BATCH
    counts = {rule: 0 for rule in RULES} | {"s3_objects": 0}
    async with db.connection() as conn:
        run_id = await conn.fetchval(
            "INSERT INTO retention_runs (id, as_of, dry_run, counts, started_at)"
            " VALUES (gen_random_uuid(), $1, $2, '{}'::jsonb, now()) RETURNING id", now, dry_run)
        states = list(CLOSED_STATES)
        if dry_run:
            counts["case"] = await _count(conn, _CASES_DUE, cut.case, states)
            photos = await conn.fetch(_CASE_PHOTOS_DUE, cut.case, states)
            selfies = await conn.fetch(_SELFIES_DUE, cut.selfie)
            counts["case_photos"], counts["selfies"] = len(photos), len(selfies)
            counts["s3_objects"] = sum(len({r["key"], r["thumb_key"], r["incoming_key"]} - {""})
                                       for r in [*photos, *selfies])
            counts["clocks"] = await _count(conn, _CLOCKS_DUE, cut.attendance)
            counts["bank_cards"] = await _count(conn, _CARDS_DUE, cut.wage)
            workers = await conn.fetch(_WORKERS_DUE, cut.wage)
            counts["workers"] = len(workers)
            faces = [r["face_media_id"] for r in workers if r["face_media_id"] is not None]
            counts["s3_objects"] += sum(len({r["key"], r["thumb_key"], r["incoming_key"]} - {""}) for r in
                                        await conn.fetch("SELECT key, thumb_key, incoming_key FROM media"
                                                         " WHERE id = ANY($1::uuid[])", faces))
            counts["scan_points"] = (await _count(conn, _SCAN_POINTS_DUE, cut.scan_point)
                                     + await _count(conn, _ALERT_POINTS_DUE, cut.scan_point))
            counts["requests"] = await _count(conn, _REQUESTS_DUE, cut.request)
            counts["inbox"] = await _count(conn, _INBOX_DUE, cut.inbox)
            counts["staff"] = await _count(conn, _STAFF_DUE, cut.staff)
            counts["key_personnel"] = await _count(conn, _KEY_PERSONNEL_DUE, cut.project_file)
        else:
            # Photos before the case loses its citizen (the photos are found through him).
            while rows := await conn.fetch(_batch(_CASE_PHOTOS_DUE, batch), cut.case, states):
                counts["s3_objects"] += await _remove_media(conn, s3, rows)
                counts["case_photos"] += len(rows)
            done: set = set()
            while ids := [r["id"] for r in await conn.fetch(_batch(_CASES_DUE, batch), cut.case, states)
                          if r["id"] not in done]:
                await _anonymise_cases(conn, ids)
                done.update(ids)
            counts["case"] = len(done)
            while rows := await conn.fetch(_batch(_SELFIES_DUE, batch), cut.selfie):
                counts["s3_objects"] += await _remove_media(conn, s3, rows)
                counts["selfies"] += len(rows)
            while ids := [r["id"] for r in await conn.fetch(_batch(_CLOCKS_DUE, batch), cut.attendance)]:
                await _delete_clocks(conn, ids)
                counts["clocks"] += len(ids)
            while ids := [r["id"] for r in await conn.fetch(_batch(_CARDS_DUE, batch), cut.wage)]:
                await _clear_cards(conn, ids)
                counts["bank_cards"] += len(ids)
            while rows := await conn.fetch(_batch(_WORKERS_DUE, batch), cut.wage):
                counts["s3_objects"] += await _anonymise_workers(conn, s3, rows)
                counts["workers"] += len(rows)
            for rule, sql, cutoff, change in (
                    ("scan_points", _SCAN_POINTS_DUE, cut.scan_point, _drop_scan_points),
                    ("scan_points", _ALERT_POINTS_DUE, cut.scan_point, _drop_alert_points),
                    ("requests", _REQUESTS_DUE, cut.request, _delete_requests),
                    ("inbox", _INBOX_DUE, cut.inbox, _clear_inbox),
                    ("staff", _STAFF_DUE, cut.staff, _anonymise_staff),
                    ("key_personnel", _KEY_PERSONNEL_DUE, cut.project_file, _clear_key_personnel)):
                while ids := [r["id"] for r in await conn.fetch(_batch(sql, batch), cutoff)]:
                    await change(conn, ids)
                    counts[rule] += len(ids)
        await conn.execute("UPDATE retention_runs SET counts = $2::jsonb, finished_at = now() WHERE id = $1",
                           run_id, json.dumps(counts, sort_keys=True))
    log.info("retention_run", run_id=str(run_id), as_of=now.isoformat(), dry_run=dry_run, **counts)
    return {"id": str(run_id), "as_of": now, "dry_run": dry_run, "counts": counts}


async def runs(limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT id, as_of, dry_run, counts, started_at, finished_at FROM retention_runs"
            " ORDER BY started_at DESC LIMIT $1", limit)
    return [{**dict(r), "id": str(r["id"]), "counts": json.loads(r["counts"]) if isinstance(r["counts"], str)
             else r["counts"]} for r in rows]
