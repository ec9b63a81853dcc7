#!/usr/bin/env bash
# Shared functions for scripts/run.sh and scripts/test.sh. Source it; do not run it.
#
#   ensure_venv                 .venv with `pip install -e '.[dev]'`, reinstalled when pyproject.toml changes
#   ensure_postgres             PostgreSQL reachable at ZHIJIAN_DATABASE_URL (started / installed if local)
#   ensure_redis                Redis reachable at ZHIJIAN_REDIS_URL (idem)
#   ensure_mosquitto            Mosquitto reachable at ZHIJIAN_MQTT_URL (idem; the tests' broker)
#   ensure_poppler              pdftoppm / pdftotext (poppler-utils) for the project-file test (installed as root)
#   start_dev_mosquitto         run.sh's own broker (scripts/docker/mosquitto.conf on 127.0.0.1:1884, dynamic security)
#   dev_mqtt_provision          the worker + every active sensor provisioned live in it (devices.csv in .run/mqtt-auth)
#   ensure_database [NAME]      create the database (default: the one named in ZHIJIAN_DATABASE_URL)
#   start_s3                    moto's S3 server at ZHIJIAN_S3_ENDPOINT unless something answers there
#   start_fake_wechat           scripts/fake_wechat.py at ZHIJIAN_WECHAT_API_BASE_URL unless something answers
#   start_bg NAME CMD...        run CMD in the background, log to .run/NAME.log, stopped by cleanup
#   start_restartable NAME CMD...   start_bg, and supervise_children restarts it when it dies
#   supervise_children          restart dead restartable processes with back-off (logged); 1 if another died
#   wait_http URL TIMEOUT [STATUS]   wait until URL answers (with STATUS when given)
#   install_cleanup             trap EXIT INT TERM: stop every background process started by start_bg
#
# System services (PostgreSQL, Redis, Mosquitto) are left running: they are shared with other work.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "scripts/lib.sh holds functions for scripts/run.sh and scripts/test.sh: source it, do not run it" >&2
    exit 2
fi
set -euo pipefail

if [[ -n "${_ZHIJIAN_LIB_LOADED:-}" ]]; then
    return 0
fi
_ZHIJIAN_LIB_LOADED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$ROOT/.run"
VENV="$ROOT/.venv"

# Defaults mirror backend/settings.py.
DEFAULT_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/zhijian"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"
DEFAULT_MQTT_URL="mqtt://127.0.0.1:1883"
DEFAULT_S3_ENDPOINT="http://127.0.0.1:9000"
DEFAULT_WECHAT_API_BASE_URL="http://127.0.0.1:8990"

_BG_PIDS=()
_BG_NAMES=()
declare -gA BG_STATUS=() # name -> exit status of each background process that ended
declare -gA _BG_CMDS=()         # restartable name -> its command (printf %q words)
declare -gA _BG_STARTED_AT=()   # restartable name -> $SECONDS when it was last started
declare -gA _BG_RESTARTS=()     # restartable name -> restarts in a row (reset once it has run RESTART_STABLE_S)
declare -gA _BG_RESTART_AT=()   # restartable name -> $SECONDS when it is due to be started again
_APT_UPDATED=""
_CLEANED_UP=""

# ---------------------------------------------------------------------------------------------------
# Messages

if [[ -t 2 ]]; then
    _C_LOG=$'\033[1;34m' _C_WARN=$'\033[1;33m' _C_ERR=$'\033[1;31m' _C_OFF=$'\033[0m'
else
    _C_LOG="" _C_WARN="" _C_ERR="" _C_OFF=""
fi
log() { printf '%s==>%s %s\n' "$_C_LOG" "$_C_OFF" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_C_WARN" "$_C_OFF" "$*" >&2; }
error() { printf '%serror:%s %s\n' "$_C_ERR" "$_C_OFF" "$*" >&2; }
die() {
    error "$*"
    exit 1
}

# ---------------------------------------------------------------------------------------------------
# URLs: scheme://[user[:password]@]host[:port][/path][?query]

_URL_RE='^[A-Za-z][A-Za-z0-9+.-]*://(([^@/]*)@)?(\[[^]]*\]|[^:/?#]*)(:([0-9]+))?(/([^?#]*))?'

# url_host URL DEFAULT: the host (IPv6 brackets removed).
url_host() {
    local host=""
    if [[ "$1" =~ $_URL_RE ]]; then
        host="${BASH_REMATCH[3]}"
        host="${host#[}"
        host="${host%]}"
    fi
    printf '%s\n' "${host:-$2}"
}

# url_port URL DEFAULT
url_port() {
    local port=""
    if [[ "$1" =~ $_URL_RE ]]; then
        port="${BASH_REMATCH[5]}"
    fi
    printf '%s\n' "${port:-$2}"
}

# url_user URL DEFAULT
url_user() {
    local user=""
    if [[ "$1" =~ $_URL_RE ]]; then
        user="${BASH_REMATCH[2]%%:*}"
    fi
    printf '%s\n' "${user:-$2}"
}

# url_path URL DEFAULT: the path without its leading slash (a database name, say).
url_path() {
    local path=""
    if [[ "$1" =~ $_URL_RE ]]; then
        path="${BASH_REMATCH[7]}"
    fi
    printf '%s\n' "${path:-$2}"
}

is_local_host() {
    case "$1" in
        127.* | localhost | ::1 | "") return 0 ;;
        *) return 1 ;;
    esac
}

