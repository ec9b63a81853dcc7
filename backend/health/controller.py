"""/healthz (the process is alive) and /readyz (every dependency answers)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get

from backend.deps import RedisDep, S3Dep, SettingsDep
from backend.health.service import readiness


class HealthController(Controller):
    tags = ["health"]

    @get("/healthz", exclude_from_auth=True, summary="Liveness")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", exclude_from_auth=True, summary="Readiness of PostgreSQL, Redis, S3 and MQTT")
    async def readyz(self, settings: SettingsDep, redis: RedisDep, s3: S3Dep) -> Response[dict[str, Any]]:
        ok, checks = await readiness(settings, redis, s3)
        body = {"status": "ok" if ok else "error", "checks": checks}
        return Response(body, status_code=200 if ok else 503)
