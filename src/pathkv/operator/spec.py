"""A `PathKV` object's spec (pathkv.dev/v1alpha1), read into typed values with the
defaults the CRD documents. The CRD's schema already refuses most bad input at the API
server; what it cannot express (rules across fields) is checked here, once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_IMAGE = "pathkv:0.1.0"
REDIS_IMAGE = "redis:7.4.1-alpine"
STORE_KINDS = ("sqlite", "redis", "external")


class SpecError(ValueError):
    """The spec cannot be realised; the message says which field and why."""


@dataclass(frozen=True)
class Autoscaling:
    min: int = 2
    max: int = 10
    target_cpu: int = 70


@dataclass(frozen=True)
class Resources:
    requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "500m", "memory": "192Mi"})
    limits: Mapping[str, str] = field(default_factory=lambda: {"cpu": "2", "memory": "384Mi"})


@dataclass(frozen=True)
class Store:
    kind: str = "sqlite"
    size: str = "1Gi"  # the volume, for sqlite and the managed Redis
    # external: the Secret (in the PathKV's namespace) and key holding the store URL
    secret: str = ""
    key: str = "store-url"


@dataclass(frozen=True)
class Maintenance:
    sweep: str = "17 * * * *"
    backup: str = ""  # empty: no backup CronJob


@dataclass(frozen=True)
class InstanceSpec:
    image: str = DEFAULT_IMAGE
    replicas: int = 2
    autoscaling: Autoscaling | None = None
    resources: Resources = field(default_factory=Resources)
    store: Store = field(default_factory=Store)
    admin_secret: str = ""  # empty: "<name>-admin", created by the operator if absent
    maintenance: Maintenance = field(default_factory=Maintenance)

    @property
    def single(self) -> bool:
        """SQLite is one file on one volume: one replica, no autoscaler."""
        return self.store.kind == "sqlite"


def _int(raw: Mapping[str, Any], key: str, default: int, low: int, where: str) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise SpecError(f"{where}{key} must be an integer >= {low}, not {value!r}")
    return value


def _str(raw: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise SpecError(f"{where}{key} must be a string, not {value!r}")
    return value


def parse(raw: Mapping[str, Any]) -> InstanceSpec:
    """The spec of a PathKV object, or SpecError naming the first field that is wrong."""
    store_raw = raw.get("store") or {}
    kind = _str(store_raw, "kind", "sqlite", "store.")
    if kind not in STORE_KINDS:
        raise SpecError(f"store.kind must be one of {', '.join(STORE_KINDS)}, not {kind!r}")
    store = Store(
        kind=kind,
        size=_str(store_raw, "size", "1Gi", "store."),
        secret=_str(store_raw, "secret", "", "store."),
        key=_str(store_raw, "key", "store-url", "store."),
    )
    if kind == "external" and not store.secret:
        raise SpecError("store.secret names the Secret holding the URL of an external store")
    autoscaling = None
    if (auto_raw := raw.get("autoscaling")) is not None:
        autoscaling = Autoscaling(
            min=_int(auto_raw, "min", 2, 1, "autoscaling."),
            max=_int(auto_raw, "max", 10, 1, "autoscaling."),
            target_cpu=_int(auto_raw, "targetCPU", 70, 1, "autoscaling."),
        )
        if autoscaling.max < autoscaling.min:
            raise SpecError("autoscaling.max must be at least autoscaling.min")
    replicas = _int(raw, "replicas", 1 if kind == "sqlite" else 2, 1, "")
    if kind == "sqlite" and (replicas > 1 or autoscaling):
        raise SpecError(
            "store.kind sqlite serves from one volume: one replica and no autoscaling"
            " (use store.kind redis to scale out)"
        )
    resources_raw = raw.get("resources") or {}
    defaults = Resources()
    resources = Resources(
        requests={**defaults.requests, **(resources_raw.get("requests") or {})},
        limits={**defaults.limits, **(resources_raw.get("limits") or {})},
    )
    maintenance_raw = raw.get("maintenance") or {}
    return InstanceSpec(
        image=_str(raw, "image", DEFAULT_IMAGE, ""),
        replicas=replicas,
        autoscaling=autoscaling,
        resources=resources,
        store=store,
        admin_secret=_str(raw.get("auth") or {}, "adminTokenSecret", "", "auth."),
        maintenance=Maintenance(
            sweep=_str(maintenance_raw, "sweep", "17 * * * *", "maintenance."),
            backup=_str(maintenance_raw, "backup", "", "maintenance."),
        ),
    )
