"""The operator's model, offline: the CRDs validate as Kubernetes objects, the examples
validate against the CRDs' schemas and parse, bad specs are refused with the message the
CRD's own rule gives, and every child built from a spec validates strictly against the
Kubernetes schemas and meets the workload policy of deploy/kubernetes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from pathkv.operator import children as build
from pathkv.operator.spec import InstanceSpec, SpecError, parse
from tests.deploy.policy import check_pod_spec, pod_specs
from tests.deploy.test_deploy import kustomize, render

OPERATOR = Path(__file__).resolve().parents[2] / "deploy" / "operator"
OWNER = build.Owner("shared", "pathkv", "0b5e1c39-2f0b-4c1e-9d43-6f1a5e0f7c11")


def rendered() -> list[dict[str, Any]]:
    return kustomize(OPERATOR)


def crds() -> dict[str, dict[str, Any]]:
    return {
        doc["spec"]["names"]["kind"]: doc
        for doc in rendered()
        if doc["kind"] == "CustomResourceDefinition"
    }


def schema(kind: str) -> dict[str, Any]:
    version = crds()[kind]["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def examples() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((OPERATOR / "examples").glob("*.yaml"))]


def test_the_crds_validate_strictly() -> None:
    found = crds()
    assert set(found) == {"PathKV", "PathKVTenant"}
    for crd in found.values():
        kubernetes_validate.validate(crd, kubernetes_validate.latest_version(), strict=True)
        version = crd["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        assert any(c["name"] == "Ready" for c in version["additionalPrinterColumns"])


def test_the_operator_install_validates_and_meets_the_policy() -> None:
    objects = rendered()
    for obj in objects:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    specs = dict(pod_specs(objects))
    assert set(specs) == {"Deployment/pathkv-operator"}
    check_pod_spec("Deployment/pathkv-operator", specs["Deployment/pathkv-operator"])
    (container,) = specs["Deployment/pathkv-operator"]["containers"]
    assert container["command"] == ["pathkv-operator"]


def test_the_operator_may_do_what_it_does_and_no_more() -> None:
    """Least privilege: no wildcards; every kind the builders make may be read, created
    and patched; only what `retired` and the tenant handler remove may be deleted."""
    (role,) = [o for o in rendered() if o["kind"] == "ClusterRole"]
    allowed: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                allowed.setdefault((group, resource), set()).update(rule["verbs"])
    plural = {
        "Secret": "secrets",
        "ConfigMap": "configmaps",
        "Service": "services",
        "PersistentVolumeClaim": "persistentvolumeclaims",
        "Deployment": "deployments",
        "StatefulSet": "statefulsets",
        "HorizontalPodAutoscaler": "horizontalpodautoscalers",
        "PodDisruptionBudget": "poddisruptionbudgets",
        "NetworkPolicy": "networkpolicies",
        "CronJob": "cronjobs",
    }
    made = set()
    for spec in SPECS.values():
        parsed = parse(spec)
        for obj in build.children(OWNER, parsed, redis_password="p"):
            made.add((obj["apiVersion"].rpartition("/")[0], plural[obj["kind"]]))
        for obj in build.retired(OWNER, parse({})):
            group = obj["apiVersion"].rpartition("/")[0]
            assert "delete" in allowed[(group, plural[obj["kind"]])], obj["kind"]
    for key in made:
        assert {"get", "create", "patch"} <= allowed[key], key
    assert "delete" not in allowed[("", "persistentvolumeclaims")]  # data is never removed
    assert "delete" in allowed[("", "secrets")]  # a tenant's token Secrets
    assert set(allowed) - made <= {
        ("pathkv.dev", "pathkvs"),
        ("pathkv.dev", "pathkvtenants"),
        ("pathkv.dev", "pathkvs/status"),
        ("pathkv.dev", "pathkvtenants/status"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("", "events"),
    }


def test_the_examples_validate_against_the_crds_and_parse() -> None:
    kinds = set()
    for example in examples():
        kinds.add(example["kind"])
        jsonschema.validate(example, schema(example["kind"]))
        if example["kind"] == "PathKV":
            parse(example["spec"])
    assert kinds == {"PathKV", "PathKVTenant"}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"store": {"kind": "sqlite"}, "replicas": 2}, "one replica"),
        ({"store": {"kind": "sqlite"}, "autoscaling": {"min": 1, "max": 3}}, "no autoscaling"),
        ({"store": {"kind": "external"}}, "store.secret"),
        ({"store": {"kind": "redis"}, "autoscaling": {"min": 5, "max": 2}}, "autoscaling.max"),
        ({"store": {"kind": "memcached"}}, "store.kind"),
        ({"store": {"kind": "redis"}, "replicas": 0}, "replicas"),
    ],
)
def test_a_spec_that_cannot_be_realised_is_refused(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field):
        parse(spec)


def test_the_crd_rules_say_what_parse_says() -> None:
    """The API server refuses these before the operator sees them (CEL rules); the
    operator's own check words them the same way."""
    rules = schema("PathKV")["properties"]["spec"]["x-kubernetes-validations"]
    auto = schema("PathKV")["properties"]["spec"]["properties"]["autoscaling"]
    messages = [r["message"] for r in rules + auto["x-kubernetes-validations"]]
    for spec in (
        {"store": {"kind": "sqlite"}, "replicas": 2},
        {"store": {"kind": "external"}},
        {"store": {"kind": "redis"}, "autoscaling": {"min": 5, "max": 2}},
    ):
        with pytest.raises(SpecError) as refused:
            parse(spec)
        assert any(message in str(refused.value) for message in messages), refused.value


