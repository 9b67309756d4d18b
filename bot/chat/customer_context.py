"""Where a customer chats from, as the widget reports it in ``hello``, and the anonymous customer id.

The widget keeps a random id per browser (``localStorage``) so staff see earlier conversations
from the same browser. Both are personal data: stored on the conversation row only, so erasing
or purging the conversation takes them too. The page and referrer keep no query string or
fragment (they often carry e-mail addresses, order numbers or session tokens).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation

CUSTOMER_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
URL_CHARS = 500
RAW_CHARS = 2000
BROWSERS = (
    ("Edge", re.compile(r"Edg/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"Firefox/(\d+)")),
    ("Chrome", re.compile(r"Chrom(?:e|ium)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+).*Safari/")),
)
SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("Linux", re.compile(r"Linux|X11")),
)


class CustomerContext(BaseModel):
    """What the widget sends in ``hello`` as ``context``; every field optional and cut to size."""

    page_url: str | None = Field(default=None, description="The page the chat runs on.")
    referrer: str | None = Field(default=None, description="The page before it.")
    language: str | None = Field(default=None, description="The browser's language tag.")
    user_agent: str | None = Field(default=None, description="navigator.userAgent.")

    @field_validator("page_url", "referrer", "language", "user_agent", mode="before")
    @classmethod
    def _text_cut_to_size(cls, value: object) -> str | None:
        return value[:RAW_CHARS] if isinstance(value, str) and value else None

    @field_validator("page_url", "referrer")
    @classmethod
    def _without_query(cls, value: str | None) -> str | None:
        return without_query(value) if value else None

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str | None) -> str | None:
        tag = r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}"
        return value if value and len(value) <= 35 and re.fullmatch(tag, value) else None

    @classmethod
    def lenient(cls, raw: object) -> CustomerContext | None:
        """The context from a hello frame, or None when it is missing or not what it claims."""
        if not isinstance(raw, dict):
            return None
        try:
            context = cls.model_validate(
                {key: value for key, value in raw.items() if key in cls.model_fields}
            )
        except ValidationError:
            return None
        return context if any(context.model_dump().values()) else None

    def stored(self) -> dict[str, Any]:
        """What the conversation keeps: the browser summarised, not the full user-agent string."""
        return {
            "page_url": self.page_url,
            "referrer": self.referrer,
            "language": self.language,
            "browser": browser_name(self.user_agent or ""),
        }


def without_query(url: str) -> str | None:
    """``url`` without query string, fragment or credentials; None unless it is http(s)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))[:URL_CHARS]


def browser_name(user_agent: str) -> str | None:
    """``Chrome 120 on Linux`` from a user-agent string; None when nothing is recognised."""
    name = next(((label, m.group(1)) for label, rx in BROWSERS if (m := rx.search(user_agent))), None)
    system = next((label for label, rx in SYSTEMS if rx.search(user_agent)), None)
    if name is None and system is None:
        return None
    browser = f"{name[0]} {name[1]}" if name else "a browser"
    return f"{browser} on {system}" if system else browser


def valid_customer_id(value: str | None) -> str | None:
    """The id when it looks like one the widget makes (a random UUID); else None (not an error:
    an old widget or a cleared localStorage simply has none)."""
    return value if value is not None and CUSTOMER_ID.match(value) else None


def remember(
    factory: sessionmaker[Session],
    conversation_id: str,
    customer_id: str | None,
    context: CustomerContext | None,
) -> None:
    """Store the customer id (first one wins) and the newest context on the conversation."""
    values: dict[str, Any] = {"updated_at": Conversation.updated_at}  # not customer activity
    if context is not None:
        values["customer_context"] = context.stored()
    with factory() as session:
        if customer_id is not None:
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.customer_id.is_(None))
                .values(customer_id=customer_id, updated_at=Conversation.updated_at)
            )
        if context is not None:
            session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))
        session.commit()
