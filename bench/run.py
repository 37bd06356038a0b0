"""pathkv against the original tutorial service, and the ceiling, in one run.

    python bench/run.py            # full run (about 3 minutes), writes bench/RESULTS.md
    python bench/run.py --smoke    # seconds-long check that the script works

Everything listens on 127.0.0.1 only; every load is bounded in time; the script stops
exactly the processes it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from tests.servers import free_port, redis_binaries, wait_for_port  # noqa: E402

import loadgen  # noqa: E402

ITEM = "/bench/item"
SMALL_DOC = '{"temp":21.5,"unit":"C","room":"kitchen"}'  # flat: the baseline fails on nesting

# Request text is built by plain concatenation: wrk.format() per request cost the load
# generator, which shares the cores with the servers, about 2.5 us more per request.
WRK_PUT = """
local n = 0
local head, mid
setup = function(thread) thread:set("tid", tostring(math.random(1, 1e9))) end
init = function(args)
  head = "PUT /bench/put/" .. tid .. "/"
  mid = " HTTP/1.1\\r\\nHost: " .. wrk.host .. ":" .. wrk.port ..
    "\\r\\nEXTRAContent-Type: application/json\\r\\nContent-Length: "
end
request = function()
  n = n + 1
  local body = '{"temp":21.5,"n":' .. n .. '}'
  return head .. n .. mid .. #body .. "\\r\\n\\r\\n" .. body
end
"""
WRK_MIX = """
local n = 0
local head, mid, get
setup = function(thread) thread:set("tid", tostring(math.random(1, 1e9))) end
init = function(args)
  local host = "Host: " .. wrk.host .. ":" .. wrk.port .. "\\r\\nEXTRA"
  head = "PUT /bench/mix/" .. tid .. "/"
  mid = " HTTP/1.1\\r\\n" .. host .. "Content-Type: application/json\\r\\nContent-Length: "
  get = "GET ITEM HTTP/1.1\\r\\n" .. host .. "\\r\\n"
end
request = function()
  n = n + 1
  if n % 10 == 0 then
    local body = '{"temp":21.5,"n":' .. n .. '}'
    return head .. n .. mid .. #body .. "\\r\\n\\r\\n" .. body
  end
  return get
end
""".replace("ITEM", ITEM)
CASES = {"GET item": None, "PUT": WRK_PUT, "GET /": None, "90/10 mix": WRK_MIX}
# What the cost of authentication is measured on (against the same store with auth off).
AUTH_CASES = ("GET item", "PUT")
BENCH_ADMIN = "bench-admin-token-0123456789abcdef"
# A quota that never refuses and a rate that never limits: their accounting is what costs.
BENCH_TENANT = {
    "quota": {"documents": 10**12, "bytes": 10**15, "document_bytes": 1024 * 1024},
    "rate": None,
}
BENCH_RATE = {"requests": 10**9, "window": 60}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def median(runs: list[Result]) -> Result:
    """Median of each figure over the runs of one case (non-2xx: the total)."""
    return Result(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.non_2xx for r in runs),
    )


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"unexpected latency {text!r} in wrk's output")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(
    port: int,
    path: str,
    script: str | None,
    seconds: float,
    connections: int,
    workdir: Path,
    header: str = "",
) -> Result:
    """header: one more request header line (``Authorization: Bearer ...``), or none."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if script:
        lua = workdir / "case.lua"
        lua.write_text(script.replace("EXTRA", header + "\\r\\n" if header else ""))
        command += ["-s", str(lua)]
    elif header:
        command += ["-H", header]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
        p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
        p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    except (AttributeError, ValueError) as exc:
        raise SystemExit(f"bench: cannot read wrk's output ({exc}):\n{output}") from None
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failures = int(non_2xx.group(1)) if non_2xx else 0
    if errors:
        failures += sum(int(g) for g in errors.groups())
    return Result(rps, p50, p99, failures)


