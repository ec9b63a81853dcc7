"""The real-name registry: ID checked, PII encrypted at rest and masked, duplicates refused, who may see what."""

from __future__ import annotations

import random

import pytest
from stdnum.cn import ric

from backend.workforce.tables import Worker
from tests.support.api import bearer, mp_login, staff_token
from tests.support.asserts import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")

LABOUR = "91330304MA2EF5G6HY"  # 温州安居劳务 (demo labour subcontractor)
CEMENT = "91330300MA2LM1N2PN"  # a manufacturer: not an employer of workers


def _id_number() -> str:
    # 鹿城区 (330302) exists from the 1980s: python-stdnum checks the code against the birth date.
    body = f"330302{random.randint(1986, 2000)}0{random.randint(1, 9)}1{random.randint(0, 8)}{random.randint(100, 999)}"
    return body + ric.calc_check_digit(body + "0")


async def _ent(api, admin, uscc):
    return (await api.get("/api/v1/enterprises", params={"q": uscc}, headers=admin)).json()["items"][0]["id"]


async def test_register_encrypt_mask_and_refuse_duplicates(api, admin):
    employer = await _ent(api, admin, LABOUR)
    number = _id_number()
    body = {"name": "李四", "id_number": number, "employer_id": employer, "phone": "13812345678",
            "bank_card": "6222021234567890123", "trade": "钢筋工", "contract_signed": True}
    lead = await staff_token(api, "lead_wang")  # a general contractor's lead may register
    resp = await api.post("/api/v1/workers", json=body, headers=lead)
    assert resp.status_code == 201, resp.text
    worker = resp.json()
    assert worker["id_number_masked"] == number[:6] + "********" + number[-4:]
    assert worker["phone_masked"] == "138****5678" and worker["bank_card_masked"].endswith("0123")
    assert worker["sex"] in ("male", "female") and worker["birth_date"][:4] == number[6:10]
    assert number not in resp.text and "13812345678" not in resp.text
    stored = str(await Worker.select().where(Worker.id == worker["id"]).first())
    assert number not in stored and "13812345678" not in stored and "6222021234567890123" not in stored
    assert_error(await api.post("/api/v1/workers", json={**body, "name": "李四重复"}, headers=lead), 409, "WORKER_DUPLICATE")
    found = await api.get("/api/v1/workers/by-id-number", params={"id_number": number.lower()}, headers=await staff_token(api, "lc_inspector"))
    assert found.status_code == 200 and found.json()["id"] == worker["id"]
    full = (await api.get(f"/api/v1/workers/{worker['id']}/pii", headers=admin)).json()
    assert full == {"id": worker["id"], "id_number": number, "phone": "13812345678", "bank_card": "6222021234567890123"}


async def test_bad_input_and_who_may(api, admin):
    employer = await _ent(api, admin, LABOUR)
    good = {"name": "王五", "id_number": _id_number(), "employer_id": employer}
    bad_checksum = good["id_number"][:-1] + ("0" if good["id_number"][-1] != "0" else "1")
    assert_error(await api.post("/api/v1/workers", json={**good, "id_number": bad_checksum}, headers=admin), 400, "ID_NUMBER_INVALID")
    assert_error(await api.post("/api/v1/workers", json={**good, "phone": "123"}, headers=admin), 400, "VALIDATION_ERROR")
    manufacturer = await _ent(api, admin, CEMENT)
    assert_error(await api.post("/api/v1/workers", json={**good, "employer_id": manufacturer}, headers=admin), 400, "NOT_AN_EMPLOYER")
    citizen = bearer(await mp_login(api))
    assert_error(await api.post("/api/v1/workers", json=good, headers=citizen), 403, "FORBIDDEN_ROLE")
    inspector = await staff_token(api, "lc_inspector")
    assert_error(await api.post("/api/v1/workers", json=good, headers=inspector), 403, "FORBIDDEN_ROLE")
    created = (await api.post("/api/v1/workers", json=good, headers=admin)).json()
    assert (await api.get(f"/api/v1/workers/{created['id']}", headers=inspector)).status_code == 200
    assert_error(await api.get(f"/api/v1/workers/{created['id']}/pii", headers=inspector), 403, "FORBIDDEN_ROLE")
    supervisor = await staff_token(api, "sup_li")
    assert_error(await api.get(f"/api/v1/workers/{created['id']}", headers=supervisor), 403, "FORBIDDEN_ROLE")
