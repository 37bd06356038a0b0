"""How every operation's cost grows with the data: 10^4, 10^5 and 10^6 documents of 1 KiB.

    python bench/scale.py                       # SQLite and Redis, 10^4..10^6 (about 40 min)
    python bench/scale.py --stores cluster --keep   # Redis Cluster, beside the last run's rows
    python bench/scale.py --stores sqlite --sizes 10000,100000,1000000,10000000
    python bench/scale.py --smoke               # seconds-long check that the script works

For each store it grows one keyspace size by size, loading the missing documents with
``pathkv import`` (the bulk path: an import keeps 256 restores in flight, which the stores
batch into one transaction or one script call), and at each size measures: GET and PUT of
random documents and ``GET /`` (throughput and p99, wrk, 64 connections, 2 pinned workers);
a ``/-/keys`` page from the middle of the keyspace, a page of one level with a delimiter,
``/-/hits?limit=10``; a sweep that removes 10% expired documents (its time, and GET p99
while it runs); export and import throughput; the change feed's event latency; start-up
time; Redis memory (on a cluster: its primaries') and SQLite bytes per document; RSS per
worker. The Redis Cluster is three primaries and three replicas on loopback, pathkv's
default 16 buckets over them; Redis runs without persistence in both Redis cases. It
writes bench/SCALE.md and bench/SCALE.png (matplotlib), and the figures as bench/SCALE.json
(``--keep``: a run of some stores replaces only their rows there). Everything listens on
127.0.0.1; every load is bounded in time; the script stops exactly the processes it
started.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from tests.servers import RedisCluster, redis_binaries  # noqa: E402

import run as bench  # noqa: E402
import watch  # noqa: E402

# Documents spread over a fixed number of folders (/scale/f042/d0001234), so that a page of
# one level holds the same folders at every size while each folder grows with the data.
FOLDERS = 1000
EXPIRING_SHARE = 0.1
QUIET = {
    "PATHKV_LOG_LEVEL": "WARNING",
    "PATHKV_SHUTDOWN_DELAY": "0",
    "PATHKV_AUTH": "off",
    # The sweep is measured on its own (pathkv sweep), not left to the server's timer.
    "PATHKV_SWEEP_INTERVAL": "86400",
}
# What the change feed keeps after the sweep trims it: the load's events are not data.
FEED_KEPT = "10000"

WRK_GET = """
local n = NUMBER
request = function()
  local i = math.random(0, n - 1)
  return string.format("GET /scale/f%03d/d%07d HTTP/1.1\\r\\nHost: b\\r\\n\\r\\n",
    i % FOLDERS, i)