def run_loadgen(port: int, case: str, seconds: float, connections: int, header: str = "") -> Result:
    extra = (header + "\r\n").encode() if header else b""

    def make(n: int) -> bytes:
        put = case == "PUT" or (case == "90/10 mix" and n % 10 == 0)
        if put:
            body = b'{"temp":21.5,"n":%d}' % n
            return (
                b"PUT /bench/put/%d HTTP/1.1\r\nHost: b\r\n%sContent-Type: application/json"
                b"\r\nContent-Length: %d\r\n\r\n%s" % (n, extra, len(body), body)
            )
        path = b"/" if case == "GET /" else ITEM.encode()
        return b"GET %s HTTP/1.1\r\nHost: b\r\n%s\r\n" % (path, extra)

    out = loadgen.run(port, make, connections, seconds)
    lat = sorted(out.latencies) or [0.0]
    return Result(
        out.requests / seconds,
        lat[len(lat) // 2] * 1000,
        lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        out.non_2xx + out.errors,
    )


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            listed = (task / "children").read_text().split()
        except OSError:  # the thread ended meanwhile
            continue
        for child in listed:
            found.append(int(child))
            found.extend(children(int(child)))
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Process:
    """A server process this script started, and only that one, stopped on exit.

    Each server gets its own process group (so it can be stopped whole) but stays in this
    script's session: Linux autogroup scheduling shares the CPU fairly between sessions,
    so a server in a session of its own would get a third of the machine against wrk and
    Redis instead of its share by threads, and p99 would measure the scheduler.
    """

    def __init__(self, command: list[str], env: dict[str, str], port: int, log: Path) -> None:
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=out, stderr=out, process_group=0
            )
        wait_for_port(port, 30, self.proc)

    def worker_rss(self) -> float:
        workers = [p for p in children(self.proc.pid) if rss_mib(p) > 0] or [self.proc.pid]
        return sum(rss_mib(p) for p in workers) / len(workers)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def http(
    port: int, method: str, path: str, body: str | None = None, header: str = ""
) -> tuple[int, bytes]:
    import http.client

    headers = {"Content-Type": "application/json"}
    if header:
        name, _, value = header.partition(": ")
        headers[name] = value
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers)
    answer = conn.getresponse()
    status, content = answer.status, answer.read()
    conn.close()
    return status, content


def tenant_token(port: int, rate: dict[str, int] | None) -> str:
    """A tenant (with a quota, and rate when given) and a token for it, made with the
    admin token: the Authorization header the auth cases send."""
    admin = f"Authorization: Bearer {BENCH_ADMIN}"
    status, _ = http(
        port, "PUT", "/-/tenants/bench", json.dumps({**BENCH_TENANT, "rate": rate}), admin
    )
    assert status in (200, 201), status
    request = {"tenant": "bench", "scopes": [{"prefix": "/bench", "allow": ["read", "write"]}]}
    status, content = http(port, "POST", "/-/tokens", json.dumps(request), admin)
    assert status == 201, (status, content)
    return f"Authorization: Bearer {json.loads(content)['token']}"


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    cases: tuple[str, ...] = tuple(CASES)
    auth_rate: dict[str, int] | None = None
    """For the auth cases: the rate the tenant is under (None: a quota only)."""
    auth: bool = False


def servers(redis_port: int, workdir: Path) -> Iterator[Server]:
    python = sys.executable
    yield Server(
        "baseline: tutorial Flask app, gunicorn 2 sync workers",
        [python, "-m", "gunicorn", "-w", "2", "--chdir", str(HERE), "baseline_app:app"],
        {"REDIS_PORT": str(redis_port)},
    )
    quiet = {"PATHKV_LOG_LEVEL": "WARNING", "PATHKV_SHUTDOWN_DELAY": "0"}
    serve = [python, "-m", "pathkv", "serve", "--workers", "2", "--pin-workers", "--store"]
    auth = {**quiet, "PATHKV_AUTH": "on", "PATHKV_ADMIN_TOKEN": BENCH_ADMIN}
    for store, url, env in (
        ("Redis", f"redis://127.0.0.1:{redis_port}/0", {"PATHKV_REDIS_PREFIX": "bench:"}),
        ("SQLite", f"sqlite:///{workdir / 'bench.db'}", {}),
    ):
        yield Server(f"pathkv on {store} (2 pinned workers)", [*serve, url], {**quiet, **env})
        yield Server(
            f"pathkv on {store}, auth on: tenant token, quota",
            [*serve, url],
            {**auth, **env},
            AUTH_CASES,
            auth=True,
        )
        yield Server(
            f"pathkv on {store}, auth on: tenant token, quota and rate limit",
            [*serve, url],
            {**auth, **env},
            AUTH_CASES,
            BENCH_RATE,
            auth=True,
        )


def start_redis(binary: Path, workdir: Path) -> tuple[Process, int]:
    """A Redis of the benchmark's own on a free loopback port, without persistence."""
    port = free_port()
    command = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir)]
    return Process(command, {}, port, workdir / "redis.log"), port


