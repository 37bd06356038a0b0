"""Offline validation of the container and Kubernetes files (no engine, no cluster):
render every kustomize overlay, validate each object against the Kubernetes schemas
(strict), check the policy every workload must meet, lint the Dockerfile, and validate
compose.yaml against the compose specification."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.policy import check_pod_spec, pod_specs

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
OVERLAYS = [
    "base",
    "overlays/dev",
    "overlays/prod",
    "overlays/redis-cluster",
    "overlays/sentinel",
]
# Overlays for a Redis run elsewhere: no bundled Redis.
EXTERNAL = {"overlays/redis-cluster": 6379, "overlays/sentinel": 26379}


def tool(name: str) -> str:
    """A command installed by the test extras (beside this Python) or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: it comes with the test extras"
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    return kustomize(KUSTOMIZE / overlay)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    output = subprocess.run(
        [tool("kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(request.param)


def test_every_object_validates_strictly(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)


def test_workload_policy(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    overlay, objects = rendered
    specs = list(pod_specs(objects))
    workloads = {"Deployment/pathkv", "CronJob/pathkv-sweep", "CronJob/pathkv-backup"}
    if overlay not in EXTERNAL:
        workloads.add("StatefulSet/pathkv-redis")
    assert {name for name, _ in specs} >= workloads
    for name, spec in specs:
        check_pod_spec(name, spec)


def test_server_probes_and_shutdown() -> None:
    deployment = next(o for o in render("base") if o["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthz"
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert spec["topologySpreadConstraints"]
    assert spec["terminationGracePeriodSeconds"] > 5


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_the_grace_period_covers_the_whole_drain(overlay: str) -> None:
    from pathkv.cli.serve import WORKERS_KILL_TIMEOUT

    objects = render(overlay)
    spec = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    pause = float(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
    delay = float(config.get("PATHKV_SHUTDOWN_DELAY", "1"))
    assert spec["terminationGracePeriodSeconds"] >= pause + delay + WORKERS_KILL_TIMEOUT + 5


def test_a_failed_backup_leaves_no_file_among_those_kept(tmp_path: Path) -> None:
    """The CronJob's own shell script, run with a stand-in `pathkv` that fails half-way,
    then with one that succeeds."""
    backup = next(
        o
        for o in render("base")
        if o["kind"] == "CronJob" and o["metadata"]["name"] == "pathkv-backup"
    )
    script = backup["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    backups, stubs = tmp_path / "backups", tmp_path / "bin"
    backups.mkdir()
    stubs.mkdir()
    for day in range(1, 8):
        old = backups / f"pathkv-2026010{day}T000000Z.jsonl"
        old.write_text("{}\n")
        os.utime(old, (day * 86400, day * 86400))

    def run(outcome: int) -> int:
        stub = stubs / "pathkv"
        stub.write_text(f'#!/bin/sh\necho "half a line" > "$3"\nexit {outcome}\n')
        stub.chmod(0o755)
        return subprocess.run(
            ["/bin/sh", "-c", script.replace("/backups", str(backups))],
            env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"},
            timeout=30,
        ).returncode

    assert run(1) != 0  # the Job fails, and is retried
    assert sorted(p.name for p in backups.iterdir()) == [
        f"pathkv-2026010{day}T000000Z.jsonl" for day in range(1, 8)
    ]
    assert run(0) == 0
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 7 and "pathkv-20260101T000000Z.jsonl" not in kept
    assert not any(name.endswith(".partial") for name in kept)


@pytest.mark.parametrize("overlay", sorted(EXTERNAL))
def test_an_external_redis_overlay(overlay: str) -> None:
    """No bundled Redis, writes that wait for a replica, and egress to the store's port."""
    objects = render(overlay)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("StatefulSet", "pathkv-redis") not in names
    assert ("Service", "pathkv-redis") not in names
    assert ("NetworkPolicy", "pathkv-redis") not in names
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    assert config["PATHKV_REDIS_WAIT_REPLICAS"] == "1"
    if overlay == "overlays/redis-cluster":
        assert config["PATHKV_REDIS_BUCKETS"] == "16"
    egress = next(o for o in objects if o["metadata"]["name"] == "pathkv-egress")["spec"]
    ports = {p["port"] for rule in egress["egress"] for p in rule["ports"]}
    assert {53, EXTERNAL[overlay]} <= ports


def test_redis_is_persistent() -> None:
    redis = next(o for o in render("base") if o["kind"] == "StatefulSet")
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--appendfsync") + 1] == "always"
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]


def test_dev_overlay() -> None:
    objects = render("overlays/dev")
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    service = next(
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "pathkv"
    )
    assert deployment["spec"]["replicas"] == 1
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30321


def test_prod_overlay() -> None:
    objects = render("overlays/prod")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {
        ("PodDisruptionBudget", "pathkv"),
        ("NetworkPolicy", "pathkv"),
        ("NetworkPolicy", "pathkv-redis"),
        ("HorizontalPodAutoscaler", "pathkv"),
    } <= kinds
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert "replicas" not in deployment["spec"], "the HPA owns the count; apply would reset it"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert template["spec"]["affinity"]["podAntiAffinity"]
    redis_policy = next(
        o
        for o in objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "pathkv-redis"
    )
    sources = redis_policy["spec"]["ingress"][0]["from"]
    assert sources == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "pathkv"}}}]
    server_policy = next(
        o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "pathkv"
    )
    assert server_policy["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pathkv-client": "true"}}},
    ]
    # The maintenance jobs carry the label that lets them reach Redis.
    for cronjob in (o for o in objects if o["kind"] == "CronJob"):
        labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "pathkv"


