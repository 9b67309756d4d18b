"""The demo shop's backend: order lookups over real HTTP, from ``data/demo/orders.csv``.

`bot serve` mounts it at ``/demo/api`` (``BOT_DEMO_SHOP``) and points the order-status action
at it, so the demo calls it exactly as it would call a real shop. A lookup needs the order
number and the e-mail address or delivery postcode of that order: any mismatch answers
exactly like an unknown number (404, the same body), so guessing numbers reveals nothing.
"""

from __future__ import annotations

import asyncio
import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from bot.actions.signing import verify
from bot.actions.slot_values import email, order_number, postcode
from bot.config import Settings

PREFIX = "/demo/api"
NOT_FOUND_BODY = {"error": "not_found", "detail": "no order matches this number and e-mail or postcode"}


@dataclass(frozen=True)
class DemoShopConfig:
    orders_csv: Path
    delay_seconds: float = 0.0
    # The shared secret the bot signs with; None: requests need no signature.
    signing_secret: str | None = None


@dataclass(frozen=True)
class Order:
    number: str
    email: str
    postcode: str
    status: str
    carrier: str
    tracking: str
    placed_on: str

    def matches(self, contact: str) -> bool:
        if "@" in contact:
            return email(contact) == self.email.lower()
        given, own = postcode(contact), postcode(self.postcode)
        # "1011AB" and "1011 AB" are one postcode: compared without spaces.
        return given is not None and own is not None and given.replace(" ", "") == own.replace(" ", "")

    def public(self) -> dict[str, str | None]:
        """What the shop tells a caller that proved both factors: never the e-mail or postcode."""
        return {
            "number": self.number,
            "status": self.status,
            "carrier": self.carrier or None,
            "tracking": self.tracking or None,
            "placed_on": self.placed_on,
        }


@lru_cache(maxsize=4)
def load_orders(path: Path) -> dict[str, Order]:
    with Path(path).open(encoding="utf-8", newline="") as file:
        return {
            row["number"]: Order(**{key: row.get(key) or "" for key in Order.__dataclass_fields__})
            for row in csv.DictReader(file)
        }


def demo_shop_config(settings: Settings) -> DemoShopConfig:
    secret = None
    if settings.demo_shop_signing_secret is not None:
        value = settings.action_secrets.get(settings.demo_shop_signing_secret)
        secret = value.get_secret_value() if value is not None else None
    return DemoShopConfig(
        settings.data_dir / "demo" / "orders.csv", settings.demo_shop_delay_ms / 1000, secret
    )


def demo_shop_router(config: DemoShopConfig) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.post("/orders/lookup")
    async def lookup(request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # the caller gave up (its deadline passed): nobody to answer
            return Response(status_code=499)
        if config.signing_secret is not None and not verify(config.signing_secret, request.headers, body):
            return JSONResponse({"error": "bad_signature"}, status_code=401)
        try:
            fields = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"error": "bad_request", "detail": "send a JSON object"}, status_code=400)
        if not isinstance(fields, dict):
            return JSONResponse({"error": "bad_request", "detail": "send a JSON object"}, status_code=400)
        if config.delay_seconds:
            await asyncio.sleep(config.delay_seconds)
        number = order_number(str(fields.get("number") or ""))
        contact = str(fields.get("contact") or "")
        order = load_orders(config.orders_csv).get(number or "")
        if order is None or not order.matches(contact):
            return JSONResponse(NOT_FOUND_BODY, status_code=404)
        return JSONResponse(order.public())

    return router


def app_from_environment() -> FastAPI:
    """The demo shop alone, configured by the ``BOT_*`` settings, for a process of its own:
    ``uvicorn --factory bot.api.demo_shop:app_from_environment`` (benchmarks/actions.py)."""
    return demo_shop_app(demo_shop_config(Settings()))


def demo_shop_app(config: DemoShopConfig) -> FastAPI:
    """The demo shop alone (for tests and benchmarks that serve it on a port of its own)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(demo_shop_router(config))
    return app
