"""Export -> import round trip through every store (pathkv/core/backup.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathkv.core.backup import export_lines, import_lines, parse_line
from pathkv.core.contract import Store, Write
from pathkv.core.documents import digest
from pathkv.core.errors import InvalidDocument
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.service import now_ms
from pathkv.stores.registry import open_store
from tests.contract.conftest import OTHER, InNamespace, settings_for
from tests.servers import RedisServer


async def test_export_import_round_trip(
    store: InNamespace,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_servers: dict[str, RedisServer],
) -> None:
    now = now_ms()
    bodies = {f"/b/{i}": b'{"i":%d,"big":%d,"s":"\xc3\xa9"}' % (i, 10**30 + i) for i in range(7)}
    for path, body in bodies.items():
        await store.put(
            Write(path, body, digest(body), now, now + 3_600_000 * (1 + len(path))), None
        )
    await store.put(Write("/b/0", bodies["/b/0"], digest(bodies["/b/0"]), now, now + 99_000), None)
    for _ in range(3):
        await store.get("/b/1", now_ms(), count_hit=True)
    await store.flush()
    lines = [line async for line in export_lines(store.engine, now_ms())]
    mine = [line for line in lines if b'"path":"/b/' in line]
    assert len(mine) == 7
    assert all(b'"namespace":"%s"' % store.ns.name.encode() in line for line in mine)

    target_settings = settings_for(
        request.node.callspec.params["engine"], tmp_path / "target", request
    )
    (tmp_path / "target").mkdir()
    target = open_store(target_settings)
    await target.open()
    try:
        report = await import_lines(target, mine, now_ms())
        assert (report.restored, report.skipped) == (7, 0)
        again = await import_lines(target, mine, now_ms())
        assert (again.restored, again.skipped) == (0, 7)
        copied = InNamespace(target, store.ns)
        for path, body in bodies.items():
            original = await store.get(path, now_ms(), count_hit=False)
            copy = await copied.get(path, now_ms(), count_hit=False)
            assert copy is not None and original is not None and copy.body == body
            # expires_at is read on the caller's clock (now + what is left): equal to the ms
            # on one engine, within moments across two
            assert abs(copy.expires_at - original.expires_at) < 1000
            copy.expires_at = original.expires_at
            assert copy == original
        copy = await copied.get("/b/0", now_ms(), count_hit=False)
        assert copy is not None and copy.version == 2
        assert abs(copy.expires_at - (now + 99_000)) < 1000
        one = await copied.get("/b/1", now_ms(), count_hit=False)
        assert one is not None and one.hits == 3
        other = OTHER if store.ns == DEFAULT else DEFAULT
        assert await target.get(other, "/b/1", now_ms(), count_hit=False) is None
    finally:
        await target.close()


async def test_export_of_one_namespace(engine: Store) -> None:
    now = now_ms()
    for ns in (DEFAULT, OTHER):
        await engine.put(ns, Write("/only", b"{}", digest(b"{}"), now, now + 60_000), None)
    lines = [line async for line in export_lines(engine, now_ms(), only=OTHER)]
    assert len(lines) == 1 and lines[0].startswith(b'{"namespace":"acme","path":"/only"')


def test_lines_without_a_namespace_are_the_default_namespace() -> None:
    ns, record = parse_line(
        b'{"path":"/a","data":{},"version":1,"last_updated_ms":1,"expires_at_ms":2,"hits":0}'
    )
    assert ns == DEFAULT and record.path == "/a"
    ns, _ = parse_line(
        b'{"namespace":"team-b","path":"/a","data":{},"version":1,'
        b'"last_updated_ms":1,"expires_at_ms":2,"hits":0}'
    )
    assert ns == Namespace("team-b")


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"{}",
        b'{"path":"/a","data":[1],"version":1,"last_updated_ms":1,"expires_at_ms":2,"hits":0}',
        b'{"path":"/a","data":{},"version":0,"last_updated_ms":1,"expires_at_ms":2,"hits":0}',
        b'{"path":"/a","data":{},"version":"1","last_updated_ms":1,"expires_at_ms":2,"hits":0}',
        b'{"namespace":"Bad Name","path":"/a","data":{},"version":1,"last_updated_ms":1,'
        b'"expires_at_ms":2,"hits":0}',
    ],
)
def test_bad_export_lines_are_refused(line: bytes) -> None:
    with pytest.raises(InvalidDocument):
        parse_line(line)
