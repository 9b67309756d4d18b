"""A real local HTTP shop for action tests: the demo shop under uvicorn, with a switch.

``ShopSwitch`` changes how the next requests are answered (a delay, a status, a body that is
not JSON) without restarting the server; left alone it is the demo shop itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.demo_shop import DemoShopConfig, demo_shop_app
from bot.config import PROJECT_ROOT, Settings
from tests.live_server import serve_in_thread

ORDERS_CSV = PROJECT_ROOT / "data" / "demo" / "orders.csv"


@dataclass
class ShopSwitch:
    delay_seconds: float = 0.0
    status: int | None = None
    body: bytes | None = None
    requests: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def reset(self) -> None:
        self.delay_seconds, self.status, self.body = 0.0, None, None


class SwitchedShop:
    """ASGI middleware applying the switch before (or instead of) the demo shop."""

    def __init__(self, app: ASGIApp, switch: ShopSwitch) -> None:
        self.app = app
        self.switch = switch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        switch = self.switch
        switch.requests += 1
        switch.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        switch.bodies.append(body)
        if switch.delay_seconds:
            await asyncio.sleep(switch.delay_seconds)
        if switch.status is not None or switch.body is not None:
            content = switch.body if switch.body is not None else b'{"error": "boom"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": switch.status or 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": content})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@contextmanager
def shop_server(
    settings: Settings, switch: ShopSwitch | None = None, signing_secret: str | None = None
) -> Iterator[str]:
    """The shop on a free loopback port; yields the base URL of its API (``.../demo/api``)."""
    app = demo_shop_app(DemoShopConfig(ORDERS_CSV, signing_secret=signing_secret))
    with serve_in_thread(SwitchedShop(app, switch or ShopSwitch()), settings) as url:  # type: ignore[arg-type]
        yield f"{url}/demo/api"
