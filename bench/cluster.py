"""pathkv on a Redis Cluster (3 primaries, 3 replicas, the keyspace in 16 buckets) against
pathkv on one Redis (one bucket, the default there, and 16 buckets, to tell the layout's cost
from the cluster's), in the same run: GET item, PUT, GET /, a /-/keys page and the top hits,
with wrk at 64 connections, and how many script calls and commands each request cost over
every primary (INFO commandstats before and after each case).

Writes bench/CLUSTER.md. ``--smoke``: 1 s per case.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
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


def all_calls(nodes: list[RedisServer]) -> dict[str, int]:
    """calls per command, summed over nodes."""
    total: dict[str, int] = {}
    for node in nodes:
        for name, calls in command_calls(node).items():
            total[name] = total.get(name, 0) + calls
    return total


def primaries_served(nodes: list[RedisServer], before: list[dict[str, int]]) -> int:
    """How many of the nodes ran scripts since before."""
    return sum(
        1
        for node, then in zip(nodes, before, strict=True)
        if sum(command_calls(node).get(c, 0) - then.get(c, 0) for c in SCRIPT_COMMANDS) > 0
    )


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
    cluster = RedisCluster(binary, workdir / "cluster", extra=("--appendonly", "no"))
    rows: list[Row] = []
    try:
        single.start()
        cluster.start()
        for label, url, nodes, buckets in (
            ("one Redis, 1 bucket", single.url, [single], "1"),
            ("one Redis, 16 buckets", single.url, [single], "16"),
            ("Redis Cluster (3+3), 16 buckets", cluster.url, cluster.nodes[:3], "16"),
        ):
            port = free_port()
            serve = [sys.executable, "-m", "pathkv", "serve", "--workers", "2", "--pin-workers"]
            env = {
                "PATHKV_LOG_LEVEL": "WARNING",
                "PATHKV_REDIS_PREFIX": f"bench{buckets}:",
                "PATHKV_REDIS_BUCKETS": buckets,
            }
            server = bench.Process(
                [*serve, "--store", url, "--port", str(port)], env, port, workdir / "server.log"
            )
            try:
                for n in range(200):
                    bench.http(port, "PUT", f"/bench/{n:04d}", bench.SMALL_DOC)
                assert bench.http(port, "PUT", bench.ITEM, bench.SMALL_DOC)[0] in (200, 201)
                for case, (path, script) in CASES.items():
                    each = [command_calls(node) for node in nodes]
                    before = all_calls(nodes)
                    cpu = sum(cpu_seconds(node) for node in nodes)
                    result = bench.run_wrk(
                        port, path, script, args.duration, args.connections, workdir
                    )
                    after = all_calls(nodes)
                    cpu = sum(cpu_seconds(node) for node in nodes) - cpu
                    served = primaries_served(nodes, each)
                    requests = max(1.0, result.rps * max(1, round(args.duration)))
                    scripts = sum(after.get(c, 0) - before.get(c, 0) for c in SCRIPT_COMMANDS)
                    commands = sum(after.values()) - sum(before.values())
                    micros = cpu * 1e6 / requests
                    rows.append(
                        Row(label, case, result, scripts / requests, commands / requests, micros)
                    )
                    rows[-1].served = served
                    print(
                        f"{label:32} {case:10} {result.rps:9.0f} req/s p99 "
                        f"{result.p99_ms:6.2f} ms  scripts/request {scripts / requests:.3f}  "
                        f"commands/request {commands / requests:.3f}  Redis CPU {micros:.1f} us"
                        f"  primaries {served}",
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


@dataclass
class Row:
    label: str
    case: str
    result: bench.Result
    scripts: float
    commands: float
    micros: float
    served: int = 0


def render(rows: list[Row], args: argparse.Namespace, redis: str) -> str:
    lines = [
        "# pathkv on a Redis Cluster against one Redis",
        "",
        f"Generated by `python bench/cluster.py`: {args.connections} connections, "
        f"{args.duration:g} s per case, wrk (2 threads), pathkv with 2 pinned workers, "
        f"{redis} servers without persistence, all on one {platform.machine()} machine with "
        "2 cores (the cluster's six nodes share them with pathkv and wrk).",
        "",
        "| pathkv on | case | req/s | p50 ms | p99 ms | non-2xx | script calls / request "
        "| commands / request | Redis CPU µs / request | primaries that ran scripts |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        result = row.result
        lines.append(
            f"| {row.label} | {row.case} | {result.rps:,.0f} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {result.non_2xx} | {row.scripts:.3f} | {row.commands:.3f} | "
            f"{row.micros:.1f} | {row.served} |"
        )
    lines += [
        "",
        "Script calls and commands are counted on every primary (INFO commandstats before",
        "and after each case, summed) and divided by the requests wrk completed; commands",
        "include those the scripts run (redis.call), and the health checks'. A script call",
        "per request below 1: requests that arrive together in one bucket share one script",
        "call (a batch), so a GET or a PUT costs at most one script call, on one node; a",
        "listing page or the ranking costs one per bucket. The counter (`GET /`) is one",
        "INCRBY for many requests. Redis CPU per request: the primaries' CPU time (INFO",
        "cpu) over the case, per request completed.",
        "",
        (HERE / "cluster_notes.md").read_text().strip()
        if (HERE / "cluster_notes.md").exists()
        else "",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
