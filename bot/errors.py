"""Refusals: the one vocabulary in which the service says no.

Every refusal carries a stable machine ``code`` (what clients branch on) and a human ``detail``.
Library code raises the subclass that says what kind of no it is; each transport maps the kind
once: the JSON API to an HTTP status (``bot/api/errors.py``), the customer and staff sockets to
an ``error`` frame that leaves the socket open. A new refusal is one ``raise`` line::

    raise NotFound("unknown_conversation", "conversation not found")
"""

from __future__ import annotations


class Refusal(Exception):
    """A request the service will not carry out; nothing was written."""

    http_status = 422

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class InvalidInput(Refusal):
    """The request is malformed or breaks a rule about its content."""


class NotAuthenticated(Refusal):
    http_status = 401


class Forbidden(Refusal):
    http_status = 403


class NotFound(Refusal):
    http_status = 404


class Conflict(Refusal):
    """The request is well formed but the state it acts on does not allow it."""

    http_status = 409


class TooManyRequests(Refusal):
    """A limit was reached; ``retry_after`` says when trying again can succeed."""

    http_status = 429

    def __init__(self, code: str, detail: str, retry_after: float) -> None:
        super().__init__(code, detail)
        self.retry_after = retry_after
