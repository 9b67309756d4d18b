"""What customer text may contain before it is stored or shown to a model.

Text arrives as JSON, which can carry lone UTF-16 surrogates (``"\\ud800"``): Python keeps them
in a ``str``, but neither the tokenizer, PostgreSQL nor a UTF-8 socket can take them, and one
such message once failed a whole micro-batch of other customers' turns. NUL is refused too:
PostgreSQL text cannot hold it. Everything else that Unicode allows is the customer's business.
"""

from __future__ import annotations

from bot.errors import InvalidInput


def is_valid_text(text: str) -> bool:
    """Unicode scalar values only (no lone surrogates) and no NUL character."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def customer_text(text: str, max_chars: int) -> str:
    """The message as stored: stripped, checked, within ``max_chars``; refusals name the rule."""
    if not is_valid_text(text):
        raise InvalidInput("invalid_text", "the text contains characters that are not valid Unicode text")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("empty_text", "the message text is empty")
    if len(stripped) > max_chars:
        raise InvalidInput(
            "text_too_long", f"the message has {len(stripped)} characters; the limit is {max_chars}"
        )
    return stripped
