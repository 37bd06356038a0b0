"""Namespaces: every document, counter, ranking and listing lives in exactly one.

A namespace is what a tenant owns. Anonymous requests act in ``default``, which holds the data
written before namespaces existed, so old data and URLs keep working unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pathkv.core.errors import BadRequest

# A Kubernetes namespace name fits: lower-case letters, digits and inner hyphens, 1-63 long.
NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise BadRequest(
                f"{self.name[:80]!r} is not a namespace name: 1 to 63 lower-case letters, "
                "digits and inner hyphens"
            )

    def __str__(self) -> str:
        return self.name


DEFAULT = Namespace("default")
