"""`pathkv export`, `import` and `sweep` as commands, on both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.servers import PathkvServer, RedisServer


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pathkv", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(params=["sqlite", "redis"])
def store_urls(
    request: pytest.FixtureRequest, tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> tuple[str, str, dict[str, str]]:
    """A source and a target store URL (for Redis: one server, two key prefixes)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}", {}
    server = next(iter(redis_servers.values()))
    return (
        server.url,
        server.url.replace("/0", "/1"),
        {"PATHKV_REDIS_PREFIX": f"cli{uuid.uuid4().hex[:6]}:"},
    )


def test_export_import_and_sweep(
    store_urls: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    source, target, env = store_urls
    server = PathkvServer(source, env={**env, "PATHKV_SWEEP_INTERVAL": "0"})
    server.start()
    try:
        with httpx.Client(base_url=server.base) as client:
            for i in range(5):
                client.put(f"/docs/{i}", json={"i": i, "big": 2**70})
            client.put("/docs/0", json={"i": 0, "v": 2})
            client.get("/docs/1")
            client.put("/short/1", params={"ttl": "1"}, json={"gone": True})
            client.put("/short/2", params={"ttl": "1"}, json={"gone": True})
            time.sleep(1.0)
    finally:
        server.stop()
    time.sleep(0.2)
    removed = json.loads(cli("sweep", "--store", source, env=env).stdout)["removed"]
    assert removed == 2
    again = json.loads(cli("sweep", "--store", source, env=env).stdout)
    assert again["removed"] == 0 and again["seconds"] >= 0

    dump = tmp_path / "dump.jsonl"
    result = cli("export", "--store", source, "-o", str(dump), env=env)
    assert json.loads(result.stderr.strip().splitlines()[-1]) == {"exported": 5}
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert [line["path"] for line in lines] == [f"/docs/{i}" for i in range(5)]
    first = lines[0]
    assert first["data"] == {"i": 0, "v": 2} and first["version"] == 2
    assert lines[1]["hits"] == 1 and lines[1]["data"]["big"] == 2**70

    result = cli("import", "--store", target, "-i", str(dump), env=env)
    assert json.loads(result.stderr.strip()) == {
        "restored": 5,
        "skipped": 0,
        "accounts": 0,
        "refused": 0,
        "refused_lines": [],
    }
    result = cli("import", "--store", target, "-i", str(dump), env=env)
    assert json.loads(result.stderr.strip())["skipped"] == 5
    copy = tmp_path / "copy.jsonl"
    cli("export", "--store", target, "-o", str(copy), env=env)
    assert copy.read_text() == dump.read_text()


def test_import_refuses_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "/a"}\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pathkv",
            "import",
            "--store",
            f"sqlite:///{tmp_path / 'x.db'}",
            "-i",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "line 1" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["export", "sweep"])
def test_maintenance_on_a_missing_file_fails_without_creating_it(
    tmp_path: Path, command: str
) -> None:
    missing = tmp_path / "typo" / "pathkv.db"
    result = subprocess.run(
        [sys.executable, "-m", "pathkv", command, "--store", f"sqlite:///{missing}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"pathkv: error: no pathkv database at {missing}"
    assert not missing.exists() and not missing.parent.exists()


def test_the_home_directory_url_of_the_readme_works(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = {"HOME": str(tmp_path)}
    url = "sqlite:///~/data/pathkv.db"
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"path":"/h","data":{"a":1},"version":1,"last_updated_ms":1,'
        f'"expires_at_ms":{(int(time.time()) + 3600) * 1000},"hits":0}}\n'
    )
    cli("import", "--store", url, "-i", str(lines), env=env)
    assert (tmp_path / "data" / "pathkv.db").exists()
    result = cli("export", "--store", url, env=env)
    assert '"path":"/h"' in result.stdout
