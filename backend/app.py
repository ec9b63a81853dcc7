"""create_app(): routers, plugins, error handlers, and the lifespan of the injected clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from backend import db, litestar_compat
from backend.access.controller import AccessController
from backend.accounts import sessions
from backend.accounts.controller import ApiKeyController, AuthController, MeController, UserController
from backend.auth.guards import policy as access_policy
from backend.auth.middleware import AuthMiddleware
from backend.clients.redis import create_arq_pool, create_redis
from backend.clients.s3 import S3Client
from backend.clients.wechat import WeChatClient
from backend.cameras.controller import CameraController
from backend.complaints.controller import ComplaintController
from backend.complaints.open311_controller import open311_router
from backend.content_security.controller import ContentReviewController, WechatPushController
from backend.credit.controller import ConsoleController, CreditController, OpenCreditController, admin_console
from backend.credit.controller import PublicCreditController  # issue 19: the public lists
from backend.deps import DEPENDENCIES
from backend.districts.controller import DistrictController
from backend.enterprises.controller import EnterpriseController, PartnerEnterpriseController
from backend.health.controller import HealthController
from backend.http import EXCEPTION_HANDLERS, RequestContextMiddleware
from backend.jsondepth import JsonDepthMiddleware
from backend.logging import configure_logging
from backend.materials.controller import MaterialController
from backend.monitoring.controller import MonitoringController
from backend.notifications.controller import NotificationController
from backend.privacy.controller import PrivacyController
from backend.projects.controller import ProjectController
from backend.lifecycle.controller import (
    AssessmentController,
    InspectionController,
    KeyPersonnelController,
    ProjectFileController,
    SitePageController,
    SiteViewController,
    StageController,
)
from backend.settings import Settings, get_settings
from backend.workforce.controller import (
    RosterController,
    SpotCheckController,
    TeamController,
    WorkerController,
)
from backend.workforce.payroll_controller import PayrollController, WorkforceExportController
from miniprogram_api.auth import MpAuthController, MpMeController
from miniprogram_api.complaints import MpComplaintController
from miniprogram_api.inbox import MpInboxController
from miniprogram_api.materials import MpMaterialController
from miniprogram_api.media import MpMediaController
from miniprogram_api.monitoring import MpMonitoringController
from miniprogram_api.places import MpPlacesController
from miniprogram_api.privacy import MpPrivacyController
from miniprogram_api.workforce import MpWorkforceController
from miniprogram_api.lifecycle import MpSiteController

log = structlog.get_logger("zhijian.app")

# Every domain adds its controllers here and nothing else changes.
REGULATOR_CONTROLLERS = [
    AuthController,
    MeController,
    UserController,
    ApiKeyController,
    DistrictController,
    EnterpriseController,
    PartnerEnterpriseController,
    ProjectController,
    NotificationController,
    ComplaintController,
    MaterialController,
    SpotCheckController,
    WorkerController,
    RosterController,
    TeamController,
    PayrollController,
    WorkforceExportController,
    MonitoringController,
    CreditController,
    OpenCreditController,
    PublicCreditController,
    ConsoleController,
    admin_console,
    CameraController,
    AccessController,
]
REGULATOR_CONTROLLERS += [StageController, InspectionController, SiteViewController, SitePageController,
                          ProjectFileController, AssessmentController, KeyPersonnelController]  # issue 20

MINIPROGRAM_CONTROLLERS = [MpAuthController, MpMeController, MpPlacesController, MpInboxController, MpMediaController,
                           MpComplaintController, MpMaterialController]
MINIPROGRAM_CONTROLLERS.append(MpMonitoringController)
MINIPROGRAM_CONTROLLERS.append(MpWorkforceController)
REGULATOR_CONTROLLERS += [WechatPushController, ContentReviewController]  # issue 16: push + content review
MINIPROGRAM_CONTROLLERS.append(MpSiteController)  # issue 20: the live site view
MINIPROGRAM_CONTROLLERS.append(MpPrivacyController)  # issue 23: notices and consents
REGULATOR_CONTROLLERS.append(PrivacyController)  # issue 23: people's requests, retention runs


class MetricsController(PrometheusController):
    path = "/metrics"


def _lifespan(settings: Settings):
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.open_pool(settings)
        redis = create_redis(settings)
        arq = await create_arq_pool(settings)
        s3 = S3Client(settings)
        wechat = WeChatClient(settings)
        app.state.update(redis=redis, arq=arq, s3=s3, wechat=wechat)
        listener = asyncio.create_task(sessions.listen(settings), name="token-version-listener")
        try:
            await s3.ensure_buckets()
        except Exception as exc:  # noqa: BLE001 - the API still starts; /readyz reports S3 as down
            log.warning("s3_buckets_not_ensured", error=str(exc))
        log.info("api_started", env=settings.ENV)
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            wechat.close()
            await arq.aclose()
            await redis.aclose()
            await db.close_pool()
            log.info("api_stopped")

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    """The ASGI application (uvicorn --factory backend.app:create_app)."""
    settings = settings or get_settings()
    configure_logging(settings)
    litestar_compat.apply()  # dependencies resolved in order, not in a task group per request (issue 22)
    prometheus = PrometheusConfig(app_name="zhijian", group_path=True, exclude=["/metrics", "/healthz"])
    auth = DefineMiddleware(AuthMiddleware, exclude=["^/schema", "^/metrics$"])
    openapi = OpenAPIConfig(
        title="Zhijian 质监 API",
        version="0.1.0",
        description="Regulators: /api/v1. Mini-program: /mp/v1. Errors: {code, message, detail}.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(), ScalarRenderPlugin(path="/scalar")],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                "ApiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
            }
        ),
        security=[{"BearerToken": []}, {"ApiKey": []}],
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            Router(path="/", route_handlers=REGULATOR_CONTROLLERS + MINIPROGRAM_CONTROLLERS),
            open311_router,
        ],
        dependencies=DEPENDENCIES,
        guards=[access_policy],  # one route table for every route (backend/access/routes.py)
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[RequestContextMiddleware, JsonDepthMiddleware, prometheus.middleware, auth],
        lifespan=[_lifespan(settings)],
        openapi_config=openapi,
        cors_config=CORSConfig(allow_origins=[], allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        request_max_body_size=settings.MAX_BODY_BYTES,
        debug=False,
        logging_config=None,  # ours (structlog JSON) stays in charge
    )
    app.state.settings = settings
    return app
