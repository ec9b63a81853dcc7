"""ARQ WorkerSettings (arq workers.settings.WorkerSettings): every domain's jobs and crons."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import structlog
from arq import cron

from backend import db
from backend.accounts.jobs import purge_expired_tokens
from backend.cameras.jobs import purge_camera_labels
from backend.clients.redis import arq_redis_settings
from backend.clients.s3 import S3Client
from backend.clients.wechat import WeChatClient
from backend.complaints import sla as complaint_sla
from backend.complaints.jobs import complaint_created, on_sla_timer
from backend.content_security.jobs import reconcile_content_checks  # issue 16
from backend.credit.jobs import credit_recompute
from backend.lifecycle.jobs import TIMER_KIND as INSPECTION_TIMER_KIND, on_inspection_timer
from backend.logging import configure_logging
from backend.materials.jobs import flush_material_scans
from backend.monitoring.jobs import register_timers as register_monitoring_timers
from backend.monitoring.jobs import schedule_missing_ack_timers
from backend.notifications import escalation
from backend.notifications.delivery import handle_webhooks, handle_wechat
from backend.notifications.jobs import escalation_step
from backend.outbox import dispatcher as outbox
from backend.privacy import rights as privacy_rights  # issue 23: people's requests
from backend.privacy.jobs import retention_run  # issue 23: retention
from backend.settings import get_settings
from backend.workforce.jobs import pii_reencrypt
from backend.timers import service as timers
from backend.timers.jobs import reconcile_timers, timer_fire

log = structlog.get_logger("zhijian.worker")
HEARTBEAT_KEY = "zhijian:heartbeat:arq"


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_logging(settings)
    await db.open_pool(settings)
    ctx["settings"] = settings
    ctx["s3"] = S3Client(settings)
    ctx["wechat"] = WeChatClient(settings, max_threads=settings.NOTIFY_CONCURRENCY)
    ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=3.0), follow_redirects=False)
    # Rebuild what Redis may have lost while no worker ran (timers, escalation steps).
    timers.register(escalation.TIMER_KIND, escalation.on_timer)
    timers.register(complaint_sla.KIND, on_sla_timer)
    timers.register(privacy_rights.TIMER_KIND, privacy_rights.on_timer)  # issue 23: answer deadlines
    timers.register(INSPECTION_TIMER_KIND, on_inspection_timer)  # issue 20: 工序报验 answer deadline
    register_monitoring_timers()  # issue 18: alarm acknowledgement deadlines
    await schedule_missing_ack_timers(settings)  # issue 18: alarms opened before the deadline timers
    await reconcile_timers(ctx)
    # The outbox: every external side effect committed by anyone, delivered under renewed leases.
    outbox.register("wechat", handle_wechat)
    outbox.register("webhook", handle_webhooks)
    outbox.register_task("complaint_created", complaint_created)
    outbox.register_task(timers.ARM_TASK, timers.arm)
    ctx["outbox"] = outbox.Dispatcher(ctx, settings)
    ctx["outbox_task"] = asyncio.create_task(ctx["outbox"].run())
    log.info("arq_worker_started", functions=[f.__name__ for f in WorkerSettings.functions])
    await heartbeat(ctx)  # after start-up: the first heartbeat means "started and reconciled"


async def shutdown(ctx: dict[str, Any]) -> None:
    if "outbox" in ctx:
        await ctx["outbox"].stop()
        ctx["outbox_task"].cancel()
    if "wechat" in ctx:
        ctx["wechat"].close()
    if "http" in ctx:
        await ctx["http"].aclose()
    await db.close_pool()
    log.info("arq_worker_stopped")


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Prove the worker is alive (read by ops and by tests)."""
    await ctx["redis"].set(HEARTBEAT_KEY, str(time.time()), ex=300)


class WorkerSettings:
    functions = [
        purge_expired_tokens, escalation_step, timer_fire, reconcile_timers,
        complaint_created,
        flush_material_scans,
        credit_recompute,
        purge_camera_labels,
        pii_reencrypt,
    ]
    functions += [reconcile_content_checks]  # issue 16: content security
    functions += [retention_run]  # issue 23: the data map's retention
    cron_jobs = [
        cron(heartbeat, second={0, 30}, run_at_startup=False),
        cron(flush_material_scans, second={45}, run_at_startup=True, unique=True),  # scans → PostgreSQL
        cron(purge_expired_tokens, hour={19}, minute={5}),  # 03:05 Asia/Shanghai
        cron(credit_recompute, minute={7}, run_at_startup=False, unique=True),  # hourly: decay, notice periods over
        cron(purge_camera_labels, hour={19}, minute={20}, unique=True),  # 03:20 Asia/Shanghai: label retention
        cron(pii_reencrypt, minute={23}, run_at_startup=True, unique=True),  # values under a retired PII key
        cron(
            reconcile_timers,
            second=set(range(15 % get_settings().RECONCILE_EVERY_S, 60, get_settings().RECONCILE_EVERY_S)),
            run_at_startup=False,
            unique=True,
        ),
    ]
    cron_jobs.append(
        cron(reconcile_content_checks, second={40}, run_at_startup=False, unique=True)  # issue 16
    )
    cron_jobs.append(cron(retention_run, hour={18}, minute={40}, unique=True))  # 02:40 Asia/Shanghai (issue 23)
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = arq_redis_settings(get_settings())
    max_jobs = 50
    poll_delay = 0.05  # pick up new jobs within 50 ms (the default 0.5 s would delay every push)
    job_completion_wait = 10  # on SIGTERM let in-flight jobs finish (they are idempotent) instead of cancelling them
    job_timeout = 300
    keep_result = 3600
