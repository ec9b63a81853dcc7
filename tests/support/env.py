"""Test environment, fixed before any backend module is imported.

Each run gets its own PostgreSQL database (made fresh, dropped at the end), a Redis database of its
own (claimed with a lock key, flushed before and after), its own MQTT shared-subscription group, and
its own S3 server and fake WeChat server on free loopback ports.
"""

from __future__ import annotations

import atexit
import os
import socket
import uuid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PG_ADMIN_URL = os.environ.get("ZHIJIAN_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = f"zhijian_test_{uuid.uuid4().hex[:10]}"
DATABASE_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB
REDIS_BASE = os.environ.get("ZHIJIAN_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
if REDIS_BASE.rsplit("/", 1)[-1].isdigit() and REDIS_BASE.count("/") > 2:
    REDIS_BASE = REDIS_BASE.rsplit("/", 1)[0]  # the database number is chosen per run below


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim_redis_db() -> int:
    """A Redis database of our own (1..15), so concurrent test runs never flush each other's data."""
    import redis

    admin = redis.Redis.from_url(REDIS_BASE + "/0")
    try:
        for index in range(15, 0, -1):
            key = f"zhijian:test-db-lock:{index}"
            if admin.set(key, os.getpid(), nx=True, ex=3600):
                return index
            owner = admin.get(key)
            if owner is not None and owner.isdigit() and not _alive(int(owner)):  # a run that was killed
                admin.set(key, os.getpid(), ex=3600)
                return index
    finally:
        admin.close()
    raise RuntimeError("no free Redis database for tests (all of 1..15 are locked)")


def release_redis_db() -> None:
    import redis

    admin = redis.Redis.from_url(REDIS_BASE + "/0")
    if admin.get(f"zhijian:test-db-lock:{REDIS_DB}") == str(os.getpid()).encode():
        admin.delete(f"zhijian:test-db-lock:{REDIS_DB}")
    admin.close()


REDIS_DB = _claim_redis_db()
REDIS_URL = f"{REDIS_BASE}/{REDIS_DB}"
atexit.register(release_redis_db)
S3_PORT = free_port()
WECHAT_PORT = free_port()

ENV = {
    "ZHIJIAN_ENV": "test",
    "ZHIJIAN_OUTBOUND_ALLOW": "127.0.0.0/8",
    "ZHIJIAN_ACCESS_TOKEN_TTL_S": "7200",  # session-wide sign-ins outlive a slow run on a shared machine  # the tests' camera and webhook receivers listen on loopback
    "ZHIJIAN_LOG_JSON": "true",
    "ZHIJIAN_LOG_LEVEL": "WARNING",
    "ZHIJIAN_DATABASE_URL": DATABASE_URL,
    "ZHIJIAN_REDIS_URL": REDIS_URL,
    "ZHIJIAN_S3_ENDPOINT": f"http://127.0.0.1:{S3_PORT}",
    "ZHIJIAN_S3_BUCKET_PREFIX": f"t{uuid.uuid4().hex[:6]}-",
    "ZHIJIAN_WECHAT_API_BASE_URL": f"http://127.0.0.1:{WECHAT_PORT}",
    "ZHIJIAN_MQTT_URL": os.environ.get("ZHIJIAN_TEST_MQTT_URL", "mqtt://127.0.0.1:1883"),
    "ZHIJIAN_MQTT_SHARE_GROUP": f"zhijian-test-{uuid.uuid4().hex[:8]}",
    "ZHIJIAN_JWT_SECRET": "test-jwt-secret-" + uuid.uuid4().hex,
    "PICCOLO_CONF": "backend.piccolo_conf",
}
# Issue 23: every process of the run (the API in pytest, workers, servers started by tests) logs at INFO to its own
# file under .pytest_logs/, scanned for unmasked personal values when the run ends (tests/support/services.py).
LOG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".pytest_logs")
RUN_ID = uuid.uuid4().hex[:8]
os.makedirs(LOG_DIR, exist_ok=True)
ENV |= {"ZHIJIAN_LOG_LEVEL": "INFO", "ZHIJIAN_LOG_FILE": os.path.join(LOG_DIR, f"run-{RUN_ID}-{{pid}}.log")}
os.environ.update(ENV)