end
"""
WRK_PUT = """
local n = NUMBER
local body = BODY
request = function()
  local i = math.random(0, n - 1)
  return string.format("PUT /scale/f%03d/d%07d HTTP/1.1\\r\\nHost: b\\r\\n" ..
    "Content-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n%s",
    i % FOLDERS, i, #body, body)
end
"""


def doc_path(i: int) -> str:
    return f"/scale/f{i % FOLDERS:03d}/d{i:07d}"


def in_path_order(start: int, stop: int) -> Iterator[int]:
    """start..stop-1 ordered by doc_path: folder by folder, each folder's in turn."""
    for folder in range(FOLDERS):
        yield from range(start + (folder - start) % FOLDERS, stop, FOLDERS)


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@dataclass
class Row:
    store: str
    documents: int
    figures: dict[str, float] = field(default_factory=dict)


class Bodies:
    """1 KiB JSON documents (bench/run.py's sensor readings), a few hundred reused."""

    def __init__(self) -> None:
        import random

        rng = random.Random(11)
        self.items = [
            json.loads(bench.sample_document(i, rng, incompressible=False)) for i in range(256)
        ]

    def line(self, i: int, now_ms: int, expires_ms: int, path: str | None = None) -> bytes:
        data = dict(self.items[i % len(self.items)], device=f"sensor-{i:07d}")
        return (
            orjson.dumps(
                {
                    "namespace": "default",
                    "path": path or doc_path(i),
                    "data": data,
                    "version": 1,
                    "last_updated_ms": now_ms,
                    "expires_at_ms": expires_ms,
                    "hits": 0,
                }
            )
            + b"\n"
        )


def pathkv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pathkv", *args]


def import_documents(
    url: str,
    env: dict[str, str],
    bodies: Bodies,
    start: int,
    stop: int,
    expires_ms: int,
    path: str = "{}",
) -> float:
    """Import documents start..stop-1 through `pathkv import`, in path order (as `pathkv
    export` writes them); documents per second. Tuning: in path order a transaction fills
    a few pages at a time, in random order it dirties a page per document (measured on
    SQLite, 4x10^4 documents into 2x10^5: 18,000 a second against 6,800)."""
    proc = subprocess.Popen(
        [*pathkv("import", "--store", url)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    assert proc.stdin is not None
    now = int(time.time() * 1000)
    began = time.perf_counter()
    chunk: list[bytes] = []
    for i in in_path_order(start, stop):
        chunk.append(bodies.line(i, now, expires_ms, path.format(doc_path(i))))
        if len(chunk) == 2000:
            proc.stdin.write(b"".join(chunk))
            chunk = []
    proc.stdin.write(b"".join(chunk))
    proc.stdin.close()
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        raise SystemExit(f"scale: import failed: {err.decode()[-2000:]}")
    report = json.loads(err.decode().strip().splitlines()[-1])
    if report["restored"] != stop - start:
        raise SystemExit(f"scale: import restored {report} of {stop - start}")
    return (stop - start) / (time.perf_counter() - began)


def timed_requests(port: int, target: str, count: int) -> float:
    """Median milliseconds of count GETs of target on one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    took = []
    for _ in range(count):
        began = time.perf_counter()
        conn.request("GET", target)
        answer = conn.getresponse()
        answer.read()
        took.append((time.perf_counter() - began) * 1000)
        if answer.status != 200:
            raise SystemExit(f"scale: {target} answered {answer.status}")
    conn.close()
    return statistics.median(took)


async def feed_latency(port: int, count: int) -> float:
    """Median milliseconds from a PUT's answer to its event on a watcher of that path."""
    reader, out = await watch.open_watcher(port, "path=/probe/feed")
    arrivals: dict[int, float] = {}
    follower = asyncio.create_task(watch.follow(reader, arrivals))
    await asyncio.sleep(0.5)
    lags = []
    for n in range(count):
        status, _ = await asyncio.to_thread(
            bench.http, port, "PUT", "/probe/feed", json.dumps({"n": n})
        )
        answered = time.perf_counter()
        assert status in (200, 201), status
        deadline = answered + 5
        while n not in arrivals and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.001)  # follow() notes arrivals in a dict
        if n in arrivals:
            lags.append(max(0.0, arrivals[n] - answered) * 1000)
    follower.cancel()
    out.close()
    if not lags:
        raise SystemExit("scale: no change event arrived")
    return statistics.median(lags)


def serve(url: str, env: dict[str, str], workdir: Path) -> tuple[bench.Process, int, float]:
    """A 2-worker server; its start-up time (spawn to a ready answer) in seconds."""
    began = time.perf_counter()
    proc, port = watch.serve(url, {**QUIET, **env}, 2, True, workdir)
    while True:
        try:
            if bench.http(port, "GET", "/-/readyz")[0] == 200:
                break
        except OSError:
            pass
        if time.perf_counter() - began > 120:
            raise SystemExit("scale: the server did not become ready")
        time.sleep(0.01)
    return proc, port, time.perf_counter() - began


def sweep_seconds(url: str, env: dict[str, str], expected: int = 0) -> float:
    """The seconds `pathkv sweep` says it took, checking that it removed the expected
    documents."""
    done = subprocess.run(
        [*pathkv("sweep", "--store", url)],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "PATHKV_CHANGES_MAX_EVENTS": FEED_KEPT},
        check=True,
    )
    said = json.loads(done.stdout.strip().splitlines()[-1])
    if said["removed"] != expected:
        raise SystemExit(f"scale: the sweep removed {said['removed']} of {expected}")
    return float(said["seconds"])


def sweep_under_load(
    url: str, env: dict[str, str], port: int, seconds: float, workdir: Path, size: int
) -> tuple[float, float, int]:
    """(sweep seconds, GET p99 ms while it ran, documents removed)."""
    outcome: dict[str, float] = {}

    def sweep() -> None:
        done = subprocess.run(
            [*pathkv("sweep", "--store", url)],
            capture_output=True,
            text=True,
            env={**os.environ, **env, "PATHKV_CHANGES_MAX_EVENTS": FEED_KEPT},
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"scale: sweep failed: {done.stderr[-2000:]}")
        said = json.loads(done.stdout.strip().splitlines()[-1])
        outcome["seconds"], outcome["removed"] = said["seconds"], said["removed"]

    thread = threading.Thread(target=sweep)
    thread.start()
    p99s = []
    while thread.is_alive():
        script = WRK_GET.replace("NUMBER", str(size)).replace("FOLDERS", str(FOLDERS))
        p99s.append(bench.run_wrk(port, "/", script, seconds, 64, workdir).p99_ms)
    thread.join()
    return outcome["seconds"], max(p99s), int(outcome["removed"])


def sqlite_bytes(path: Path) -> tuple[int, int]:
    """(bytes the database's pages in use take, bytes of its files on disk)."""
    import sqlite3

    conn = sqlite3.connect(path)
    pages, free, size = (
        conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("page_count", "freelist_count", "page_size")
    )
    conn.close()
    on_disk = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return (pages - free) * size, on_disk


def measure(
    store: str,
    url: str,
    env: dict[str, str],
    size: int,
    bodies: Bodies,
    args: argparse.Namespace,
    workdir: Path,
    redis_ports: list[int],
    db: Path | None,
    baseline_memory: int,
    import_rate: float,
) -> Row:
    row = Row(store, size)
    f = row.figures
    proc, port, started = serve(url, env, workdir)
    f["start-up s"] = started
    try:
        body = json.dumps(json.dumps(bodies.items[0], separators=(",", ":")))
        for case, script, path in (
            # The control: what the machine gives at this moment for a request that touches
            # no data (this machine's speed drifts by tens of percent between runs).
            ("healthz", None, "/-/healthz"),
            ("GET", WRK_GET, "/"),
            ("PUT", WRK_PUT.replace("BODY", body), "/"),
            ("GET /", None, "/"),
        ):
            if script:
                script = script.replace("NUMBER", str(size)).replace("FOLDERS", str(FOLDERS))
            result = bench.run_wrk(port, path, script, args.duration, 64, workdir)
            if result.non_2xx:
                raise SystemExit(f"scale: {case} at {size}: {result.non_2xx} failures")
            f[f"{case} req/s"] = result.rps
            f[f"{case} p99 ms"] = result.p99_ms
        # A document in the middle folder, from the middle of the keyspace.
        middle_index = size // 2 // FOLDERS * FOLDERS + FOLDERS // 2
        middle = cursor(doc_path(middle_index))
        f["keys page ms"] = timed_requests(
            port, f"/-/keys?prefix=/scale/&limit=100&after={middle}", args.samples
        )
        folder = cursor(doc_path(middle_index).rsplit("/", 1)[0] + "/\x00")
        f["level page ms"] = timed_requests(
            port, f"/-/keys?prefix=/scale/&delimiter=/&limit=100&after={folder}", args.samples
        )
        f["hits page ms"] = timed_requests(port, "/-/hits?limit=10", args.samples)
        f["feed event ms"] = asyncio.run(feed_latency(port, args.samples))
        # Export: every live document, through the command, while the server runs.
        began = time.perf_counter()
        subprocess.run(
            [*pathkv("export", "--store", url, "-o", str(workdir / "export.jsonl"))],
            check=True,
            capture_output=True,
            env={**os.environ, **env},
        )
        f["export docs/s"] = size / (time.perf_counter() - began)
        (workdir / "export.jsonl").unlink()
        # A memory figure with the load's change events still in the feed.
        if redis_ports:
            f["Redis B/doc, feed full"] = (redis_memory(redis_ports) - baseline_memory) / size
        # The sweep: 10% more documents, already expired when it runs.
        expiring = max(1, int(size * EXPIRING_SHARE))

        def expire_some(folder: str) -> None:
            """Another 10% of documents, expired once all are in (twice the time the load's
            import rate gives)."""
            expires = int(time.time() * 1000) + 2000 + int(2000 * expiring / import_rate)
            import_documents(url, env, bodies, 0, expiring, expires, folder + "{}")
            time.sleep(max(0.0, expires / 1000 - time.time()) + 0.2)

        # The load's change events first (they are not data): the feed trimmed to what it
        # keeps, by a sweep with nothing to remove.
        f["feed trim s"] = sweep_seconds(url, env, expected=0)
        # Once with nothing else running: what removing them costs.
        expire_some("/expiring")
        f["sweep s"] = sweep_seconds(url, env, expected=expiring)
        f["sweep us/doc"] = f["sweep s"] / expiring * 1e6
        # Once under the GET load: what it costs the requests served meanwhile.
        expire_some("/expiring-again")
        seconds, p99, removed = sweep_under_load(url, env, port, 2.0, workdir, size)
        if removed != expiring:
            raise SystemExit(f"scale: the sweep removed {removed} of {expiring}")
        f["sweep s under load"] = seconds
        f["GET p99 ms during sweep"] = p99
        f["RSS MiB/worker"] = proc.worker_rss()
        if redis_ports:
            f["Redis B/doc"] = (redis_memory(redis_ports) - baseline_memory) / size
        if db is not None:
            used, on_disk = sqlite_bytes(db)
            f["SQLite B/doc"] = used / size
            f["SQLite files B/doc"] = on_disk / size
    finally:
        proc.stop()
    return row


def redis_memory(ports: list[int]) -> int:
    """Bytes Redis uses, summed over the servers (a cluster's primaries: one copy)."""
    return sum(bench.redis_info_memory(port) for port in ports)


def run_store(store: str, args: argparse.Namespace, bodies: Bodies) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix=f"pathkv-scale-{store.replace(' ', '-')}-") as tmp:
        workdir = Path(tmp)
        redis: bench.Process | None = None
        cluster: RedisCluster | None = None
        redis_ports: list[int] = []
        db = None
        binaries = redis_binaries()
        binary = binaries.get("redis") or next(iter(binaries.values()), None)
        env = {"PATHKV_REDIS_PREFIX": "scale:"}
        if store == "Redis":
            assert binary is not None, "scale: no redis-server"
            redis, port = bench.start_redis(binary, workdir)
            url, redis_ports = f"redis://127.0.0.1:{port}/0", [port]
        elif store == "Redis Cluster":
            assert binary is not None, "scale: no redis-server"
            cluster = RedisCluster(binary, workdir / "cluster", extra=("--appendonly", "no"))
            cluster.start()
            url, redis_ports = cluster.url, [n.port for n in cluster.nodes[: cluster.primaries]]
        else:
            db = workdir / "scale.db"
            url, env = f"sqlite:///{db}", {}
        try:
            baseline_memory = redis_memory(redis_ports)
            loaded = 0
            for size in args.sizes:
                year = int(time.time() * 1000) + 365 * 86400 * 1000
                rate = import_documents(url, env, bodies, loaded, size, year)
                loaded = size
                print(f"{store}: {size:,} documents (import {rate:,.0f}/s)", flush=True)
                row = measure(
                    store,
                    url,
                    env,
                    size,
                    bodies,
                    args,
                    workdir,
                    redis_ports,
                    db,
                    baseline_memory,
                    rate,
                )
                row.figures["import docs/s"] = rate
                rows.append(row)
                print(f"  {row.figures}", flush=True)
        finally:
            if redis is not None:
                redis.stop()
            if cluster is not None:
                cluster.stop()
    return rows


