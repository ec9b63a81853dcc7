#!/usr/bin/env bash
# Give the dev system's broker the credentials of every active sensor: write passwd, acl and devices.csv
# into .run/mqtt-auth (`python -m iot.credentials`) and, with --reload, send the broker started by
# scripts/run.sh SIGHUP so it loads them. The dev twin of
# `docker compose run --rm mqtt-auth && docker compose kill -s HUP mosquitto`; run it after adding sensors.
#
#   scripts/dev_mqtt_auth.sh [--reload]
#
# A device then connects to 127.0.0.1:${ZHIJIAN_DEV_MQTT_PORT:-1884} as its row of .run/mqtt-auth/devices.csv.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

case "${1:-}" in
    "") RELOAD="" ;;
    --reload) RELOAD=1 ;;
    *)
        sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac

[[ -x "$VENV/bin/python" ]] || die ".venv is missing: run scripts/run.sh first"
dev_mqtt_auth
if [[ -n "$RELOAD" ]]; then
    reload_dev_mosquitto
fi
