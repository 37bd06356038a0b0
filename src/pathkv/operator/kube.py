"""The operator's few Kubernetes calls, on lightkube's async client, with objects as
plain dictionaries (what `children` builds). Errors are told apart by HTTP status:
lightkube makes an ApiError (a kind of HTTPStatusError) only of a bare
`application/json` answer, and API servers may add a charset."""

from __future__ import annotations

from typing import Any, cast

from httpx2 import HTTPStatusError
from lightkube import AsyncClient
from lightkube.codecs import from_dict, resource_registry
from lightkube.core.resource import NamespacedResource
from lightkube.generic_resource import create_namespaced_resource

from pathkv.operator.children import MANAGER, Object

PathKVResource = create_namespaced_resource("pathkv.dev", "v1alpha1", "PathKV", "pathkvs")


def _missing(error: HTTPStatusError) -> bool:
    return error.response.status_code == 404


def _kind(obj: Object) -> type[NamespacedResource]:
    """The lightkube resource of an object's apiVersion and kind (the object itself may be
    only a reference: kind, name and namespace)."""
    return cast(type[NamespacedResource], resource_registry.load(obj["apiVersion"], obj["kind"]))


class Kube:
    def __init__(self, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient(field_manager=MANAGER)

    async def get(self, obj: Object) -> Object | None:
        """The live object of the same kind, name and namespace, or None."""
        kind = _kind(obj)
        meta = obj["metadata"]
        try:
            live = await self.client.get(kind, meta["name"], namespace=meta["namespace"])
        except HTTPStatusError as error:
            if _missing(error):
                return None
            raise
        return cast(Object, cast(Any, live).to_dict())

    async def apply(self, obj: Object) -> None:
        """Server-side apply, as the operator's field manager; an API server that does not
        create on apply (404) gets a create."""
        resource = from_dict(obj)
        try:
            await self.client.apply(resource, force=True)
        except HTTPStatusError as error:
            if not _missing(error):
                raise
            await self.client.create(resource)

    async def create(self, obj: Object) -> bool:
        """Create, or leave as it is if it exists (False)."""
        try:
            await self.client.create(from_dict(obj))
        except HTTPStatusError as error:
            if error.response.status_code == 409:
                return False
            raise
        return True

    async def delete(self, obj: Object) -> None:
        kind = _kind(obj)
        meta = obj["metadata"]
        try:
            await self.client.delete(kind, meta["name"], namespace=meta["namespace"])
        except HTTPStatusError as error:
            if not _missing(error):
                raise

    async def instance(self, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            found = await self.client.get(PathKVResource, name, namespace=namespace)
        except HTTPStatusError as error:
            if _missing(error):
                return None
            raise
        return cast(dict[str, Any], cast(Any, found).to_dict())
