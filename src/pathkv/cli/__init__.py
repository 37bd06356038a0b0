"""The ``pathkv`` command.

Over HTTP, through ``pathkv.client`` (the light install): get, put, rm, ls, hits, watch, and
tenant and token. On the server's side (``pathkv[server]``): serve, and sweep, export and
import on a store directly. Every failure is one line on stderr and an exit code that says
what kind it was (``pathkv.cli.output``).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from pathkv import __version__
from pathkv.cli import admin, remote, server
from pathkv.cli.output import CliError, code_for_status, fail, silence_stdout
from pathkv.client.errors import PathkvError

EXIT_INTERRUPTED = 130


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit codes: 0 done, 1 failed, 2 bad usage or settings, 3 not found, "
    "4 precondition failed, 5 not signed in or not allowed, 6 unavailable.",
)
@click.version_option(__version__, prog_name="pathkv", message="%(prog)s %(version)s")
@remote.server_options
def group(url: str, token: str | None) -> None:
    """pathkv: JSON documents at any URL path, over HTTP."""


for command in (*server.COMMANDS, *remote.COMMANDS, admin.tenant, admin.token):
    group.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = group.main(
            args=list(argv) if argv is not None else None,
            prog_name="pathkv",
            standalone_mode=False,
        )
    except click.exceptions.UsageError as exc:
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        fail(exc.format_message() + where)
        return exc.exit_code
    except click.ClickException as exc:
        fail(exc.format_message())
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    except CliError as exc:
        fail(str(exc))
        return exc.code
    except PathkvError as exc:
        fail(exc.detail if not exc.status else f"{exc.detail} ({exc.status} {exc.slug})")
        return code_for_status(exc.status)
    except BrokenPipeError:
        silence_stdout()
        return 0
    return result if isinstance(result, int) else 0
