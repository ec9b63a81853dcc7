"""Open311 GeoReport v2 at /open311/v2 (JSON and XML), with the spec's own error shape."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import structlog
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import FromPath

from backend.accounts import service as accounts_service
from backend.auth.principal import Principal
from backend.complaints import open311
from backend.deps import ArqDep, RedisDep, S3Dep, SettingsDep
from backend.errors import AppError

log = structlog.get_logger("zhijian.open311")
_ANONYMOUS = Principal(kind="anonymous", id=UUID(int=0))
_ITEM = {"services": "service", "service_requests": "request", "errors": "error"}


def _fmt(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def _answer(request: Request, root: str, payload: Any, status: int = 200) -> Response[bytes]:
    if _fmt(request.url.path) == "xml":
        item = _ITEM.get(root)
        body = open311.render_xml(root, item, payload)
        return Response(body, status_code=status, media_type="text/xml")  # Litestar adds "; charset=utf-8" once
    return Response(json.dumps(payload, ensure_ascii=False).encode(), status_code=status, media_type="application/json")


async def _principal(request: Request, form: dict[str, str] | None = None) -> Principal:
    key = request.query_params.get("api_key") or (form or {}).get("api_key") or request.headers.get("x-api-key")
    if not key:
        return _ANONYMOUS
    try:
        return await accounts_service.authenticate_api_key(key)
    except AppError as exc:
        raise open311.Open311Error(403, 403, "invalid api_key") from exc


def _strip(name: str, suffixes: tuple[str, ...] = (".json", ".xml")) -> str:
    for suffix in suffixes:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    raise open311.Open311Error(404, 404, "format must be .json or .xml")


@get(["/discovery.json", "/discovery.xml"], exclude_from_auth=True)
async def discovery(request: Request) -> Response[bytes]:
    base = str(request.base_url).rstrip("/") + "/open311/v2"
    return _answer(request, "discovery", open311.discovery(base))


@get(["/services.json", "/services.xml"], exclude_from_auth=True)
async def services(request: Request) -> Response[bytes]:
    return _answer(request, "services", await open311.services())


@get("/services/{name:str}", exclude_from_auth=True)
async def service_definition(request: Request, name: FromPath[str]) -> Response[bytes]:
    code = _strip(name)
    return _answer(request, "service_definition", await open311.service_definition(code))


@get(["/requests.json", "/requests.xml"], exclude_from_auth=True)
async def list_requests(request: Request, s3: S3Dep) -> Response[bytes]:
    q = request.query_params
    items = await open311.list_requests(  # public by the spec: no api_key asked, the public view for everyone
        s3, _ANONYMOUS, ids=q.get("service_request_id"), service_code=q.get("service_code"),
        start=q.get("start_date"), end=q.get("end_date"), status=q.get("status"),
    )
    return _answer(request, "service_requests", items)


@post(["/requests.json", "/requests.xml"], exclude_from_auth=True, status_code=201)
async def create_request(request: Request, settings: SettingsDep, redis: RedisDep, arq: ArqDep) -> Response[bytes]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise open311.Open311Error(400, 400, "POST requests are form-encoded (application/x-www-form-urlencoded)")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    created = await open311.create_request(settings, redis, arq, await _principal(request, form), form)
    return _answer(request, "service_requests", created, status=201)


@get("/requests/{name:str}", exclude_from_auth=True)
async def get_request(request: Request, s3: S3Dep, name: FromPath[str]) -> Response[bytes]:
    return _answer(request, "service_requests", await open311.get_request(s3, _ANONYMOUS, _strip(name)))


@get("/tokens/{name:str}", exclude_from_auth=True)
async def token(request: Request, name: FromPath[str]) -> Response[bytes]:
    return _answer(request, "service_requests", await open311.token(await _principal(request), _strip(name)))


def _error(request: Request, status: int, code: Any, description: str) -> Response[bytes]:
    return _answer(request, "errors", [{"code": code, "description": description}], status=status)


def _open311_error(request: Request, exc: open311.Open311Error) -> Response[bytes]:
    return _error(request, exc.status, exc.code, exc.description)


def _app_error(request: Request, exc: AppError) -> Response[bytes]:
    status = exc.status_code if exc.status_code in (400, 403, 404) else 400
    return _error(request, status, status, f"{exc.code}: {exc.message}")  # the spec's code is one type: an integer


def _http_error(request: Request, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code if exc.status_code in (400, 403, 404) else (400 if exc.status_code < 500 else 500)
    detail = "invalid request" if isinstance(exc, ValidationException) else str(exc.detail)
    return _error(request, status, exc.status_code, detail)


def _internal_error(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("open311_unhandled_error", path=request.url.path, error=repr(exc))
    return _error(request, 500, 500, "internal error")


open311_router = Router(
    path="/open311/v2",
    route_handlers=[discovery, services, service_definition, list_requests, create_request, get_request, token],
    exception_handlers={open311.Open311Error: _open311_error, AppError: _app_error, HTTPException: _http_error,
                        Exception: _internal_error},
    tags=["open311"],
)
