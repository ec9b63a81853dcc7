"""Test environment, fixed before any backend module is imported.

Each run gets its own PostgreSQL database (made fresh, dropped at the end), Redis database 13
(flushed before and after), and its own S3 server and fake WeChat server on free loopback ports.
"""

from __future__ import annotations

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
REDIS_URL = os.environ.get("ZHIJIAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
S3_PORT = free_port()
WECHAT_PORT = free_port()

ENV = {
    "ZHIJIAN_ENV": "test",
    "ZHIJIAN_LOG_JSON": "true",
    "ZHIJIAN_LOG_LEVEL": "WARNING",
    "ZHIJIAN_DATABASE_URL": DATABASE_URL,
    "ZHIJIAN_REDIS_URL": REDIS_URL,
    "ZHIJIAN_S3_ENDPOINT": f"http://127.0.0.1:{S3_PORT}",
    "ZHIJIAN_S3_BUCKET_PREFIX": f"t{uuid.uuid4().hex[:6]}-",
    "ZHIJIAN_WECHAT_API_BASE_URL": f"http://127.0.0.1:{WECHAT_PORT}",
    "ZHIJIAN_MQTT_URL": os.environ.get("ZHIJIAN_TEST_MQTT_URL", "mqtt://127.0.0.1:1883"),
    "ZHIJIAN_JWT_SECRET": "test-jwt-secret-" + uuid.uuid4().hex,
    "PICCOLO_CONF": "backend.piccolo_conf",
}
os.environ.update(ENV)
