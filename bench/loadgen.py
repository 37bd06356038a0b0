"""A small HTTP/1.1 keep-alive load generator, used only when wrk is not installed.

It is slower than wrk (it shares the machine's two cores with the servers), so figures it
produces are labelled as such; the ratios between servers stay meaningful.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Outcome:
    requests: int = 0
    non_2xx: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


async def _connection(
    port: int, make: Callable[[int], bytes], deadline: float, out: Outcome, seed: int
) -> None:
    """One client: keep-alive requests, reconnecting when the server closes the connection
    (gunicorn's sync workers close it after every response, as wrk also handles)."""
    n = seed * 1_000_000
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            n += 1
            started = time.perf_counter()
            try:
                writer.write(make(n))
                head = await reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError):
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif line.startswith(b"connection:") and b"close" in line:
                    close = True
            if length:
                await reader.readexactly(length)
            out.latencies.append(time.perf_counter() - started)
            out.requests += 1
            if not 200 <= status < 300:
                out.non_2xx += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, asyncio.IncompleteReadError):
        out.errors += 1
    finally:
        writer.close()


def run(port: int, make: Callable[[int], bytes], connections: int, seconds: float) -> Outcome:
    out = Outcome()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(_connection(port, make, deadline, out, i) for i in range(connections))
        )

    asyncio.run(main())
    return out