SPECS = {
    "sqlite": {"store": {"kind": "sqlite", "size": "2Gi"}, "maintenance": {"sweep": ""}},
    "redis-fixed": {
        "store": {"kind": "redis"},
        "replicas": 3,
        "maintenance": {"backup": "41 3 * * *"},
    },
    "redis-autoscaled": {"store": {"kind": "redis"}, "autoscaling": {"min": 2, "max": 6}},
    "external": {"store": {"kind": "external", "secret": "cluster-url"}},
}


@pytest.fixture(params=sorted(SPECS))
def built(request: pytest.FixtureRequest) -> tuple[InstanceSpec, list[dict[str, Any]]]:
    spec = parse(SPECS[request.param])
    return spec, build.children(OWNER, spec, redis_password="s3cret")


def test_every_child_validates_strictly_and_is_owned(
    built: tuple[InstanceSpec, list[dict[str, Any]]],
) -> None:
    spec, objects = built
    for obj in [*objects, build.admin_secret(OWNER, spec, "token")]:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
        meta = obj["metadata"]
        assert meta["namespace"] == "pathkv"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "pathkv-operator"
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("PathKV", "shared", OWNER.uid)


def test_every_workload_meets_the_policy(
    built: tuple[InstanceSpec, list[dict[str, Any]]],
) -> None:
    _, objects = built
    specs = list(pod_specs(objects))
    assert "Deployment/shared" in dict(specs)
    for name, pod in specs:
        check_pod_spec(name, pod)


def test_what_each_store_brings() -> None:
    def kinds(name: str) -> set[tuple[str, str]]:
        return set(build.names(build.children(OWNER, parse(SPECS[name]), redis_password="p")))

    sqlite = kinds("sqlite")
    assert ("PersistentVolumeClaim", "shared-data") in sqlite
    assert not {k for k, _ in sqlite} & {"HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert ("CronJob", "shared-sweep") not in sqlite  # the spec turned the sweep off
    assert ("StatefulSet", "shared-redis") in kinds("redis-fixed")
    assert {("CronJob", "shared-backup"), ("PersistentVolumeClaim", "shared-backups")} <= kinds(
        "redis-fixed"
    )
    assert ("HorizontalPodAutoscaler", "shared") in kinds("redis-autoscaled")
    assert ("PodDisruptionBudget", "shared") in kinds("redis-autoscaled")
    external = kinds("external")
    assert not any(kind == "StatefulSet" for kind, _ in external)
    assert ("CronJob", "shared-sweep") in external
    assert ("CronJob", "shared-backup") not in external


def test_the_backup_is_the_tested_script_of_deploy_kubernetes() -> None:
    """tests/deploy runs that CronJob's script against a failing and a working export."""
    base = next(
        o
        for o in render("base")
        if o["kind"] == "CronJob" and o["metadata"]["name"] == "pathkv-backup"
    )
    script = base["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    job = build.backup_job(OWNER, parse(SPECS["redis-fixed"]))
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [script] == [build.BACKUP_SCRIPT]
    assert {"name": "backups", "mountPath": "/backups"} in container["volumeMounts"]
    sqlite = build.sweep_job(OWNER, parse({"store": {"kind": "sqlite"}}))
    pod = sqlite["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["affinity"]["podAffinity"]  # beside the server, where its volume is mounted


def test_the_deployment_follows_the_spec() -> None:
    sqlite = build.deployment(OWNER, parse(SPECS["sqlite"]))
    assert sqlite["spec"]["replicas"] == 1
    assert sqlite["spec"]["strategy"] == {"type": "Recreate"}  # never two writers
    autoscaled = build.deployment(OWNER, parse(SPECS["redis-autoscaled"]))
    assert "replicas" not in autoscaled["spec"]  # the HPA's to set
    fixed = build.deployment(OWNER, parse({**SPECS["redis-fixed"], "image": "pathkv:0.2.0"}))
    assert fixed["spec"]["replicas"] == 3
    (container,) = fixed["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "pathkv:0.2.0"
    external = build.deployment(OWNER, parse(SPECS["external"]))
    env = external["spec"]["template"]["spec"]["containers"][0]["env"]
    store = next(e for e in env if e["name"] == "PATHKV_STORE")
    assert store["valueFrom"]["secretKeyRef"] == {"name": "cluster-url", "key": "store-url"}


def test_the_grace_period_covers_the_drain() -> None:
    from pathkv.cli.serve import WORKERS_KILL_TIMEOUT

    pod = build.deployment(OWNER, parse(SPECS["redis-fixed"]))["spec"]["template"]["spec"]
    config = build.config_map(OWNER, parse(SPECS["redis-fixed"]))["data"]
    grace = build.PRE_STOP_SECONDS + float(config["PATHKV_SHUTDOWN_DELAY"]) + WORKERS_KILL_TIMEOUT
    assert pod["terminationGracePeriodSeconds"] >= grace + 5


def test_drift_is_a_changed_or_missing_field_not_an_added_one() -> None:
    desired = build.deployment(OWNER, parse(SPECS["redis-fixed"]))
    live = yaml.safe_load(yaml.safe_dump(desired))
    live["metadata"]["resourceVersion"] = "42"  # the API server's own fields
    live["status"] = {"readyReplicas": 3}
    live["spec"]["progressDeadlineSeconds"] = 600
    assert build.subset(desired, live)
    live["spec"]["replicas"] = 1  # someone scaled it by hand
    assert not build.subset(desired, live)
    live["spec"]["replicas"] = 3
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "pathkv:0.0.9"
    assert not build.subset(desired, live)
