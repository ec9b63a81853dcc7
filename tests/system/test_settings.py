"""Typed settings from ZHIJIAN_ environment variables."""

from __future__ import annotations

import pytest

from backend.settings import load_settings


def test_defaults_work_on_a_developer_machine():
    s = load_settings({})
    assert s.DATABASE_URL.startswith("postgresql://") and s.REDIS_URL.startswith("redis://")
    assert s.S3_ENDPOINT and s.MQTT_URL.startswith("mqtt://") and s.WECHAT_API_BASE_URL
    assert s.bucket("photos") == "zhijian-photos"


def test_env_values_are_typed():
    s = load_settings({"ZHIJIAN_API_PORT": "9001", "ZHIJIAN_LOG_JSON": "false", "ZHIJIAN_S3_BUCKETS": "a, b"})
    assert s.API_PORT == 9001 and s.LOG_JSON is False and s.S3_BUCKETS == ("a", "b")
    with pytest.raises(ValueError, match="ZHIJIAN_API_PORT"):
        load_settings({"ZHIJIAN_API_PORT": "eighty"})


def test_production_needs_a_real_jwt_secret():
    with pytest.raises(ValueError, match="JWT_SECRET"):
        load_settings({"ZHIJIAN_ENV": "production"})
    with pytest.raises(ValueError, match="32 bytes"):
        load_settings({"ZHIJIAN_JWT_SECRET": "short"})
    with pytest.raises(ValueError, match="MATERIAL_QR_KEY"):
        load_settings({"ZHIJIAN_ENV": "production", "ZHIJIAN_JWT_SECRET": "x" * 40})
    prod = {"ZHIJIAN_ENV": "production", "ZHIJIAN_JWT_SECRET": "x" * 40, "ZHIJIAN_MATERIAL_QR_KEY": "q" * 40}
    with pytest.raises(ValueError, match="PII_KEY"):
        load_settings(prod)
    with pytest.raises(ValueError, match="WECHAT_PUSH_TOKEN"):
        load_settings({**prod, "ZHIJIAN_PII_KEY": "p" * 40})
    with pytest.raises(ValueError, match="PII_LOOKUP_KEY"):
        load_settings({**prod, "ZHIJIAN_PII_KEY": "p" * 40, "ZHIJIAN_WECHAT_PUSH_TOKEN": "t" * 32})
    assert load_settings({**prod, "ZHIJIAN_PII_KEY": "p" * 40, "ZHIJIAN_WECHAT_PUSH_TOKEN": "t" * 32,
                          "ZHIJIAN_PII_LOOKUP_KEY": "l" * 40}).ENV == "production"
