"""The controller (kopf): keeps each PathKV's children as its spec says, and each
PathKVTenant's tenant and tokens in step with the instance's admin API.

Reconciling is idempotent and runs on create, update, resume and every
PATHKV_OPERATOR_RESYNC seconds (default 30): a child deleted or edited by hand is back
within that interval. Only the fields the operator sets count as drift (`children.subset`)."""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Any

import kopf

from pathkv.client import AsyncClient, NotFound
from pathkv.operator import children as build
from pathkv.operator import status, tenants
from pathkv.operator.kube import Kube
from pathkv.operator.spec import SpecError, parse

GROUP, VERSION = "pathkv.dev", "v1alpha1"
RESYNC = float(os.environ.get("PATHKV_OPERATOR_RESYNC", "30"))
# Where the operator reaches an instance when not at its Service (an operator run outside
# the cluster, behind a port-forward): this annotation on the PathKV.
URL_ANNOTATION = "pathkv.dev/url"
_kube: Kube | None = None


def kube() -> Kube:
    global _kube
    if _kube is None:
        _kube = Kube()
    return _kube


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _kube
    _kube = Kube()  # a client of this run's event loop, configured as of now
    settings.peering.standalone = True
    settings.persistence.finalizer = "pathkv.dev/operator"
    settings.posting.level = 30  # warnings and errors become Events


@kopf.on.cleanup()
async def close(**_: Any) -> None:
    global _kube
    if _kube is not None:
        client, _kube = _kube.client, None
        await client.close()


async def _secret_value(name: str, namespace: str, key: str) -> str | None:
    probe = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
    }
    live = await kube().get(probe)
    return build.decode(live, key) if live else None


@kopf.on.resume(GROUP, VERSION, "pathkvs")
@kopf.on.create(GROUP, VERSION, "pathkvs")
@kopf.on.update(GROUP, VERSION, "pathkvs")
@kopf.timer(GROUP, VERSION, "pathkvs", interval=RESYNC, initial_delay=RESYNC)
async def reconcile_instance(
    *,
    name: str,
    namespace: str | None,
    uid: str,
    spec: kopf.Spec,
    patch: kopf.Patch,
    body: kopf.Body,
    **_: Any,
) -> None:
    assert namespace is not None  # the CRD is namespaced
    owner = build.Owner(name, namespace, uid)
    old = (body.get("status") or {}).get("conditions")
    try:
        parsed = parse(spec)
    except SpecError as error:
        _set_status(patch, body, old, status.conditions(None, str(error)), owner)
        raise kopf.PermanentError(str(error)) from error
    password = await _secret_value(owner.secret, namespace, "redis-password")
    if password is None and parsed.store.kind == "redis":
        # Created, not applied: of two reconciles racing, the first password stays. An
        # existing Secret without one (the instance was on SQLite) gets it applied, once.
        made = build.store_secret(owner, parsed, secrets.token_urlsafe(24))
        if not await kube().create(made):
            await kube().apply(made)
        password = await _secret_value(owner.secret, namespace, "redis-password")
    await kube().create(build.admin_secret(owner, parsed, secrets.token_urlsafe(32)))
    deployment = None
    for child in build.children(owner, parsed, redis_password=password or ""):
        live = await kube().get(child)
        if live is None or not build.subset(child, live):
            await kube().apply(child)
            live = await kube().get(child)
        if child["kind"] == "Deployment":
            deployment = live
    for child in build.retired(owner, parsed):
        await kube().delete(child)
    _set_status(patch, body, old, status.conditions(deployment, None), owner)


def _set_status(
    patch: kopf.Patch,
    body: kopf.Body,
    old: list[dict[str, str]] | None,
    new: list[dict[str, str]],
    owner: build.Owner,
) -> None:
    current = body.get("status") or {}
    generation = body["metadata"].get("generation")
    if (
        status.changed(old, new)
        or current.get("observedGeneration") != generation
        or current.get("url") != owner.url
    ):
        patch.status["conditions"] = status.merge(old, new)
        patch.status["observedGeneration"] = generation
        patch.status["url"] = owner.url


# Tenants --------------------------------------------------------------------------------


async def _admin(spec: kopf.Spec) -> tuple[AsyncClient, str]:
    """A client of the instance the tenant names, with its admin token, and its URL."""
    ref = spec["instance"]
    found = await kube().instance(ref["name"], ref["namespace"])
    if found is None:
        raise kopf.TemporaryError(
            f"PathKV {ref['namespace']}/{ref['name']} does not exist", delay=5
        )
    owner = build.Owner(ref["name"], ref["namespace"], found["metadata"]["uid"])
    url = (found["metadata"].get("annotations") or {}).get(URL_ANNOTATION) or owner.url
    secret = owner.admin_secret(parse(found.get("spec") or {}))
    token = await _secret_value(secret, ref["namespace"], "admin-token")
    if not token:
        raise kopf.TemporaryError(f"the admin token Secret {secret} is not there yet", delay=5)
    return AsyncClient(url, token=token), url


@kopf.on.resume(GROUP, VERSION, "pathkvtenants")
@kopf.on.create(GROUP, VERSION, "pathkvtenants")
@kopf.on.update(GROUP, VERSION, "pathkvtenants")
async def reconcile_tenant(
    *, namespace: str | None, spec: kopf.Spec, body: kopf.Body, patch: kopf.Patch, **_: Any
) -> None:
    assert namespace is not None
    client, url = await _admin(spec)
    tenant = tenants.tenant_name(namespace, spec)
    async with client:
        await client.put_tenant(tenant, **tenants.quota(spec))
        issued = []
        for token in spec.get("tokens") or []:
            probe = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": token["name"], "namespace": namespace},
            }
            if await kube().get(probe) is None:
                made = await client.create_token(tenant, **tenants.token_options(token))
                await kube().create(
                    tenants.token_secret(token["name"], namespace, body["metadata"], made, url)
                )
            issued.append(token["name"])
    patch.status["tenant"] = tenant
    patch.status["tokens"] = issued
    patch.status["conditions"] = status.merge(
        (body.get("status") or {}).get("conditions"),
        [{"type": "Ready", "status": "True", "reason": "Issued", "message": f"tenant {tenant}"}],
    )


@kopf.on.delete(GROUP, VERSION, "pathkvtenants")
async def remove_tenant(*, namespace: str | None, spec: kopf.Spec, **_: Any) -> None:
    """Revokes the tokens (and with deleteData removes the tenant, documents and all), then
    removes their Secrets."""
    assert namespace is not None
    client, _url = await _admin(spec)
    tenant = tenants.tenant_name(namespace, spec)
    async with client:
        if spec.get("deleteData"):
            with contextlib.suppress(NotFound):
                await client.delete_tenant(tenant)
        for token in spec.get("tokens") or []:
            probe = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": token["name"], "namespace": namespace},
            }
            live = await kube().get(probe)
            token_id = build.decode(live, "token-id") if live else None
            if token_id:
                with contextlib.suppress(NotFound):
                    await client.revoke(token_id)
            await kube().delete(probe)


def main() -> None:
    """`pathkv-operator`: watch every namespace, as the only instance (no peering), with
    the liveness endpoint the Deployment's probes ask (PATHKV_OPERATOR_LIVENESS)."""
    liveness = os.environ.get("PATHKV_OPERATOR_LIVENESS", "http://0.0.0.0:8080/healthz")
    kopf.run(clusterwide=True, standalone=True, liveness_endpoint=liveness)
