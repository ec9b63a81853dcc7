"""Monitoring ingest: readings evaluated + stored per second by the real iot worker, beside a broker-only
subscriber in the same run; reading → push latency at a steady rate; the worker's memory.

    .venv/bin/python bench/monitoring_ingest.py [--sensors 2000] [--batched 5000x100] [--batched-steady 50000x8]
                                                [--single 100000] [--rate 5000 --seconds 10] [--publishers 1]
                                                [--workers 1]

--publishers: publisher processes per phase (each takes its own share of the sensors). --workers: iot
worker processes on the shared subscription.

A private Mosquitto (port of its own, no persistence) carries the load; a scratch database with the demo
data holds the sensors. Each phase's publisher runs in its own process; the broker-only subscriber
(another share group, so it gets its own copy) decodes every payload and counts readings. Both clocks
start at the publisher's first message: the worker's rate is readings stored ÷ the time until all are
committed (polled every 10 ms), the broker-only one readings ÷ the time until its last message.
Latency: for sensors that cross their alarm value during the steady phase, the first notification's
created_at minus the reading's timestamp (set at publish time). Targets (issue 7, 2-core machine):
≥ 20,000 readings/s batched, ≥ 5,000 single messages/s, each ≥ ½ of broker-only; p99 < 500 ms; RSS < 500 MB.

Phases: batched flat out; batched at --batched-steady readings/s; single-reading messages flat out;
single messages at --rate/s with trip sensors for the latency. Each throughput phase prints the
worker's CPU seconds and PostgreSQL's beside the wall-clock rates. The publisher is a raw-socket
QoS 1 client (bench/_mqtt_load.py), so the load generator costs little next to the worker.

Last measured (2026-12-04, quiet 2-core machine, 1 publisher, the defaults): 1 worker — batched flat out
66–81 % of broker-only, batched at 50k/s offered 98–99 %, single flat out 54–61 % (30.8k–34.0k/s vs
52k–58k), steady 5,000/s push p99 85–90 ms, RSS ≤ 220 MB; 2 workers — batched 95 %, single 96 %, p99 80 ms,
0 dead-lettered, the same 200 alarms as one worker. BENCH_WORKER_PROFILE=PATH writes a cProfile of each worker to PATH.N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._support import (  # noqa: E402
    ROOT, bench_env, bound, create_database, drop_database, emit, free_port, percentile, relation,
)

LOAD = str(ROOT / "bench" / "_mqtt_load.py")


def _publish(port: int, topics_file: str, messages: int, per_msg: int, start_hour: int, rate: float,
             parts: int) -> tuple[float, float]:
    """Run ``parts`` publisher processes at once (each messages/parts, rate/parts); returns the slowest's seconds
    and the wall-clock time of the first message sent by any of them."""
    procs = [subprocess.Popen([sys.executable, LOAD, "pub", str(port), topics_file, str(messages // parts), str(per_msg),
                               str(start_hour), str(rate / parts), str(i), str(parts)], stdout=subprocess.PIPE, text=True)
             for i in range(parts)]
    seconds, first = 0.0, float("inf")
    for p in procs:
        out, _ = p.communicate(timeout=600)
        if p.returncode:
            raise RuntimeError(f"publisher failed: {p.returncode}")
        report = json.loads(out.strip().splitlines()[-1])
        seconds, first = max(seconds, report["seconds"]), min(first, report["first_send"])
    return seconds, first


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far (one that has ended counts nothing)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:  # a PostgreSQL backend that has gone
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _postgres_pids() -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if open(f"/proc/{d}/comm").read().strip() == "postgres":
                    out.append(int(d))
            except OSError:
                pass
    return out


def _rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status") if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def _setup(sensors: int, trip: int) -> tuple[list[str], list[str]]:
    """Sensors on one demo project: quiet ones (high limits) and trip ones (alarm at 5 mm)."""
    from backend.monitoring.tables import Sensor

    project = (await Sensor.raw("SELECT id, district FROM projects WHERE permit_no = '330302202603150101'"))[0]
    work = (await Sensor.raw(
        "INSERT INTO dangerous_works (id, project, district, name, kind, parameters, classification,"
        " classification_reasons, plan_status, plan_no, plan_alarm_values, plan_expert_review, created_at, updated_at)"
        " VALUES (gen_random_uuid(), {}, {}, 'bench pit', 'foundation_pit', {}::jsonb,"
        " 'beyond_scale', '[]'::jsonb, 'approved', 'B-1', {}::jsonb, 'bench', now(), now()) RETURNING id",
        project["id"], project["district"], '{"excavation_depth_m": 12}', "{}"))[0]["id"]
    quiet = json.dumps({"cumulative_abs": 1e6, "rate_per_day": 1e9, "silent_after_s": 1e9})
    loud = json.dumps({"cumulative_abs": 5, "rate_per_day": 1e9, "silent_after_s": 1e9})
    out: list[list[str]] = []
    for n, th, prefix in ((sensors, quiet, "Q"), (trip, loud, "T")):
        rows = await Sensor.raw(
            "WITH p AS (INSERT INTO monitoring_points (id, work, code, name, created_at)"
            " SELECT gen_random_uuid(), {}, {} || g, '', now() FROM generate_series(1, {}) g RETURNING id),"
            " s AS (INSERT INTO monitoring_sensors (id, point, project, metric, unit, thresholds, threshold_sources,"
            " interval_s, silent_after_missed, status, created_at) SELECT gen_random_uuid(), p.id, {}, 'wall_top_horizontal',"
            " 'mm', {}::jsonb, {}::jsonb, 604800, 3, 'active', now() FROM p RETURNING id)"
            " INSERT INTO monitoring_rule_states (sensor, state, silent, updated_at) SELECT id, {}::jsonb, 0, now()"
            " FROM s RETURNING sensor", work, prefix, n, project["id"], th, "{}", "{}")
        out.append([f"zhijian/v1/{project['id']}/{r['sensor']}/telemetry" for r in rows])
    return out[0], out[1]


async def _count_readings() -> int:
    from backend.monitoring.tables import Reading

    return (await Reading.raw("SELECT count(*) AS n FROM monitoring_readings"))[0]["n"]


async def _settle(timeout: float = 90.0) -> float:
    """Wait until no autovacuum works on this database (the previous phase's rows set it off), so each
    phase starts on a quiet database; returns the seconds waited (printed beside the phase)."""
    from backend.monitoring.tables import Reading

    started = time.time()
    while time.time() - started < timeout:
        rows = await Reading.raw("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                                 " AND datname = current_database()")
        if not rows[0]["n"]:
            break
        await asyncio.sleep(0.5)
    return round(time.time() - started, 1)


async def _count_dead() -> int:
    from backend.monitoring.tables import DeadLetter

    return (await DeadLetter.raw("SELECT count(*) AS n FROM monitoring_dead_letters"))[0]["n"]


async def _last_id() -> int:
    """The newest committed reading's id (the primary key index answers at once, unlike count(*))."""
    from backend.monitoring.tables import Reading

    return (await Reading.raw("SELECT coalesce(max(id), 0) AS n FROM monitoring_readings"))[0]["n"]


async def _phase(name: str, port: int, topics_file: str, messages: int, per_msg: int, start_hour: int,
                 worker_pids: list[int], parts: int, rate: float = 0.0) -> dict:
    """Publish ``messages`` × ``per_msg`` readings flat out (rate 0) or at ``rate`` messages/s; time the worker
    until every reading is committed, beside a broker-only subscriber's receive rate in the same run."""
    messages -= messages % parts
    total = messages * per_msg
    settled = await _settle()
    before, first_id = await _count_readings(), await _last_id()
    group = "bench-only-" + "".join(ch if ch.isalnum() else "-" for ch in name)
    sub = subprocess.Popen([sys.executable, LOAD, "sub", str(port), group, str(total)], stdout=subprocess.PIPE, text=True)
    assert sub.stdout.readline().strip() == "ready"
    await asyncio.sleep(0.5)
    pg = _postgres_pids()
    cpu0, pg0 = _cpu_s(worker_pids), _cpu_s(pg)
    pub_s, first_send = _publish(port, topics_file, messages, per_msg, start_hour, rate, parts)
    deadline = time.time() + 600
    # Poll the newest id (cheap); once it is far enough, count (several workers may commit out of id order).
    while time.time() < deadline:
        if await _last_id() - first_id >= total and await _count_readings() - before >= total:
            break
        await asyncio.sleep(0.01)
    # Both clocks start at the first message sent (not at the publisher's process start, which the
    # broker-only subscriber never saw): the worker's stops when every reading is committed (polled every
    # 10 ms), the broker-only subscriber's at its last message.
    worker_s = time.time() - first_send
    worker_cpu = _cpu_s(worker_pids) - cpu0
    pg_cpu = _cpu_s(pg) - pg0
    stored = await _count_readings() - before
    broker = json.loads(sub.communicate(timeout=600)[0].strip().splitlines()[-1])
    return {"phase": name, "autovacuum_wait_s": settled, "readings": total, "stored": stored,
            "publisher_s": round(pub_s, 2),
            "committed_after_publish_s": round(worker_s - pub_s, 2),
            "worker_readings_per_s": round(stored / worker_s), "broker_only_readings_per_s":
            round(broker["readings"] / (broker["last"] - first_send)) if broker["last"] else None,
            "worker_cpu_s": round(worker_cpu, 2),
            "readings_per_worker_cpu_s": round(stored / worker_cpu) if worker_cpu else None,
            "postgres_cpu_s": round(pg_cpu, 2),
            "publishers": parts, "workers": len(worker_pids),
            "worker_rss_mb": [round(_rss_mb(pid)[0]) for pid in worker_pids]}


async def _latency(port: int, trip: list[str], quiet_file: str, rate: float, seconds: float, workdir: Path,
                   parts: int) -> dict:
    """Steady single messages at ``rate``; trip sensors spread through the run cross their alarm value."""
    import paho.mqtt.client as mqtt

    from backend.monitoring.tables import Alarm

    c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="bench-trip", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    from datetime import UTC, datetime, timedelta

    base = datetime.now(UTC) - timedelta(hours=1)
    for t in trip:  # baselines
        c.publish(t, json.dumps({"ts": base.isoformat(), "value": 0}), qos=1)
    await asyncio.sleep(3)
    settled = await _settle()
    stored_before, dead_before = await _count_readings(), await _count_dead()
    loop = asyncio.get_running_loop()
    # The quiet sensors' readings continue their hourly series (after the single phase's), so each is
    # evaluated and stored; only the trip sensors' readings carry the wall clock that latency is measured from.
    background = loop.run_in_executor(None, _publish, port, quiet_file, int(rate * seconds), 1, 200_000, rate, parts)
    interval = seconds / len(trip)
    started = time.perf_counter()
    for i, t in enumerate(trip):
        await asyncio.sleep(max(0.0, started + i * interval - time.perf_counter()))
        c.publish(t, json.dumps({"ts": datetime.now(UTC).isoformat(), "value": 9.0}), qos=1)
    await background
    deadline = time.time() + 120
    rows: list = []
    while time.time() < deadline:
        rows = await Alarm.raw(
            "SELECT extract(epoch FROM (SELECT min(n.created_at) FROM notifications n WHERE n.subject_id = a.id::text)"
            " - a.reading_ts) AS lat FROM monitoring_alarms a WHERE a.rule = 'threshold'")
        if len(rows) >= len(trip) and all(r["lat"] is not None for r in rows):
            break
        await asyncio.sleep(0.5)
    c.disconnect()
    c.loop_stop()
    offered = int(rate * seconds) + len(trip)
    while await _count_readings() - stored_before < offered and time.time() < deadline:
        await asyncio.sleep(0.1)
    lat = [float(r["lat"]) * 1000 for r in rows if r["lat"] is not None]
    # what was raised, to compare runs with 1 and N workers: (rule, level, max level, status) → alarms
    shapes = await Alarm.raw("SELECT rule, level, max_level, status, count(*) AS n FROM monitoring_alarms"
                             " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")
    return {"phase": f"steady {rate:.0f}/s for {seconds:.0f}s", "autovacuum_wait_s": settled, "offered": offered,
            "stored": await _count_readings() - stored_before, "dead_lettered": await _count_dead() - dead_before,
            "alarms": len(rows), "pushed": len(lat),
            "alarm_shapes": [f"{r['rule']}:{r['level']}/{r['max_level']}:{r['status']}×{r['n']}" for r in shapes],
            "p50_ms": round(percentile(lat, 50)), "p95_ms": round(percentile(lat, 95)), "p99_ms": round(percentile(lat, 99)),
            "max_ms": round(max(lat)) if lat else None}


async def main(args: argparse.Namespace) -> None:
    env = bench_env(redis_db=12)
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="zhijian-bench-mqtt-"))
    workdir.chmod(0o777)
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000000\nmax_inflight_messages 10000\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env["ZHIJIAN_MQTT_URL"] = f"mqtt://127.0.0.1:{port}"
    env["ZHIJIAN_MQTT_SHARE_GROUP"] = "bench-worker"
    env["ZHIJIAN_MQTT_WORKER_CLIENT_ID"] = f"bench-worker-{port}"
    create_database(env)
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "backend.cli", "seed-demo"], cwd=ROOT, env={**os.environ, "ZHIJIAN_ENV": "dev"},
                   check=True, capture_output=True)
    workers: list[subprocess.Popen] = []
    try:
        from backend import db
        from backend.settings import get_settings

        await db.open_pool(get_settings())
        quiet, trip = await _setup(args.sensors, args.trip)
        quiet_file = workdir / "quiet.txt"
        quiet_file.write_text("\n".join(quiet))
        for i in range(args.workers):
            log = open(workdir / f"worker{i}.log", "w")  # noqa: SIM115
            prof = os.environ.get("BENCH_WORKER_PROFILE")  # a path: cProfile the worker's event loop into PATH.N
            workers.append(subprocess.Popen(
                [sys.executable, *(["-m", "cProfile", "-o", f"{prof}.{i}"] if prof else []), "-m", "iot.worker"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "ZHIJIAN_LOG_LEVEL": "WARNING", "ZHIJIAN_MQTT_WORKER_CLIENT_ID": f"bench-worker-{port}-{i}"}))
        await asyncio.sleep(4)
        pids = [w.pid for w in workers]
        n_msg, per = (int(x) for x in args.batched.split("x"))
        results = [await _phase("batched", port, str(quiet_file), n_msg, per, 0, pids, args.publishers)]
        rate_per_s, seconds = (float(x) for x in args.batched_steady.split("x"))
        results.append(await _phase(f"batched, {rate_per_s:.0f} readings/s offered", port, str(quiet_file),
                                    int(rate_per_s * seconds / per), per, 50_000, pids, args.publishers,
                                    rate=rate_per_s / per))
        results.append(await _phase("single", port, str(quiet_file), args.single, 1, 100_000, pids, args.publishers))
        results.append(await _latency(port, trip, str(quiet_file), args.rate, args.seconds, workdir, args.publishers))
        results.append({"worker_rss_mb": [round(_rss_mb(p)[0]) for p in pids],
                        "worker_peak_rss_mb": [round(_rss_mb(p)[1]) for p in pids]})
        print(f"cpus={os.cpu_count()} load={os.getloadavg()} (machine shared with other work while measuring)")
        for r in results:
            print(json.dumps(r, ensure_ascii=False))
        figures = []
        label = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
        for r in results[:3]:
            if r.get("broker_only_readings_per_s"):
                # flat out: issue 18 keeps the figures measured before it (batched 62 %, single messages 60 %);
                # at an offered rate the worker must keep up with it (issue 7: at least half)
                goal = 0.5 if "offered" in r["phase"] else 0.6
                figures.append(relation(f"{r['phase']}: readings stored, {label}", r["worker_readings_per_s"],
                                        "readings/s", "broker-only subscriber", r["broker_only_readings_per_s"], goal))
        steady = results[3]
        figures += [bound(f"{steady['phase']}: reading → push p99, {label}", steady["p99_ms"], "ms", 500, "< 500 ms"),
                    bound(f"{steady['phase']}: dead-lettered, {label}", steady["dead_lettered"], "", 1, "0")]
        emit("monitoring_ingest" if args.workers == 1 else f"monitoring_ingest_{args.workers}w", figures)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        broker.terminate()
        broker.wait(10)
        from backend import db

        await db.close_pool()
        drop_database(env)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensors", type=int, default=2000)
    parser.add_argument("--trip", type=int, default=200)
    parser.add_argument("--batched", default="5000x100")
    parser.add_argument("--batched-steady", default="50000x8", help="readings/s x seconds, in messages of 100")
    parser.add_argument("--single", type=int, default=100000)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--publishers", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
