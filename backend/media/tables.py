"""Media (图片): verified photos in S3, owned by the user who uploaded them."""

from piccolo.columns import UUID, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import User


class Media(Table, tablename="media"):
    """One uploaded image: pending (presigned, not yet checked) → verified | rejected; then attached once."""

    id = UUID(primary_key=True)
    owner = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    purpose = Varchar(length=32)
    status = Varchar(length=16, default="pending")
    bucket = Varchar(length=32, default="photos")
    key = Varchar(length=200, default="")
    thumb_key = Varchar(length=200, default="")
    incoming_key = Varchar(length=200, default="")
    content_type = Varchar(length=32, default="image/jpeg")
    width = Integer(default=0)
    height = Integer(default=0)
    bytes = Integer(default=0)
    sha256 = Varchar(length=64, default="", index=True)
    dhash = Varchar(length=16, default="")  # perceptual hash of the verified picture (images.dhash)
    reject_reason = Varchar(length=64, default="")
    attached_type = Varchar(length=32, default="")
    attached_id = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    verified_at = Timestamptz(null=True, default=None)
