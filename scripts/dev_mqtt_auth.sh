#!/usr/bin/env bash
# Provision, live through the dev broker's dynamic-security plugin, the worker's login and every active
# sensor's (`python -m iot.credentials --dynsec`), and refresh .run/mqtt-auth/devices.csv for whoever
# installs the devices. Idempotent; no files for the broker, no SIGHUP. scripts/run.sh does this at start;
# sensors created through the API are provisioned by the API itself (their password is in its answer).
#
#   scripts/dev_mqtt_auth.sh
#
# A device then connects to 127.0.0.1:${ZHIJIAN_DEV_MQTT_PORT:-1884} as its row of .run/mqtt-auth/devices.csv.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [[ $# -gt 0 ]]; then
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi

[[ -x "$VENV/bin/python" ]] || die ".venv is missing: run scripts/run.sh first"
tcp_open 127.0.0.1 "$DEV_MQTT_PORT" || die "the dev broker of scripts/run.sh is not running on 127.0.0.1:$DEV_MQTT_PORT"
dev_mqtt_provision
