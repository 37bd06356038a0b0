"""The commands that talk to a running pathkv over HTTP, through ``pathkv.client``:
get, put, rm, ls, hits, watch (and, in ``admin``, tenant and token)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from pathkv.cli.output import EXIT_USAGE, CliError, json_line, rows, show_json, terminal
from pathkv.client import Client
from pathkv.client.events import Event

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "http://127.0.0.1:8080"


def server_options(command: F) -> F:
    """--url and --token, each also an environment variable: given to ``pathkv`` itself
    (``pathkv --url URL get /a``) or to the command (``pathkv get /a --url URL``)."""
    for option in reversed(
        (
            click.option(
                "--url",
                envvar="PATHKV_URL",
                default=DEFAULT_URL,
                show_default=True,
                help="the pathkv server (env PATHKV_URL)",
            ),
            click.option(
                "--token", envvar="PATHKV_TOKEN", help="a bearer token (env PATHKV_TOKEN)"
            ),
        )
    ):
        command = option(command)
    return command


def http_options(command: F) -> F:
    """--url, --token and --timeout."""
    command = click.option(
        "--timeout", type=float, default=10.0, show_default=True, help="seconds per request"
    )(command)
    return server_options(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="JSON lines")(command)


def connect(url: str, token: str | None, timeout: float) -> Client:
    """A client for the server named on the command line: the command's own --url and
    --token, else those given to ``pathkv``, else PATHKV_URL and PATHKV_TOKEN."""
    context = click.get_current_context(silent=True)
    if context is not None and context.parent is not None:
        root = context.find_root()

        def chosen(name: str, own: Any) -> Any:
            if context.get_parameter_source(name) is ParameterSource.COMMANDLINE:
                return own
            if root.get_parameter_source(name) is ParameterSource.COMMANDLINE:
                return root.params[name]
            return own

        url, token = chosen("url", url), chosen("token", token)
    try:
        return Client(url, token=token or None, timeout=timeout)
    except ValueError as exc:
        raise CliError(f"--url: {exc}") from None


def read_document(source: str | None) -> dict[str, Any]:
    """JSON given inline, ``-`` (or nothing, from a pipe) for standard input, ``@FILE`` for
    a file's content."""
    if source is None:
        if sys.stdin.isatty():
            raise CliError("give the document: JSON, - for standard input, or @FILE")
        source = "-"
    if source == "-":
        text, where = sys.stdin.read(), "standard input"
    elif source.startswith("@"):
        where = source[1:]
        try:
            with open(where, encoding="utf-8") as file:
                text = file.read()
        except OSError as exc:
            raise CliError(f"cannot read {where}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CliError(f"{where} is not UTF-8 text") from None
    else:
        text, where = source, "the document"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{where} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CliError(f"{where} is not a JSON object: a document is an object {{...}}")
    return data


@click.command()
@click.argument("path")
@click.option("--meta", is_flag=True, help="the metadata view (ETag, version, TTL, hits)")
@http_options
def get(path: str, meta: bool, url: str, token: str | None, timeout: float) -> None:
    """Print the document at PATH (counts a hit; --meta does not)."""
    with connect(url, token, timeout) as kv:
        show_json(kv.meta(path).__dict__ if meta else kv.get(path))


@click.command()
@click.argument("path")
@click.argument("document", metavar="[JSON|-|@FILE]", required=False)
@click.option("--ttl", type=click.IntRange(min=1), help="seconds it lives")
@click.option("--if-match", metavar="ETAG", help="replace only this version")
@click.option("--create", is_flag=True, help="create only (fails if it exists)")
@http_options
def put(
    path: str,
    document: str | None,
    ttl: int | None,
    if_match: str | None,
    create: bool,
    url: str,
    token: str | None,
    timeout: float,
) -> None:
    """Store a JSON object at PATH (from standard input when not given); prints its
    metadata (with its ETag)."""
    data = read_document(document)
    if create and if_match:
        raise CliError("--create and --if-match do not go together", EXIT_USAGE)
    with connect(url, token, timeout) as kv:
        made = kv.put(path, data, ttl, if_match=if_match, if_none_match="*" if create else None)
    show_json(made.__dict__)


@click.command()
@click.argument("path")
@click.option("--if-match", metavar="ETAG", help="delete only this version")
@http_options
def rm(path: str, if_match: str | None, url: str, token: str | None, timeout: float) -> None:
    """Delete the document at PATH."""
    with connect(url, token, timeout) as kv:
        kv.delete(path, if_match)


@click.command()
@click.argument("prefix", default="/")
@click.option("--level", "-d", is_flag=True, help="one level: documents and folders")
@json_option
@http_options
def ls(
    prefix: str, level: bool, as_json: bool, url: str, token: str | None, timeout: float
) -> None:
    """List the paths under PREFIX (every one, or one level with -d)."""
    with connect(url, token, timeout) as kv:
        found: Iterator[dict[str, Any]]
        if level:
            found = ({"path": e.path, "folder": e.folder} for e in kv.level(prefix))
            rows(("path", "folder"), found, as_json)
        else:
            rows(("path",), ({"path": p} for p in kv.keys(prefix)), as_json)


@click.command()
@click.option("--limit", type=click.IntRange(min=1), help="how many (the server's default: 10)")
@json_option
@http_options
def hits(limit: int | None, as_json: bool, url: str, token: str | None, timeout: float) -> None:
    """The most read paths, most hits first."""
    with connect(url, token, timeout) as kv:
        found = kv.hits(limit)
    rows(("path", "hits"), ({"path": h.path, "hits": h.hits} for h in found), as_json)


@click.command()
@click.argument("prefix", required=False)
@click.option("--path", "one", metavar="PATH", help="one path instead of a prefix")
@click.option("--since", metavar="CURSOR", help="resume after this event id")
@json_option
@http_options
def watch(
    prefix: str | None,
    one: str | None,
    since: str | None,
    as_json: bool,
    url: str,
    token: str | None,
    timeout: float,
) -> None:
    """Print every change under PREFIX (or of --path) as it happens, until interrupted;
    reconnects and resumes by itself."""
    if prefix is not None and one is not None:
        raise CliError("give a PREFIX or --path, not both")
    with connect(url, token, timeout) as kv:
        for event in kv.watch(prefix, one, since):
            _show_event(event, as_json or not terminal())
            sys.stdout.flush()


def _show_event(event: Event, as_json: bool) -> None:
    if as_json:
        json_line({"id": event.id, "event": event.event, **event.body})
        return
    from rich.console import Console
    from rich.markup import escape

    colour = {"put": "green", "delete": "red", "expire": "yellow"}.get(event.event, "magenta")
    if event.reset:
        text = escape(str(event.body.get("detail", event.body)))
        Console().print(f"[{colour}]reset[/{colour}] {text}")
        return
    version = f" v{event.version}" if event.version is not None else ""
    data = json.dumps(event.data, ensure_ascii=False) if event.data is not None else ""
    Console().print(
        f"[{colour}]{event.event:<6}[/{colour}] {escape(event.path or '')}{version} {escape(data)}",
        highlight=False,
    )


COMMANDS = (get, put, rm, ls, hits, watch)