def test_dockerfile_lints_clean_and_is_hardened() -> None:
    result = subprocess.run(
        [tool("hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") >= 2, "multi-stage"
    assert "python:3.11.11-slim-bookworm" in text
    assert "\nUSER 10001" in text and "HEALTHCHECK" in text and "/-/healthz" in text
    assert '\nENTRYPOINT ["pathkv"]' in text
    assert (ROOT / ".dockerignore").exists()


def test_compose_file_matches_the_specification() -> None:
    result = subprocess.run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    redis, pathkv = compose["services"]["redis"], compose["services"]["pathkv"]
    assert "--appendonly yes" in redis["command"][0] and "redis-data:/data" in redis["volumes"]
    # auth on; the admin token, Redis' password and the store URL only in secret files
    assert "--requirepass" in redis["command"][0] and redis["secrets"] == ["redis_password"]
    environment = pathkv["environment"]
    assert environment["PATHKV_AUTH"] == "on" and "PATHKV_STORE" not in environment
    assert environment["PATHKV_STORE_FILE"] == "/run/secrets/store_url"
    assert environment["PATHKV_ADMIN_TOKEN_FILE"] == "/run/secrets/admin_token"
    assert set(pathkv["secrets"]) == {"admin_token", "store_url"}
    assert all("file" in secret for secret in compose["secrets"].values())
    assert pathkv["depends_on"]["redis"]["condition"] == "service_healthy"
    assert pathkv["ports"] == ["8080:8080"]


def test_secrets_come_only_from_secrets(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """Auth is on, and the admin token and Redis' password (and the store URL, which holds
    it) reach the pods from the Secret pathkv-secrets, never from a ConfigMap or an image."""
    _, objects = rendered
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    assert config["data"]["PATHKV_AUTH"] == "on"
    for key, value in config["data"].items():
        assert not any(word in key for word in ("PATHKV_STORE", "PASSWORD")), key
        assert "redis://" not in value and "@" not in value, key
    for name, spec in pod_specs(objects):
        for container in spec["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            if container["name"] == "redis":
                assert "$(REDIS_PASSWORD)" in container["args"]
                for variable in ("REDIS_PASSWORD", "REDISCLI_AUTH"):
                    ref = env[variable]["valueFrom"]["secretKeyRef"]
                    assert ref == {"name": "pathkv-secrets", "key": "redis-password"}
                continue
            ref = env["PATHKV_STORE"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "pathkv-secrets", "key": "store-url"}, name
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    mounted = next(v for v in spec["volumes"] if v["name"] == "admin-token")
    assert mounted["secret"]["secretName"] == "pathkv-secrets"
    mounts = spec["containers"][0]["volumeMounts"]
    assert {
        "name": "admin-token",
        "mountPath": "/var/run/secrets/pathkv",
        "readOnly": True,
    } in mounts
    assert config["data"]["PATHKV_ADMIN_TOKEN_FILE"] == "/var/run/secrets/pathkv/admin-token"
