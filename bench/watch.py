"""The change feed's costs, measured: how long a change takes to reach a watcher, what idle
watchers cost in memory, and what open watchers cost the writers.

    python bench/watch.py            # full run (a few minutes), writes bench/WATCH_RESULTS.md
    python bench/watch.py --smoke    # seconds, to check the script works

For each store (one Redis, one SQLite file), `pathkv serve` with 2 pinned workers:
- latency: W watchers, each on a path of its own (`/-/watch?path=/w/<i>`), and a writer
  putting R documents per second to those paths; the time from a PUT's answer reaching the
  writer to its event reaching the watcher, p50 and p99 (the writer and the watchers share
  this machine with the server);
- PUT throughput (wrk, as bench/run.py's PUT case) with no watcher and with W idle watchers
  (on other paths), alternated, medians;
- with 1 worker, its RSS before and after opening M idle watchers.
Everything listens on 127.0.0.1; every load is bounded in time; the script stops exactly
the processes it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402

QUIET = {"PATHKV_LOG_LEVEL": "WARNING", "PATHKV_SHUTDOWN_DELAY": "0", "PATHKV_AUTH": "off"}


async def open_watcher(port: int, query: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /-/watch?{query} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise SystemExit(f"watch: {head[:200]!r}")
    return reader, writer


async def follow(reader: asyncio.StreamReader, arrivals: dict[int, float]) -> None:
    """Read a watcher's stream (chunked SSE); note when each event's document arrived."""
    buffer = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        now = time.perf_counter()
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            for line in block.split(b"\n"):
                if line.startswith(b"data: {"):
                    data = json.loads(line[6:])
                    if "data" in data:
                        arrivals.setdefault(data["data"]["n"], now)


async def measure_latency(port: int, watchers: int, rate: int, seconds: float) -> dict[str, float]:
    arrivals: dict[int, float] = {}
    conns = [await open_watcher(port, f"path=/w/{i}") for i in range(watchers)]
    tasks = [asyncio.create_task(follow(r, arrivals)) for r, _ in conns]
    await asyncio.sleep(1.0)
    answered: dict[int, float] = {}
    writers = 8
    count = int(rate * seconds)

    async def writer(offset: int) -> None:
        reader, out = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        for n in range(offset, count, writers):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = b'{"n":%d}' % n
            out.write(
                b"PUT /w/%d HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (n % watchers, len(body), body)
            )
            await out.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            answered[n] = time.perf_counter()
        out.close()

    await asyncio.gather(*(writer(i) for i in range(writers)))
    await asyncio.sleep(1.0)
    for task in tasks:
        task.cancel()
    for _, out in conns:
        out.close()
    lags = sorted(max(0.0, arrivals[n] - answered[n]) * 1000 for n in answered if n in arrivals)
    if not lags:
        raise SystemExit("watch: no event arrived")
    return {
        "p50": lags[len(lags) // 2],
        "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        "delivered": len(lags) / len(answered),
        "writes_per_second": len(answered) / seconds,
    }


async def hold_watchers(port: int, count: int, query: str) -> list[asyncio.StreamWriter]:
    writers = []
    for i in range(count):
        _, writer = await open_watcher(port, query.format(i=i))
        writers.append(writer)
    return writers


def put_throughput(port: int, seconds: float, connections: int, workdir: Path) -> float:
    return bench.run_wrk(port, "/", bench.WRK_PUT, seconds, connections, workdir).rps


def serve(
    url: str, env: dict[str, str], workers: int, pin: bool, workdir: Path
) -> tuple[bench.Process, int]:
    port = bench.free_port()
    command = [sys.executable, "-m", "pathkv", "serve", "--workers", str(workers)]
    command += ["--store", url, "--port", str(port), *(["--pin-workers"] if pin else [])]
    return bench.Process(command, {**QUIET, **env}, port, workdir / "server.log"), port


async def put_with_watchers(port: int, watchers: int, seconds: float, workdir: Path) -> float:
    held = await hold_watchers(port, watchers, "path=/idle/{i}")
    try:
        return await asyncio.to_thread(put_throughput, port, seconds, 64, workdir)
    finally:
        for writer in held:
            writer.close()


async def idle_memory(server: bench.Process, port: int, idle: int) -> float:
    held = await hold_watchers(port, idle, "prefix=/idle/{i}/")
    await asyncio.sleep(2)
    after = server.worker_rss()
    for writer in held:
        writer.close()
    return after


def measure_store(
    store: str,
    url: str,
    env: dict[str, str],
    workdir: Path,
    watchers: int,
    rate: int,
    seconds: float,
    idle: int,
    rounds: int,
) -> str:
    """One row of the report: latency, throughput with and without watchers, memory."""
    server, port = serve(url, env, 2, True, workdir)
    try:
        latency = asyncio.run(measure_latency(port, watchers, rate, seconds))
        plain: list[float] = []
        watched: list[float] = []
        # Alternated in ABBA order: the store grows with every run, so neither side is
        # always measured on the larger one.
        for turn in range(rounds):
            order = ("plain", "watched") if turn % 2 == 0 else ("watched", "plain")
            for side in order:
                if side == "plain":
                    plain.append(put_throughput(port, seconds, 64, workdir))
                else:
                    watched.append(asyncio.run(put_with_watchers(port, watchers, seconds, workdir)))
    finally:
        server.stop()
    # More connections than a worker takes by default (PATHKV_MAX_CONNECTIONS).
    single, port = serve(
        url, {**env, "PATHKV_MAX_CONNECTIONS": str(idle + 1024)}, 1, False, workdir
    )
    try:
        time.sleep(1)
        before = single.worker_rss()
        after = asyncio.run(idle_memory(single, port, idle))
    finally:
        single.stop()
    ratio = statistics.median(watched) / statistics.median(plain)
    return (
        f"| {store} | {latency['p50']:.1f} | {latency['p99']:.1f} | "
        f"{latency['delivered']:.3f} | {latency['writes_per_second']:,.0f} | "
        f"{statistics.median(plain):,.0f} | {statistics.median(watched):,.0f} | "
        f"{ratio:.2f} | {before:.1f} | {after:.1f} | {(after - before) * 1024 / idle:.1f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--output", type=Path, default=HERE / "WATCH_RESULTS.md")
    args = parser.parse_args()
    watchers, rate, seconds, idle, rounds = (
        (20, 100, 2.0, 200, 1) if args.smoke else (1000, 1000, 10.0, 5000, 2)
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, idle + 2048)), hard))
    binaries = bench.redis_binaries()
    if not binaries:
        raise SystemExit("bench: no redis-server found")
    redis_name, redis_binary = next(iter(binaries.items()))
    workdir = Path(tempfile.mkdtemp(prefix="pathkv-watch-"))
    redis, redis_port = bench.start_redis(redis_binary, workdir)
    stores = {
        "Redis": (f"redis://127.0.0.1:{redis_port}/0", {"PATHKV_REDIS_PREFIX": "watch:"}),
        "SQLite": (f"sqlite:///{workdir / 'watch.db'}", {}),
    }
    rows: list[str] = []
    try:
        for store, (url, env) in stores.items():
            rows.append(
                measure_store(store, url, env, workdir, watchers, rate, seconds, idle, rounds)
            )
            print(rows[-1], flush=True)
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report = "\n".join(
        [
            "# pathkv change feed: measured",
            "",
            f"Generated by `python bench/watch.py{' --smoke' if args.smoke else ''}` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, all on 127.0.0.1 "
            f"(2 cores shared by the server, {redis_name}, the writer and the watchers): "
            f"{watchers} watchers, each on a path of its own, {rate} writes per second for "
            f"{seconds:g} s spread over them; PUT throughput by wrk (64 connections, "
            f"{seconds:g} s, {rounds} alternated round(s), medians) with no watcher and with "
            f"{watchers} idle ones; memory: one worker, {idle} idle watchers.",
            "",
            "| store | PUT answer to event, p50 ms | p99 ms | events delivered | writes/s | "
            "PUT req/s, no watcher | with watchers | ratio | worker RSS MiB, none | "
            f"with {idle} idle | KiB per watcher |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    print(report)
    args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
