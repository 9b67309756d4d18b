"""Access to the services that the app's lifespan built, for routes and sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from bot.services import Services


def services_of(connection: HTTPConnection) -> Services:
    return connection.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated["Services", Depends(services_of)]
