"""Named validators for slot values: each checks a candidate and returns it normalised, or None.

A slot's ``pattern`` finds candidates in a sentence; the validator decides. Validators are
named in the content (``validator: email``), so operators pick from this list and never write code.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_ORDER_NUMBER = re.compile(r"^([A-Z]{2})[- ]?(\d{4,8})$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
# Postcodes of the countries the demo shop ships to: UK (SW1A 1AA), US (94107, 94107-1234),
# DE/FR/ES/IT (10115), NL (1011 AB), AT/CH/AU/BE/DK (1010).
_POSTCODE = re.compile(r"^(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|\d{5}(?:-\d{4})?|\d{4} ?[A-Z]{2}|\d{4})$")

Validator = Callable[[str], str | None]


def order_number(value: str) -> str | None:
    """``nw10042``, ``NW 10042`` and ``NW-10042`` are one order: ``NW-10042``."""
    match = _ORDER_NUMBER.match(value.strip().upper())
    return f"{match[1]}-{match[2]}" if match else None


def email(value: str) -> str | None:
    value = value.strip().strip(".,;:!?<>()")
    return value.lower() if len(value) <= 254 and _EMAIL.match(value) else None


def postcode(value: str) -> str | None:
    value = " ".join(value.strip().upper().split())
    return value if _POSTCODE.match(value) else None


def email_or_postcode(value: str) -> str | None:
    return email(value) if "@" in value else postcode(value)


def text(value: str) -> str | None:
    value = " ".join(value.split())
    return value if 0 < len(value) <= 200 else None


VALIDATORS: dict[str, Validator] = {
    "order_number": order_number,
    "email": email,
    "postcode": postcode,
    "email_or_postcode": email_or_postcode,
    "text": text,
}
