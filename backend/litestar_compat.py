"""One change to how Litestar resolves handler dependencies: one after the other, not in a task group.

Litestar 2 resolves the dependencies of one level of the dependency graph concurrently: for a handler that
takes ``principal``, ``settings``, ``redis`` and ``arq`` it opens an anyio task group and spawns one task per
dependency, on every request. Ours (backend/deps.py) are reads of ``request.user`` and ``app.state`` that
never wait, so concurrency buys nothing; the task group cost 15 % of the scan → trace path's CPU
(py-spy, bench/materials_scan.py, issue 22). Resolving them in order gives the same values and the same
cleanup (generator dependencies still go into the cleanup group), at a fraction of the cost.

Applied once by ``backend.app.create_app``; tests/system/test_litestar_compat.py pins the behaviour and
fails when a Litestar upgrade changes the method this replaces (so the change is looked at again).
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

from litestar._kwargs.cleanup import DependencyCleanupGroup
from litestar._kwargs.dependencies import resolve_dependency
from litestar._kwargs.kwargs_model import KwargsModel

# sha256 of inspect.getsource(KwargsModel.resolve_dependencies) in Litestar 2.25.0, the method replaced here
REPLACED_SOURCE_SHA256 = "f5e60119abf69eff695b2287a6e46a44688f06a70157c4292243fa09080e44fa"
_original = KwargsModel.resolve_dependencies


async def _resolve_in_order(self: KwargsModel, connection: Any, kwargs: dict[str, Any]) -> DependencyCleanupGroup:
    cleanup_group = DependencyCleanupGroup()
    for batch in self.dependency_batches:
        for dependency in batch:
            await resolve_dependency(dependency, connection, kwargs, cleanup_group)
    return cleanup_group


def original_source_sha256() -> str:
    return hashlib.sha256(inspect.getsource(_original).encode()).hexdigest()


def apply() -> None:
    KwargsModel.resolve_dependencies = _resolve_in_order  # type: ignore[method-assign]


def applied() -> bool:
    return KwargsModel.resolve_dependencies is _resolve_in_order
