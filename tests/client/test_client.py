"""pathkv.client against real `pathkv serve` processes (SQLite and Redis, auth on)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import pytest

from pathkv.client import (
    AsyncClient,
    Backoff,
    Client,
    ConnectionFailed,
    Entry,
    Forbidden,
    Hit,
    InvalidPath,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from tests.client.conftest import ADMIN, start_server
from tests.conftest import ServerRunner
from tests.servers import PathkvServer, RedisServer, free_port


def test_documents_metadata_and_conditional_writes(kv: Client) -> None:
    made = kv.put("/cfg/app é?#%", {"debug": False, "n": 2**70})
    assert made.version == 1 and made.etag.startswith('"1-') and made.data["n"] == 2**70
    assert kv.get("/cfg/app é?#%") == {"debug": False, "n": 2**70}
    meta = kv.meta("/cfg/app é?#%")
    assert meta.hits == 1 and meta.path == "/cfg/app é?#%" and 0 < meta.ttl <= 31536000
    replaced = kv.put("/cfg/app é?#%", {"debug": True}, if_match=made.etag, ttl=60)
    assert replaced.version == 2 and replaced.ttl == 60
    with pytest.raises(PreconditionFailed) as stale:
        kv.put("/cfg/app é?#%", {"debug": None}, if_match=made.etag)
    assert stale.value.etag == replaced.etag and stale.value.status == 412
    assert made["etag"] == made.etag and dict(made)["version"] == 1
    with pytest.raises(PreconditionFailed):
        kv.put("/cfg/app é?#%", {}, if_none_match="*")
    with pytest.raises(PreconditionFailed):
        kv.delete("/cfg/app é?#%", if_match=made.etag)
    kv.delete("/cfg/app é?#%", if_match=[made.etag, replaced.etag])
    with pytest.raises(NotFound) as missing:
        kv.get("/cfg/app é?#%")
    problem = missing.value.problem
    assert missing.value.type == "urn:pathkv:problem:not-found" and problem["status"] == 404
    assert missing.value.request_id and missing.value.instance


def test_errors_are_named_after_their_problem(kv: Client, server: PathkvServer) -> None:
    with pytest.raises(InvalidPath):
        kv.put("/a\x00b", {})
    with pytest.raises(MethodNotAllowed):
        kv.put("/-/keys", {})
    with pytest.raises(TypeError):
        kv.put("/list", [1, 2])  # type: ignore[arg-type]
    with Client(server.base, token="pkv_nonsense") as stranger, pytest.raises(Unauthorized):
        stranger.get("/x")


def test_update_is_a_safe_read_modify_write(kv: Client) -> None:
    def bump(doc: dict[str, int] | None) -> dict[str, int]:
        return {"n": (doc or {"n": 0})["n"] + 1}

    def worker() -> None:
        for _ in range(15):
            kv.update("/counter", bump, retries=100)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = kv.meta("/counter")
    assert final.data == {"n": 45} and final.version == 45


def test_listing_follows_cursors_and_levels(kv: Client) -> None:
    for i in range(25):
        kv.put(f"/ls/{i:02d}", {"i": i})
    kv.put("/ls/sub/x", {})
    kv.put("/ls/sub/y", {})
    kv.put("/other", {})
    every = list(kv.keys("/ls/", page=7))
    assert every == [f"/ls/{i:02d}" for i in range(25)] + ["/ls/sub/x", "/ls/sub/y"]
    level = list(kv.level("/ls/"))
    assert level[-1] == Entry("/ls/sub/", True) and level[0] == Entry("/ls/00", False)
    assert len(level) == 26
    assert Entry("/ls/", True) in list(kv.level("/"))


def test_hits_and_count(kv: Client) -> None:
    kv.put("/h/a", {})
    kv.put("/h/b", {})
    for _ in range(3):
        kv.get("/h/b")
    kv.get("/h/a")
    assert kv.hits(2) == [Hit("/h/b", 3), Hit("/h/a", 1)]
    first = kv.count()
    assert kv.count() == first + 1


def test_tenants_tokens_scopes_and_quotas(admin: Client, server: PathkvServer) -> None:
    name = "q" + uuid.uuid4().hex[:8]
    view = admin.put_tenant(name, documents=2, rate=(1000, 60))
    assert view["quota"]["documents"] == 2 and view["rate"] == {"requests": 1000, "window": 60}
    assert name in [t["name"] for t in admin.tenants()]
    made = admin.create_token(name, scopes={"/app": ["read", "write"]}, name="ci")
    assert made["token"].startswith("pkv_")
    assert [t["id"] for t in admin.tokens(name)] == [made["id"]]
    with Client(server.base, token=made["token"]) as tenant:
        tenant.put("/app/1", {})
        tenant.put("/app/2", {})
        with pytest.raises(QuotaExceeded) as full:
            tenant.put("/app/3", {})
        assert full.value.status == 507 and full.value.problem["status"] == 507
        with pytest.raises(Forbidden):
            tenant.put("/elsewhere", {})
        assert admin.tenant(name)["usage"]["documents"] == 2
        admin.revoke(made["id"])
        time.sleep(1.1)  # every worker forgets a token within a second
        with pytest.raises(Unauthorized):
            tenant.get("/app/1")
    admin.delete_tenant(name)
    with pytest.raises(NotFound):
        admin.tenant(name)


def test_rate_limited_carries_retry_after_and_may_be_waited_out(
    admin: Client, server: PathkvServer
) -> None:
    name = "r" + uuid.uuid4().hex[:8]
    admin.put_tenant(name, rate=(2, 1))
    secret = admin.create_token(name)["token"]
    with Client(server.base, token=secret, backoff=Backoff(retries=0)) as hasty:
        limited: RateLimited | None = None
        for n in range(20):  # 2 a second: one of these is refused, whatever the window
            try:
                hasty.put(f"/r/{n}", {})
            except RateLimited as exc:
                limited = exc
                break
        assert limited is not None and 0 < limited.retry_after <= 1
    with Client(server.base, token=secret, backoff=Backoff(rate_limited=True)) as patient:
        for n in range(5):
            patient.put(f"/r/p{n}", {})
        assert len(list(patient.keys("/r/p"))) == 5


def test_idempotent_calls_retry_until_the_server_answers(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    port = free_port()
    with Client(f"http://127.0.0.1:{port}", backoff=Backoff(retries=1, base=0.01)) as nobody:
        with pytest.raises(ConnectionFailed) as down:
            nobody.get("/x")
        assert "cannot reach" in str(down.value) and down.value.status == 0
    server = PathkvServer(f"sqlite:///{tmp_path / 'late.db'}", port=port)
    starter = threading.Timer(0.3, server.start)
    starter.start()
    try:
        patient = Client(f"http://127.0.0.1:{port}", backoff=Backoff(retries=12, base=0.2))
        with patient:
            assert patient.put("/late", {"ok": True}).version == 1
            assert patient.get("/late") == {"ok": True}
    finally:
        starter.join()
        server.stop()


def test_watch_resumes_after_a_restart_without_losing_changes(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    server = start_server("sqlite", tmp_path, redis_servers)
    events: list[tuple[str, str | None]] = []
    done = threading.Event()

    def follow() -> None:
        with Client(server.base, token=ADMIN, backoff=Backoff(base=0.5, cap=1)) as watcher:
            for event in watcher.watch(prefix="/w/"):
                events.append((event.event, event.path))
                if event.path == "/w/end":
                    done.set()
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        time.sleep(0.8)
        with Client(server.base, token=ADMIN) as kv:
            kv.put("/w/a", {})
            kv.delete("/w/a")
        deadline = time.monotonic() + 10
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()
        server.start()  # same port, same file: the watcher reconnects on its own
        with Client(server.base, token=ADMIN) as kv:
            kv.put("/w/while-away", {"n": 1})  # before the watcher is back, most likely
            kv.put("/w/end", {})
        assert done.wait(20)
    finally:
        server.stop()
    assert events == [
        ("put", "/w/a"),
        ("delete", "/w/a"),
        ("put", "/w/while-away"),
        ("put", "/w/end"),
    ]


def test_watch_yields_a_reset_when_its_cursor_is_gone(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    server = start_server(
        "sqlite",
        tmp_path,
        redis_servers,
        PATHKV_CHANGES_MAX_EVENTS="3",
        PATHKV_SWEEP_INTERVAL="0.3",
    )
    try:
        with Client(server.base, token=ADMIN) as kv:
            kv.put("/o/first", {})
            stream = kv.watch(prefix="/o/")
            threading.Timer(0.5, lambda: kv.put("/o/0", {})).start()
            cursor = next(stream).id
            assert cursor is not None
            stream.close()
            for n in range(1, 8):
                kv.put(f"/o/{n}", {})
            time.sleep(1.5)  # a sweep trims the feed to 3 changes
            resumed = kv.watch(prefix="/o/", since=cursor)
            reset = next(resumed)
            assert reset.reset and reset.id is None and reset.body.get("reason")
            threading.Timer(0.5, lambda: kv.put("/o/live", {})).start()
            assert next(resumed).path == "/o/live"
            resumed.close()
    finally:
        server.stop()


def test_the_async_client_has_the_same_api(kv: Client, server: PathkvServer) -> None:
    token = kv._http.headers["authorization"].removeprefix("Bearer ")

    async def run() -> None:
        async with AsyncClient(server.base, token=token) as akv:
            made = await akv.put("/async/a", {"n": 1})
            assert (await akv.get("/async/a")) == {"n": 1}
            with pytest.raises(PreconditionFailed):
                await akv.put("/async/a", {"n": 0}, if_match='"9-x"')

            async def bump(doc: dict[str, int] | None) -> dict[str, int]:
                await asyncio.sleep(0)
                return {"n": (doc or {"n": 0})["n"] + 1}

            await asyncio.gather(*(akv.update("/async/a", bump, retries=50) for _ in range(10)))
            assert (await akv.meta("/async/a")).data == {"n": 11}
            assert [p async for p in akv.keys("/async/")] == ["/async/a"]
            assert [e async for e in akv.level("/")] == [Entry("/async/", True)]
            assert (await akv.hits(1))[0].path == "/async/a"

            stream = akv.watch(path="/async/b")

            async def write_later() -> None:
                await asyncio.sleep(0.5)
                await akv.put("/async/b", {"b": True})

            writer = asyncio.create_task(write_later())
            event = await anext(stream)
            assert (event.event, event.path, event.data) == ("put", "/async/b", {"b": True})
            await stream.aclose()
            await writer
            await akv.delete("/async/a", if_match=(await akv.meta("/async/a")).etag)
            assert made.version == 1
            with pytest.raises(NotFound):
                await akv.get("/async/a")

    asyncio.run(run())


def test_reads_retry_through_a_store_outage(
    fresh_redis: RedisServer, tmp_path: Path, run_server: ServerRunner
) -> None:
    """While Redis is down pathkv answers 503; a read with retries left outlasts it, one
    without raises Unavailable (with the problem's detail)."""
    server = run_server(
        PathkvServer(fresh_redis.url, env={"PATHKV_AUTH": "off"}, log=tmp_path / "log")
    )
    server.wait_ready()
    with Client(server.base) as kv:
        kv.put("/outage", {"kept": True})
    fresh_redis.stop()
    with (
        Client(server.base, backoff=Backoff(retries=0)) as hasty,
        pytest.raises(Unavailable) as down,
    ):
        hasty.get("/outage")
    assert down.value.status in (503, 504) and down.value.detail
    restart = threading.Timer(1.0, fresh_redis.start)
    restart.start()
    try:
        with Client(server.base, backoff=Backoff(retries=20, base=0.2, cap=1.0)) as patient:
            assert patient.get("/outage") == {"kept": True}
    finally:
        restart.join()


def test_the_async_watch_resumes_after_a_restart(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    server = start_server("sqlite", tmp_path, redis_servers)

    async def run() -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = []
        async with (
            AsyncClient(server.base, token=ADMIN, backoff=Backoff(base=0.3, cap=1)) as watcher,
            AsyncClient(server.base, token=ADMIN) as writer,
        ):
            stream = watcher.watch(prefix="/aw/")
            first = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(0.8)
            await writer.put("/aw/before", {})
            event = await asyncio.wait_for(first, 10)
            seen.append((event.event, event.path))
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start)
            await writer.put("/aw/after", {})
            event = await asyncio.wait_for(anext(stream), 20)
            seen.append((event.event, event.path))
            await stream.aclose()
        return seen

    try:
        assert asyncio.run(run()) == [("put", "/aw/before"), ("put", "/aw/after")]
    finally:
        server.stop()
