from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathkv.core.documents import canonical_body, parse_form, parse_json_object
from pathkv.core.errors import InvalidDocument, UnsupportedMediaType

JSON = "application/json"


def roundtrip(value: dict[str, Any]) -> Any:
    return json.loads(canonical_body(JSON, json.dumps(value).encode()))


def test_types_are_preserved() -> None:
    value = {
        "int": 1,
        "neg": -5,
        "float": 21.5,
        "tiny": 5e-324,
        "t": True,
        "f": False,
        "null": None,
        "s": "x",
        "nested": {"a": [1, [2, {"b": None}]]},
        "empty": {},
        "arr": [],
        "unicode": "é😀\u0000\u2028",
    }
    assert roundtrip(value) == value


def test_big_integers_are_exact() -> None:
    body = b'{"big": 123456789012345678901234567890, "neg": -99999999999999999999999}'
    assert (
        canonical_body(JSON, body)
        == b'{"big":123456789012345678901234567890,"neg":-99999999999999999999999}'
    )


def test_duplicate_keys_last_wins() -> None:
    assert canonical_body(JSON, b'{"a": 1, "a": 2}') == b'{"a":2}'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[1, 2]", "an array"),
        (b'"text"', "a string"),
        (b"3", "a number"),
        (b"null", "null"),
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": 1e400}', "range"),
        (b'{"a": ' + b"9" * 10_000 + b"}", "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
        (b'{"a": "\\ud800"}', "Unicode"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, "nested deeper"),
    ],
)
def test_refused_bodies(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        canonical_body(JSON, body)
    assert fragment in info.value.detail


def test_depth_limit_is_configurable() -> None:
    body = b'{"a":{"b":{"c":1}}}'
    assert parse_json_object(body, max_depth=3)
    with pytest.raises(InvalidDocument):
        parse_json_object(body, max_depth=2)


def test_form_bodies_become_string_objects() -> None:
    assert parse_form(b"a=1&b=x") == {"a": "1", "b": "x"}
    assert parse_form(b"a=1&a=2&e=") == {"a": "2", "e": ""}
    assert parse_form(b"name=caf%C3%A9+au+lait") == {"name": "café au lait"}
    assert parse_form(b"") == {}
    assert canonical_body("application/x-www-form-urlencoded", b"a=1") == b'{"a":"1"}'
    with pytest.raises(InvalidDocument):
        parse_form(b"a=%ff")


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/xml", "json"])
def test_unsupported_types(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        canonical_body(content_type, b"{}")


def test_media_type_parameters_are_ignored() -> None:
    assert canonical_body("Application/JSON; charset=utf-8", b'{"a":1}') == b'{"a":1}'


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_json_round_trip_property(value: dict[str, Any]) -> None:
    stored = canonical_body(JSON, json.dumps(value).encode("utf-8"))
    again = json.loads(stored)
    assert again == value
    assert _types(again) == _types(value)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return ("float", value)
    return (type(value).__name__, value)
