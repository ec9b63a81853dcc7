"""Operator commands: python -m backend.cli {migrate, rollback, seed-demo, demo-activity, import-districts,
create-admin, project-file, data-map, pii-rotate, retention}."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from backend.settings import get_settings


async def migrate() -> int:
    """Apply every app's pending migrations in dependency order."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards("all")
    print(result.message or "migrations applied")
    if not result.success:
        return 1
    await ensure_reference_data()
    return 0


async def ensure_reference_data() -> None:
    """Reference rows every deployment needs (default complaint categories); never overwrites edits."""
    from backend import db
    from backend.complaints.service import ensure_categories

    await db.open_pool(get_settings())
    try:
        await ensure_categories()
    finally:
        await db.close_pool()


async def rollback() -> int:
    """Undo every migration, newest app first (for tests of the backwards path)."""
    from piccolo.apps.migrations.commands.backwards import run_backwards

    result = await run_backwards("all", migration_id="all", auto_agree=True)
    print(result.message or "migrations rolled back")
    return 0 if result.success else 1


async def import_districts(path: str, source: str, approximate: bool) -> int:
    """Load district boundaries (GeoJSON FeatureCollection, GCJ-02) into the database."""
    from backend import db
    from backend.districts import service
    from backend.geo.districts import load_geojson

    settings = get_settings()
    await db.open_pool(settings)
    try:
        count = await service.import_districts(load_geojson(path), source=source, approximate=approximate)
    finally:
        await db.close_pool()
    print(f"imported {count} districts from {path}")
    return 0


async def seed_demo() -> int:
    from backend import db
    from backend.demo import seed

    settings = get_settings()
    if settings.ENV == "production":
        print("refusing to load demo data with ZHIJIAN_ENV=production", file=sys.stderr)
        return 2
    await db.open_pool(settings)
    try:
        summary = await seed(settings)
    finally:
        await db.close_pool()
    for line in summary:
        print(line)
    return 0


def demo_activity(api: str, device_logins: bool = False) -> int:
    """Drive the running API (and MQTT) with the demo logins: complaints, materials, an alarm, credit lists."""
    from backend.demo_activity import DemoError, run

    settings = get_settings()
    if settings.ENV == "production":
        print("refusing to make demo activity with ZHIJIAN_ENV=production", file=sys.stderr)
        return 2
    try:
        run(api, settings.MQTT_URL, device_logins=device_logins)
    except DemoError as exc:
        print(f"demo-activity failed: {exc}", file=sys.stderr)
        return 1
    return 0


async def create_admin(username: str, display_name: str) -> int:
    """Create a city-wide regulator admin (password read from the terminal or stdin)."""
    from backend import db
    from backend.accounts.tables import User
    from backend.auth.passwords import check_password_policy, hash_password
    from backend.auth.principal import Role

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    check_password_policy(password)
    await db.open_pool(get_settings())
    try:
        await User.insert(
            User(
                role=Role.REGULATOR_ADMIN.value,
                username=username.lower(),
                display_name=display_name,
                password_hash=hash_password(password),
            )
        )
    finally:
        await db.close_pool()
    print(f"created regulator admin {username}")
    return 0


async def project_file(project_id: str, start: str, end: str, out: str) -> int:
    """Write a project's file (电子档案) for a date range: <out>/project-file-<start>-<end>.pdf and .zip."""
    from datetime import date
    from pathlib import Path
    from uuid import UUID

    from backend import db
    from backend.clients.s3 import S3Client
    from backend.lifecycle import projectfile
    from backend.lifecycle.projectfile_pdf import render_pdf

    settings = get_settings()
    s3 = S3Client(settings)
    await db.open_pool(settings)
    try:
        pf = await projectfile.gather(settings, UUID(project_id), date.fromisoformat(start), date.fromisoformat(end))
        pdf = render_pdf(pf, await projectfile.thumbnails(s3, pf), settings.zone())
        archive = await projectfile.render_zip(s3, pf, pdf)
    finally:
        await db.close_pool()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for ext, data in (("pdf", pdf), ("zip", archive)):
        path = folder / f"project-file-{start}-{end}.{ext}"
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} bytes)")
    return 0


async def pii_rotate() -> int:
    """Re-encrypt every personal value not under the current PII key; prints what was done and what is left."""
    from backend import db
    from backend.settings import get_settings
    from backend.workforce import pii_rotation

    settings = get_settings()
    await db.open_pool(settings)
    try:
        done = await pii_rotation.reencrypt(settings)
        left = await pii_rotation.remaining(settings)
        for _ in range(120):  # rows another run holds (SKIP LOCKED) are done when it commits: wait for it
            if left == 0:
                break
            await asyncio.sleep(0.5)
            for table, n in (await pii_rotation.reencrypt(settings)).items():
                done[table] = done.get(table, 0) + n
            left = await pii_rotation.remaining(settings)
    finally:
        await db.close_pool()
    print(f"re-encrypted under key {settings.PII_KEY_ID}: {done}; values under another key left: {left}")
    return 0 if left == 0 else 1


