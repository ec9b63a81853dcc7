"""Dependencies are resolved one after the other (backend/litestar_compat.py), with the same results."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from litestar.testing import AsyncTestClient



def test_the_replaced_litestar_method_is_the_one_reviewed():
    from backend import litestar_compat

    assert litestar_compat.original_source_sha256() == litestar_compat.REPLACED_SOURCE_SHA256, (
        "Litestar's KwargsModel.resolve_dependencies changed: review backend/litestar_compat.py against it, "
        "then update REPLACED_SOURCE_SHA256")


async def test_the_app_resolves_in_order_and_cleans_up_generator_dependencies():
    from backend import litestar_compat

    events: list[str] = []

    async def first() -> str:
        events.append("first")
        return "a"

    def second() -> str:
        events.append("second")
        return "b"

    async def third():  # noqa: ANN202 - a generator dependency: its cleanup runs after the response
        events.append("third")
        yield "c"
        events.append("third-cleanup")

    async def combined(first: NamedDependency[str], third: NamedDependency[str]) -> str:  # a second level, after the first
        events.append("combined")
        return first + third

    @get("/deps", dependencies={"first": Provide(first), "second": Provide(second, sync_to_thread=False),
                                "third": Provide(third), "combined": Provide(combined)})
    async def handler(first: NamedDependency[str], second: NamedDependency[str], third: NamedDependency[str],
                      combined: NamedDependency[str]) -> dict:
        return {"v": [first, second, third, combined]}

    litestar_compat.apply()
    assert litestar_compat.applied()
    async with AsyncTestClient(Litestar([handler])) as client:
        resp = await client.get("/deps")
    assert resp.json() == {"v": ["a", "b", "c", "ac"]}
    assert events.index("combined") > max(events.index("first"), events.index("third"))
    assert events[-1] == "third-cleanup"


async def test_the_api_runs_with_it(app):  # noqa: ANN001
    from backend import litestar_compat

    assert litestar_compat.applied()
