"""The objects that realise one PathKV: built from its name, namespace and spec as plain
dictionaries, each labelled as the operator's and owned by the PathKV (so Kubernetes
removes them with it). The hardening (non-root, read-only root, no capabilities, probes,
requests and limits) is the same as the kustomize manifests in deploy/kubernetes."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from pathkv.operator.spec import REDIS_IMAGE, InstanceSpec

API_VERSION = "pathkv.dev/v1alpha1"
MANAGER = "pathkv-operator"
PORT = 8080
REDIS_PORT = 6379
# The preStop pause and the workers' kill timeout (30 s) with room to spare.
PRE_STOP_SECONDS = 5
GRACE_SECONDS = 45

Object = dict[str, Any]


class Owner:
    """The PathKV the children belong to: its identity and the names derived from it."""

    def __init__(self, name: str, namespace: str, uid: str) -> None:
        self.name, self.namespace, self.uid = name, namespace, uid

    @property
    def redis(self) -> str:
        return f"{self.name}-redis"

    @property
    def secret(self) -> str:
        """The Secret the operator keeps: the store URL and the managed Redis' password."""
        return f"{self.name}-store"

    def admin_secret(self, spec: InstanceSpec) -> str:
        return spec.admin_secret or f"{self.name}-admin"

    @property
    def url(self) -> str:
        return f"http://{self.name}.{self.namespace}.svc:{PORT}"

    def labels(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": "pathkv",
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": MANAGER,
        }

    def selector(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": component,
        }

    def metadata(self, name: str, component: str) -> Object:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": self.labels(component),
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "PathKV",
                    "name": self.name,
                    "uid": self.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }


def encode(values: Mapping[str, str]) -> dict[str, str]:
    """A Secret's `data`: the API server stores and returns it so, which keeps the drift
    test exact (`stringData` is written once and never read back)."""
    return {key: base64.b64encode(value.encode()).decode("ascii") for key, value in values.items()}


def decode(secret: Mapping[str, Any], key: str) -> str | None:
    value = (secret.get("data") or {}).get(key)
    return base64.b64decode(value).decode() if isinstance(value, str) else None


def _hardened(container: Object) -> Object:
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    return container


def _pod_security(uid: int) -> Object:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def config_map(owner: Owner, spec: InstanceSpec) -> Object:
    data = {
        "PATHKV_AUTH": "on",
        "PATHKV_ADMIN_TOKEN_FILE": "/var/run/secrets/pathkv/admin-token",
        "PATHKV_WORKERS": "2",
        "PATHKV_LOG_LEVEL": "INFO",
        # The preStop hook already waits for endpoints to update.
        "PATHKV_SHUTDOWN_DELAY": "0",
        # Expired documents are swept by the sweep CronJob, not by a thread in every pod.
        "PATHKV_SWEEP_INTERVAL": "0",
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owner.metadata(f"{owner.name}-config", "server"),
        "data": data,
    }


def store_secret(owner: Owner, spec: InstanceSpec, redis_password: str) -> Object:
    """For sqlite, the file on the volume; for the managed Redis, its URL and password.
    An external store's URL stays in the user's own Secret."""
    if spec.store.kind == "redis":
        url = f"redis://:{redis_password}@{owner.redis}.{owner.namespace}.svc:{REDIS_PORT}/0"
        data = {"store-url": url, "redis-password": redis_password}
    else:
        data = {"store-url": "sqlite:///data/pathkv.db"}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": owner.metadata(owner.secret, "store"),
        "type": "Opaque",
        "data": encode(data),
    }


