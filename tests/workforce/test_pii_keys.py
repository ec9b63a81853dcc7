"""PII keys: HKDF-derived, a key id beside every value, rotation in the background, lookups that survive it.

Issue 23 (5): keys derived with HKDF from a master secret (RFC 5869) with a key id stored beside each value;
rotation re-encrypts without downtime; lookup hashes survive rotation; production refuses dev keys (in
tests/system/test_settings.py).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import subprocess
import sys
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from stdnum.cn import ric

from backend.settings import get_settings
from backend.workforce import pii_rotation
from backend.workforce.pii import PiiCipher, cipher
from backend.workforce.tables import Worker
from tests.support.api import staff_token

LABOUR = "91330304MA2EF5G6HY"  # 温州安居劳务 (demo labour subcontractor)
A, B, LOOKUP = "a" * 40, "b" * 40, "l" * 40


def _legacy_token(secret: str, plain: str, context: str) -> str:
    """A value as written before key ids: AES-GCM under sha256(b"enc" + sha256(secret)), no prefix."""
    material = hashlib.sha256(secret.encode()).digest()
    nonce = os.urandom(12)
    sealed = AESGCM(hashlib.sha256(b"enc" + material).digest()).encrypt(nonce, plain.encode(), context.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def test_values_carry_their_key_id_and_keys_come_from_hkdf():
    c = PiiCipher(A, 1, lookup_key=LOOKUP)
    token = c.encrypt("330302198204159518", "id_number")
    assert token.startswith("k1.") and PiiCipher.key_id_of(token) == 1
    assert c.decrypt(token, "id_number") == "330302198204159518"
    with pytest.raises(Exception):  # noqa: B017 - the context is bound: InvalidTag
        c.decrypt(token, "phone")
    # the key is HKDF-SHA256(secret, salt, info "enc:<id>"), nothing else
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"zhijian-pii-v1", info=b"enc:1").derive(A.encode())
    raw = base64.urlsafe_b64decode(token[3:])
    assert AESGCM(key).decrypt(raw[:12], raw[12:], b"id_number") == b"330302198204159518"


def test_rotation_keeps_old_values_readable_and_lookups_equal():
    old = PiiCipher(A, 1, lookup_key=LOOKUP)
    new = PiiCipher(B, 2, {1: A}, lookup_key=LOOKUP)
    sealed_old = old.encrypt("13812345678", "phone")
    assert new.decrypt(sealed_old, "phone") == "13812345678"
    assert new.encrypt("13812345678", "phone").startswith("k2.")
    assert new.lookup("13812345678", "phone") == old.lookup("13812345678", "phone")
    with pytest.raises(KeyError):  # key 1 retired before the rotation finished: refused loudly, not garbage
        PiiCipher(B, 2, lookup_key=LOOKUP).decrypt(sealed_old, "phone")
    # a value from before key ids still decrypts (legacy derivation of the current or a retired secret)
    assert new.decrypt(_legacy_token(A, "6222021234567890123", "bank_card"), "bank_card") == "6222021234567890123"


def _id_number(seq: int) -> str:
    body = f"3303021985{(seq % 12) + 1:02d}{(seq % 27) + 1:02d}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


@pytest.mark.asyncio(loop_scope="session")
async def test_pii_rotate_command_reencrypts_every_value_and_lookups_still_find(api, admin):
    employer = (await api.get("/api/v1/enterprises", params={"q": LABOUR}, headers=admin)).json()["items"][0]["id"]
    lead = await staff_token(api, "lead_wang")
    seed = uuid.uuid4().int % 500
    numbers = [_id_number(seed + i) for i in range(4)]
    ids = []
    for i, number in enumerate(numbers):
        resp = await api.post("/api/v1/workers", json={
            "name": f"轮换{i}", "id_number": number, "employer_id": employer, "phone": f"1381234{5600 + seed + i:04d}",
            "bank_card": f"62220212345678{seed + i:05d}", "trade": "木工", "contract_signed": True}, headers=lead)
        if resp.status_code == 409:  # same number drawn by another test of this run
            continue
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    # one worker as written before key ids (legacy ciphertext and legacy lookup hash)
    settings = get_settings()
    legacy_number = _id_number(seed + 700)
    legacy_id = uuid.uuid4()
    first = await Worker.select().where(Worker.id == ids[0]).first()
    legacy_cipher = PiiCipher(settings.PII_KEY, settings.PII_KEY_ID, lookup_key=settings.PII_LOOKUP_KEY)
    row = {k: v for k, v in first.items() if k != "id"}
    row.update(id=legacy_id, name="旧格式", id_number_enc=_legacy_token(settings.PII_KEY, legacy_number, "id_number"),
               id_number_hash=legacy_cipher.legacy_lookup(legacy_number, "id_number"),
               phone_enc="", phone_hash="", bank_card_enc="")
    await Worker.insert(Worker(**row))

    rotated = dataclasses.replace(settings, PII_KEY=B, PII_KEY_ID=settings.PII_KEY_ID + 1,
                                  PII_OLD_KEYS=(f"{settings.PII_KEY_ID}:{settings.PII_KEY}",))
    assert await pii_rotation.remaining(rotated) >= 3 * len(ids) - 1
    env = {**os.environ, "ZHIJIAN_PII_KEY": B, "ZHIJIAN_PII_KEY_ID": str(rotated.PII_KEY_ID),
           "ZHIJIAN_PII_OLD_KEYS": rotated.PII_OLD_KEYS[0]}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "backend.cli", "pii-rotate"], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    # two rotations at once (SKIP LOCKED: no row twice), while the API keeps serving reads
    first_run, second_run = await asyncio.gather(asyncio.to_thread(run), asyncio.to_thread(run))
    assert first_run.returncode == 0 and second_run.returncode == 0, first_run.stderr + second_run.stderr
    assert "values under another key left: 0" in first_run.stdout + second_run.stdout
    assert await pii_rotation.remaining(rotated) == 0

    c = cipher(rotated)
    for worker_id, number in zip(ids, numbers, strict=False):
        stored = await Worker.select().where(Worker.id == worker_id).first()
        assert stored["id_number_enc"].startswith(f"k{rotated.PII_KEY_ID}.")
        assert c.decrypt(stored["id_number_enc"], "id_number") == number
        assert stored["phone_enc"].startswith(f"k{rotated.PII_KEY_ID}.")
        found = await Worker.select(Worker.id).where(Worker.id_number_hash == c.lookup(number, "id_number")).first()
        assert found is not None and str(found["id"]) == str(worker_id)
    legacy = await Worker.select().where(Worker.id == legacy_id).first()
    assert c.decrypt(legacy["id_number_enc"], "id_number") == legacy_number
    assert legacy["id_number_hash"] == c.lookup(legacy_number, "id_number")  # re-computed under the lookup key
    # a second run finds nothing to do
    assert (await pii_rotation.reencrypt(rotated)) == {"workers": 0, "cameras": 0, "webhooks": 0}
    # and back (key 1 again, key 2 retired-but-readable), so the rest of the run reads with the test settings
    back = dataclasses.replace(settings, PII_OLD_KEYS=(f"{rotated.PII_KEY_ID}:{B}",))
    await pii_rotation.reencrypt(back)
    assert await pii_rotation.remaining(settings) == 0
