"""piccolo-admin mounted at /admin: regulator admins only, registries editable, credit tables read-only."""

from __future__ import annotations

import pytest

from tests.support.api import ADMIN_PASSWORD, STAFF_PASSWORD

pytestmark = pytest.mark.asyncio


async def _login(api, username: str, password: str):
    page = await api.get("/admin/")
    assert page.status_code == 200, page.text[:300]
    csrf = api.cookies.get("csrftoken") or page.cookies.get("csrftoken")
    return await api.post("/admin/public/login/", json={"username": username, "password": password},
                          headers={"X-CSRFToken": csrf or ""})


async def test_only_regulator_admins_sign_in_and_credit_is_read_only(api):
    api.cookies.clear()
    try:
        for username in ("lead_wang", "lc_inspector"):  # enterprise staff and inspectors are not admitted
            refused = await _login(api, username, STAFF_PASSWORD)
            assert refused.status_code in (401, 403), refused.text
        assert (await _login(api, "admin", "wrong-password-1")).status_code in (401, 403)
        assert (await api.get("/admin/api/tables/")).status_code in (401, 403)  # no session

        ok = await _login(api, "admin", ADMIN_PASSWORD)
        assert ok.status_code in (200, 303), ok.text
        tables = await api.get("/admin/api/tables/")
        assert tables.status_code == 200, tables.text
        names = set(tables.json())
        assert {"enterprises", "credit_listings", "credit_events", "credit_audit"} <= names
        rows = await api.get("/admin/api/tables/enterprises/", params={"__page_size": 5})
        assert rows.status_code == 200 and rows.json()["rows"], rows.text
        csrf = api.cookies.get("csrftoken") or ""
        write = await api.post("/admin/api/tables/credit_listings/", json={"list_kind": "black"},
                               headers={"X-CSRFToken": csrf})
        assert write.status_code == 405, write.text
    finally:
        api.cookies.clear()