def admin_secret(owner: Owner, spec: InstanceSpec, token: str) -> Object:
    """Created only when absent: the token is the user's once it exists."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": owner.metadata(owner.admin_secret(spec), "auth"),
        "type": "Opaque",
        "data": encode({"admin-token": token}),
    }


def _store_url_ref(owner: Owner, spec: InstanceSpec) -> Object:
    if spec.store.kind == "external":
        return {"name": spec.store.secret, "key": spec.store.key}
    return {"name": owner.secret, "key": "store-url"}


def _pathkv_container(owner: Owner, spec: InstanceSpec, args: list[str]) -> Object:
    return {
        "name": "pathkv",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "envFrom": [{"configMapRef": {"name": f"{owner.name}-config"}}],
        "env": [
            {"name": "PATHKV_STORE", "valueFrom": {"secretKeyRef": _store_url_ref(owner, spec)}}
        ],
        "resources": {
            "requests": dict(spec.resources.requests),
            "limits": dict(spec.resources.limits),
        },
    }


def _volumes(owner: Owner, spec: InstanceSpec) -> tuple[list[Object], list[Object]]:
    mounts: list[Object] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "admin-token", "mountPath": "/var/run/secrets/pathkv", "readOnly": True},
    ]
    volumes: list[Object] = [
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {
            "name": "admin-token",
            "secret": {
                "secretName": owner.admin_secret(spec),
                "defaultMode": 0o440,
                "items": [{"key": "admin-token", "path": "admin-token"}],
            },
        },
    ]
    if spec.single:
        mounts.append({"name": "data", "mountPath": "/data"})
        volumes.append(
            {"name": "data", "persistentVolumeClaim": {"claimName": f"{owner.name}-data"}}
        )
    return mounts, volumes


def deployment(owner: Owner, spec: InstanceSpec) -> Object:
    mounts, volumes = _volumes(owner, spec)
    container = _pathkv_container(owner, spec, ["serve"])
    container["env"].append({"name": "PATHKV_HOST", "value": "0.0.0.0"})
    container["ports"] = [{"name": "http", "containerPort": PORT}]
    container["volumeMounts"] = mounts
    container["startupProbe"] = {
        "httpGet": {"path": "/-/healthz", "port": "http"},
        "periodSeconds": 2,
        "failureThreshold": 30,
    }
    container["readinessProbe"] = {
        "httpGet": {"path": "/-/readyz", "port": "http"},
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "failureThreshold": 2,
    }
    container["livenessProbe"] = {
        "httpGet": {"path": "/-/healthz", "port": "http"},
        "periodSeconds": 10,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }
    container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}}
    body: Object = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": owner.metadata(owner.name, "server"),
        "spec": {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": owner.selector("server")},
            # One SQLite file cannot have two writers, not even for the length of a rollout.
            "strategy": {"type": "Recreate"}
            if spec.single
            else {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": owner.labels("server")},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": GRACE_SECONDS,
                    "securityContext": _pod_security(10001),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": owner.selector("server")},
                        }
                    ],
                    "containers": [_hardened(container)],
                    "volumes": volumes,
                },
            },
        },
    }
    if spec.autoscaling is None:  # with an autoscaler, the replica count is the HPA's
        body["spec"]["replicas"] = spec.replicas
    return body


def service(owner: Owner) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owner.metadata(owner.name, "server"),
        "spec": {
            "selector": owner.selector("server"),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
        },
    }


def data_claim(owner: Owner, spec: InstanceSpec) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": owner.metadata(f"{owner.name}-data", "store"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": spec.store.size}},
        },
    }


def autoscaler(owner: Owner, spec: InstanceSpec) -> Object:
    assert spec.autoscaling is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": owner.metadata(owner.name, "server"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": owner.name},
            "minReplicas": spec.autoscaling.min,
            "maxReplicas": spec.autoscaling.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": spec.autoscaling.target_cpu,
                        },
                    },
                }
            ],
        },
    }


def disruption_budget(owner: Owner) -> Object:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": owner.metadata(owner.name, "server"),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": owner.selector("server")}},
    }


def _ingress_only(owner: Owner, name: str, component: str, source: Object, port: int) -> Object:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": owner.metadata(name, component),
        "spec": {
            "podSelector": {"matchLabels": owner.selector(component)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [source], "ports": [{"port": port, "protocol": "TCP"}]}],
        },
    }


def network_policy(owner: Owner) -> Object:
    """pathkv is reached by pods labelled pathkv-client=true (any namespace)."""
    source = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pathkv-client": "true"}}}
    return _ingress_only(owner, owner.name, "server", source, PORT)


def redis_network_policy(owner: Owner) -> Object:
    """The managed Redis is reached by this instance's own pods only."""
    source = {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": owner.name}}}
    return _ingress_only(owner, owner.redis, "redis", source, REDIS_PORT)


def redis_service(owner: Owner) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owner.metadata(owner.redis, "redis"),
        "spec": {
            "clusterIP": "None",
            "selector": owner.selector("redis"),
            "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis"}],
        },
    }


def redis_stateful_set(owner: Owner, spec: InstanceSpec) -> Object:
    password = {"secretKeyRef": {"name": owner.secret, "key": "redis-password"}}
    probe = {"exec": {"command": ["redis-cli", "ping"]}, "timeoutSeconds": 3}
    container = {
        "name": "redis",
        "image": REDIS_IMAGE,
        "args": [
            "redis-server",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--dir",
            "/data",
            "--requirepass",
            "$(REDIS_PASSWORD)",
        ],
        "env": [
            {"name": "REDIS_PASSWORD", "valueFrom": password},
            # redis-cli (the probes) reads the password from here.
            {"name": "REDISCLI_AUTH", "valueFrom": password},
        ],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": owner.metadata(owner.redis, "redis"),
        "spec": {
            "serviceName": owner.redis,
            "replicas": 1,
            "selector": {"matchLabels": owner.selector("redis")},
            "template": {
                "metadata": {"labels": owner.labels("redis")},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": _pod_security(999),
                    "containers": [_hardened(container)],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": spec.store.size}},
                    },
                }
            ],
        },
    }


# One export a day; the seven newest are kept. Written under a name of its own and renamed
# only once complete: a failed run leaves no partial file and pushes no good one out. The
# same script as the pathkv-backup CronJob of deploy/kubernetes (a test keeps them equal).
BACKUP_SCRIPT = (
    'file="/backups/pathkv-$(date -u +%Y%m%dT%H%M%SZ).jsonl"; rm -f /backups/*.partial;'
    ' if pathkv export -o "$file.partial"; then mv "$file.partial" "$file";'
    ' else rm -f "$file.partial"; exit 1; fi;'
    " ls -1t /backups/pathkv-*.jsonl | tail -n +8 | xargs -r rm --"
)


