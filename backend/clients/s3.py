"""S3 object storage (MinIO in production, moto's server locally) through the ``minio`` client."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from urllib.parse import urlparse

import urllib3
from minio import Minio
from minio.error import S3Error

from backend.settings import Settings


class S3Client:
    """Small async facade over the synchronous minio client; buckets are named by logical name."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        url = urlparse(settings.S3_ENDPOINT)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=10.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=16,
        )
        self.raw = Minio(
            url.netloc,
            access_key=settings.S3_ACCESS_KEY,
            secret_key=settings.S3_SECRET_KEY,
            secure=url.scheme == "https",
            region=settings.S3_REGION,
            http_client=http,
        )

    def bucket(self, name: str) -> str:
        return self._settings.bucket(name)

    async def ensure_buckets(self) -> None:
        """Create every configured bucket that does not exist yet."""
        for name in self._settings.S3_BUCKETS:
            bucket = self.bucket(name)
            exists = await asyncio.to_thread(self.raw.bucket_exists, bucket)
            if not exists:
                await asyncio.to_thread(self.raw.make_bucket, bucket)

    async def ping(self) -> None:
        """Raise if the store cannot be reached or the first bucket is missing."""
        bucket = self.bucket(self._settings.S3_BUCKETS[0])
        if not await asyncio.to_thread(self.raw.bucket_exists, bucket):
            raise RuntimeError(f"bucket {bucket} missing")

    async def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.raw.put_object, self.bucket(bucket), key, io.BytesIO(data), len(data), content_type
        )

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        def _get() -> bytes:
            resp = self.raw.get_object(self.bucket(bucket), key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        return await asyncio.to_thread(_get)

    async def presigned_get(self, bucket: str, key: str, expires_s: int = 300) -> str:
        return await asyncio.to_thread(
            self.raw.presigned_get_object, self.bucket(bucket), key, timedelta(seconds=expires_s)
        )

    async def presigned_put(self, bucket: str, key: str, expires_s: int = 300) -> str:
        return await asyncio.to_thread(
            self.raw.presigned_put_object, self.bucket(bucket), key, timedelta(seconds=expires_s)
        )

    async def size(self, bucket: str, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""
        try:
            stat = await asyncio.to_thread(self.raw.stat_object, self.bucket(bucket), key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise
        return stat.size

    async def remove(self, bucket: str, key: str) -> None:
        await asyncio.to_thread(self.raw.remove_object, self.bucket(bucket), key)