def data_map(check_only: bool) -> int:
    """Write docs/PERSONAL_DATA.md from the annotations (or, with --check, fail when it is stale or incomplete)."""
    from pathlib import Path

    from piccolo.conf.apps import Finder

    from backend.privacy import datamap

    tables = Finder().get_table_classes()
    problems = datamap.check(tables)
    for problem in problems:
        print(problem, file=sys.stderr)
    page = Path(__file__).resolve().parents[1] / "docs" / "PERSONAL_DATA.md"
    text = datamap.render(tables)
    if check_only:
        stale = not page.exists() or page.read_text() != text
        if stale:
            print(f"{page} is out of date: run python -m backend.cli data-map", file=sys.stderr)
        return 1 if problems or stale else 0
    page.write_text(text)
    print(f"wrote {page}")
    return 1 if problems else 0


async def retention(dry_run: bool, as_of: str | None) -> int:
    """Apply the data map's retention rules now (or as of a given moment); print what was (or would be) done."""
    from datetime import datetime

    from backend import db
    from backend.clients.s3 import S3Client
    from backend.privacy import retention as rules

    settings = get_settings()
    now = datetime.fromisoformat(as_of) if as_of else None
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=settings.zone())
    await db.open_pool(settings)
    try:
        result = await rules.run(settings, S3Client(settings), now=now, dry_run=dry_run)
    finally:
        await db.close_pool()
    verb = "would change" if dry_run else "changed"
    counts = ", ".join(f"{k}={v}" for k, v in result["counts"].items())
    print(f"retention run {result['id']} as of {result['as_of'].isoformat()} {verb}: {counts}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending migrations")
    sub.add_parser("rollback", help="undo all migrations")
    sub.add_parser("seed-demo", help="load idempotent demo data (not in production)")
    act = sub.add_parser("demo-activity", help="make demo activity through the running API (idempotent)")
    act.add_argument("--api", default="http://127.0.0.1:8000")
    act.add_argument("--device-logins", action="store_true",
                     help="each demo sensor publishes with the broker login the API provisioned for it (dynamic security)")
    imp = sub.add_parser("import-districts", help="load district boundaries from GeoJSON (GCJ-02)")
    imp.add_argument("path")
    imp.add_argument("--source", default="")
    imp.add_argument("--approximate", action="store_true")
    dm = sub.add_parser("data-map", help="write docs/PERSONAL_DATA.md from the personal-data annotations")
    dm.add_argument("--check", action="store_true", help="only check that it is complete and up to date")
    ret = sub.add_parser("retention", help="apply the personal data retention rules (issue 23)")
    ret.add_argument("--dry-run", action="store_true", help="count what would be deleted or anonymised, change nothing")
    ret.add_argument("--as-of", metavar="ISO-TIME", help="judge as of this moment instead of now (local time if naive)")
    sub.add_parser("pii-rotate", help="re-encrypt personal data under the current PII key (after a key change)")
    adm = sub.add_parser("create-admin", help="create a city-wide regulator admin")
    adm.add_argument("username")
    adm.add_argument("--name", default="系统管理员")
    pfile = sub.add_parser("project-file", help="write a project's file (电子档案) as PDF and ZIP for a date range")
    pfile.add_argument("project_id")
    pfile.add_argument("--start", required=True, help="YYYY-MM-DD (local date, included)")
    pfile.add_argument("--end", required=True, help="YYYY-MM-DD (local date, included)")
    pfile.add_argument("--out", default=".")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        coro = migrate()
    elif args.command == "rollback":
        coro = rollback()
    elif args.command == "demo-activity":
        return demo_activity(args.api, args.device_logins)
    elif args.command == "project-file":
        coro = project_file(args.project_id, args.start, args.end, args.out)
    elif args.command == "seed-demo":
        coro = seed_demo()
    elif args.command == "import-districts":
        coro = import_districts(args.path, args.source or args.path, args.approximate)
    elif args.command == "data-map":
        return data_map(args.check)
    elif args.command == "pii-rotate":
        coro = pii_rotate()
    elif args.command == "retention":
        coro = retention(args.dry_run, args.as_of)
    else:
        coro = create_admin(args.username, args.name)
    return asyncio.run(coro)


if __name__ == "__main__":
    sys.exit(main())
