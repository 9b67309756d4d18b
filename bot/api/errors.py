"""How a refusal reaches an HTTP client: one handler for every ``Refusal`` of the JSON API.

The body is ``{"code": ..., "detail": ...}`` with the refusal kind's status; a ``TooManyRequests``
adds ``Retry-After``. Query and path integers are bounded here too, so that no number a client
sends can overflow a database column (an unbounded ``page`` once answered 500).
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from bot.errors import Refusal, TooManyRequests

# The largest value of a 32-bit signed integer column (ids and sequence numbers).
MAX_ID = 2**31 - 1
# No listing has more pages than this; the bound keeps OFFSET within a 32-bit value.
MAX_PAGE = 1_000_000

MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]
SeqAfter = Annotated[int, Query(ge=0, le=MAX_ID, description="Only messages after this seq")]


def install_refusal_handler(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, _refusal_response)


async def _refusal_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, Refusal)
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return JSONResponse(
        {"code": error.code, "detail": error.detail}, status_code=error.http_status, headers=headers
    )
