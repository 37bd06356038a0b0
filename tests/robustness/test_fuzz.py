"""Generated inputs: schemathesis against the live OpenAPI description, and Hypothesis
property tests of the JSON round trip through every store over real HTTP."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import PathkvServer, RedisServer


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_servers: dict[str, RedisServer],
) -> Iterator[PathkvServer]:
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        srv = PathkvServer(f"sqlite:///{tmp / 'f.db'}", workers=2, log=tmp / "log")
    else:
        srv = PathkvServer(
            next(iter(redis_servers.values())).url,
            workers=2,
            log=tmp / "log",
            env={"PATHKV_REDIS_PREFIX": f"f{uuid.uuid4().hex[:6]}:"},
        )
    srv.start()
    yield srv
    srv.stop()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    server: PathkvServer, tmp_path: Path
) -> None:
    """All operations, every phase (stateful included); checks: no 5xx, status codes,
    content types, headers and bodies
    conform to the schema, invalid input is rejected. (Acceptance of every schema-valid
    input is not checked: cursors and path normalization carry rules a schema cannot.)"""
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            server.base + "/-/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "100",
            "--max-time",
            "30",
            "--seed",
            "20261122",
            "--request-timeout",
            "10",
            "--no-color",
            "--warnings",
            "off",
            # An SSE stream never ends: it is tested by tests/e2e/test_feed.py.
            "--exclude-path",
            "/-/watch",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    generated = int(re.search(r"(\d+) generated", output).group(1))  # type: ignore[union-attr]
    assert generated >= 500, output[-2000:]
    # The stateful phase ran: it follows the API description's links (a created document
    # is then read, replaced and deleted).
    assert re.search(r"✅\s+Stateful", output), output[-2000:]
    assert httpx.get(server.base + "/-/healthz").status_code == 200


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)))
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=10), children, max_size=5
        )
    ),
    max_leaves=30,
)
documents = st.dictionaries(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=10), json_values, max_size=8
)
segments = st.lists(
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
        min_size=1,
        max_size=12,
    ).filter(lambda s: s not in (".", "..", "-")),
    min_size=1,
    max_size=4,
)


def typed(value: Any) -> Any:
    """The value with every leaf tagged by its JSON type (1 and 1.0 and True differ)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, float):
        return ("float", value if math.isfinite(value) else repr(value))
    return (type(value).__name__, value)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=documents, parts=segments)
def test_json_round_trips_exactly(
    server: PathkvServer, document: dict[str, Any], parts: list[str]
) -> None:
    path = "/prop/" + "/".join(quote(p, safe="") for p in parts)
    body = json.dumps(document).encode()
    put = httpx.put(
        server.base + path, content=body, headers={"content-type": "application/json"}, timeout=10
    )
    assert put.status_code in (200, 201), put.text
    stored_path = put.json()["path"]
    got = httpx.get(server.base + quote(stored_path, safe="/"), timeout=10)
    assert got.status_code == 200
    assert typed(json.loads(got.content)) == typed(document)
    assert typed(put.json()["data"]) == typed(document)
