#!/usr/bin/env bash
# Run the whole test suite: import contracts (import-linter), then pytest against the real services.
#
#   scripts/test.sh [PYTEST ARGS...]     e.g. scripts/test.sh -k complaints -x
#
# The tests make a fresh database (dropped at the end) and start their own S3 server and fake WeChat
# server on free ports; they need PostgreSQL, Redis and Mosquitto, which this script starts (or
# installs) when they are missing. ZHIJIAN_TEST_PG_ADMIN_URL, ZHIJIAN_TEST_REDIS_URL and
# ZHIJIAN_TEST_MQTT_URL point the tests elsewhere (see tests/support/env.py).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
ZHIJIAN_DATABASE_URL="${ZHIJIAN_TEST_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}" ensure_postgres
ZHIJIAN_REDIS_URL="${ZHIJIAN_TEST_REDIS_URL:-redis://127.0.0.1:6379}" ensure_redis
ZHIJIAN_MQTT_URL="${ZHIJIAN_TEST_MQTT_URL:-$DEFAULT_MQTT_URL}" ensure_mosquitto
ensure_chromium
ensure_poppler

lint_status=0
log "import contracts (lint-imports)"
.venv/bin/lint-imports || lint_status=$?
if ((lint_status != 0)); then
    error "import-linter: a contract in pyproject.toml is broken (see above); running the tests anyway"
fi

log "pytest"
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
case "$status" in
    0) ;;
    5) error "pytest collected no tests (exit status 5): check the arguments and tests/ — an empty run is a failure" ;;
    *) error "pytest failed (exit status $status)" ;;
esac

if ((status == 0 && lint_status != 0)); then
    exit 1
fi
exit "$status"
