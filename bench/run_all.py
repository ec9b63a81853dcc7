"""Run every bench, one after another, and write docs/BENCHMARKS.md and the README's bench table from that run.

    .venv/bin/python bench/run_all.py [--only NAME[,NAME...]] [--no-write] [--quick]

Each bench measures its figure beside an anchor in the same run (a bare Litestar endpoint behind the same
server and client for HTTP paths, a bare HTTP client posting the same messages to the same fake WeChat for
delivery, a broker-only subscriber for MQTT, ultralytics' predict for vision) and hands its figures over
through `bench._support.emit` ($BENCH_RESULTS, JSON lines). Absolute figures move with the machine, so the
page prints the machine beside them: CPU model, cores, memory, a calibration figure measured at the start
(single-core Python work and sha256 throughput) and the load average before and after each bench.
The README's table between the `bench:begin` / `bench:end` markers is rewritten from the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._support import ROOT, loadavg  # noqa: E402


@dataclass
class Bench:
    name: str
    script: str
    args: list[str]
    quick: list[str]
    what: str
    timeout: float = 600
    gap: str = ""  # where a goal is missed: its measured cause (py-spy profiles of the path; see each text's date)
    figures: list[dict] = field(default_factory=list)
    load_before: str = ""
    load_after: str = ""
    seconds: float = 0.0
    status: str = "not run"


BENCHES = [
    Bench("complaints_create", "bench/complaints_create.py", [], ["--seconds", "5"],
          "citizen files a complaint (POST /mp/v1/complaints) vs a bare Litestar endpoint, one uvicorn process each",
          gap="Cause of the gap (py-spy, 2026-12-04): the API process is half idle — it waits on PostgreSQL. A report is one transaction of about eight round trips (consent; project, category and station reads; the district's dispatch lock and inspector pick; the one-statement insert of the report with its photos and first events; four durable SLA timers; the outbox task; COMMIT and its WAL flush) plus a Redis rate-limit round trip. The second anchor, the same bare endpoint committing one INSERT, shows what storing anything costs here: one commit alone takes the bare endpoint to about half or less. 50 % of an endpoint that stores nothing is not reachable by a path that must store a report durably; every statement left is a rule the report needs (consent, routing, the SLA clock, the pushes)."),
    Bench("materials_scan", "bench/materials_scan.py", [], ["--seconds", "5"],
          "scan a material QR label → trace (POST /mp/v1/materials/scan) vs a bare endpoint, same raw-socket client",
          gap="Cause of the gap (py-spy, 2026-12-04, after the fixes of that day): no single hotspot is left — the time is spread over the framework's per-request work that the bare endpoint skips: four middlewares (request id and access log, JSON depth guard, Prometheus, authentication), the route guard (Litestar copies the handler per guard call), dependency and body parsing, JWT verification (~4 %), two Redis round trips (one Lua script for the label, its revocation and the trace; one XADD counting the scan) and the district lookup (~4 %). Removed that day: a worker-thread hop per request (a sync guard), an anyio task group per request (dependencies), a PostgreSQL read of the token version every 2 s per user, an extra Redis round trip and a RESET round trip per pooled query (scan 697 → ~1,100/s on this machine). 70 % of a bare endpoint would need the framework's own per-request cost to vanish."),
    Bench("workforce_clockin", "bench/workforce_clockin.py", [], ["--workers-n", "2000"],
          "worker clock-in (POST /mp/v1/workforce/clocks) vs a bare endpoint, same raw-socket client",
          gap="Cause of the gap (py-spy, 2026-12-04): the process waits on PostgreSQL — a clock-in is one transaction of five round trips (BEGIN with the worker's advisory lock; one context read of consent, permit stage, worker, roster, last clock, request id and selfie hashes; the selfie-reuse check; the insert binding the selfie; COMMIT with its WAL flush). The second anchor (one committed INSERT) shows the floor for any stored record; 60 % of an endpoint that stores nothing is not reachable by a path that must store an attendance record durably (建市〔2019〕18号)."),
    Bench("notifications_throughput", "bench/notifications_throughput.py", [], [],
          "notification → WeChat push through the delivery worker vs a bare client posting the same messages",
          gap="Where the burst falls under 70 % (it gave 103–112 % in three quiet runs on 2026-12-04 after that day's changes, 63–83 % before): per message the outbox does what the anchor does not — it claims the receipt and records the outcome with its attempt (statements shared by a batch or a group commit), and it sends through wechatpy, a blocking requests-based client, in a thread pool under the GIL, while the anchor posts with an async httpx client and stores nothing; on 2 shared cores the fake WeChat, PostgreSQL and the worker compete. Removed that day: a Redis read of the access token per message, two BEGIN/COMMIT round trips, a quota statement and an outcome statement per message (one per batch, one per group), requests' per-call proxy and netrc lookups, asyncpg's RESET round trip per query."),
    Bench("complaints_timers", "bench/complaints_timers.py", ["--firing", "300"], ["--open", "20000", "--firing", "300"],
          "SLA timers: rebuild after a Redis flush, 1,200 timers due over 10 s fired while the API is under load",
          gap=("Where a round misses: the one ARQ worker is the bottleneck. Besides firing the timers it runs each "
               "report's complaint_created task and delivers every push through the outbox (at 50 reports/s about "
               "200 pushes/s, wechatpy calls in a thread pool under the GIL), in one process, while the API, "
               "PostgreSQL, the fake WeChat and the load client share the machine's 2 cores (py-spy, 2026-12-04: "
               "outbox dispatch and WeChat calls about a third of the worker's samples, timer firing an eighth). "
               "ARQ workers scale out on other hosts (docs/SCALING.md).")),
    Bench("materials_scan_2api", "bench/materials_scan.py", ["--workers", "2"], ["--seconds", "5", "--workers", "2"],
          "scan → trace with 2 API processes (uvicorn --workers 2, the bare endpoint likewise): beyond one process",
          gap="As for materials_scan: the framework's per-request work that the bare endpoint skips, spread over middleware, guard, dependencies, JWT and two Redis round trips; two processes carry about 1.5× one."),
    Bench("monitoring_ingest", "bench/monitoring_ingest.py", [],
          ["--sensors", "500", "--batched", "3000x100", "--batched-steady", "20000x5", "--single", "20000",
           "--rate", "2000", "--seconds", "5"],
          "MQTT sensor readings evaluated and stored vs a broker-only subscriber, one iot worker", timeout=900,
          gap='Where single-reading messages fall under 60 %: each batch costs per sensor touched (lock its state row, step its rules, write its state back with its re-sequencing history), and with one reading per message that cost is spread over the few readings of each sensor a batch holds; batched messages spread it over up to 100. The worker and PostgreSQL take turns on a batch (a batch that shares a sensor with the one in flight waits for it). Removed 2026-12-04 (default bench, single: 29–36 % → 55–61 %): the garbage collector re-scanning the long-lived rule states (a third of the worker\'s time), numpy calls on 1–3 readings, two md5s and the state text per sensor per batch (a random rev instead), re-encoding the whole history, index entries for every state update (HOT updates now); batches of up to 10,000 messages.'),
    Bench("monitoring_ingest_2w", "bench/monitoring_ingest.py", ["--workers", "2"],
          ["--workers", "2", "--sensors", "500", "--batched", "3000x100", "--batched-steady", "20000x5",
           "--single", "20000", "--rate", "2000", "--seconds", "5"],
          "the same with 2 iot workers on the shared subscription (readings re-sequenced per sensor)", timeout=900),
    Bench("vision_latency", "bench/vision_latency.py", [], [],
          "camera frame through the runtime detector vs ultralytics' predict on the same weights"),
]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def calibrate() -> dict[str, float]:
    """Two machine figures to read the others against: single-core Python work and sha256 MB/s (best of 3)."""
    def py_work() -> float:
        started = time.perf_counter()
        total = 0
        d: dict[int, int] = {}
        for i in range(1_000_000):
            total += i * i % 7
            d[i & 1023] = total
        return time.perf_counter() - started

    py_best = min(py_work() for _ in range(3))
    block = os.urandom(1 << 20)
    sha_best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        h = hashlib.sha256()
        for _ in range(64):
            h.update(block)
        sha_best = min(sha_best, time.perf_counter() - started)
    return {"python_mloops_s": 1.0 / py_best, "sha256_mb_s": 64 / sha_best}


def run_one(bench: Bench, quick: bool) -> None:
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as tmp:
        results = tmp.name
    env = {**os.environ, "BENCH_RESULTS": results}
    cmd = [sys.executable, bench.script, *(bench.quick if quick else bench.args)]
    log = ROOT / ".run" / f"bench_{bench.name}.log"
    log.parent.mkdir(exist_ok=True)
    bench.load_before = loadavg()
    started = time.perf_counter()
    print(f"==> {bench.name}: {' '.join(cmd[1:])} (log {log.relative_to(ROOT)})", flush=True)
    try:
        with open(log, "w") as out:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=bench.timeout)
        bench.status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        bench.status = f"timed out after {bench.timeout:.0f} s"
    bench.seconds = time.perf_counter() - started
    bench.load_after = loadavg()
    bench.figures = [json.loads(line) for line in Path(results).read_text().splitlines() if line.strip()]
    os.unlink(results)
    if not bench.figures and bench.status == "ok":
        bench.status = "ok, but it reported no figure"
    print(f"    {bench.status}, {len(bench.figures)} figures, {bench.seconds:.0f} s", flush=True)


def _num(value: float, unit: str = "") -> str:
    if value != value:  # NaN  # noqa: PLR0124
        return "—"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value):,} {unit}".strip()
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def figure_cells(fig: dict) -> tuple[str, str, str, str, str]:
    value = _num(fig["value"], fig.get("unit", ""))
    anchor = f"{_num(fig['anchor'], fig.get('unit', ''))} ({fig['anchor_name']})" if "anchor" in fig else "—"
    ratio = f"{fig['ratio']:.0%}" if "ratio" in fig and fig["ratio"] == fig["ratio"] else "—"
    goal = fig.get("goal", "—")
    met = "—" if "met" not in fig else ("met" if fig["met"] else "**missed**")
    return value, anchor, ratio, goal, met


def machine_lines(calib: dict[str, float]) -> list[str]:
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; memory {mem_gib():.0f} GiB; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- calibration (start of the run, best of 3): {calib['python_mloops_s']:.2f} M Python loop iterations/s "
        f"on one core; sha256 {calib['sha256_mb_s']:.0f} MB/s",
    ]


def write_page(path: Path, benches: list[Bench], calib: dict[str, float], started: datetime, quick: bool) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run_all.py`" + (" (`--quick`)" if quick else "") + f" on {started:%Y-%m-%d %H:%M} UTC; "
        "do not edit by hand. Every relation is measured in one run beside its anchor, so it holds on another "
        "machine better than any absolute figure; the absolute figures are this machine's only.",
        "",
        "## Machine",
        "",
        *machine_lines(calib),
        "",
    ]
    for b in benches:
        lines += [f"## `{b.name}`", "", b.what + ".", "",
                  f"Run: {b.status}, {b.seconds:.0f} s; load average {b.load_before} before, {b.load_after} after "
                  "(1/5/15 min).", ""]
        if b.gap and any(f.get("met") is False for f in b.figures):
            lines += [b.gap, ""]
        if b.figures:
            lines += ["| figure | value | anchor (same run) | ratio | goal | |", "|---|---|---|---|---|---|"]
            for fig in b.figures:
                lines.append("| " + " | ".join((fig["name"], *figure_cells(fig))) + " |")
            lines.append("")
    path.write_text("\n".join(lines))


def readme_table(benches: list[Bench], calib: dict[str, float], started: datetime) -> str:
    rows = ["<!-- bench:begin (generated by bench/run_all.py from the same run as docs/BENCHMARKS.md) -->",
            f"Measured by `bench/run_all.py` on {started:%Y-%m-%d} ({cpu_model()}, {os.cpu_count()} cores, "
            f"calibration {calib['python_mloops_s']:.2f} M loops/s); details and load in "
            "[docs/BENCHMARKS.md](docs/BENCHMARKS.md).",
            "",
            "| bench | figure | value | anchor (same run) | ratio | goal | |",
            "|---|---|---|---|---|---|---|"]
    for b in benches:
        if not b.figures:
            rows.append(f"| `{b.name}` | {b.status} | | | | | |")
        for fig in b.figures:
            rows.append("| " + " | ".join((f"`{b.name}`", fig["name"], *figure_cells(fig))) + " |")
    rows.append("<!-- bench:end -->")
    return "\n".join(rows)


def capacity_table(benches: list[Bench], started: datetime) -> str:
    """docs/SCALING.md's table: what one process carried, beside its anchor, from the same run."""
    rows = ["<!-- capacity:begin (filled by bench/run_all.py from the same run as docs/BENCHMARKS.md) -->",
            f"Run of {started:%Y-%m-%d} on {cpu_model()} ({os.cpu_count()} cores):", "",
            "| one process of | carried | anchor (same run) | ratio |", "|---|---|---|---|"]
    for b in benches:
        for fig in b.figures:
            if "anchor" in fig:
                value, anchor, ratio, _, _ = figure_cells(fig)
                rows.append(f"| {b.name}: {fig['name']} | {value} | {anchor} | {ratio} |")
    rows.append("<!-- capacity:end -->")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/ and README")
    parser.add_argument("--quick", action="store_true", help="shorter runs (smaller data, fewer seconds)")
    args = parser.parse_args()
    wanted = {n for n in args.only.split(",") if n}
    unknown = wanted - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(sorted(unknown))}")
    benches = [b for b in BENCHES if not wanted or b.name in wanted]
    started = datetime.now(UTC)
    calib = calibrate()
    print("\n".join(machine_lines(calib)), flush=True)
    for b in benches:
        run_one(b, args.quick)
    for b in benches:
        for fig in b.figures:
            print(f"{b.name:<26} {fig['name']:<44} " + "  ".join(figure_cells(fig)))
    if args.no_write:
        return
    write_page(ROOT / "docs" / "BENCHMARKS.md", benches, calib, started, args.quick)
    readme = ROOT / "README.md"
    text = readme.read_text()
    block = readme_table(benches, calib, started)
    pattern = re.compile(r"<!-- bench:begin.*?<!-- bench:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
        readme.write_text(text)
    else:
        print("README.md has no bench:begin / bench:end markers: table not written", file=sys.stderr)
    scaling = ROOT / "docs" / "SCALING.md"
    capacity = re.compile(r"<!-- capacity:begin.*?<!-- capacity:end -->", re.S)
    if scaling.exists() and capacity.search(scaling.read_text()):
        scaling.write_text(capacity.sub(lambda _: capacity_table(benches, started), scaling.read_text()))
    missed = [f"{b.name}: {f['name']}" for b in benches for f in b.figures if f.get("met") is False]
    failed = [f"{b.name}: {b.status}" for b in benches if b.status != "ok"]
    print(f"goals missed: {len(missed)}" + "".join(f"\n  {m}" for m in missed))
    if failed:
        print("benches that did not finish cleanly:" + "".join(f"\n  {m}" for m in failed))


if __name__ == "__main__":
    main()
