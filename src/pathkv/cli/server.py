"""The commands that need the server installed (``pip install 'pathkv[server]'``): serve,
and sweep, export and import on a store directly. Nothing of the server is imported until
one of them runs, so the client's command line works without it."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pathkv.cli.output import EXIT_USAGE, CliError, code_for_status
from pathkv.config import ENV_PREFIX, Settings

if TYPE_CHECKING:
    from pathkv.core.contract import Store

T = TypeVar("T")
SERVER_MODULES = ("granian", "glide", "orjson", "msgpack", "prometheus_client")


def _installed(name: str) -> bool:
    # Looked up, not imported: importing prometheus_client here, before `serve` has set
    # its multiprocess directory, would leave the workers' metrics empty.
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a module that cannot even be looked up
        return False


def need_server() -> None:
    missing = [name for name in SERVER_MODULES if not _installed(name)]
    if missing:
        raise CliError(
            "this command needs the server: pip install 'pathkv[server]' "
            f"(missing {', '.join(missing)})"
        )


@contextmanager
def server_errors() -> Iterator[None]:
    """The server's own failures (settings, store, a refused request) as one line."""
    from pathkv.config import ConfigError
    from pathkv.core.contract import StoreError
    from pathkv.core.errors import Problem

    try:
        yield
    except (ConfigError, StoreError) as exc:
        raise CliError(str(exc)) from None
    except Problem as exc:
        raise CliError(exc.detail, code_for_status(exc.status)) from None


def settings_for(store: str | None, **flags: Any) -> Settings:
    need_server()
    with server_errors():
        return Settings.from_env(store=store, **flags)


async def with_store(
    settings: Settings, command: Callable[[Store], Awaitable[T]], creates: bool = False
) -> T:
    """Run command on the store. Only import and the first tenant or token may create it:
    sweep and export on a mistyped path must fail rather than create an empty database."""
    from pathkv.stores.registry import open_store

    with server_errors():
        store = open_store(settings, create=creates)
        await store.open()
        try:
            await store.ping()
            return await command(store)
        finally:
            await store.close()


def _store_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--store", help="store URL (default: PATHKV_STORE)")(command)


@click.command(
    context_settings={"max_content_width": 100},
    epilog="Every setting is also an environment variable: "
    + ", ".join(ENV_PREFIX + f.name.upper() for f in fields(Settings))
    + " (see the README's Configuration table).",
)
@click.option("--host", help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=int, help="port to listen on (default 8080)")
@click.option("--workers", type=int, help="worker processes (default 1)")
@click.option(
    "--pin-workers",
    is_flag=True,
    default=None,
    help="pin each worker to a CPU of its own (machines dedicated to pathkv)",
)
@_store_option
def serve(
    host: str | None,
    port: int | None,
    workers: int | None,
    pin_workers: bool | None,
    store: str | None,
) -> int:
    """Run the HTTP service. Flags override PATHKV_* environment variables."""
    settings = settings_for(store, host=host, port=port, workers=workers, pin_workers=pin_workers)
    from pathkv.cli.serve import serve as run

    with server_errors():
        return run(settings)


@click.command()
@_store_option
def sweep(store: str | None) -> int:
    """Remove expired documents now; prints {"removed", "seconds"}."""
    settings = settings_for(store)
    from pathkv.cli import maintenance

    return asyncio.run(with_store(settings, lambda s: maintenance.sweep(s, settings)))


@click.command()
@_store_option
@click.option("--output", "-o", default="-", show_default=True, help="file (- for stdout)")
def export(store: str | None, output: str) -> int:
    """Write every live document (and every tenant and token) as JSON Lines."""
    settings = settings_for(store)
    from pathkv.cli import maintenance

    return asyncio.run(with_store(settings, lambda s: maintenance.export(s, output)))


@click.command("import")
@_store_option
@click.option("--input", "-i", "source", default="-", show_default=True, help="file (- for stdin)")
def import_(store: str | None, source: str) -> int:
    """Read JSON Lines written by export (idempotent: newer versions are kept)."""
    settings = settings_for(store)
    from pathkv.cli import maintenance

    return asyncio.run(with_store(settings, lambda s: maintenance.import_(s, source), True))


COMMANDS = (serve, sweep, export, import_)
__all__ = ["COMMANDS", "EXIT_USAGE", "settings_for", "with_store"]
