"""scripts/run.sh's supervisor (scripts/lib.sh supervise_children) in isolation: dead workers come back with back-off.

run.sh itself is not started (its ports are shared); the same functions run here on throwaway processes.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
set -euo pipefail
source scripts/lib.sh
RUN_DIR="$1"
RESTART_BACKOFF_S=1
start_restartable flaky bash -c 'echo "flaky up"; sleep 0.5; exit 3'
start_restartable steady sleep 60
sleep 0.3
kill -KILL "$(cat "$RUN_DIR/steady.pid")"   # a worker SIGKILLed: it must come back
end=$((SECONDS + 9))
while ((SECONDS < end)); do
    supervise_children || { echo "SUPERVISOR GAVE UP"; exit 1; }
    sleep 0.1
done
echo "steady pid now $(cat "$RUN_DIR/steady.pid")"
start_bg api bash -c 'exit 5'              # not restartable: its death stops everything
sleep 0.5
if supervise_children; then echo "API DEATH MISSED"; else echo "API DEATH SEEN"; fi
stop_children
"""


def test_dead_workers_restart_with_backoff_and_others_stop_the_system(tmp_path):
    out = subprocess.run(["bash", "-c", SCRIPT, "supervise", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "API DEATH SEEN" in out.stdout and "SUPERVISOR GAVE UP" not in out.stdout
    flaky = (tmp_path / "flaky.log").read_text()
    # It died each time; the waits doubled: 1 s, 2 s, 4 s (logged in its own log and on stderr).
    delays = [int(d) for d in re.findall(r"died with status 3; restart \d+ in (\d+)s", flaky)]
    assert delays[:3] == [1, 2, 4], flaky
    runs = [line for line in flaky.splitlines() if line == "flaky up"]
    assert len(runs) == len(delays) >= 3  # started again after every wait but the last (still waiting)
    steady = (tmp_path / "steady.log").read_text()
    assert "died with status 137; restart 1 in 1s" in steady, steady
    assert steady.count("--- ") == 3  # started, died (logged), started again
    assert "restarting steady (restart 1)" in out.stderr