# tcp_open HOST PORT: something accepts connections there.
tcp_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# wait_until TIMEOUT CMD...: run CMD every half second until it succeeds; 1 on timeout.
wait_until() {
    local timeout="$1"
    shift
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

_need_curl() { command -v curl >/dev/null || die "curl is missing (Debian/Ubuntu package: curl)"; }

# http_status URL: the status code, or 000 when nothing answers.
http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null || true
}

# wait_http URL TIMEOUT [STATUS]: wait until URL answers (any status, or STATUS when given).
# Gives up early, reporting it, when a background process started by start_bg has died.
wait_http() {
    local url="$1" timeout="${2:-30}" want="${3:-}"
    local deadline=$((SECONDS + timeout)) code
    _need_curl
    while :; do
        code="$(http_status "$url")"
        if [[ -n "$want" && "$code" == "$want" ]] || [[ -z "$want" && "$code" != "000" && -n "$code" ]]; then
            return 0
        fi
        if ! check_children; then
            return 1
        fi
        if ((SECONDS >= deadline)); then
            warn "$url did not answer${want:+ with $want} within ${timeout}s (last status: ${code:-none})"
            return 1
        fi
        sleep 0.5
    done
}

# ---------------------------------------------------------------------------------------------------
# Python virtualenv

_find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

_sha256() {
    if command -v sha256sum >/dev/null; then
        sha256sum "$1" | cut -d' ' -f1
    else
        "$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
    fi
}

# Run pip quietly. On success show only pip's own ERROR/WARNING lines; on failure show everything;
# never this machine's harmless "Location '...' is ignored" warnings.
_pip_quiet() {
    local out status=0 noise="^(WARNING: )?Location '.*' is ignored"
    out="$(mktemp)"
    "$VENV/bin/python" -m pip "$@" >"$out" 2>&1 || status=$?
    if ((status == 0)); then
        grep -E '^(ERROR|WARNING)' "$out" | grep -v -E "$noise" >&2 || true
    else
        grep -v -E "$noise" "$out" >&2 || true
    fi
    rm -f "$out"
    return "$status"
}

# ensure_venv: .venv exists, runs Python >= 3.11 and has the project installed for this pyproject.toml.
ensure_venv() {
    local py stamp
    if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        die "$VENV runs $("$VENV/bin/python" -V 2>&1 || echo 'a broken Python'); Zhijian needs Python >= 3.11: remove .venv and run again"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        if ! py="$(_find_python)"; then
            if command -v python3 >/dev/null; then
                die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); Zhijian needs Python >= 3.11 (set PYTHON=/path/to/python3.11 or install python3.11)"
            fi
            die "python3 not found: install Python >= 3.11 with its venv module (Debian/Ubuntu: apt-get install python3 python3-venv)"
        fi
        if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
            die "$py lacks the venv/ensurepip modules (Debian/Ubuntu: apt-get install python3-venv)"
        fi
        log "creating .venv with $py ($("$py" -V 2>&1))"
        "$py" -m venv "$VENV" || die "could not create $VENV"
    fi
    stamp="$VENV/.installed-$(_sha256 "$ROOT/pyproject.toml")"
    if [[ -f "$stamp" ]]; then
        return 0
    fi
    log "installing zhijian with its dev extras into .venv (pyproject.toml changed or first run)"
    (cd "$ROOT" && _pip_quiet install -q -e '.[dev]') || die "pip install -e '.[dev]' failed (see the messages above)"
    rm -f "$VENV"/.installed-*
    : >"$stamp"
}

# ---------------------------------------------------------------------------------------------------
# System services

_is_root() { [[ "$(id -u)" == 0 ]]; }

