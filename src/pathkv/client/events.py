"""Change-feed events and the text/event-stream decoder (the WHATWG rules pathkv's
``/-/watch`` follows: ``id``, ``event``, ``data`` lines, a blank line ends an event, ``:``
starts a comment)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pathkv.client.calls import Fields


@dataclass(frozen=True)
class Event(Fields):
    """One change (``put``, ``delete``, ``expire``), or ``reset``: the feed could not resume
    from where this client was (list again, then go on from the present)."""

    event: str
    id: str | None
    path: str | None = None
    version: int | None = None
    etag: str | None = None
    data: dict[str, Any] | None = None
    last_updated: int | None = None
    expires_at: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    """Every member of the event's data, as sent."""

    @property
    def reset(self) -> bool:
        return self.event == "reset"


@dataclass
class Decoder:
    """Feed it lines; it returns an event when one is complete. ``retry`` keeps the last
    reconnection delay the server asked for, in seconds."""

    retry: float | None = None
    _id: str | None = None
    _event: str = "message"
    _data: list[str] = field(default_factory=list)

    def line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value) / 1000
        return None

    def _dispatch(self) -> Event | None:
        event, event_id, data = self._event, self._id, self._data
        self._event, self._id, self._data = "message", None, []
        if not data:
            return None
        try:
            body = json.loads("\n".join(data))
        except ValueError:
            body = {"detail": "\n".join(data)}
        if not isinstance(body, dict):
            body = {"detail": body}
        return Event(
            event=event,
            id=event_id,
            path=body.get("path"),
            version=body.get("version"),
            etag=body.get("etag"),
            data=body.get("data"),
            last_updated=body.get("last_updated"),
            expires_at=body.get("expires_at"),
            body=body,
        )
