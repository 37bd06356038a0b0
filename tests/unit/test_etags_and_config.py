from __future__ import annotations

import pytest

from pathkv.config import ConfigError, Settings
from pathkv.core.cursors import decode_cursor, encode_cursor
from pathkv.core.errors import BadRequest
from pathkv.core.etags import (
    MUST_BE_ABSENT,
    NEVER,
    Expect,
    format_etag,
    not_modified,
    write_condition,
)


def test_etag_format_and_conditions() -> None:
    tag = format_etag(3, "abc")
    assert tag == '"3-abc"'
    assert write_condition(tag, None) == Expect(True, ((3, "abc"),))
    # If-Match compares strongly: a weak tag never matches
    assert write_condition(f'W/{tag}, "9-x"', None) == Expect(True, ((9, "x"),))
    assert write_condition(f"W/{tag}", None) == NEVER
    assert write_condition("*", None) == Expect(True)
    assert write_condition(None, "*") == MUST_BE_ABSENT
    assert write_condition(None, None) is None
    unknown = write_condition('"foreign"', None)
    assert unknown is not None and not unknown.holds((1, "x")) and not unknown.holds(None)
    with pytest.raises(BadRequest):
        write_condition("not-quoted", None)
    with pytest.raises(BadRequest):
        write_condition(None, '"3-abc"')
    assert not_modified('"1-a", "3-abc"', None, (3, "abc"), 0)
    assert not_modified('W/"3-abc"', None, (3, "abc"), 0)  # If-None-Match compares weakly
    assert not_modified("*", None, (3, "abc"), 0)
    assert not not_modified('"3-abd"', None, (3, "abc"), 0)
    # If-Modified-Since, unless If-None-Match is there
    date = "Sun, 06 Nov 1994 08:49:37 GMT"
    assert not_modified(None, date, (3, "abc"), 784111777_000)
    assert not not_modified(None, date, (3, "abc"), 784111778_000)
    assert not not_modified('"1-x"', date, (3, "abc"), 0)
    assert not not_modified(None, "not a date", (3, "abc"), 0)


def test_if_unmodified_since_and_precedence() -> None:
    date = "Sun, 06 Nov 1994 08:49:37 GMT"
    since = write_condition(None, None, date)
    assert since == Expect(True, unmodified_since=784111777)
    assert since.holds((1, "a"), 784111777_999) and not since.holds((1, "a"), 784111778_000)
    assert not since.holds(None)
    assert write_condition('"1-a"', None, date) == Expect(True, ((1, "a"),))  # If-Match wins
    assert write_condition(None, None, "garbage") is None
    assert write_condition(None, "*", date) == NEVER
    with pytest.raises(BadRequest):
        write_condition("*", "")  # an empty If-None-Match is malformed, whatever If-Match says
    with pytest.raises(BadRequest):
        write_condition(", ".join(f'"{i}-a"' for i in range(65)), None)


def test_non_ascii_digits_are_refused_not_crashed_on() -> None:
    from pathkv.web.request import Request

    for raw in ("\u00b2", "\u0663", "9" * 5000):  # superscript two, ARABIC-INDIC DIGIT THREE
        scope = {"method": "GET", "path": "/", "headers": [], "query_string": f"ttl={raw}".encode()}
        with pytest.raises(BadRequest):
            Request(scope, None).integer("ttl")
    assert write_condition('"' + "9" * 5000 + '-abc"', None) is not None
    condition = write_condition('"\u00b2-abc"', None)
    assert condition is not None and not condition.holds((2, "abc"))


def test_expect_holds() -> None:
    assert MUST_BE_ABSENT.holds(None) and not MUST_BE_ABSENT.holds((1, "a"))
    assert Expect(True).holds((1, "a")) and not Expect(True).holds(None)
    assert Expect(True, ((1, "a"),)).holds((1, "a"))
    assert not Expect(True, ((1, "a"),)).holds((2, "a"))


def test_cursor_round_trip() -> None:
    for path in ("/a", "/café/😀", "/" + "x" * 500):
        assert decode_cursor(encode_cursor(path)) == path
    with pytest.raises(BadRequest):
        decode_cursor("%%%")


def test_settings_env_then_overrides() -> None:
    settings = Settings.from_env({"PATHKV_PORT": "9000", "PATHKV_WORKERS": "3"}, workers=2)
    assert (settings.port, settings.workers) == (9000, 2)
    assert Settings.from_env({}, port=None).port == 8080
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("NO", False),
        ("off", False),
    ],
)
def test_boolean_settings(raw: str, expected: bool) -> None:
    settings = Settings.from_env({"PATHKV_PIN_WORKERS": raw})
    assert settings.pin_workers is expected
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    "env",
    [
        {"PATHKV_PORT": "abc"},
        {"PATHKV_PORT": "0"},
        {"PATHKV_PORT": "70000"},
        {"PATHKV_LOG_LEVEL": "LOUD"},
        {"PATHKV_MAX_BODY_BYTES": "-1"},
        {"PATHKV_DEFAULT_TTL": "999999999999"},
        {"PATHKV_PIN_WORKERS": "maybe"},
    ],
)
def test_bad_settings(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert "PATHKV_" in str(info.value)