COLUMNS = (
    "healthz req/s",
    "GET req/s",
    "GET p99 ms",
    "PUT req/s",
    "PUT p99 ms",
    "GET / req/s",
    "GET / p99 ms",
    "keys page ms",
    "level page ms",
    "hits page ms",
    "feed trim s",
    "sweep s",
    "sweep us/doc",
    "sweep s under load",
    "GET p99 ms during sweep",
    "import docs/s",
    "export docs/s",
    "feed event ms",
    "start-up s",
    "RSS MiB/worker",
    "Redis B/doc",
    "Redis B/doc, feed full",
    "SQLite B/doc",
    "SQLite files B/doc",
)


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


CHARTED = ("GET req/s", "PUT req/s", "GET p99 ms", "PUT p99 ms")


def chart(rows: list[Row], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for store in sorted({r.store for r in rows}):
        mine = [r for r in rows if r.store == store]
        xs = [r.documents for r in mine]
        for ax, key in zip(axes.flat, CHARTED, strict=True):
            ax.plot(xs, [r.figures[key] for r in mine], marker="o", label=store)
    # After every line is drawn: a limit set earlier would stop the axis from growing.
    for ax, key in zip(axes.flat, CHARTED, strict=True):
        ax.set_title(key)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("documents stored")
    axes[0][0].legend()
    fig.suptitle("pathkv: throughput and p99 against documents (64 connections, 2 workers)")
    fig.tight_layout()
    fig.savefig(output, dpi=90)


def growth(rows: list[Row]) -> list[str]:
    """Largest size against smallest, per store: the goals' figures."""
    lines = [
        "| store | figure | smallest | largest | largest / smallest |",
        "|---|---|---:|---:|---:|",
    ]
    for store in sorted({r.store for r in rows}):
        mine = sorted((r for r in rows if r.store == store), key=lambda r: r.documents)
        low, high = mine[0], mine[-1]
        for key in COLUMNS:
            a, b = low.figures.get(key), high.figures.get(key)
            if a and b is not None:
                lines.append(f"| {store} | {key} | {fmt(a)} | {fmt(b)} | {b / a:.2f} |")
        control = high.figures["healthz req/s"] / low.figures["healthz req/s"]
        for key in ("GET req/s", "PUT req/s", "GET / req/s"):
            ratio = high.figures[key] / low.figures[key] / control
            lines.append(f"| {store} | {key} over healthz req/s | | | {ratio:.2f} |")
    return lines


def render(
    rows: list[Row], args: argparse.Namespace, chart_name: str, stamps: dict[str, str]
) -> str:
    sizes = ", ".join(f"{s:,}" for s in sorted({r.documents for r in rows}))
    when = " and ".join(f"{stamp} ({store})" for store, stamp in sorted(stamps.items()))
    out = [
        "# pathkv at scale",
        "",
        f"Generated by `python bench/scale.py` on {when}: sizes {sizes}; "
        f"wrk, 64 connections, {args.duration:g} s per case, 2 pinned workers; "
        f"{args.samples} samples per page and feed figure (median); "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "Documents are ~1 KiB JSON sensor readings (`bench/run.py`'s realistic document), loaded",
        "with `pathkv import`; GET and PUT pick a random stored document each request.",
        "",
        f"![throughput and p99 against documents]({chart_name})",
        "",
    ]
    for store in sorted({r.store for r in rows}):
        mine = [r for r in rows if r.store == store]
        keys = [k for k in COLUMNS if any(k in r.figures for r in mine)]
        out += [
            f"## {store}",
            "",
            "| figure | " + " | ".join(f"{r.documents:,}" for r in mine) + " |",
        ]
        out.append("|---|" + "---:|" * len(mine))
        for key in keys:
            out.append(f"| {key} | " + " | ".join(fmt(r.figures.get(key)) for r in mine) + " |")
        out.append("")
    out += [
        "## Growth: largest size over smallest",
        "",
        "The last rows of each store divide by the control (`GET /-/healthz`, which touches no",
        "data), measured at the same moment: what is left is the cost of the data.",
        "",
        *growth(rows),
        "",
    ]
    # What the figures show and why: written by hand, kept beside the script.
    notes = HERE / "scale_notes.md"
    if notes.exists():
        out += [notes.read_text()]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="documents, ascending")
    parser.add_argument(
        "--stores", default="sqlite,redis", help="some of sqlite, redis, cluster (comma-separated)"
    )
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per wrk case")
    parser.add_argument("--samples", type=int, default=30, help="requests per page figure")
    parser.add_argument("--smoke", action="store_true", help="1,000 and 3,000 documents, 1 s cases")
    parser.add_argument("--output", type=Path, default=HERE / "SCALE.md")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the rows of the stores not run from the last run's figures (the .json)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="write the report and chart again from a run's figures (the .json it wrote)",
    )
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if args.render:
        rows, stamps = load(args.render, args)
        report(rows, args, stamps)
        return 0
    if args.smoke:
        args.sizes, args.duration, args.samples = [1000, 3000], 1.0, 5
    if shutil.which("wrk") is None:
        raise SystemExit("scale: needs wrk (Debian: apt-get install wrk)")
    names = {"sqlite": "SQLite", "redis": "Redis", "cluster": "Redis Cluster"}
    unknown = set(args.stores.split(",")) - set(names)
    if unknown:
        raise SystemExit(f"scale: unknown stores {sorted(unknown)}: choose from {sorted(names)}")
    run = [names[store] for store in args.stores.split(",")]
    rows: list[Row] = []
    stamps: dict[str, str] = {}
    figures = args.output.with_suffix(".json")
    if args.keep and figures.exists():
        kept, kept_stamps = load(figures, args)
        rows = [row for row in kept if row.store not in run]
        stamps = {store: stamp for store, stamp in kept_stamps.items() if store not in run}
    bodies = Bodies()
    for store in run:
        rows += run_store(store, args, bodies)
        stamps[store] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    figures.write_text(
        json.dumps(
            {
                "duration": args.duration,
                "samples": args.samples,
                "stamps": stamps,
                "rows": [vars(row) for row in rows],
            },
            indent=1,
        )
    )
    report(rows, args, stamps)
    return 0


def load(figures: Path, args: argparse.Namespace) -> tuple[list[Row], dict[str, str]]:
    """A run's rows and when each store was measured (its wrk and page settings into args)."""
    saved = json.loads(figures.read_text())
    args.duration, args.samples = saved["duration"], saved["samples"]
    rows = [Row(**row) for row in saved["rows"]]
    return rows, saved["stamps"]


def report(rows: list[Row], args: argparse.Namespace, stamps: dict[str, str]) -> None:
    chart_path = args.output.with_suffix(".png")
    chart(rows, chart_path)
    args.output.write_text(render(rows, args, chart_path.name, stamps))
    print(f"wrote {args.output} and {chart_path}")


if __name__ == "__main__":
    raise SystemExit(main())
