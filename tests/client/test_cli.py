"""The command line over HTTP (`pathkv get/put/rm/ls/hits/watch/tenant/token`) against a real
`pathkv serve`, as a user runs it: a process, its output, its exit code."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathkv.client import Client
from tests.client.conftest import ADMIN
from tests.servers import PathkvServer, free_port


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pathkv", *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def tenant_env(server: PathkvServer, admin: Client) -> Iterator[dict[str, str]]:
    """PATHKV_URL and PATHKV_TOKEN of a tenant of its own."""
    name = "cli" + uuid.uuid4().hex[:8]
    admin.put_tenant(name)
    yield {"PATHKV_URL": server.base, "PATHKV_TOKEN": admin.create_token(name)["token"]}
    admin.delete_tenant(name)


def one_line_error(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pathkv: error: "), result.stderr
    assert fragment in lines[0], lines[0]


def test_put_get_ls_rm_from_a_script(tenant_env: dict[str, str], tmp_path: Path) -> None:
    made = json.loads(run("put", "/app/config", '{"debug": false}', env=tenant_env).stdout)
    assert made["version"] == 1 and made["etag"]
    piped = run("put", "/app/piped", "-", env=tenant_env, stdin='{"from": "stdin"}')
    assert piped.returncode == 0, piped.stderr
    implied = run("put", "/app/implied", env=tenant_env, stdin='{"from": "a pipe"}')
    assert implied.returncode == 0, implied.stderr
    assert run("rm", "/app/implied", env=tenant_env).returncode == 0
    (tmp_path / "doc.json").write_text('{"from": "file", "n": [1, 2]}')
    assert run("put", "/app/sub/file", f"@{tmp_path / 'doc.json'}", env=tenant_env).returncode == 0
    assert json.loads(run("get", "/app/sub/file", env=tenant_env).stdout) == {
        "from": "file",
        "n": [1, 2],
    }
    meta = json.loads(run("get", "--meta", "/app/config", env=tenant_env).stdout)
    assert meta["hits"] == 0 and meta["etag"] == made["etag"]

    assert run("ls", "/app/", env=tenant_env).stdout.splitlines() == [
        "/app/config",
        "/app/piped",
        "/app/sub/file",
    ]
    lines = run("ls", "-d", "/app/", "--json", env=tenant_env).stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"path": "/app/config", "folder": False},
        {"path": "/app/piped", "folder": False},
        {"path": "/app/sub/", "folder": True},
    ]
    run("get", "/app/piped", env=tenant_env)
    run("get", "/app/piped", env=tenant_env)
    hits = [json.loads(line) for line in run("hits", "--json", env=tenant_env).stdout.splitlines()]
    assert hits[0] == {"path": "/app/piped", "hits": 2}
    assert run("hits", env=tenant_env).stdout.splitlines()[0] == "/app/piped\t2"

    stale = run("put", "/app/config", '{"debug": true}', "--if-match", '"9-x"', env=tenant_env)
    one_line_error(stale, 4, "precondition")
    good = run("put", "/app/config", '{"debug": true}', "--if-match", made["etag"], env=tenant_env)
    assert json.loads(good.stdout)["version"] == 2
    one_line_error(run("put", "/app/config", "{}", "--create", env=tenant_env), 4, "412")
    assert run("rm", "/app/config", env=tenant_env).returncode == 0
    one_line_error(run("get", "/app/config", env=tenant_env), 3, "no document at /app/config")
    one_line_error(run("rm", "/app/config", env=tenant_env), 3, "404")


def test_errors_are_one_line_with_an_exit_code_that_says_what(
    tenant_env: dict[str, str], server: PathkvServer
) -> None:
    one_line_error(run("put", "/x", "@/nonexistent/doc.json", env=tenant_env), 2, "cannot read")
    one_line_error(run("put", "/x", "{not json", env=tenant_env), 2, "not JSON")
    one_line_error(run("put", "/x", "[1]", env=tenant_env), 2, "not a JSON object")
    one_line_error(run("get", "/x", "--url", "not a url", env=tenant_env), 2, "--url")
    one_line_error(run("get", "/x", "--url", f"http://127.0.0.1:{free_port()}"), 6, "cannot reach")
    one_line_error(run("get", "/x", "--token", "pkv_wrong", env=tenant_env), 5, "401")
    one_line_error(run("put", "/-/x", "{}", env=tenant_env), 1, "405")
    one_line_error(run("frobnicate"), 2, "No such command")
    one_line_error(run("put", "/x", stdin=""), 2, "standard input is not JSON")
    one_line_error(run("get"), 2, "Missing argument")
    for result in (run("get", "/x", "--url", "http://[::1"), run("ls", "--url", "ftp://x")):
        assert "Traceback" not in result.stderr and result.returncode == 2


def test_url_and_token_go_before_or_after_the_command(tenant_env: dict[str, str]) -> None:
    given = ("--url", tenant_env["PATHKV_URL"], "--token", tenant_env["PATHKV_TOKEN"])
    assert run(*given, "put", "/order/a", "{}").returncode == 0
    assert run("put", "/order/b", "{}", *given).returncode == 0
    # the command's own flag wins over pathkv's, which wins over the environment
    nowhere = {"PATHKV_URL": f"http://127.0.0.1:{free_port()}", "PATHKV_TOKEN": "pkv_x"}
    assert run(*given, "ls", "/order/", env=nowhere).stdout.splitlines() == [
        "/order/a",
        "/order/b",
    ]
    late = run("--url", nowhere["PATHKV_URL"], "ls", "/order/", *given)
    assert late.returncode == 0 and late.stdout.splitlines() == ["/order/a", "/order/b"]
    one_line_error(run(*given, "ls", "--url", nowhere["PATHKV_URL"]), 6, "cannot reach")


def test_a_closed_pipe_is_not_an_error(tenant_env: dict[str, str]) -> None:
    with Client(tenant_env["PATHKV_URL"], token=tenant_env["PATHKV_TOKEN"]) as kv:
        for i in range(300):
            kv.put(f"/many/{i:03d}", {})
    piped = subprocess.run(
        f"{sys.executable} -m pathkv ls /many/ | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **tenant_env},
    )
    assert piped.stdout.splitlines() == ["/many/000", "/many/001"]
    assert piped.stderr == ""


def test_watch_prints_changes_as_json_lines(tenant_env: dict[str, str]) -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "pathkv", "watch", "/live/", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **tenant_env},
    )
    try:
        time.sleep(1.5)
        with Client(tenant_env["PATHKV_URL"], token=tenant_env["PATHKV_TOKEN"]) as kv:
            kv.put("/live/a", {"a": 1})
            kv.delete("/live/a")
        assert watcher.stdout is not None
        first, second = json.loads(watcher.stdout.readline()), json.loads(watcher.stdout.readline())
        assert (first["event"], first["path"], first["data"]) == ("put", "/live/a", {"a": 1})
        assert first["id"] and (second["event"], second["path"]) == ("delete", "/live/a")
    finally:
        watcher.terminate()
        _, stderr = watcher.communicate(timeout=10)
    assert "Traceback" not in stderr


def test_tenants_and_tokens_over_http(server: PathkvServer) -> None:
    env = {"PATHKV_URL": server.base, "PATHKV_TOKEN": ADMIN}
    name = "h" + uuid.uuid4().hex[:8]
    view = json.loads(run("tenant", "put", name, "--documents", "5", env=env).stdout)
    assert view["quota"]["documents"] == 5
    made = json.loads(
        run("token", "create", "--tenant", name, "--scope", "/app=read", env=env).stdout
    )
    assert made["scopes"] == [{"prefix": "/app", "allow": ["read"]}]
    listed = json.loads(run("token", "list", "--tenant", name, env=env).stdout)["items"]
    assert [t["id"] for t in listed] == [made["id"]]
    reader = {"PATHKV_URL": server.base, "PATHKV_TOKEN": made["token"]}
    one_line_error(run("put", "/app/x", "{}", env=reader), 5, "403")
    assert json.loads(run("token", "revoke", made["id"], env=env).stdout) == {"revoked": made["id"]}
    assert name in [t["name"] for t in json.loads(run("tenant", "list", env=env).stdout)["items"]]
    assert json.loads(run("tenant", "delete", name, env=env).stdout) == {"deleted": name}
    one_line_error(run("tenant", "get", name, env=env), 3, "404")
    one_line_error(run("token", "create", "--admin", "--tenant", name, env=env), 2, "one of")


def test_import_shows_progress_on_a_terminal_and_says_what_it_did(tmp_path: Path) -> None:
    expires = (int(time.time()) + 3600) * 1000
    lines = tmp_path / "in.jsonl"
    good = (
        '{"path":"/p/%d","data":{"i":%d},"version":1,"last_updated_ms":1,'
        '"expires_at_ms":%d,"hits":0}\n'
    )
    lines.write_text("".join(good % (i, i, expires) for i in range(2000)) + "oops\n")
    main, terminal = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pathkv",
            "import",
            "--store",
            f"sqlite:///{tmp_path / 'p.db'}",
            "-i",
            str(lines),
        ],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    proc.wait(30)
    os.close(main)
    text = shown.decode("utf-8", "replace")
    assert proc.returncode == 1  # one line refused
    assert "imported" in text and "pathkv: line 2001 refused" in text
    assert '"restored": 2000' in text and '"refused_lines": [2001]' in text
    quiet = run("import", "--store", f"sqlite:///{tmp_path / 'q.db'}", "-i", str(lines))
    assert "imported" not in quiet.stderr and '"restored": 2000' in quiet.stderr
