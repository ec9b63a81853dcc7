"""The real-name registry (实名制): workers with encrypted ID number, phone and bank card.

Who may register: a regulator admin, or a project lead of the employer (the labour subcontractor) or
of a general contractor. Responses are always masked; the full values come from ``pii()``, allowed
to regulator admins and the employer's people (payroll), and every such read is logged.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import structlog
from asyncpg.exceptions import UniqueViolationError

from backend.access import audit as access_audit
from backend.access import policy as access_policy
from backend.accounts.service import mask_phone
from backend.auth.principal import Principal
from backend.db import utcnow
from backend.enterprises import service as enterprises_service
from backend.errors import BadRequest, Conflict, NotFound
from backend.media import service as media_service
from backend.media.schemas import Purpose
from backend.settings import Settings
from backend.workforce.pii import PiiCipher, cipher, mask_bank_card, mask_id_number
from backend.workforce.rules import check_id_number
from backend.workforce.schemas import WorkerCreate, WorkerOut, WorkerPii
from backend.workforce.tables import Worker

log = structlog.get_logger("zhijian.workforce.registry")


def _cipher(settings: Settings) -> PiiCipher:
    return cipher(settings)


def _out(settings: Settings, row: dict[str, Any]) -> WorkerOut:
    c = _cipher(settings)
    phone = c.decrypt(row["phone_enc"], "phone")
    card = c.decrypt(row["bank_card_enc"], "bank_card")
    return WorkerOut(
        id=row["id"], name=row["name"], id_number_masked=(mask_id_number(c.decrypt(row["id_number_enc"], "id_number"))
                          if row["id_number_enc"] else ""),  # "" once anonymised (retention): nothing to mask
        sex=row["sex"], birth_date=row["birth_date"].isoformat(), phone_masked=mask_phone(phone) if phone else "",
        bank_card_masked=mask_bank_card(card) if card else "", trade=row["trade"], employer_id=row["employer"],
        contract_signed=row["contract_signed"], id_region_known=row["id_region_known"], has_face_photo=row["face_media_id"] is not None, created_at=row["created_at"],
    )


async def register(settings: Settings, actor: Principal, data: WorkerCreate) -> WorkerOut:
    """Register a worker; the same ID number twice is refused."""
    await access_policy.check(actor, "manage_worker", {"employer": data.employer_id})
    info = check_id_number(data.id_number, utcnow().date())
    kinds = await enterprises_service.kinds_of([data.employer_id])
    if data.employer_id not in kinds:
        raise NotFound("ENTERPRISE_NOT_FOUND")
    if "labour_subcontractor" not in kinds[data.employer_id] and "general_contractor" not in kinds[data.employer_id]:
        raise BadRequest("NOT_AN_EMPLOYER")
    c = _cipher(settings)
    worker_id = uuid4()
    async with Worker._meta.db.transaction():
        if data.face_photo_id is not None:
            await media_service.attach(actor.id, [data.face_photo_id], Purpose.FACE, ("worker", str(worker_id)))
        try:
            await Worker.insert(Worker(
                id=worker_id, name=data.name.strip(), id_number_enc=c.encrypt(info.number, "id_number"),
                id_number_hash=c.lookup(info.number, "id_number"), sex=info.sex, birth_date=info.birth_date,
                id_region_known=info.region_known,
                phone_enc=c.encrypt(data.phone, "phone") if data.phone else "",
                phone_hash=c.lookup(data.phone, "phone") if data.phone else "",
                bank_card_enc=c.encrypt(data.bank_card, "bank_card") if data.bank_card else "",
                trade=data.trade, employer=data.employer_id, contract_signed=data.contract_signed,
                face_media_id=data.face_photo_id, registered_by=actor.id,
            ))
        except UniqueViolationError as exc:
            raise Conflict("WORKER_DUPLICATE") from exc
    return _out(settings, await Worker.select().where(Worker.id == worker_id).first())


async def worker_row(worker_id: UUID) -> dict[str, Any]:
    row = await Worker.select().where(Worker.id == worker_id).first()
    if row is None:
        raise NotFound("WORKER_NOT_FOUND")
    return row


async def get(settings: Settings, actor: Principal, worker_id: UUID) -> WorkerOut:
    row = await worker_row(worker_id)
    await access_policy.check(actor, "read_worker", {"employer": row["employer"]})
    return _out(settings, row)


async def find_by_id_number(settings: Settings, actor: Principal, id_number: str) -> WorkerOut:
    """Look a worker up by ID number through the keyed hash (the number itself is never stored plain)."""
    access_policy.require(actor, "staff", {})
    row = await Worker.select().where(Worker.id_number_hash == _cipher(settings).lookup(id_number, "id_number")).first()
    if row is None:
        raise NotFound("WORKER_NOT_FOUND")
    return _out(settings, row)


async def pii(settings: Settings, actor: Principal, worker_id: UUID) -> WorkerPii:
    """The unmasked values, for payroll and audits only; every read is logged."""
    row = await worker_row(worker_id)
    await access_policy.check(actor, "read_worker_pii", row)
    await access_audit.record_pii_read(actor, "worker_pii", worker=worker_id)
    log.info("worker_pii_read", worker=str(worker_id), by=str(actor.id), role=actor.role.value if actor.role else None)
    c = _cipher(settings)
    return WorkerPii(
        id=row["id"], id_number=c.decrypt(row["id_number_enc"], "id_number"),
        phone=c.decrypt(row["phone_enc"], "phone"),
        bank_card=c.decrypt(row["bank_card_enc"], "bank_card"),
    )
