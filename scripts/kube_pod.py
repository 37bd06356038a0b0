"""A pod for `podman kube play`, built from the rendered dev overlay
(`kubectl kustomize deploy/kubernetes/overlays/dev`), so the manifests' own containers start.

What is kept as the manifests say: images' commands and args, environment (the ConfigMap and
the Secret references), probes, resources, security contexts (users, read-only root, dropped
capabilities), volume mounts (emptyDir, the admin-token Secret, a claim for Redis' data).
What changes, because a pod on one machine is not a cluster: both workloads share one pod on
the host's network (so pathkv finds Redis on 127.0.0.1 instead of its Service's name), on
free ports; the images are the locally built ones; the Secret the docs tell operators to
create is made here; Redis' volumeClaimTemplate becomes a claim of its own. Services,
CronJobs and the Namespace have no podman equivalent and are left out.

Usage: python scripts/kube_pod.py DEV.yaml --image IMG --redis-image IMG --port P
       --redis-port P --admin-token SECRET --secret SECRET.json > POD.yaml
"""

from __future__ import annotations

import argparse
import copy
import json
import secrets
import sys
from typing import Any

import yaml


def by_kind(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for document in documents:
        if document and document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise SystemExit(f"kube_pod: no {kind} {name} in the rendered overlay")


def container_of(workload: dict[str, Any], image: str) -> tuple[dict[str, Any], list[Any]]:
    """The workload's (only) container, with its pod's user settings moved onto it (the two
    workloads run as different users in one pod), and the pod's volumes."""
    spec = copy.deepcopy(workload["spec"]["template"]["spec"])
    (container,) = spec["containers"]
    pod_security = spec.get("securityContext", {})
    security = container.setdefault("securityContext", {})
    for key in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile"):
        if key in pod_security:
            security.setdefault(key, pod_security[key])
    container["image"] = image
    return container, spec.get("volumes", [])


def on_host_network(container: dict[str, Any], port: int) -> None:
    """On the host's network a container publishes nothing (podman refuses port mappings
    there): its named port becomes the number its probes check."""
    names = {p["name"]: port for p in container.pop("ports", []) if "name" in p}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = container.get(probe, {}).get("httpGet")
        if check is not None:
            check["port"] = names.get(check["port"], check["port"])


def secret_volume_for_podman(volume: dict[str, Any]) -> dict[str, Any]:
    """podman 4.3 crashes on a secret volume without ``optional`` (it reads the field
    unconditionally); false is the Kubernetes default."""
    if "secret" in volume:
        volume = copy.deepcopy(volume)
        volume["secret"].setdefault("optional", False)
    return volume


def literal_secret(entry: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """An environment variable from a Secret key, as its value: podman 4.3 reads a secret
    for the environment in another encoding than for a volume, so one secret cannot serve
    both (the volume, the admin token's file, keeps reading the Secret)."""
    reference = entry.get("valueFrom", {}).get("secretKeyRef")
    if reference is None:
        return entry
    return {"name": entry["name"], "value": values[reference["key"]]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rendered")
    parser.add_argument("--image", required=True)
    parser.add_argument("--redis-image", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--secret", required=True, help="where to write the Secret, as JSON")
    args = parser.parse_args()
    with open(args.rendered, encoding="utf-8") as file:
        documents = [d for d in yaml.safe_load_all(file) if d]

    config = by_kind(documents, "ConfigMap", "pathkv-config")
    config["metadata"].pop("namespace", None)
    password = secrets.token_hex(16)
    values = {
        "store-url": f"redis://:{password}@127.0.0.1:{args.redis_port}/0",
        "redis-password": password,
        "admin-token": args.admin_token,
    }
    # The Secret docs/deploy.md has operators create, for `podman secret create NAME FILE`:
    # podman 4.3 mounts a Secret's keys from a podman secret holding the object as JSON (it
    # cannot read back one it makes from YAML), and writes each value of `data` to its file
    # as it is, not decoded from base64.
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pathkv-secrets"},
        "type": "Opaque",
        "data": values,
    }
    web, web_volumes = container_of(by_kind(documents, "Deployment", "pathkv"), args.image)
    web.setdefault("env", []).append({"name": "PATHKV_PORT", "value": str(args.port)})
    on_host_network(web, args.port)

    redis_set = by_kind(documents, "StatefulSet", "pathkv-redis")
    redis, _ = container_of(redis_set, args.redis_image)
    # podman does not expand $(VAR) in args as the kubelet does: give it the value.
    redis["args"] = [a.replace("$(REDIS_PASSWORD)", password) for a in redis["args"]]
    redis["args"] += ["--port", str(args.redis_port), "--bind", "127.0.0.1"]
    on_host_network(redis, args.redis_port)
    claim = copy.deepcopy(redis_set["spec"]["volumeClaimTemplates"][0])
    claim_name = "pathkv-dev-redis-data"
    claim.update(apiVersion="v1", kind="PersistentVolumeClaim")
    claim["metadata"] = {"name": claim_name}

    for container in (redis, web):
        container["env"] = [literal_secret(entry, values) for entry in container.get("env", [])]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pathkv-dev", "labels": {"app.kubernetes.io/name": "pathkv"}},
        "spec": {
            "hostNetwork": True,
            "restartPolicy": "Always",
            "containers": [redis, web],
            "volumes": [
                *map(secret_volume_for_podman, web_volumes),
                {"name": "data", "persistentVolumeClaim": {"claimName": claim_name}},
            ],
        },
    }
    with open(args.secret, "w", encoding="utf-8") as file:
        json.dump(secret, file)
    yaml.safe_dump_all([config, claim, pod], sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
