from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T01:00:53:000000"
VERSION = "1.38.0"
DESCRIPTION = "payroll_days: the days approved or paid payrolls settled before the ledger existed (no day paid twice)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="workforce", description=DESCRIPTION)

    async def run():
        # Raw steps run before a migration's table operations, so this lives after the one creating the table.
        # Payroll months are local (Asia/Shanghai, the deployment's settings.TIMEZONE when these were made).
        await RawTable.raw(
            "INSERT INTO payroll_days (id, payroll, worker, project, day, kind, rate_fen)"
            " SELECT gen_random_uuid(), min(p.id::text)::uuid, c.worker, c.project,"
            "  (c.at AT TIME ZONE 'Asia/Shanghai')::date, 'regular', max(pw.daily_rate_fen)"
            " FROM payrolls p"
            " JOIN payroll_lines l ON l.payroll = p.id"
            " JOIN project_workers pw ON pw.project = p.project AND pw.enterprise = p.enterprise AND pw.worker = l.worker"
            " JOIN worker_clocks c ON c.worker = pw.worker AND c.project = pw.project AND c.kind = 'in'"
            "  AND c.at >= pw.entered_at AND (pw.exited_at IS NULL OR c.at <= pw.exited_at)"
            "  AND to_char(c.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') = p.month"
            " WHERE p.status IN ('approved', 'paid')"
            " GROUP BY c.worker, c.project, (c.at AT TIME ZONE 'Asia/Shanghai')::date"
            " ON CONFLICT DO NOTHING"
        )

    async def run_backwards():
        pass  # the rows go with the table when the previous migration is reversed

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)

    return manager
