"""Health, readiness, request ids, OpenAPI, and the one error shape for bad input."""

from __future__ import annotations

import pytest

from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio


async def test_healthz(api):
    resp = await api.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


async def test_readyz_reports_every_dependency(api):
    resp = await api.get("/readyz")
    body = resp.json()
    assert resp.status_code == 200, body
    assert set(body["checks"]) == {"postgres", "redis", "s3", "mqtt"}
    assert all(c["status"] == "ok" for c in body["checks"].values()), body


async def test_request_id_is_echoed_or_made(api):
    resp = await api.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    resp = await api.get("/healthz")
    assert len(resp.headers["x-request-id"]) == 32


async def test_openapi_and_browsable_ui(api):
    spec = await api.get("/schema/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/mp/v1/auth/login" in paths and "/api/v1/projects" in paths
    ui = await api.get("/schema")
    assert ui.status_code == 200 and "<html" in ui.text.lower()


async def test_unknown_route_and_method(api, admin):
    assert_error(await api.get("/api/v1/nope", headers=admin), 404, "NOT_FOUND")
    assert_error(await api.delete("/healthz"), 405, "METHOD_NOT_ALLOWED")


async def test_missing_and_bad_tokens(api):
    assert_error(await api.get("/api/v1/projects"), 401, "AUTH_REQUIRED")
    assert_error(await api.get("/api/v1/projects", headers={"Authorization": "Bearer x.y.z"}), 401, "TOKEN_INVALID")
    assert_error(await api.get("/api/v1/projects", headers={"Authorization": "Basic abc"}), 401, "TOKEN_INVALID")


async def test_malformed_json(api, admin):
    resp = await api.post(
        "/api/v1/enterprises", content=b'{"uscc": ', headers={**admin, "Content-Type": "application/json"}
    )
    assert_error(resp, 400, "MALFORMED_JSON")


async def test_wrong_types_and_unknown_fields_write_nothing(api, admin):
    before = (await api.get("/api/v1/enterprises", headers=admin)).json()["total"]
    resp = await api.post("/api/v1/enterprises", json={"uscc": 123, "name": "x", "kinds": ["owner"]}, headers=admin)
    body = assert_error(resp, 400, "VALIDATION_ERROR")
    assert body["detail"]
    resp = await api.post(
        "/api/v1/enterprises",
        json={"uscc": "91330302MA2AB1C2DL", "name": "某公司", "kinds": ["owner"], "is_admin": True},
        headers=admin,
    )
    assert_error(resp, 400, "VALIDATION_ERROR")
    resp = await api.post(
        "/api/v1/enterprises", json={"uscc": "91330302MA2AB1C2DL", "name": "某公司", "kinds": ["pirate"]}, headers=admin
    )
    assert_error(resp, 400, "VALIDATION_ERROR")
    after = (await api.get("/api/v1/enterprises", headers=admin)).json()["total"]
    assert after == before


async def test_oversized_body(api, admin):
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = await api.post("/api/v1/enterprises", content=big, headers={**admin, "Content-Type": "application/json"})
    assert_error(resp, 413, "BODY_TOO_LARGE")


async def test_bad_query_parameter(api, admin):
    assert_error(await api.get("/api/v1/projects?limit=100000", headers=admin), 400, "VALIDATION_ERROR")
    assert_error(await api.get("/api/v1/geo/locate?lng=abc&lat=1", headers=admin), 400, "VALIDATION_ERROR")


async def test_out_of_range_integers_are_bad_input_not_500(api, admin):
    huge = "44852346626842424"
    assert_error(await api.patch(f"/api/v1/stations/{huge}", json={"phone": "1"}, headers=admin), 400, "VALIDATION_ERROR")
    assert_error(await api.get(f"/api/v1/complaints/dashboard?district_adcode=-{huge}", headers=admin), 400, "VALIDATION_ERROR")


async def test_preflight_on_guarded_routes_is_not_an_error(api):
    for path in ("/api/v1/users", "/api/v1/api-keys", "/api/v1/partner/enterprises/x"):
        resp = await api.options(path, headers={"X-API-Key": "zk_x_y", "Origin": "https://example.com",
                                                 "Access-Control-Request-Method": "GET"})
        assert resp.status_code < 500, (path, resp.status_code, resp.text)
