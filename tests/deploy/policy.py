"""The policy every pod spec pathkv ships must meet, whether written in deploy/kubernetes
or built by the operator: requests and limits, non-root, read-only root, no privilege
escalation, no capabilities, pinned images, and probes on whatever keeps running."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield name, obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield name, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def check_pod_spec(name: str, spec: dict[str, Any]) -> None:
    pod_security = spec.get("securityContext", {})
    for container in spec.get("initContainers", []) + spec["containers"]:
        where = f"{name}/{container['name']}"
        security = container.get("securityContext", {})
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{where}: {kind}"
        assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
        assert security.get("runAsUser", pod_security.get("runAsUser", 0)) != 0, where
        assert security.get("readOnlyRootFilesystem") is True, where
        assert security.get("allowPrivilegeEscalation") is False, where
        assert "ALL" in security.get("capabilities", {}).get("drop", []), where
        image = container["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest", f"{where}: image {image} is not pinned"
        if not name.startswith(("CronJob", "Job")):
            assert "readinessProbe" in container and "livenessProbe" in container, where
            assert "startupProbe" in container, where
