"""Structured logging: one JSON object per line on stderr."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

ACCESS = logging.getLogger("pathkv.access")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode("utf-8")


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("pathkv")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def access(request_id: str, method: str, route: str, raw_path: bytes, status: int,
           started: float, size: int) -> None:
    """One line per request; the raw path is shown as received, cut at 256 characters."""
    if ACCESS.isEnabledFor(logging.INFO):
        ACCESS.info("request", extra={
            "request_id": request_id, "method": method, "route": route,
            "path": raw_path.decode("latin-1")[:256],
            "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "bytes": size,
        })
