"""pathkv: JSON documents at any URL path, over HTTP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pathkv")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