# _apt_install PKG...: install Debian/Ubuntu packages when root with apt-get, else say what is missing.
_apt_install() {
    if ! _is_root || ! command -v apt-get >/dev/null; then
        die "missing: $* (install the Debian/Ubuntu package(s) '$*', or point the ZHIJIAN_* URL at a running server)"
    fi
    if [[ -z "$_APT_UPDATED" ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
        _APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# --- PostgreSQL ------------------------------------------------------------------------------------

_pg_ready() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h "$1" -p "$2" -t 2
    else
        tcp_open "$1" "$2"
    fi
}

_pg_installed() { compgen -G "/etc/postgresql/*/*/postgresql.conf" >/dev/null || command -v postgres >/dev/null; }

# _pg_start PORT: start the cluster configured for PORT (else every "main" cluster).
_pg_start() {
    local port="$1" ver name cport status rest main started=""
    if command -v pg_lsclusters >/dev/null && command -v pg_ctlcluster >/dev/null; then
        while read -r ver name cport status rest; do
            if [[ "$cport" == "$port" && "$status" != online* ]]; then
                pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >/dev/null 2>&1 && started=1
            fi
        done < <(pg_lsclusters -h 2>/dev/null)
        if [[ -z "$started" ]]; then
            for main in /etc/postgresql/*/main; do
                [[ -d "$main" ]] || continue
                pg_ctlcluster --skip-systemctl-redirect "$(basename "$(dirname "$main")")" main start >/dev/null 2>&1 &&
                    started=1
            done
        fi
    fi
    if [[ -z "$started" ]] && command -v service >/dev/null; then
        service postgresql start >/dev/null 2>&1 || true
    fi
}

# _pg_clusters_on PORT: "version name" of each Debian cluster configured for PORT.
_pg_clusters_on() {
    local ver name cport rest
    command -v pg_lsclusters >/dev/null || return 0
    while read -r ver name cport rest; do
        [[ "$cport" == "$1" ]] && printf '%s %s\n' "$ver" "$name"
    done < <(pg_lsclusters -h 2>/dev/null)
    return 0
}

_as_postgres_psql() {
    if command -v runuser >/dev/null; then
        runuser -u postgres -- psql -Xq -p "$1" -v ON_ERROR_STOP=1 -c "$2"
    else
        # shellcheck disable=SC2016 # expanded by the inner shell
        su postgres -s /bin/sh -c 'psql -Xq -p "$0" -v ON_ERROR_STOP=1 -c "$1"' "$1" "$2"
    fi
}

# Fresh install only: let the URL's role in over 127.0.0.1/::1 (trust, local dev) and create it.
_pg_configure_fresh() {
    local url="$1" port="$2" ver name hba user password userinfo
    while read -r ver name; do
        hba="/etc/postgresql/$ver/$name/pg_hba.conf"
        [[ -f "$hba" ]] || continue
        grep -q '# zhijian: local dev trust' "$hba" && continue
        log "allowing trust auth for 127.0.0.1/32 and ::1/128 in $hba (we installed it: local dev only)"
        {
            echo '# zhijian: local dev trust (added by scripts/lib.sh on a PostgreSQL it installed itself)'
            echo 'host    all    all    127.0.0.1/32    trust'
            echo 'host    all    all    ::1/128         trust'
            cat "$hba"
        } >"$hba.new"
        cat "$hba.new" >"$hba" && rm -f "$hba.new"
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >/dev/null 2>&1 || true
    done < <(_pg_clusters_on "$port")
    user="$(url_user "$url" postgres)"
    userinfo=""
    [[ "$url" =~ $_URL_RE ]] && userinfo="${BASH_REMATCH[2]}"
    password=""
    [[ "$userinfo" == *:* ]] && password="${userinfo#*:}"
    password="$(printf '%b' "${password//%/\\x}")" # percent-decoded, as libpq reads it
    [[ "$user" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "odd PostgreSQL user name '$user' in ZHIJIAN_DATABASE_URL"
    if [[ "$user" != postgres ]]; then
        log "creating PostgreSQL role $user"
        _as_postgres_psql "$port" "DO \$\$ BEGIN CREATE ROLE \"$user\" LOGIN CREATEDB;
            EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;" || die "could not create role $user"
    fi
    if [[ -n "$password" ]]; then
        local q="'"
        _as_postgres_psql "$port" "ALTER ROLE \"$user\" PASSWORD '${password//$q/$q$q}'" >/dev/null ||
            die "could not set the password of role $user"
    fi
}

ensure_postgres() {
    local url="${ZHIJIAN_DATABASE_URL:-$DEFAULT_DATABASE_URL}" host port
    host="$(url_host "$url" 127.0.0.1)"
    port="$(url_port "$url" 5432)"
    if _pg_ready "$host" "$port"; then
        return 0
    fi
    is_local_host "$host" || die "PostgreSQL at $host:$port is not reachable (ZHIJIAN_DATABASE_URL)"
    if _pg_installed; then
        log "starting PostgreSQL"
        _pg_start "$port"
    else
        log "PostgreSQL is not installed"
        _apt_install postgresql postgresql-client
        _pg_start "$port"
        wait_until 30 _pg_ready "$host" "$port" || true
        _pg_configure_fresh "$url" "$port"
    fi
    wait_until 30 _pg_ready "$host" "$port" ||
        die "PostgreSQL did not become ready on $host:$port within 30s (is its cluster on another port? see /var/log/postgresql/)"
    log "PostgreSQL ready on $host:$port"
}

# ensure_database [NAME]: create the database if missing (default: the one in ZHIJIAN_DATABASE_URL).
ensure_database() {
    local url="${ZHIJIAN_DATABASE_URL:-$DEFAULT_DATABASE_URL}" name admin base query=""
    name="${1:-$(url_path "$url" zhijian)}"
    [[ "$name" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]*$ ]] || die "refusing odd database name '$name'"
    # Same server and credentials, maintenance database "postgres".
    base="${url%%\?*}"
    [[ "$url" == *\?* ]] && query="?${url#*\?}"
    if [[ "${base#*://}" == */* ]]; then
        admin="${base%/*}/postgres$query"
    else
        admin="$base/postgres$query"
    fi
    if command -v psql >/dev/null; then
        if [[ "$(psql -w "$admin" -XtAq -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" == 1 ]]; then
            return 0
        fi
        log "creating database $name"
        psql -w "$admin" -Xq -c "CREATE DATABASE \"$name\"" || die "could not create database $name"
    else
        "$VENV/bin/python" - "$admin" "$name" <<'PY' || die "could not create database $name"
import asyncio, sys

import asyncpg


async def main(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            print(f"creating database {name}", file=sys.stderr)
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


asyncio.run(main(sys.argv[1], sys.argv[2]))
PY
    fi
}

# --- Redis -----------------------------------------------------------------------------------------

_redis_ready() {
    if command -v redis-cli >/dev/null; then
        # NOAUTH still means a Redis answers; the app's own check reports bad credentials.
        [[ "$(redis-cli -h "$1" -p "$2" ping 2>&1)" =~ PONG|NOAUTH ]]
    else
        tcp_open "$1" "$2"
    fi
}

_redis_start() {
    local port="$1" dir=/var/lib/redis logdir=/var/log/redis logfile
    if ! mkdir -p "$dir" "$logdir" 2>/dev/null || [[ ! -w "$dir" || ! -w "$logdir" ]]; then
        dir="$RUN_DIR/redis"
        logdir="$RUN_DIR"
        mkdir -p "$dir"
    fi
    logfile="$logdir/ci.log"
    [[ "$port" == 6379 ]] || logfile="$logdir/ci-$port.log"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
        --dir "$dir" --logfile "$logfile" >/dev/null 2>&1 ||
        { command -v service >/dev/null && service redis-server start >/dev/null 2>&1; } || true
}

ensure_redis() {
    local url="${ZHIJIAN_REDIS_URL:-$DEFAULT_REDIS_URL}" host port
    host="$(url_host "$url" 127.0.0.1)"
    port="$(url_port "$url" 6379)"
    if _redis_ready "$host" "$port"; then
        return 0
    fi
    is_local_host "$host" || die "Redis at $host:$port is not reachable (ZHIJIAN_REDIS_URL)"
    if ! command -v redis-server >/dev/null; then
        log "Redis is not installed"
        _apt_install redis-server
    fi
    log "starting Redis on port $port"
    _redis_start "$port"
    wait_until 20 _redis_ready "$host" "$port" || die "Redis did not become ready on $host:$port within 20s"
    log "Redis ready on $host:$port"
}

# --- Mosquitto -------------------------------------------------------------------------------------

_mosquitto_start() {
    local port="$1" conf=/etc/mosquitto/mosquitto.conf
    if [[ "$port" != 1883 || ! -f "$conf" ]]; then
        # The system config listens on 1883; another port gets a small config of its own.
        mkdir -p "$RUN_DIR"
        conf="$RUN_DIR/mosquitto-$port.conf"
        printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest file %s\n' \
            "$port" "$RUN_DIR/mosquitto-$port.log" >"$conf"
    else
        # Its pid file and log live in folders a fresh container may lack.
        mkdir -p /run/mosquitto /var/log/mosquitto /var/lib/mosquitto 2>/dev/null || true
        if id mosquitto >/dev/null 2>&1 && _is_root; then
            chown mosquitto: /run/mosquitto /var/log/mosquitto /var/lib/mosquitto 2>/dev/null || true
        fi
    fi
    mosquitto -d -c "$conf" >/dev/null 2>&1 ||
        { [[ "$port" == 1883 ]] && command -v service >/dev/null && service mosquitto start >/dev/null 2>&1; } || true
}

ensure_mosquitto() {
    local url="${ZHIJIAN_MQTT_URL:-$DEFAULT_MQTT_URL}" host port
    host="$(url_host "$url" 127.0.0.1)"
    port="$(url_port "$url" 1883)"
    if tcp_open "$host" "$port"; then
        return 0
    fi
    is_local_host "$host" || die "Mosquitto at $host:$port is not reachable (ZHIJIAN_MQTT_URL)"
    if ! command -v mosquitto >/dev/null; then
        log "Mosquitto is not installed"
        _apt_install mosquitto
    fi
    log "starting Mosquitto on port $port"
    _mosquitto_start "$port"
    wait_until 20 tcp_open "$host" "$port" || die "Mosquitto did not become ready on $host:$port within 20s"
    log "Mosquitto ready on $host:$port"
}

# --- The dev system's own Mosquitto (scripts/run.sh) --------------------------------------------------
# The very config docker-compose ships (scripts/docker/mosquitto.conf: no anonymous clients, logins and
# topic ACLs in the dynamic-security plugin, persistence, the large queues) with its listener moved to
# loopback, its data folder into .run/ and the plugin's path to this machine's. The machine's Mosquitto on
# 1883 (anonymous, shared with the tests) is left alone. Logins are provisioned live (issue 18): the
# worker and the existing sensors by dev_mqtt_provision, new sensors by the API (ZHIJIAN_MQTT_DYNSEC_URL).

DEV_MQTT_DIR="$RUN_DIR/mosquitto"      # mosquitto.conf and data/ (the persistence and dynamic-security.json)
DEV_MQTT_AUTH_DIR="$RUN_DIR/mqtt-auth" # devices.csv from `python -m iot.credentials` (for the installers)
DEV_MQTT_WORKER_USER="zhijian-iot"
DEV_MQTT_ADMIN_USER="zhijian-admin"    # the dynamic-security admin (only the API and the provisioning use it)
DEV_MQTT_PORT="${ZHIJIAN_DEV_MQTT_PORT:-1884}"

# dynsec_plugin: this machine's mosquitto_dynamic_security.so (Debian's mosquitto package ships it).
dynsec_plugin() {
    local f
    for f in /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so \
        /usr/local/lib/mosquitto_dynamic_security.so; do
        [[ -f "$f" ]] && { printf '%s\n' "$f"; return 0; }
    done
    die "mosquitto_dynamic_security.so not found (Debian/Ubuntu: apt-get install mosquitto)"
}

# dev_mosquitto_conf PORT DATA_DIR [PLUGIN]: scripts/docker/mosquitto.conf listening on 127.0.0.1:PORT,
# persisting (and keeping the plugin's dynamic-security.json) in DATA_DIR, loading PLUGIN (default: this
# machine's dynamic-security plugin) (printed).
dev_mosquitto_conf() {
    local port="$1" data="${2%/}" plugin="${3:-}" source="$ROOT/scripts/docker/mosquitto.conf" conf
    [[ -n "$plugin" ]] || plugin="$(dynsec_plugin)"
    conf="$(sed -e "s|^listener 1883\$|listener $port 127.0.0.1|" -e "s|/mosquitto/data/|$data/|g" \
        -e "s|^plugin /usr/lib/mosquitto_dynamic_security.so\$|plugin $plugin|" "$source")" || die "cannot read $source"
    # Refuse to run a broker that silently kept a container path, its open listener or no plugin.
    if ! grep -qx "listener $port 127.0.0.1" <<<"$conf" || ! grep -qx "plugin $plugin" <<<"$conf" ||
        grep -v '^[[:space:]]*#' <<<"$conf" | grep -Eq '(^|[[:space:]])/mosquitto/'; then
        die "$source changed shape: dev_mosquitto_conf (scripts/lib.sh) no longer knows how to move its listener and paths"
    fi
    printf '# Generated by scripts/lib.sh (dev_mosquitto_conf) from scripts/docker/mosquitto.conf: edit that file.\n%s\n' "$conf"
}

# _dev_secret VAR FILE: $VAR when set, else a secret made once in FILE (mode 600); URL-safe (it goes in URLs).
_dev_secret() {
    local var="$1" file="$2" password
    if [[ -n "${!var:-}" ]]; then
        password="${!var}"
    else
        if [[ ! -s "$file" ]]; then
            mkdir -p "$RUN_DIR"
            (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$file") ||
                die "could not write $file"
        fi
        password="$(<"$file")"
    fi
    [[ "$password" =~ ^[A-Za-z0-9_-]+$ ]] || die "$var: URL-safe characters only (letters, digits, - and _)"
    printf '%s\n' "$password"
}

# dev_mqtt_worker_password: MQTT_WORKER_PASSWORD when set, else a secret made once in .run/ (mode 600).
dev_mqtt_worker_password() { _dev_secret MQTT_WORKER_PASSWORD "$RUN_DIR/mqtt-worker-password"; }

# dev_mqtt_admin_password: MQTT_DYNSEC_ADMIN_PASSWORD when set, else a secret made once in .run/ (mode 600).
dev_mqtt_admin_password() { _dev_secret MQTT_DYNSEC_ADMIN_PASSWORD "$RUN_DIR/mqtt-dynsec-admin-password"; }

# dev_mqtt_dynsec_url: the dynamic-security admin's login on the dev broker.
dev_mqtt_dynsec_url() { printf 'mqtt://%s:%s@127.0.0.1:%s\n' "$DEV_MQTT_ADMIN_USER" "$(dev_mqtt_admin_password)" "$DEV_MQTT_PORT"; }

# dev_mqtt_provision: the worker's login and every active sensor's, live through the plugin (idempotent:
# a sensor the broker already knows keeps its password unless devices.csv has it); devices.csv refreshed.
dev_mqtt_provision() {
    MQTT_WORKER_PASSWORD="$(dev_mqtt_worker_password)" "$VENV/bin/python" -m iot.credentials --out "$DEV_MQTT_AUTH_DIR" \
        --worker-user "$DEV_MQTT_WORKER_USER" --dynsec "$(dev_mqtt_dynsec_url)" >&2 ||
        die "python -m iot.credentials --dynsec failed"
}

# start_dev_mosquitto: the dev broker on 127.0.0.1:$DEV_MQTT_PORT (start_bg: cleanup stops it), its
# dynamic-security admin made on first start, the worker and existing sensors provisioned live.
# Exports ZHIJIAN_MQTT_URL (the worker's login) and ZHIJIAN_MQTT_DYNSEC_URL (the API provisions with it).
start_dev_mosquitto() {
    local port="$DEV_MQTT_PORT" conf="$DEV_MQTT_DIR/mosquitto.conf" json="$DEV_MQTT_DIR/data/dynamic-security.json"
    [[ "$port" =~ ^[0-9]+$ ]] || die "ZHIJIAN_DEV_MQTT_PORT must be a port number, not '$port'"
    if ! command -v mosquitto >/dev/null || ! command -v mosquitto_ctrl >/dev/null; then
        log "Mosquitto (with mosquitto_ctrl) is not installed"
        _apt_install mosquitto mosquitto-clients
    fi
    if tcp_open 127.0.0.1 "$port"; then
        die "port $port is already in use (another scripts/run.sh?); set ZHIJIAN_DEV_MQTT_PORT to another port"
    fi
    mkdir -p "$DEV_MQTT_DIR/data"
    if [[ ! -s "$json" ]]; then
        mosquitto_ctrl dynsec init "$json" "$DEV_MQTT_ADMIN_USER" "$(dev_mqtt_admin_password)" >/dev/null ||
            die "mosquitto_ctrl dynsec init failed"
    fi
    # Started as root, mosquitto drops to its own user: that user writes the persistence and the plugin's file.
    if _is_root && id mosquitto >/dev/null 2>&1; then
        chown -R mosquitto: "$DEV_MQTT_DIR/data"
    fi
    dev_mosquitto_conf "$port" "$DEV_MQTT_DIR/data" >"$conf"
    # Its log goes to stdout (as in compose), block-buffered into a file unless told otherwise.
    local line_buffered=()
    command -v stdbuf >/dev/null && line_buffered=(stdbuf -oL)
    start_bg mosquitto "${line_buffered[@]}" mosquitto -c "$conf"
    wait_until 20 tcp_open 127.0.0.1 "$port" ||
        die "the dev broker did not listen on 127.0.0.1:$port within 20s (see .run/mosquitto.log)"
    dev_mqtt_provision
    export ZHIJIAN_MQTT_URL="mqtt://$DEV_MQTT_WORKER_USER:$(dev_mqtt_worker_password)@127.0.0.1:$port"
    ZHIJIAN_MQTT_DYNSEC_URL="$(dev_mqtt_dynsec_url)"
    export ZHIJIAN_MQTT_DYNSEC_URL
    log "dev broker ready on 127.0.0.1:$port (anonymous clients refused; logins provisioned live by the API)"
}

# ensure_chromium: headless Chromium (and a CJK font) for the console's browser test; installed as root on
# Debian/Ubuntu, otherwise a warning says what is missing (that test then skips with the same message).
ensure_chromium() {
    if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
        :
    elif _is_root && command -v apt-get >/dev/null; then
        log "Chromium is not installed (needed by tests/credit/test_console.py)"
        _apt_install chromium
    else
        warn "missing: chromium (Debian/Ubuntu: apt-get install chromium); the console browser test will skip"
        return 0
    fi
    if command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=zh 2>/dev/null)" ]] && _is_root && command -v apt-get >/dev/null; then
        _apt_install fonts-wqy-microhei
    fi
}

# ensure_poppler: pdftoppm / pdftotext (poppler-utils) for the project-file test, which looks at the PDF as
# images and text; installed as root on Debian/Ubuntu, otherwise a warning (that test then skips).
ensure_poppler() {
    if command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null; then
        return 0
    elif _is_root && command -v apt-get >/dev/null; then
        log "poppler-utils is not installed (needed by tests/lifecycle/test_project_file.py)"
        _apt_install poppler-utils
    else
        warn "missing: pdftoppm (Debian/Ubuntu: apt-get install poppler-utils); the project-file test will skip"
    fi
}

# ---------------------------------------------------------------------------------------------------
# Background processes

# start_bg NAME CMD...: start CMD in the background (log .run/NAME.log, pid .run/NAME.pid).
start_bg() {
    local name="$1"
    shift
    mkdir -p "$RUN_DIR"
    printf '\n--- %s: %s\n' "$(date -Is)" "$*" >>"$RUN_DIR/$name.log"
    # A session of its own: a Ctrl-C on the terminal reaches only us, and we stop the children in order.
    local launcher=()
    command -v setsid >/dev/null && launcher=(setsid)
    (cd "$ROOT" && exec "${launcher[@]}" "$@") >>"$RUN_DIR/$name.log" 2>&1 </dev/null &
    local pid=$!
    _BG_PIDS+=("$pid")
    _BG_NAMES+=("$name")
    echo "$pid" >"$RUN_DIR/$name.pid"
    log "started $name (pid $pid, log .run/$name.log)"
}

# check_children: 0 while every process started by start_bg runs; else say which died and return 1.
check_children() {
    local i pid status
    for i in "${!_BG_PIDS[@]}"; do
        pid="${_BG_PIDS[$i]}"
        if ! kill -0 "$pid" 2>/dev/null; then
            status=0
            wait "$pid" 2>/dev/null || status=$?
            BG_STATUS["${_BG_NAMES[$i]}"]="$status"
            error "${_BG_NAMES[$i]} (pid $pid) exited with status $status; last lines of .run/${_BG_NAMES[$i]}.log:"
            tail -n 20 "$RUN_DIR/${_BG_NAMES[$i]}.log" | sed 's/^/    /' >&2
            unset '_BG_PIDS[i]' '_BG_NAMES[i]'
            return 1
        fi
    done
    return 0
}

# stop_children: SIGTERM each process started by start_bg, newest first (the API and workers before
# the S3 and WeChat stand-ins they use); SIGKILL one that is still there after STOP_GRACE_S (20 s).
stop_children() {
    local grace="${STOP_GRACE_S:-20}" i pid name deadline status
    local -a order
    ((${#_BG_PIDS[@]})) || return 0
    order=("${!_BG_PIDS[@]}")
    for ((i = ${#order[@]} - 1; i >= 0; i--)); do
        pid="${_BG_PIDS[${order[$i]}]}"
        name="${_BG_NAMES[${order[$i]}]}"
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + grace))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            warn "$name (pid $pid) ignored SIGTERM for ${grace}s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        status=0
        wait "$pid" 2>/dev/null || status=$?
        BG_STATUS["$name"]="$status"
        rm -f "$RUN_DIR/$name.pid"
        log "stopped $name (exit status $status)"
    done
    _BG_PIDS=()
    _BG_NAMES=()
}

# start_restartable NAME CMD...: start_bg, remembering CMD so that supervise_children can start it again.
start_restartable() {
    local name="$1"
    shift
    _BG_CMDS["$name"]="$(printf '%q ' "$@")"
    _BG_STARTED_AT["$name"]=$SECONDS
    : "${_BG_RESTARTS[$name]:=0}"
    start_bg "$name" "$@"
}

# supervise_children: like check_children, but a restartable process that died is started again after
# a back-off of RESTART_BACKOFF_S (1 s), doubled per restart in a row up to RESTART_BACKOFF_MAX_S (60 s);
# the count resets once it has run RESTART_STABLE_S (60 s). Every death and restart is logged. Returns 1
# only when a process that is not restartable died (the caller then stops the rest).
supervise_children() {
    local i pid name status delay ran
    local base="${RESTART_BACKOFF_S:-1}" cap="${RESTART_BACKOFF_MAX_S:-60}" stable="${RESTART_STABLE_S:-60}"
    for i in "${!_BG_PIDS[@]}"; do
        pid="${_BG_PIDS[$i]}"
        name="${_BG_NAMES[$i]}"
        kill -0 "$pid" 2>/dev/null && continue
        status=0
        wait "$pid" 2>/dev/null || status=$?
        BG_STATUS["$name"]="$status"
        unset '_BG_PIDS[i]' '_BG_NAMES[i]'
        if [[ -z "${_BG_CMDS[$name]:-}" ]]; then
            error "$name (pid $pid) exited with status $status; last lines of .run/$name.log:"
            tail -n 20 "$RUN_DIR/$name.log" | sed 's/^/    /' >&2
            return 1
        fi
        ran=$((SECONDS - ${_BG_STARTED_AT[$name]:-$SECONDS}))
        ((ran >= stable)) && _BG_RESTARTS["$name"]=0
        delay=$((base * (1 << ${_BG_RESTARTS[$name]:-0})))
        ((delay > cap)) && delay=$cap
        _BG_RESTARTS["$name"]=$((${_BG_RESTARTS[$name]:-0} + 1))
        _BG_RESTART_AT["$name"]=$((SECONDS + delay))
        warn "$name (pid $pid) died with status $status after ${ran}s: restart ${_BG_RESTARTS[$name]} in ${delay}s"
        printf '\n--- %s: died with status %s; restart %s in %ss\n' "$(date -Is)" "$status" "${_BG_RESTARTS[$name]}" \
            "$delay" >>"$RUN_DIR/$name.log"
    done
    for name in "${!_BG_RESTART_AT[@]}"; do
        ((SECONDS >= _BG_RESTART_AT[$name])) || continue
        unset '_BG_RESTART_AT[$name]'
        log "restarting $name (restart ${_BG_RESTARTS[$name]})"
        _BG_STARTED_AT["$name"]=$SECONDS
        eval "start_bg $(printf '%q' "$name") ${_BG_CMDS[$name]}"
    done
    return 0
}

# bg_status NAME: exit status of a background process once it has ended (empty before).
bg_status() { printf '%s\n' "${BG_STATUS[$1]:-}"; }

cleanup() {
    [[ -n "$_CLEANED_UP" ]] && return 0
    _CLEANED_UP=1
    stop_children
}

# install_cleanup: stop our background processes on exit, Ctrl-C or SIGTERM.
install_cleanup() {
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT
    trap 'cleanup; exit 143' TERM
}

# ---------------------------------------------------------------------------------------------------
# Local stand-ins for the outside: S3 (moto) and WeChat (the fake server)

# _start_http_service NAME URL DEFAULT_PORT CMD...: start CMD (given the port as {port}) unless URL answers.
_start_http_service() {
    local name="$1" url="$2" default_port="$3" host port arg
    shift 3
    _need_curl
    host="$(url_host "$url" 127.0.0.1)"
    port="$(url_port "$url" "$default_port")"
    if [[ "$(http_status "http://$host:$port/")" != 000 ]]; then
        log "$name: something already answers on $host:$port, using it"
        return 0
    fi
    is_local_host "$host" || die "$name at $host:$port is not reachable"
    if tcp_open "$host" "$port"; then
        die "$name: port $port is taken by something that does not speak HTTP"
    fi
    local cmd=()
    for arg in "$@"; do
        cmd+=("${arg//\{port\}/$port}")
    done
    start_bg "$name" "${cmd[@]}"
    wait_http "http://$host:$port/" 30 || die "$name did not answer on $host:$port (see .run/$name.log)"
}

start_s3() {
    _start_http_service moto "${ZHIJIAN_S3_ENDPOINT:-$DEFAULT_S3_ENDPOINT}" 9000 \
        "$VENV/bin/moto_server" -H 127.0.0.1 -p '{port}'
}

start_fake_wechat() {
    [[ -f "$ROOT/scripts/fake_wechat.py" ]] || die "scripts/fake_wechat.py is missing"
    _start_http_service fake_wechat "${ZHIJIAN_WECHAT_API_BASE_URL:-$DEFAULT_WECHAT_API_BASE_URL}" 8990 \
        "$VENV/bin/python" scripts/fake_wechat.py --host 127.0.0.1 --port '{port}'
}
