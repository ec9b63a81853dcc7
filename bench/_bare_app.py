"""A bare Litestar endpoint: the yardstick that the HTTP paths are compared with (same server, same client)."""

from litestar import Litestar, post


@post("/bare", status_code=201)
async def bare(data: dict) -> dict:
    return {"ok": True, "n": len(data)}


@post("/bare/ok", status_code=200)
async def bare_ok(data: dict) -> dict:
    return {"ok": True, "n": len(data)}


app = Litestar(route_handlers=[bare, bare_ok], openapi_config=None, logging_config=None)
