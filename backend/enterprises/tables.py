"""Enterprises taking part in construction: owners, contractors, subcontractors, supervisors, makers, labs."""

from piccolo.columns import UUID, Array, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.districts.tables import District


class Enterprise(Table, tablename="enterprises"):
    """An enterprise identified by its unified social credit code (统一社会信用代码, GB 32100)."""

    id = UUID(primary_key=True)
    uscc = Varchar(length=18, unique=True)
    name = Varchar(length=128)
    kinds = Array(base_column=Varchar(length=32))
    legal_representative = Varchar(length=64, default="")
    address = Varchar(length=200, default="")
    phone = Varchar(length=32, default="")
    district = ForeignKey(references=District, null=True, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
