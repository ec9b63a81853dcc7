"""The vision worker (python -m vision.worker): camera frames → detector → rules → evidence → alerts.

Each tick it claims the cameras that are due (HTTP snapshot via httpx, RTSP via OpenCV; the claim moves
the camera's next slot in one UPDATE … SKIP LOCKED, so several workers share cameras without pulling
one twice) and the frames uploaded through the API (`camera_frames.status = 'queued'`; the Redis list
`zhijian:vision:frames` only wakes it early). Each frame runs through `vision.analysis.analyse` (ONNX,
no torch) in a thread, its evidence image goes to S3, and `backend.cameras.recording.record_analysis`
stores the result and raises de-duplicated alerts through `notify()`. It stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import cv2
import httpx
import numpy as np
import structlog

from backend import db
from backend.cameras import recording as cameras
from backend.cameras import service as camera_service
from backend.cameras.service import DOORBELL_KEY, EVIDENCE_BUCKET, thresholds_in_force
from backend.clients.redis import create_arq_pool, create_redis
from backend.clients.s3 import S3Client
from backend.logging import configure_logging
from backend.settings import Settings, get_settings
from vision.analysis import analyse, decode_frame, draw_evidence
from vision.detector import Detector
from vision.operating_point import figures_at, load_report

log = structlog.get_logger("zhijian.vision")
HEARTBEAT_KEY = "zhijian:heartbeat:vision"
HEARTBEAT_EVERY_S = 30.0
SNAPSHOT_MAX_BYTES = 10 * 1024 * 1024


def load_detector(settings: Settings) -> Detector | None:
    """The runtime detector, or None (logged) when the model file is not there."""
    path = Path(settings.VISION_MODEL_PATH)
    if not path.exists() or not path.with_suffix(".json").exists():
        log.error("vision_model_missing", path=str(path))
        return None
    cv2.setNumThreads(max(1, settings.VISION_THREADS))
    return Detector(path, backend=settings.VISION_BACKEND, conf_threshold=settings.VISION_CONF,
                    threads=settings.VISION_THREADS)


async def fetch_snapshot(http: httpx.AsyncClient, url: str) -> bytes:
    """One JPEG from a camera's snapshot URL (ValueError on a bad answer)."""
    async with http.stream("GET", url) as resp:
        if resp.status_code != 200:
            raise ValueError(f"snapshot HTTP {resp.status_code}")
        chunks, size = [], 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > SNAPSHOT_MAX_BYTES:
                raise ValueError("snapshot larger than 10 MB")
            chunks.append(chunk)
    return b"".join(chunks)


def grab_rtsp(url: str, timeout_s: float) -> np.ndarray:
    """One frame from an RTSP stream (OpenCV / FFmpeg), the capture released at once."""
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(timeout_s * 1000),
                                                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(timeout_s * 1000)])
    try:
        if not cap.isOpened():
            raise ValueError("stream cannot be opened")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise ValueError("no frame from the stream")
        return frame
    finally:
        cap.release()


