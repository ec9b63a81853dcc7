"""A bare Litestar endpoint: the yardstick that complaint create is compared with."""

from litestar import Litestar, post


@post("/bare", status_code=201)
async def bare(data: dict) -> dict:
    return {"ok": True, "n": len(data)}


app = Litestar(route_handlers=[bare], openapi_config=None, logging_config=None)
