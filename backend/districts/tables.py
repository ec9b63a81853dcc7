"""Districts (区县) and their construction-quality supervision stations (质监站)."""

from piccolo.columns import (
    JSONB,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class District(Table, tablename="districts"):
    """A county-level division; boundary is a GeoJSON (Multi)Polygon in GCJ-02."""

    adcode = Integer(primary_key=True)
    name = Varchar(length=32)
    boundary = JSONB()
    center_lng = DoublePrecision()
    center_lat = DoublePrecision()
    boundary_source = Varchar(length=200, default="")
    approximate = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Station(Table, tablename="stations"):
    """A supervision station (质监站) responsible for one district."""

    district = ForeignKey(references=District, null=False, unique=True, on_delete=OnDelete.restrict)
    name = Varchar(length=64)
    address = Varchar(length=200, default="")
    phone = Varchar(length=32, default="")
    created_at = Timestamptz(default=TimestamptzNow())
