from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathkv.core.errors import InvalidPath, PathTooLong
from pathkv.core.paths import is_reserved, normalize


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"/a/b", "/a/b"),
        (b"/a/b/", "/a/b"),  # trailing slash dropped
        (b"//a///b", "/a/b"),  # doubled slashes collapse
        (b"/a/./b/.", "/a/b"),  # '.' segments dropped
        (b"/a/x/../b", "/a/b"),  # '..' removes the previous segment
        (b"/a/..", "/"),
        (b"/caf%C3%A9", "/café"),  # percent-decoding, UTF-8
        (b"/a%2Fb", "/a/b"),  # an encoded slash separates segments
        (b"/a%2e%2E/b", "/a../b"),  # 'a..' is an ordinary segment
        (b"/%2E%2E/", None),  # encoded '..' is still '..'
        (b"/A", "/A"),  # case-sensitive
        (b"/a b", "/a b"),
        (b"/.well-known", "/.well-known"),
        (b"/", "/"),
        (b"", None),
    ],
)
def test_normalization_rules(raw: bytes, key: str | None) -> None:
    if key is None:
        with pytest.raises(InvalidPath):
            normalize(raw)
    else:
        assert normalize(raw) == key


@pytest.mark.parametrize(
    "raw",
    [
        b"/..",
        b"/a/../..",
        b"/%zz",
        b"/%4",
        b"/%ff",
        b"/%C3",
        b"/a%00b",
        b"/a%0A",
        b"/a%7F",
        b"/a%C2%85",
        b"/a\x01",
        b"relative",
    ],
)
def test_refused_paths(raw: bytes) -> None:
    with pytest.raises(InvalidPath):
        normalize(raw)


def test_maximum_length_in_utf8_bytes() -> None:
    assert normalize(b"/" + b"a" * 1023) == "/" + "a" * 1023
    with pytest.raises(PathTooLong):
        normalize(b"/" + b"a" * 1024)
    with pytest.raises(PathTooLong):
        normalize(b"/" + b"%C3%A9" * 512)  # 512 x 2 bytes + '/' = 1025 bytes
    with pytest.raises(PathTooLong):
        normalize(b"/" + b"a" * 100_000)
    assert normalize(b"/" + b"a" * 20, max_bytes=21) == "/" + "a" * 20


def test_reserved() -> None:
    assert is_reserved("/-/healthz") and is_reserved("/-")
    assert not is_reserved("/-a") and not is_reserved("/a/-/b")


segment = st.text(
    st.characters(
        blacklist_categories=("Cs",), blacklist_characters="/\x7f", min_codepoint=0x20
    ).filter(lambda c: not 0x80 <= ord(c) <= 0x9F),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))


@given(st.lists(segment, min_size=1, max_size=6))
def test_normal_paths_are_fixed_points(segments: list[str]) -> None:
    from urllib.parse import quote

    key = "/" + "/".join(segments)
    encoded = quote(key, safe="/").encode("ascii")
    assert normalize(encoded) == key
    assert normalize(normalize(encoded).encode("utf-8").replace(b"%", b"%25")) == key
    assert normalize(encoded + b"/") == key
    assert normalize(encoded.replace(b"/", b"//")) == key


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        key = normalize(b"/" + raw)
    except (InvalidPath, PathTooLong):
        return
    assert key.startswith("/")
    assert "//" not in key and (key == "/" or not key.endswith("/"))
