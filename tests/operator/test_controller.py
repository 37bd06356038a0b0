"""The operator end to end, without a cluster: its kopf handlers run under
`kopf.testing.KopfRunner` against kmock's Kubernetes API emulator on loopback (objects are
created and changed over HTTP, as kubectl would), and PathKVTenant against a real `pathkv
serve` process with auth on."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kopf.testing import KopfRunner

from pathkv.client import Client, Unauthorized
from tests.client.conftest import ADMIN, start_server
from tests.operator.emulator import Emulator, emulated
from tests.servers import PathkvServer, RedisServer

pytestmark = pytest.mark.slow
API = "/apis/pathkv.dev/v1alpha1/namespaces"


def until(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


class Cluster:
    def __init__(self, emulator: Emulator) -> None:
        self.http = httpx.Client(base_url=emulator.url, timeout=10)

    def get(self, path: str) -> dict[str, Any] | None:
        answer = self.http.get(path)
        return answer.json() if answer.status_code == 200 else None

    def create(self, path: str, obj: dict[str, Any]) -> None:
        # A real API server assigns these; the emulator keeps what it is given.
        obj["metadata"].setdefault("uid", str(uuid.uuid4()))
        obj["metadata"].setdefault("resourceVersion", "1")
        self.http.post(path, json=obj).raise_for_status()

    def instance(self, spec: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        """The PathKV pathkv/shared."""
        meta = {"name": "shared", "namespace": "pathkv", **(metadata or {})}
        body = {"apiVersion": "pathkv.dev/v1alpha1", "kind": "PathKV", "metadata": meta}
        self.create(f"{API}/pathkv/pathkvs", {**body, "spec": spec})

    def patch(self, path: str, change: dict[str, Any]) -> None:
        self.http.patch(
            path, json=change, headers={"content-type": "application/merge-patch+json"}
        ).raise_for_status()

    def delete(self, path: str) -> None:
        self.http.delete(path).raise_for_status()


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    with emulated() as emulator:
        monkeypatch.setenv("KUBECONFIG", str(emulator.kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.setenv("PATHKV_OPERATOR_RESYNC", "1")
        cluster = Cluster(emulator)
        yield cluster
        cluster.http.close()


def operator() -> KopfRunner:
    return KopfRunner(
        ["run", "--standalone", "--all-namespaces", "-m", "pathkv.operator.handlers"],
        timeout=60,
    )


def secret(cluster: Cluster, namespace: str, name: str, key: str) -> str | None:
    found = cluster.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    value = ((found or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else None


INSTANCE = f"{API}/pathkv/pathkvs/shared"
DEPLOYMENT = "/apis/apps/v1/namespaces/pathkv/deployments/shared"


def test_an_instance_gets_its_children_keeps_them_and_follows_its_spec(cluster: Cluster) -> None:
    with operator():
        cluster.instance({"store": {"kind": "redis"}, "replicas": 2}, {"generation": 1})
        deployment = until(lambda: cluster.get(DEPLOYMENT), "the Deployment")
        assert deployment["spec"]["replicas"] == 2
        for path in (
            "/api/v1/namespaces/pathkv/services/shared",
            "/api/v1/namespaces/pathkv/configmaps/shared-config",
            "/apis/apps/v1/namespaces/pathkv/statefulsets/shared-redis",
            "/apis/policy/v1/namespaces/pathkv/poddisruptionbudgets/shared",
            "/apis/batch/v1/namespaces/pathkv/cronjobs/shared-sweep",
        ):
            assert until(lambda p=path: cluster.get(p), path)
        password = secret(cluster, "pathkv", "shared-store", "redis-password")
        assert password and len(password) >= 24
        admin_token = secret(cluster, "pathkv", "shared-admin", "admin-token")
        assert admin_token
        status = until(
            lambda: (cluster.get(INSTANCE) or {}).get("status", {}).get("conditions"), "status"
        )
        assert {c["type"] for c in status} == {"Ready", "Progressing", "Degraded"}
        assert cluster.get(INSTANCE)["status"]["url"] == "http://shared.pathkv.svc:8080"  # type: ignore[index]

        cluster.delete(DEPLOYMENT)  # deleted by hand: back within the resync
        until(lambda: cluster.get(DEPLOYMENT), "the Deployment, back")
        cluster.patch(DEPLOYMENT, {"spec": {"replicas": 7}})  # scaled by hand: put back
        until(
            lambda: (cluster.get(DEPLOYMENT) or {})["spec"]["replicas"] == 2, "replicas back to 2"
        )

        cluster.patch(INSTANCE, {"spec": {"image": "pathkv:0.2.0"}})  # a spec change: rolled out
        until(
            lambda: (
                (cluster.get(DEPLOYMENT) or {})["spec"]["template"]["spec"]["containers"][0][
                    "image"
                ]
                == "pathkv:0.2.0"
            ),
            "the new image",
        )
        # The secrets the operator made are kept across reconciles, never regenerated.
        assert secret(cluster, "pathkv", "shared-store", "redis-password") == password
        assert secret(cluster, "pathkv", "shared-admin", "admin-token") == admin_token


def test_moving_store_and_scaling_adds_and_retires_children(cluster: Cluster) -> None:
    hpa = "/apis/autoscaling/v2/namespaces/pathkv/horizontalpodautoscalers/shared"
    redis = "/apis/apps/v1/namespaces/pathkv/statefulsets/shared-redis"
    with operator():
        cluster.instance({"store": {"kind": "sqlite"}})
        deployment = until(lambda: cluster.get(DEPLOYMENT), "the Deployment")
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert cluster.get("/api/v1/namespaces/pathkv/persistentvolumeclaims/shared-data")
        assert secret(cluster, "pathkv", "shared-store", "redis-password") is None

        cluster.patch(INSTANCE, {"spec": {"store": {"kind": "redis"}, "autoscaling": {}}})
        until(lambda: cluster.get(redis), "the managed Redis")
        until(lambda: cluster.get(hpa), "the autoscaler")
        password = until(
            lambda: secret(cluster, "pathkv", "shared-store", "redis-password"), "a password"
        )
        store_url = secret(cluster, "pathkv", "shared-store", "store-url")
        assert store_url == f"redis://:{password}@shared-redis.pathkv.svc:6379/0"
        time.sleep(2.5)  # two resyncs: the password is made once
        assert secret(cluster, "pathkv", "shared-store", "redis-password") == password

        cluster.patch(INSTANCE, {"spec": {"autoscaling": None}})  # turned off: retired
        until(lambda: cluster.get(hpa) is None, "the autoscaler removed")
        assert cluster.get(redis)
        # The SQLite volume is the user's data: never removed by the operator.
        assert cluster.get("/api/v1/namespaces/pathkv/persistentvolumeclaims/shared-data")


def test_a_spec_that_cannot_be_realised_is_reported_not_applied(cluster: Cluster) -> None:
    with operator():
        cluster.instance({"store": {"kind": "sqlite"}, "replicas": 3})
        conditions = until(
            lambda: (cluster.get(INSTANCE) or {}).get("status", {}).get("conditions"), "status"
        )
        degraded = next(c for c in conditions if c["type"] == "Degraded")
        assert degraded["status"] == "True" and "one replica" in degraded["message"]
        assert cluster.get(DEPLOYMENT) is None


@pytest.fixture
def server(tmp_path: Path, redis_servers: dict[str, RedisServer]) -> Iterator[PathkvServer]:
    running = start_server("sqlite", tmp_path, redis_servers)
    yield running
    running.stop()


def test_a_tenant_gets_working_tokens_in_its_namespace_and_loses_them(
    cluster: Cluster, server: PathkvServer
) -> None:
    # The instance: its admin token in the Secret the spec names, and where to reach it.
    cluster.create(
        "/api/v1/namespaces/pathkv/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shared-admin", "namespace": "pathkv"},
            "data": {"admin-token": base64.b64encode(ADMIN.encode()).decode()},
        },
    )
    cluster.instance(
        {"store": {"kind": "sqlite"}, "auth": {"adminTokenSecret": "shared-admin"}},
        {"annotations": {"pathkv.dev/url": server.base}},
    )
    tenant_path = f"{API}/billing/pathkvtenants/billing"
    with operator():
        cluster.create(
            f"{API}/billing/pathkvtenants",
            {
                "apiVersion": "pathkv.dev/v1alpha1",
                "kind": "PathKVTenant",
                "metadata": {"name": "billing", "namespace": "billing"},
                "spec": {
                    "instance": {"name": "shared", "namespace": "pathkv"},
                    "quota": {"documents": 10},
                    "rate": {"requests": 100, "window": 1},
                    "tokens": [
                        {"name": "billing-app"},
                        {"name": "billing-reports", "readOnly": True},
                    ],
                },
            },
        )
        app = until(lambda: secret(cluster, "billing", "billing-app", "token"), "app token")
        reports = until(lambda: secret(cluster, "billing", "billing-reports", "token"), "reports")
        assert secret(cluster, "billing", "billing-app", "url") == server.base
        with Client(server.base, token=app) as kv:
            kv.put("/invoices/1", {"total": 12})
            assert kv.get("/invoices/1") == {"total": 12}
        with Client(server.base, token=reports) as ro:
            assert ro.get("/invoices/1") == {"total": 12}  # the tenant's own data
        with Client(server.base, token=ADMIN) as admin:
            tenant = admin.tenant("billing")
            assert tenant["quota"]["documents"] == 10
            assert tenant["rate"] == {"requests": 100, "window": 1}

        cluster.delete(tenant_path)  # the finalizer revokes the tokens, then lets it go
        until(lambda: cluster.get(tenant_path) is None, "the PathKVTenant gone")
        assert secret(cluster, "billing", "billing-app", "token") is None

        def refused() -> bool:
            with Client(server.base, token=app) as kv:
                try:
                    kv.get("/invoices/1")
                except Unauthorized:
                    return True
            return False

        # A revocation reaches every worker within a second (docs/tenants.md).
        until(refused, "the revoked token refused", timeout=5)
