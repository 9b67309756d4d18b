"""Remove personal data from logged customer text before it can become training data.

Each pattern is validated where a checksum exists (Luhn for payment cards, ISO 7064 mod-97
for IBANs), so order numbers, prices and dates survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# IBANs are written compact or in groups of four.
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
# International (+49 ..., 0049 ...) or national (030 ..., 0151 ...) numbers of 8-15 digits, or the
# North American (555) 123-4567. Requiring the leading + or 0 keeps order numbers and dates intact.
PHONE = re.compile(r"(?:(?<![\w+])\+|\b0)\d(?:[ .\-]?\(?\d\)?){6,14}(?!\w)|\(\d{3}\)\s?\d{3}[-.\s]\d{4}\b")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in _digits(number)]
    checksum = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return len(digits) >= 13 and checksum % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = re.sub(r"\s", "", candidate).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def _replace(pattern: re.Pattern[str], token: str, valid: Callable[[str], bool] | None = None):  # type: ignore[no-untyped-def]
    def substitute(match: re.Match[str]) -> str:
        return token if valid is None or valid(match.group(0)) else match.group(0)

    return lambda text: pattern.sub(substitute, text)


_STEPS = (
    _replace(EMAIL, "[EMAIL]"),
    _replace(IBAN, "[IBAN]", iban_valid),
    _replace(CARD, "[CARD]", luhn_valid),
    _replace(PHONE, "[PHONE]"),
)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, IBANs, card numbers and phone numbers replaced."""
    for step in _STEPS:
        text = step(text)
    return text
