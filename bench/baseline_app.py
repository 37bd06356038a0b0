"""The original tutorial service, ported faithfully: the baseline of the benchmark.

Flask + redis-py, served by gunicorn with 2 sync workers, as the tutorial would in
production. Its faults are kept on purpose (string-valued hashes, three round trips per PUT,
200 for a missing key): it is the yardstick, not a product.
"""

from __future__ import annotations

import os
import time

import redis
from flask import Flask, request

app = Flask(__name__)
db = redis.Redis(
    host=os.environ.get("REDIS_HOST", "127.0.0.1"),
    port=int(os.environ.get("REDIS_PORT", "6379")),
    decode_responses=True,
)
TTL = 31104000  # the tutorial's "one year" in seconds


@app.route("/")
def hello() -> str:
    count = db.incr("count")
    return f"Count is {count}."


@app.route("/<path:path>", methods=["PUT"])
def put(path: str) -> tuple[dict[str, object], int]:
    data = request.json or {}
    data["last_updated"] = int(time.time())
    data["ttl"] = TTL
    db.delete(path)
    db.hset(path, mapping=data)
    db.expire(path, TTL)
    return data, 201


@app.route("/<path:path>", methods=["GET"])
def get(path: str) -> dict[str, object] | str:
    data = db.hgetall(path)
    if not data:
        return "Error: thing doesn't exist"
    data["ttl"] = db.ttl(path)
    return data
