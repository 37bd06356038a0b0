"""Options of the embedded store, parsed from its URL and the settings that concern it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit


class SQLiteURLError(ValueError):
    """The URL does not name a SQLite file."""


@dataclass(frozen=True, slots=True)
class SQLiteOptions:
    path: Path
    """The database file (created when missing, unless opened for maintenance)."""
    hit_flush_interval: float = 0.5
    """Seconds between writes of buffered hit counts."""
    busy_timeout: float = 5.0
    """Seconds a write waits for another process's lock on the file."""
    create: bool = True
    """Create the file when it is missing (False for maintenance commands)."""


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel.db`` is relative to the working directory, ``sqlite:////abs.db``
    absolute, and ``sqlite:///~/x.db`` is in the home directory."""
    parts = urlsplit(url)
    if (
        parts.scheme != "sqlite"
        or parts.netloc
        or not parts.path.startswith("/")
        or parts.path == "/"
    ):
        raise SQLiteURLError(
            f"store URL {url!r}: use sqlite:///relative.db, sqlite:////abs.db or sqlite:///~/x.db"
        )
    return Path(unquote(parts.path[1:])).expanduser()
