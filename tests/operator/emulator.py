"""A Kubernetes API emulator (kmock's) on a loopback port, in a thread of its own, with the
resources the operator uses, and a kubeconfig pointing at it: both kopf and lightkube find
the cluster as they would a real one."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kmock

RESOURCES = {
    "pathkv.dev/v1alpha1/pathkvs": ("PathKV", True, ["status"]),
    "pathkv.dev/v1alpha1/pathkvtenants": ("PathKVTenant", True, ["status"]),
    "v1/secrets": ("Secret", True, []),
    "v1/configmaps": ("ConfigMap", True, []),
    "v1/services": ("Service", True, []),
    "v1/persistentvolumeclaims": ("PersistentVolumeClaim", True, []),
    "v1/events": ("Event", True, []),
    "v1/namespaces": ("Namespace", False, []),
    "apps/v1/deployments": ("Deployment", True, ["status"]),
    "apps/v1/statefulsets": ("StatefulSet", True, ["status"]),
    "autoscaling/v2/horizontalpodautoscalers": ("HorizontalPodAutoscaler", True, []),
    "policy/v1/poddisruptionbudgets": ("PodDisruptionBudget", True, []),
    "networking.k8s.io/v1/networkpolicies": ("NetworkPolicy", True, []),
    "batch/v1/cronjobs": ("CronJob", True, []),
}


class Emulator:
    def __init__(self) -> None:
        self.url = ""
        self.emulator: Any = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        emulator = kmock.KubernetesEmulator()
        for key, (kind, namespaced, sub) in RESOURCES.items():
            emulator.resources[key] = kmock.ResourceInfo(
                kind=kind,
                namespaced=namespaced,
                subresources=sub,
                verbs=["list", "watch", "get", "create", "patch", "update", "delete"],
            )
        async with emulator, kmock.Server(emulator) as server:
            self.emulator, self.url = emulator, str(server.url).rstrip("/")
            self._ready.set()
            await asyncio.to_thread(self._stop.wait)

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
                    "users": [{"name": "test", "user": {}}],
                    "contexts": [
                        {"name": "test", "context": {"cluster": "emulator", "user": "test"}}
                    ],
                    "current-context": "test",
                }
            )
        )
        return path


@contextmanager
def emulated() -> Iterator[Emulator]:
    emulator = Emulator()
    emulator._thread.start()
    assert emulator._ready.wait(10), "the Kubernetes emulator did not start"
    try:
        yield emulator
    finally:
        emulator._stop.set()
        emulator._thread.join(10)