class VisionWorker:
    """The worker's clients, its detector and one analysis at a time (CPU-bound, in a thread)."""

    def __init__(self, settings: Settings, detector: Detector | None) -> None:
        self.settings = settings
        self.detector = detector
        self.redis = create_redis(settings)
        self.s3 = S3Client(settings)
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(settings.VISION_FETCH_TIMEOUT_S, connect=3.0),
                                      follow_redirects=False)
        self.arq: Any = None
        self._cpu = asyncio.Lock()
        # the model's operating-point figures (issue 21), quoted in each alert
        self.report = load_report(Path(settings.VISION_MODEL_PATH))

    async def start(self) -> None:
        await db.open_pool(self.settings)
        await self.redis.ping()
        await self.s3.ensure_buckets()
        self.arq = await create_arq_pool(self.settings)

    async def close(self) -> None:
        await self.http.aclose()
        if self.arq is not None:
            await self.arq.aclose()
        await self.redis.aclose()
        await db.close_pool()

    async def process(self, camera: dict[str, Any], image: np.ndarray, frame_id: UUID, *, pulled: bool,
                      sha256: str = "") -> list[UUID]:
        """Analyse one frame, store its evidence image and record the result (alerts included)."""
        assert self.detector is not None
        async with self._cpu:
            t = thresholds_in_force(camera, self.settings)
            analysis, _ = await asyncio.to_thread(analyse, self.detector, image, camera, t["helmet_conf"], None,
                                                  t["upright_conf"], t["ledger_guard"])
            evidence = await asyncio.to_thread(draw_evidence, image, analysis)
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        key = f"vision/{camera['id']}/{day}/{frame_id}.jpg"
        await self.s3.put_bytes(EVIDENCE_BUCKET, key, evidence, "image/jpeg")
        failing = cameras.failing_rules(analysis)
        raw_key = ""
        if pulled and failing and camera.get("label_consent"):
            # a frame that may be reviewed into a labelled frame keeps its raw image (no boxes drawn)
            raw_key = f"frames/{camera['id']}/{frame_id}.jpg"
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if ok:
                await self.s3.put_bytes(EVIDENCE_BUCKET, raw_key, buf.tobytes(), "image/jpeg")
            else:
                raw_key = ""
        op = figures_at(self.report, t["helmet_conf"], t["upright_conf"], t["ledger_guard"]) if self.report else None
        raised = await cameras.record_analysis(self.settings, self.arq, camera, analysis, key, frame_id,
                                               pulled=pulled, sha256=sha256, frame_key=raw_key, operating_point=op)
        log.info("vision_frame", camera=str(camera["id"]), frame=str(frame_id), pulled=pulled,
                 detections=len(analysis.detections), rules={r.rule: r.verdict for r in analysis.rules},
                 alerts=[str(a) for a in raised], inference_ms=analysis.inference_ms)
        return raised

    async def pull(self, camera: dict[str, Any]) -> None:
        """One frame from a due camera; a failure is kept on the camera (last_error) and logged."""
        try:
            if camera["source"] == "rtsp":
                image = await asyncio.to_thread(grab_rtsp, camera_service.fetch_url(self.settings, camera),
                                                self.settings.VISION_FETCH_TIMEOUT_S)
                sha = ""
            else:
                data = await fetch_snapshot(self.http, camera_service.fetch_url(self.settings, camera))
                sha = hashlib.sha256(data).hexdigest()
                image = await asyncio.to_thread(decode_frame, data)
            await self.process(camera, image, uuid4(), pulled=True, sha256=sha)
        except (httpx.HTTPError, ValueError, cv2.error) as exc:
            log.warning("vision_camera_failed", camera=str(camera["id"]), error=str(exc))
            await cameras.camera_failed(camera["id"], f"{type(exc).__name__}: {exc}")

    async def uploaded(self) -> int:
        """Analyse queued uploaded frames until none is left; returns how many."""
        done = 0
        while (frame := await cameras.claim_queued_frame()) is not None:
            try:
                camera = await cameras.camera_for(frame["camera"])
                data = await self.s3.get_bytes(EVIDENCE_BUCKET, frame["frame_key"])
                image = await asyncio.to_thread(decode_frame, data)
                await self.process(camera, image, frame["id"], pulled=False, sha256=frame["sha256"])
            except Exception as exc:
                log.exception("vision_frame_failed", frame=str(frame["id"]))
                await cameras.frame_failed(frame["id"], f"{type(exc).__name__}: {exc}")
            done += 1
        return done

    async def tick(self) -> None:
        if self.detector is None:
            return
        due = await cameras.claim_due_cameras()
        if due:
            await asyncio.gather(*(self.pull(c) for c in due))
        await self.uploaded()


async def run(settings: Settings, stop: asyncio.Event, detector: Detector | None = None) -> None:
    worker = VisionWorker(settings, detector if detector is not None else load_detector(settings))
    await worker.start()
    last_beat = 0.0
    try:
        log.info("vision_worker_started", model=settings.VISION_MODEL_PATH, ready=worker.detector is not None)
        while not stop.is_set():
            if time.monotonic() - last_beat >= HEARTBEAT_EVERY_S:
                await worker.redis.set(HEARTBEAT_KEY, str(time.time()), ex=300)
                last_beat = time.monotonic()
            try:
                await worker.tick()
            except Exception:
                log.exception("vision_tick_failed")
            # the doorbell: an upload wakes us at once; otherwise wait one tick
            try:
                await worker.redis.blpop([DOORBELL_KEY], timeout=max(settings.VISION_TICK_S, 0.01))
            except Exception:  # noqa: BLE001
                await asyncio.sleep(settings.VISION_TICK_S)
    finally:
        await worker.close()
        log.info("vision_worker_stopped")


def main() -> int:
    settings = get_settings()
    configure_logging(settings)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
