#!/usr/bin/env bash
# Screenshot the regulators' console of a running system (scripts/run.sh, with its demo activity) in
# headless Chromium at 1280×900.
#
#   scripts/screenshot_dashboard.sh [OUT.png] [API_URL]    defaults: docs/dashboard.png, http://127.0.0.1:8000
#
# Signs in as the demo admin, takes a one-time console ticket and loads /console/dashboard with it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/docs/dashboard.png}"
API_URL="${2:-http://127.0.0.1:${ZHIJIAN_API_PORT:-8000}}"
PY="$ROOT/.venv/bin/python"
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$CHROMIUM" ]] || { echo "missing: chromium (Debian/Ubuntu: apt-get install chromium)" >&2; exit 1; }

PASSWORD="$("$PY" -c 'from backend.demo import ADMIN_PASSWORD; print(ADMIN_PASSWORD)')"
token="$(curl -sf -X POST "$API_URL/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
url="$(curl -sf -X POST "$API_URL/api/v1/credit/console-ticket" -H "authorization: Bearer $token" \
    | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["url"])')"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars --window-size=1280,900 \
    --screenshot="$OUT" "$API_URL$url" 2>/dev/null
echo "wrote $OUT"
