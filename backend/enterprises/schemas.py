"""Request and response types of enterprises."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec

from backend.schema import Schema


class EnterpriseKind(StrEnum):
    OWNER = "owner"  # 建设单位
    GENERAL_CONTRACTOR = "general_contractor"  # 施工总承包单位
    LABOUR_SUBCONTRACTOR = "labour_subcontractor"  # 劳务分包单位
    SUPERVISION = "supervision"  # 监理单位
    DESIGN = "design"  # 设计单位
    SURVEY = "survey"  # 勘察单位
    MANUFACTURER = "manufacturer"  # 材料生产企业
    TESTING_LAB = "testing_lab"  # 检测机构


Name = Annotated[str, msgspec.Meta(min_length=2, max_length=128)]
Kinds = Annotated[list[EnterpriseKind], msgspec.Meta(min_length=1, max_length=8)]


class EnterpriseCreate(Schema):
    uscc: Annotated[str, msgspec.Meta(min_length=18, max_length=24)]
    name: Name
    kinds: Kinds
    legal_representative: Annotated[str, msgspec.Meta(max_length=64)] = ""
    address: Annotated[str, msgspec.Meta(max_length=200)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=32)] = ""
    district_adcode: int | None = None


class EnterpriseUpdate(Schema):
    name: Name | None = None
    kinds: Kinds | None = None
    legal_representative: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    address: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class EnterpriseOut(Schema):
    id: UUID
    uscc: str
    name: str
    kinds: list[EnterpriseKind]
    legal_representative: str
    address: str
    phone: str
    district_adcode: int | None
    created_at: datetime
    updated_at: datetime


class EnterprisePublic(Schema):
    """What another department's system sees (no contact details)."""

    uscc: str
    name: str
    kinds: list[EnterpriseKind]
    district_adcode: int | None
