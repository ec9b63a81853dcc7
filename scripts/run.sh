#!/usr/bin/env bash
# Start the whole system with demo data on this machine: PostgreSQL and Redis (started or installed when
# missing), moto's S3 server, the fake WeChat server and a Mosquitto of its own, then the API and the ARQ,
# MQTT-alarm and vision workers. Stays in the foreground; Ctrl-C stops everything.
#
#   scripts/run.sh            run until Ctrl-C / SIGTERM (then stop every child and exit 0)
#   scripts/run.sh --check    start everything, wait for /readyz, make the demo activity, log in as the
#                             demo citizen, stop
#
# Configuration comes from the ZHIJIAN_* environment variables (backend/settings.py); logs go to .run/.
# The broker is the compose one (scripts/docker/mosquitto.conf) on 127.0.0.1:${ZHIJIAN_DEV_MQTT_PORT:-1884}:
# no anonymous clients, one login per sensor in its dynamic-security plugin, provisioned live (a sensor
# created through the API gets its login at once, a retired one loses it at once; no files, no SIGHUP);
# the workers' password is MQTT_WORKER_PASSWORD, the plugin admin's MQTT_DYNSEC_ADMIN_PASSWORD, or ones made in .run/.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

CHECK=""
case "${1:-}" in
    "") ;;
    --check) CHECK=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        die "unknown argument: $1"
        ;;
esac

API_HOST="${ZHIJIAN_API_HOST:-127.0.0.1}"
API_PORT="${ZHIJIAN_API_PORT:-8000}"
case "$API_HOST" in
    0.0.0.0 | "" | ::) API_CONNECT_HOST=127.0.0.1 API_URL="http://127.0.0.1:$API_PORT" ;;
    *:*) API_CONNECT_HOST="$API_HOST" API_URL="http://[$API_HOST]:$API_PORT" ;;
    *) API_CONNECT_HOST="$API_HOST" API_URL="http://$API_HOST:$API_PORT" ;;
esac
APP_PROCESSES=(api arq-worker iot-worker vision-worker)
DEMO_LOGIN_BODY='{"code":"demo-citizen:1"}'

on_stop() {
    trap - INT TERM
    log "received SIG$1: stopping"
    cleanup
    if [[ -z "$CHECK" ]]; then
        exit 0
    fi
    [[ "$1" == INT ]] && exit 130
    exit 143
}

if tcp_open "$API_CONNECT_HOST" "$API_PORT"; then
    die "port $API_PORT is already in use (another scripts/run.sh?); set ZHIJIAN_API_PORT to another port"
fi

install_cleanup
trap 'on_stop INT' INT
trap 'on_stop TERM' TERM

if [[ -n "${ZHIJIAN_MQTT_URL:-}" ]]; then
    warn "ZHIJIAN_MQTT_URL is ignored: scripts/run.sh runs its own broker on 127.0.0.1:$DEV_MQTT_PORT"
fi

ensure_venv
ensure_postgres
ensure_redis
start_s3
start_fake_wechat
ensure_database "$(url_path "${ZHIJIAN_DATABASE_URL:-$DEFAULT_DATABASE_URL}" zhijian)"

log "migrating the database"
.venv/bin/python -m backend.cli migrate
log "loading demo data"
.venv/bin/python -m backend.cli seed-demo
log "starting the dev broker; the worker's and the existing sensors' logins provisioned live"
start_dev_mosquitto # exports ZHIJIAN_MQTT_URL (the workers' login) and ZHIJIAN_MQTT_DYNSEC_URL (the API's) below

start_bg api .venv/bin/uvicorn backend.app:create_app --factory --host "$API_HOST" --port "$API_PORT"
# The workers are restarted when they die (with back-off, logged): their work is in PostgreSQL (outbox,
# timers, MQTT sessions), so a restart loses nothing. Under --check a death still counts as a failure.
start_restartable arq-worker .venv/bin/arq workers.settings.WorkerSettings
start_restartable iot-worker .venv/bin/python -m iot.worker
start_restartable vision-worker .venv/bin/python -m vision.worker

log "waiting for $API_URL/readyz"
if ! wait_http "$API_URL/readyz" 90 200; then
    error "the API is not ready; /readyz says:"
    curl -s --max-time 5 "$API_URL/readyz" >&2 || true
    echo >&2
    exit 1
fi

log "making demo activity through the API (complaints, materials, an alarm, credit lists; idempotent)"
# Sensors it creates get their broker login from the API's answer (provisioned live) and publish with it.
if ! .venv/bin/python -m backend.cli demo-activity --api "$API_URL" --device-logins; then
    error "demo-activity failed (logs in .run/*.log)"
    exit 1
fi

demo_login() {
    curl -s -X POST "$API_URL/mp/v1/auth/login" -H 'content-type: application/json' -d "$DEMO_LOGIN_BODY" \
        -w '\n%{http_code}' --max-time 15
}

if [[ -n "$CHECK" ]]; then
    status=0
    echo "readyz: $(curl -s --max-time 5 "$API_URL/readyz")"
    response="$(demo_login || true)"
    code="${response##*$'\n'}"
    echo "demo login: HTTP $code ${response%$'\n'*}"
    [[ "$code" == 200 ]] || {
        error "the demo login failed"
        status=1
    }
    # Workers that die a moment after they start (a bad connection, say) count as failures too.
    sleep 2
    check_children || status=1
    trap - INT TERM
    cleanup
    # 143 (128 + SIGTERM) is clean too: uvicorn re-raises the signal after its graceful shutdown.
    for name in "${APP_PROCESSES[@]}"; do
        case "$(bg_status "$name")" in
            0 | 143) ;;
            *)
                error "$name did not stop cleanly on SIGTERM (exit status $(bg_status "$name"))"
                status=1
                ;;
        esac
    done
    if ((status == 0)); then
        log "check passed: the system started, answered /readyz and the demo login, and stopped cleanly"
    fi
    exit "$status"
fi

cat <<EOF

Zhijian is running (logs in .run/*.log; Ctrl-C stops everything).

  API            $API_URL
  API docs       $API_URL/schema   (Swagger UI $API_URL/schema/swagger, Scalar $API_URL/schema/scalar)
  Readiness      $API_URL/readyz
  Metrics        $API_URL/metrics
  S3 (moto)      ${ZHIJIAN_S3_ENDPOINT:-$DEFAULT_S3_ENDPOINT}
  MQTT           mqtt://127.0.0.1:$DEV_MQTT_PORT   (no anonymous clients; a sensor's login is in the API's answer
                 that created it; existing ones in .run/mqtt-auth/devices.csv: bash scripts/dev_mqtt_auth.sh)
  Fake WeChat    ${ZHIJIAN_WECHAT_API_BASE_URL:-$DEFAULT_WECHAT_API_BASE_URL}

Try the demo mini-program login (a citizen; the code is "demo-<who>:<n>" on the fake WeChat server):

  curl -X POST $API_URL/mp/v1/auth/login -H 'content-type: application/json' -d '$DEMO_LOGIN_BODY'

EOF

# Stay in the foreground; `wait` returns at once when a trapped signal arrives. A worker that dies is
# started again (supervise_children); the API or a stand-in service dying stops everything.
while :; do
    if ! supervise_children; then
        error "stopping the rest"
        exit 1
    fi
    sleep 1 &
    wait $! || true
done