def redis_ceiling(port: int, requests: int) -> dict[str, float]:
    binary = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
    if binary is None:
        return {}
    output = subprocess.run(
        [
            binary,
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            "64",
            "-n",
            str(requests),
            "-t",
            "get,set,incr",
            "--csv",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = {}
    for line in output.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells and cells[0] in ("GET", "SET", "INCR"):
            found[cells[0]] = float(cells[1])
    return found


def redis_info_memory(port: int) -> int:
    out = subprocess.run(
        [redis_cli(), "-p", str(port), "info", "memory"], capture_output=True, text=True, check=True
    ).stdout
    return int(re.search(r"used_memory:(\d+)", out).group(1))  # type: ignore[union-attr]


def redis_cli() -> str:
    found = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if found:
        return found
    binary = next(iter(redis_binaries().values()))
    for name in ("redis-cli", "valkey-cli"):
        if (binary.parent / name).exists():
            return str(binary.parent / name)
    raise SystemExit("bench: no redis-cli found")


def sample_document(index: int, rng: random.Random, incompressible: bool) -> bytes:
    """A 1 KiB JSON document: sensor readings with random values, or random base64 text."""
    if incompressible:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        return ('{"blob":"' + "".join(rng.choices(alphabet, k=1024 - 11)) + '"}').encode()
    else:
        doc = {
            "device": f"sensor-{index:07d}",
            "site": "B7",
            "firmware": "2.4.1",
            "readings": [
                {
                    "t": 1795343555 + 60 * i,
                    "temp": round(rng.uniform(15, 30), 2),
                    "hum": round(rng.uniform(20, 80), 1),
                    "ok": rng.random() > 0.1,
                }
                for i in range(13)
            ],
        }
    body = json.dumps(doc, separators=(",", ":"))
    body = body[:-1] + ',"pad":"' + "p" * max(0, 1024 - len(body) - 9) + '"}'
    return body.encode()


def memory_per_document(port: int, count: int, incompressible: bool) -> float:
    """Bytes of Redis memory per 1 KiB document, stored through pathkv's own store."""
    from pathkv.config import Settings
    from pathkv.core.contract import Write
    from pathkv.core.documents import digest
    from pathkv.core.namespaces import DEFAULT
    from pathkv.core.service import now_ms
    from pathkv.stores.registry import open_store

    subprocess.run([redis_cli(), "-p", str(port), "flushall"], check=True, capture_output=True)
    before = redis_info_memory(port)
    rng = random.Random(7)

    async def fill() -> None:
        store = open_store(Settings(store=f"redis://127.0.0.1:{port}/0"))
        await store.open()
        for start in range(0, count, 1000):
            now = now_ms()
            writes = []
            for i in range(start, min(count, start + 1000)):
                body = sample_document(i, rng, incompressible)
                assert len(body) == 1024, len(body)
                writes.append(
                    Write(
                        f"/sensors/device-{i:07d}",
                        body,
                        digest(body),
                        now,
                        now + 365 * 86400 * 1000,
                    )
                )
            await asyncio.gather(*(store.put(DEFAULT, w, None) for w in writes))
        await store.close()

    asyncio.run(fill())
    return (redis_info_memory(port) - before) / count


def versions() -> dict[str, str]:
    import importlib.metadata as md

    found = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "kernel": platform.release(),
    }
    for package in (
        "pathkv",
        "granian",
        "uvloop",
        "valkey-glide",
        "msgpack",
        "orjson",
        "flask",
        "gunicorn",
        "redis",
    ):
        try:
            found[package] = md.version(package)
        except md.PackageNotFoundError:
            found[package] = "-"
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--documents", type=int, default=100_000, help="documents stored to measure Redis memory"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per case; the table gives the medians"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="1 s per case, one run, 1,000 documents"
    )
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="auto: wrk when installed, else bench/loadgen.py",
    )
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.documents, args.repeat = 1.0, 1000, 1
    use_wrk = args.load_generator == "wrk" or (
        args.load_generator == "auto" and shutil.which("wrk") is not None
    )
    generator = "wrk (2 threads)" if use_wrk else "bench/loadgen.py (Python, slower than wrk)"
    binaries = redis_binaries()
    if not binaries:
        raise SystemExit("bench: no redis-server found (install redis-server or the test extras)")
    redis_name, redis_binary = next(iter(binaries.items()))

    workdir = Path(tempfile.mkdtemp(prefix="pathkv-bench-"))
    redis, redis_port = start_redis(redis_binary, workdir)
    table: dict[str, dict[str, Result]] = {}
    rss: dict[str, float] = {}
    try:
        for spec in servers(redis_port, workdir):
            name, command, env = spec.name, spec.command, spec.env
            port = free_port()
            server = Process(
                [
                    *command,
                    *(
                        ["-b", f"127.0.0.1:{port}"]
                        if "gunicorn" in command
                        else ["--port", str(port)]
                    ),
                ],
                env,
                port,
                workdir / "server.log",
            )
            try:
                header = tenant_token(port, spec.auth_rate) if spec.auth else ""
                assert http(port, "PUT", ITEM, SMALL_DOC, header)[0] in (200, 201)
                table[name] = {}
                for case in spec.cases:
                    script = CASES[case]
                    path = "/" if case == "GET /" else ITEM
                    runs = []
                    for _ in range(args.repeat):
                        if use_wrk:
                            runs.append(
                                run_wrk(
                                    port,
                                    path,
                                    script,
                                    args.duration,
                                    args.connections,
                                    workdir,
                                    header,
                                )
                            )
                        else:
                            runs.append(
                                run_loadgen(port, case, args.duration, args.connections, header)
                            )
                    result = median(runs)
                    table[name][case] = result
                    print(
                        f"{name:55} {case:10} {result.rps:10.0f} req/s  p50 "
                        f"{result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"non-2xx {result.non_2xx}",
                        flush=True,
                    )
                rss[name] = server.worker_rss()
            finally:
                server.stop()
        ceiling = redis_ceiling(redis_port, 20_000 if args.smoke else 200_000)
        memory = {
            kind: memory_per_document(redis_port, args.documents, kind == "random base64")
            for kind in ("sensor JSON", "random base64")
        }
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    report = render(table, rss, ceiling, memory, args, generator, redis_name)
    print(report)
    args.output.write_text(report)
    return 0