def _cron_job(
    owner: Owner, spec: InstanceSpec, job: str, schedule: str, container: Object, extra: Object
) -> Object:
    """A maintenance CronJob. With SQLite the job mounts the server's ReadWriteOnce data
    volume, so it must run on the server's node: a pod affinity says so."""
    mounts, volumes = _volumes(owner, spec)
    container["volumeMounts"] = mounts + extra.get("mounts", [])
    pod: Object = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(10001),
        "containers": [_hardened(container)],
        "volumes": volumes + extra.get("volumes", []),
    }
    if spec.single:
        pod["affinity"] = {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": owner.selector("server")},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": owner.metadata(f"{owner.name}-{job}", "maintenance"),
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 3600,
                    "template": {"metadata": {"labels": owner.labels("maintenance")}, "spec": pod},
                }
            },
        },
    }


def sweep_job(owner: Owner, spec: InstanceSpec) -> Object:
    """Removes expired documents on a schedule (`pathkv sweep`)."""
    container = _pathkv_container(owner, spec, ["sweep"])
    return _cron_job(owner, spec, "sweep", spec.maintenance.sweep, container, {})


def backup_claim(owner: Owner, spec: InstanceSpec) -> Object:
    claim = data_claim(owner, spec)
    claim["metadata"] = owner.metadata(f"{owner.name}-backups", "maintenance")
    return claim


def backup_job(owner: Owner, spec: InstanceSpec) -> Object:
    """`pathkv export` into the backups volume on a schedule, keeping seven."""
    container = _pathkv_container(owner, spec, [BACKUP_SCRIPT])
    container["name"] = "export"
    container["command"] = ["/bin/sh", "-c"]
    extra: Object = {
        "mounts": [{"name": "backups", "mountPath": "/backups"}],
        "volumes": [
            {"name": "backups", "persistentVolumeClaim": {"claimName": f"{owner.name}-backups"}}
        ],
    }
    return _cron_job(owner, spec, "backup", spec.maintenance.backup, container, extra)


def children(owner: Owner, spec: InstanceSpec, *, redis_password: str) -> list[Object]:
    """Every object the instance needs, in the order they are applied (what a pod mounts
    before the pod). The admin token Secret is not among them: it is created once, if
    absent (`admin_secret`), and never overwritten."""
    objects = [store_secret(owner, spec, redis_password), config_map(owner, spec)]
    if spec.store.kind == "redis":
        objects += [
            redis_service(owner),
            redis_stateful_set(owner, spec),
            redis_network_policy(owner),
        ]
    if spec.single:
        objects.append(data_claim(owner, spec))
    objects += [deployment(owner, spec), service(owner), network_policy(owner)]
    if spec.autoscaling is not None:
        objects.append(autoscaler(owner, spec))
    if not spec.single:
        objects.append(disruption_budget(owner))
    if spec.maintenance.sweep:
        objects.append(sweep_job(owner, spec))
    if spec.maintenance.backup:
        objects += [backup_claim(owner, spec), backup_job(owner, spec)]
    return objects


def retired(owner: Owner, spec: InstanceSpec) -> list[Object]:
    """The optional children this spec no longer wants (an autoscaler after autoscaling is
    turned off, the managed Redis after a move to an external store, ...), as references
    to delete. Volumes are never among them: data is removed by hand."""
    wanted = set(names(children(owner, spec, redis_password="")))
    optional = [
        ("autoscaling/v2", "HorizontalPodAutoscaler", owner.name),
        ("policy/v1", "PodDisruptionBudget", owner.name),
        ("apps/v1", "StatefulSet", owner.redis),
        ("v1", "Service", owner.redis),
        ("networking.k8s.io/v1", "NetworkPolicy", owner.redis),
        ("batch/v1", "CronJob", f"{owner.name}-sweep"),
        ("batch/v1", "CronJob", f"{owner.name}-backup"),
    ]
    return [
        {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": owner.namespace}}
        for api, kind, name in optional
        if (kind, name) not in wanted
    ]


def names(objects: list[Object]) -> list[tuple[str, str]]:
    """(kind, name) of each object: what the status lists and drift checks look for."""
    return [(obj["kind"], obj["metadata"]["name"]) for obj in objects]


def subset(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """Whether `live` holds every field `desired` sets (the fields the API server adds,
    such as defaults and status, do not count): a child that fails this has drifted."""
    for key, value in desired.items():
        if key not in live:
            return False
        if isinstance(value, Mapping):
            if not isinstance(live[key], Mapping) or not subset(value, live[key]):
                return False
        elif isinstance(value, list):
            other = live[key]
            if not isinstance(other, list) or len(other) != len(value):
                return False
            for mine, theirs in zip(value, other, strict=True):
                if isinstance(mine, Mapping):
                    if not isinstance(theirs, Mapping) or not subset(mine, theirs):
                        return False
                elif mine != theirs:
                    return False
        elif value != live[key]:
            return False
    return True
