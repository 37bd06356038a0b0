"""A PathKV's status from its live Deployment: the conditions `Ready`, `Progressing` and
`Degraded` (the usual Kubernetes meaning), kept with their transition times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def _condition(kind: str, on: bool, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": "True" if on else "False", "reason": reason, "message": message}


def conditions(deployment: Mapping[str, Any] | None, problem: str | None) -> list[dict[str, str]]:
    """`problem` is what stopped the operator from applying the spec, if anything."""
    if problem is not None:
        return [
            _condition("Ready", False, "InvalidSpec", problem),
            _condition("Progressing", False, "InvalidSpec", problem),
            _condition("Degraded", True, "InvalidSpec", problem),
        ]
    spec = (deployment or {}).get("spec") or {}
    live = (deployment or {}).get("status") or {}
    wanted = int(spec.get("replicas") or live.get("replicas") or 1)
    ready = int(live.get("readyReplicas") or 0)
    updated = int(live.get("updatedReplicas") or 0)
    current = int(live.get("observedGeneration") or 0) >= int(
        ((deployment or {}).get("metadata") or {}).get("generation") or 0
    )
    rolling = not current or updated < wanted or int(live.get("replicas") or 0) > wanted
    summary = f"{ready}/{wanted} replicas ready"
    return [
        _condition("Ready", ready >= wanted and not rolling, "Replicas", summary),
        _condition("Progressing", rolling, "RollingOut" if rolling else "Complete", summary),
        _condition("Degraded", ready == 0, "NoneReady" if ready == 0 else "Serving", summary),
    ]


def merge(old: list[dict[str, str]] | None, new: list[dict[str, str]]) -> list[dict[str, str]]:
    """The new conditions, each keeping its lastTransitionTime while its status holds."""
    before = {c.get("type"): c for c in old or []}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    merged = []
    for condition in new:
        previous = before.get(condition["type"])
        same = previous is not None and previous.get("status") == condition["status"]
        stamp = previous.get("lastTransitionTime", now) if same and previous else now
        merged.append({**condition, "lastTransitionTime": stamp})
    return merged


def changed(old: list[dict[str, str]] | None, new: list[dict[str, str]]) -> bool:
    def key(items: list[dict[str, str]] | None) -> list[tuple[str, ...]]:
        return sorted(
            (c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", ""))
            for c in items or []
        )

    return key(old) != key(new)