def auth_cost(table: dict[str, dict[str, Result]]) -> list[str]:
    """What authentication costs: each auth case's throughput over the same store's with
    auth off, in this run."""
    lines = [
        "",
        "Authentication's cost: throughput with auth on (a tenant token; its quota checked with",
        "every write; with and without a rate limit) over auth off, same store, same run.",
        "",
        "| server | case | auth on / off |",
        "|---|---|---:|",
    ]
    for name, cases in table.items():
        if ", auth on:" not in name:
            continue
        plain = table.get(name.split(",", 1)[0] + " (2 pinned workers)", {})
        for case, result in cases.items():
            if case in plain and plain[case].rps:
                lines.append(f"| {name} | {case} | {result.rps / plain[case].rps:.2f} |")
    return lines


def render(
    table: dict[str, dict[str, Result]],
    rss: dict[str, float],
    ceiling: dict[str, float],
    memory: dict[str, float],
    args: argparse.Namespace,
    generator: str,
    redis_name: str,
) -> str:
    baseline = next(iter(table.values()))
    lines = [
        "# pathkv benchmark results",
        "",
        f"Generated by `python bench/run.py{' --smoke' if args.smoke else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.connections} connections,"
        f" {args.duration:g} s per run, medians of {args.repeat} run(s) per case, load "
        f"generator {generator}, all on 127.0.0.1, one "
        f"Redis ({redis_name}, no persistence) shared by every server.",
        "",
        "| server | case | req/s | x baseline | p50 ms | p99 ms | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, cases in table.items():
        for case, r in cases.items():
            ratio = r.rps / baseline[case].rps if baseline[case].rps else 0.0
            lines.append(
                f"| {name} | {case} | {r.rps:,.0f} | {ratio:.2f}x | {r.p50_ms:.2f} | "
                f"{r.p99_ms:.2f} | {r.non_2xx} |"
            )
    lines += auth_cost(table)
    lines += ["", "| server | RSS per worker (MiB) |", "|---|---:|"]
    lines += [f"| {name} | {value:.1f} |" for name, value in rss.items()]
    lines += ["", "| ceiling: redis-benchmark, 64 clients | req/s |", "|---|---:|"]
    lines += [f"| {k} | {v:,.0f} |" for k, v in ceiling.items()] or ["| (not installed) | - |"]
    lines += [
        "",
        f"Redis memory per stored 1 KiB document (INFO used_memory delta over "
        f"{args.documents:,} documents, index included):",
        "",
        "| document | bytes | KiB |",
        "|---|---:|---:|",
    ]
    lines += [f"| {kind} | {value:,.0f} | {value / 1024:.2f} |" for kind, value in memory.items()]
    lines += ["", "| version | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in versions().items()]
    findings = HERE / "findings.md"
    if findings.exists():
        lines += ["", findings.read_text().rstrip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
