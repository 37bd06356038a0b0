"""The ``pathkv`` command: serve, sweep, export, import, tenant, token, --version."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import fields

from pathkv import __version__
from pathkv.config import ENV_PREFIX, ConfigError, Settings
from pathkv.core.contract import StoreError
from pathkv.core.errors import Problem


class CliError(Exception):
    """A failure to report as one line and a non-zero exit."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pathkv", description="pathkv: JSON documents at any URL path, over HTTP."
    )
    parser.add_argument("--version", action="version", version=f"pathkv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the HTTP service",
        description="Run the HTTP service. Flags override PATHKV_* environment variables.",
        epilog="Every setting is also an environment variable: "
        + ", ".join(ENV_PREFIX + f.name.upper() for f in fields(Settings))
        + " (see the README's Configuration table).",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument(
        "--pin-workers",
        action="store_true",
        default=None,
        help="pin each worker to a CPU of its own (machines dedicated to pathkv)",
    )
    serve.add_argument("--store", help="store URL (default: sqlite file in the data directory)")

    for name, text in (
        ("sweep", "remove expired documents now"),
        ("export", "write every live document as JSON Lines"),
        ("import", "read JSON Lines written by export"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--store", help="store URL")
        if name == "export":
            command.add_argument("--output", "-o", default="-", help="file (default stdout)")
        if name == "import":
            command.add_argument("--input", "-i", default="-", help="file (default stdin)")
    from pathkv.cli.accounts import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            **{
                k: getattr(args, k, None)
                for k in ("host", "port", "workers", "pin_workers", "store")
            }
        )
        if args.command == "serve":
            from pathkv.cli.serve import serve

            return serve(settings)
        from pathkv.cli.maintenance import COMMANDS, with_store

        return asyncio.run(with_store(settings, COMMANDS[args.command], args))
    except (ConfigError, CliError, StoreError) as exc:
        print(f"pathkv: error: {exc}", file=sys.stderr)
        return 2
    except Problem as exc:
        print(f"pathkv: error: {exc.detail}", file=sys.stderr)
        return 1
