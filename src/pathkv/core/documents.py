"""Document bodies: what a client may PUT, and the exact bytes pathkv stores for it.

A document is a JSON object. It is stored as compact JSON (UTF-8) and served back as such,
so every value keeps its type and value: nested objects, arrays, integers of any size up to
4,300 digits, floats (shortest round-trip form), booleans, null and any Unicode text.
When an object repeats a key, the last occurrence wins (as in JavaScript and Python).
``NaN`` and ``Infinity`` are not JSON and are refused, as are numbers beyond the float range.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from pathkv.core.errors import InvalidDocument, UnsupportedMediaType

DEFAULT_MAX_DEPTH = 64
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)

# orjson reads integers beyond 64 bits as floats; bodies that may hold one take the exact path.
# Tuning: a number of 19 digits or more is one orjson cannot hold exactly. Found by mapping
# every digit to "0" and looking for 19 of them in a row: 5 us for a 1 KiB document, where
# the regular expression \d{19} took 34 us (bench/findings.md item 21).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def _has_long_number(body: bytes) -> bool:
    return _LONG_NUMBER in body.translate(_DIGITS_TO_ZERO)


def media_type(content_type: str) -> str:
    """``Application/JSON; charset=utf-8`` -> ``application/json``."""
    return content_type.split(";", 1)[0].strip().lower()


def _reject_constant(name: str) -> Any:
    raise InvalidDocument(f"{name} is not valid JSON")


def _exact_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidDocument(f"number {text[:40]} is outside the range of a double")
    return value


def _loads_exact(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, parse_float=_exact_float)
    except RecursionError:
        raise InvalidDocument("JSON is nested too deeply") from None
    except UnicodeDecodeError:
        raise InvalidDocument("body is not valid UTF-8") from None
    except ValueError as exc:  # JSONDecodeError, and the int digit limit
        raise InvalidDocument(f"body is not valid JSON: {exc}") from None


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of containers in value, stopping early once it passes limit."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > limit:
                return deepest
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
    return deepest


def parse_json(body: bytes) -> Any:
    """Any JSON value, integers of any size exact; InvalidDocument when it is not JSON.

    Tuning: orjson, unless the text holds a number too long for it (the stdlib parser then).
    """
    if _has_long_number(body):
        return _loads_exact(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        # The stdlib parser gives the more precise message for the client.
        return _loads_exact(body)


def parse_json_object(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse and check a JSON document body; raise InvalidDocument when it is not acceptable."""
    value = parse_json(body)
    if not isinstance(value, dict):
        raise InvalidDocument(f"a document must be a JSON object, not {_json_kind(value)}")
    # Each level of nesting takes an opening and a closing bracket: a shorter body cannot
    # be too deep, and most documents are short.
    if len(body) > 2 * max_depth and _depth(value, max_depth) > max_depth:
        raise InvalidDocument(f"JSON is nested deeper than {max_depth} levels")
    return value


def parse_form(body: bytes) -> dict[str, str]:
    """``a=1&b=x`` -> ``{"a": "1", "b": "x"}``; a repeated name keeps its last value."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidDocument("body is not valid application/x-www-form-urlencoded") from None
    return dict(pairs)


def encode(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON for a parsed document."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits; lone surrogates fail here too and are refused.
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (UnicodeEncodeError, ValueError):
            raise InvalidDocument("document contains text that is not valid Unicode") from None


def require_supported(content_type: str) -> str:
    """The media type of a PUT body, or UnsupportedMediaType (checked before reading it)."""
    kind = media_type(content_type)
    if kind not in JSON_TYPES and kind not in FORM_TYPES:
        raise UnsupportedMediaType(
            f"content type {kind or '(none)'!r} is not supported; "
            "use application/json or application/x-www-form-urlencoded",
        )
    return kind


def canonical_body(content_type: str, body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    """The bytes to store for a PUT body of the given content type."""
    if require_supported(content_type) in JSON_TYPES:
        return encode(parse_json_object(body, max_depth))
    if _looks_like_json_object(body):
        # curl -d sends form content type by default: storing such a body as a form would
        # make garbage of it ({"{\"url\":\"http://x?a": "b\"}"}).
        raise UnsupportedMediaType(
            "the body is a JSON object sent as application/x-www-form-urlencoded; "
            "send it with content-type: application/json"
        )
    return encode(parse_form(body))


def _looks_like_json_object(body: bytes) -> bool:
    """A form's field names do not start with ``{``; a JSON object (or a try at one) does."""
    return body.lstrip().startswith(b"{")


def digest(body: bytes) -> str:
    """A short content hash; with the version it makes the ETag."""
    return hashlib.blake2b(body, digest_size=6).hexdigest()


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
