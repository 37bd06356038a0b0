"""pathkv on a Redis Cluster (3 primaries, 3 replicas) against pathkv on one Redis, in the same
run: GET item, PUT, GET /, a /-/keys page and the top hits, with wrk at 64 connections, and
how many script calls and commands each request cost on the node that served it (INFO
commandstats before and after each case).

Every key of pathkv's lives under one hash tag, so one slot (README, "Redis Cluster"): the
cluster's cost is the cluster client's routing, not more round trips, and its throughput is
one primary's. Writes bench/CLUSTER.md. ``--smoke``: 1 s per case.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from tests.servers import RedisCluster, RedisServer, free_port, redis_binaries  # noqa: E402

import run as bench  # noqa: E402

CASES = {
    "GET item": (bench.ITEM, None),
    "PUT": (bench.ITEM, bench.CASES["PUT"]),
    "GET /": ("/", None),
    "keys page": ("/-/keys?prefix=/bench/&limit=50", None),
    "top hits": ("/-/hits?limit=10", None),
}
# The commands a request's work is done with (scripts, and the few plain ones).
SCRIPT_COMMANDS = ("evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro")


def command_calls(node: RedisServer) -> dict[str, int]:
    """calls per command, from INFO commandstats."""
    text = node.command("INFO", "commandstats").decode("latin-1")
    return {
        name.split("|")[0]: int(calls)
        for name, calls in re.findall(r"cmdstat_([a-z_|]+):calls=(\d+)", text)
    }


def cpu_seconds(node: RedisServer) -> float:
    """The CPU time the server has used (INFO cpu: user and system, main thread included)."""
    text = node.command("INFO", "cpu").decode("latin-1")
    found = dict(re.findall(r"(used_cpu_(?:user|sys)):([\d.]+)", text))
    return float(found["used_cpu_user"]) + float(found["used_cpu_sys"])


def serving_node(nodes: list[RedisServer]) -> RedisServer:
    """The node that holds pathkv's keys (its slot's primary; the only node on one Redis)."""
    for node in nodes:
        if b"bench" in node.command("KEYS", "*bench*"):
            return node
    return nodes[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--smoke", action="store_true", help="1 s per case")
    parser.add_argument("--output", type=Path, default=HERE / "CLUSTER.md")
    args = parser.parse_args()
    if args.smoke:
        args.duration = 1.0
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed")
    binaries = redis_binaries()
    name, binary = next(iter(binaries.items()))
    workdir = Path(tempfile.mkdtemp(prefix="pathkv-cluster-bench-"))
    single = RedisServer(binary, workdir / "single", extra=("--appendonly", "no"))
    cluster = RedisCluster(binary, workdir / "cluster")
    rows: list[tuple[str, str, bench.Result, float, float, float]] = []
    try:
        single.start()
        cluster.start()
        for label, url, nodes in (
            ("pathkv on one Redis", single.url, [single]),
            ("pathkv on a Redis Cluster (3+3)", cluster.url, cluster.nodes),
        ):
            port = free_port()
            serve = [sys.executable, "-m", "pathkv", "serve", "--workers", "2", "--pin-workers"]
            server = bench.Process(
                [*serve, "--store", url, "--port", str(port)],
                {"PATHKV_LOG_LEVEL": "WARNING", "PATHKV_REDIS_PREFIX": "bench:"},
                port,
                workdir / "server.log",
            )
            try:
                for n in range(200):
                    bench.http(port, "PUT", f"/bench/{n:04d}", bench.SMALL_DOC)
                assert bench.http(port, "PUT", bench.ITEM, bench.SMALL_DOC)[0] in (200, 201)
                node = serving_node(nodes)
                for case, (path, script) in CASES.items():
                    before, cpu = command_calls(node), cpu_seconds(node)
                    result = bench.run_wrk(
                        port, path, script, args.duration, args.connections, workdir
                    )
                    after, cpu = command_calls(node), cpu_seconds(node) - cpu
                    requests = max(1.0, result.rps * max(1, round(args.duration)))
                    scripts = sum(after.get(c, 0) - before.get(c, 0) for c in SCRIPT_COMMANDS)
                    commands = sum(after.values()) - sum(before.values())
                    micros = cpu * 1e6 / requests
                    rows.append(
                        (label, case, result, scripts / requests, commands / requests, micros)
                    )
                    print(
                        f"{label:34} {case:10} {result.rps:9.0f} req/s p99 "
                        f"{result.p99_ms:6.2f} ms  scripts/request {scripts / requests:.3f}  "
                        f"commands/request {commands / requests:.3f}  Redis CPU {micros:.1f} us",
                        flush=True,
                    )
            finally:
                server.stop()
    finally:
        cluster.stop()
        single.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    args.output.write_text(render(rows, args, name))
    return 0


def render(
    rows: list[tuple[str, str, bench.Result, float, float, float]],
    args: argparse.Namespace,
    redis: str,
) -> str:
    lines = [
        "# pathkv on a Redis Cluster against one Redis",
        "",
        f"Generated by `python bench/cluster.py`: {args.connections} connections, "
        f"{args.duration:g} s per case, wrk (2 threads), pathkv with 2 pinned workers, "
        f"{redis} servers without persistence, all on one {platform.machine()} machine with "
        "2 cores (the cluster's six nodes share them with pathkv and wrk).",
        "",
        "| server | case | req/s | p50 ms | p99 ms | non-2xx | script calls / request "
        "| commands / request | Redis CPU µs / request |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, case, result, scripts, commands, micros in rows:
        lines.append(
            f"| {label} | {case} | {result.rps:,.0f} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {result.non_2xx} | {scripts:.3f} | {commands:.3f} | "
            f"{micros:.1f} |"
        )
    lines += [
        "",
        "Script calls and commands are counted on the node that holds pathkv's slot (INFO",
        "commandstats before and after each case) and divided by the requests wrk completed;",
        "commands include those the scripts run (redis.call), and the health checks'. A",
        "script call per request below 1: requests that arrive together share one script",
        "call (a batch), so a GET or a PUT costs at most one script call, on one node; the",
        "counter (`GET /`) is one INCRBY for many requests. The other primaries receive none",
        "of pathkv's requests: every key is under one hash tag. Redis CPU per request: the",
        "serving node's CPU time (INFO cpu) over the case, per request completed.",
        "",
        (HERE / "cluster_notes.md").read_text().strip()
        if (HERE / "cluster_notes.md").exists()
        else "",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
