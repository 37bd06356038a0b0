"""A seconds-long run of the benchmark script, to keep it working. It asserts no speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def smoke_run(tmp_path: Path, script: str, *args: str) -> str:
    """Run a benchmark script with --smoke; its report."""
    output = tmp_path / "report.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke", *args, "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output.read_text()


@pytest.mark.parametrize("generator", ["auto", "python"])
def test_benchmark_smoke(tmp_path: Path, generator: str) -> None:
    report = smoke_run(tmp_path, "run.py", "--load-generator", generator)
    for server in ("baseline", "pathkv on Redis", "pathkv on SQLite"):
        for case in ("GET item", "PUT", "GET /", "90/10 mix"):
            row = re.search(
                rf"\| {re.escape(server)}[^|]* \| {re.escape(case)} \| ([\d,]+) \|"
                r".* \| (\d+) \|\n",
                report,
            )
            assert row, f"no row for {server} / {case}"
            assert int(row.group(1).replace(",", "")) > 0
            assert row.group(2) == "0", f"non-2xx answers for {server} / {case}"
    for store in ("Redis", "SQLite"):
        for variant in ("quota", "quota and rate limit"):
            server = f"pathkv on {store}, auth on: tenant token, {variant}"
            for case in ("GET item", "PUT"):
                row = re.search(
                    rf"\| {re.escape(server)} \| {re.escape(case)} \| ([\d,]+) \|.* \| (\d+) \|\n",
                    report,
                )
                assert row and row.group(2) == "0", f"{server} / {case}"
                assert re.search(
                    rf"\| {re.escape(server)} \| {re.escape(case)} \| [\d.]+ \|", report
                )
    assert "RSS per worker" in report
    assert re.search(r"\| sensor JSON \| [\d,]+ \|", report)
    assert re.search(r"\| random base64 \| [\d,]+ \|", report)


def test_watch_benchmark_smoke(tmp_path: Path) -> None:
    report = smoke_run(tmp_path, "watch.py")
    for store in ("Redis", "SQLite"):
        row = re.search(rf"^\| {store} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", report, re.M)
        assert row, f"no row for {store}"
        assert float(row.group(3)) == 1.0, "every event must reach its watcher"


def test_scale_benchmark_smoke(tmp_path: Path) -> None:
    smoke_run(tmp_path, "scale.py")
    # A second run of the cluster alone keeps the first run's rows beside its own.
    report = smoke_run(tmp_path, "scale.py", "--stores", "cluster", "--keep")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert re.search(r"UTC \(Redis\) and .* UTC \(Redis Cluster\) and .* UTC \(SQLite\)", report)
    for store in ("Redis", "Redis Cluster", "SQLite"):
        section = report.split(f"## {store}\n", 1)[1].split("\n## ", 1)[0]
        assert re.search(r"^\| figure \| 1,000 \| 3,000 \|$", section, re.M), section
        for figure in ("GET req/s", "PUT p99 ms", "level page ms", "sweep s", "import docs/s"):
            row = re.search(
                rf"^\| {re.escape(figure)} \| ([\d.,]+) \| ([\d.,]+) \|$", section, re.M
            )
            assert row, f"no {figure} for {store}"
    assert "| Redis | Redis B/doc |" in report and "| SQLite | SQLite B/doc |" in report
    assert "| Redis Cluster | Redis B/doc |" in report


def test_cluster_benchmark_smoke(tmp_path: Path) -> None:
    report = smoke_run(tmp_path, "cluster.py")
    for server in (
        "one Redis, 1 bucket",
        "one Redis, 16 buckets",
        "Redis Cluster (3+3), 16 buckets",
    ):
        for case in ("GET item", "PUT", "GET /", "keys page", "top hits"):
            row = re.search(
                rf"^\| {re.escape(server)} \| {re.escape(case)} \| ([\d,]+) \|.* \| (\d+) \| "
                r"([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \|$",
                report,
                re.M,
            )
            assert row, f"no row for {server} / {case}"
            assert int(row.group(1).replace(",", "")) > 0 and row.group(2) == "0"
            if case in ("GET item", "PUT"):
                assert float(row.group(3)) <= 1.0, "a GET or PUT costs at most one script call"
            if server.startswith("Redis Cluster") and case == "PUT":
                assert row.group(6) == "3", "PUTs of many paths reach every primary"
