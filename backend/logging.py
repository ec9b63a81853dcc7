"""Structured JSON logs (structlog); a request id is bound per request through contextvars."""

from __future__ import annotations

import logging
import sys

import structlog

from backend.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog records through one JSON (or console) renderer."""
    level = getattr(logging, settings.LOG_LEVEL.upper(), logging.INFO)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.LOG_JSON
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if settings.LOG_FILE:  # the same lines, also to a file (issue 23: tests scan it for personal values)
        import os

        to_file = logging.FileHandler(settings.LOG_FILE.replace("{pid}", str(os.getpid())), encoding="utf-8")
        to_file.setFormatter(handler.formatter)
        root.handlers.append(to_file)
    root.setLevel(level)
    # uvicorn's loggers go through the same JSON renderer; its access log duplicates our request line.
    for name in ("uvicorn", "uvicorn.error", "arq", "arq.worker"):
        uv = logging.getLogger(name)
        uv.handlers[:] = []
        uv.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("asyncio", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # httpx logs every request's full URL at INFO: query strings carry tokens and personal values (issue 23: the
    # scan of the test run found an ID number in one), so only its warnings are kept.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
