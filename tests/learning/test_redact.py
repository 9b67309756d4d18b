"""Personal data never reaches a training round; ordinary text passes untouched."""

from __future__ import annotations

import pytest

from bot.learning.redact import iban_valid, luhn_valid, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+shop@example.co.uk please", "mail me at [EMAIL] please"),
        ("my address is J.Smith@mail.example", "my address is [EMAIL]"),
        ("card 4111 1111 1111 1111 was charged twice", "card [CARD] was charged twice"),
        ("card 5500-0000-0000-0004 declined", "card [CARD] declined"),
        ("use 378282246310005 instead", "use [CARD] instead"),
        ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "IBAN [IBAN] for the refund"),
        ("refund to GB82WEST12345698765432", "refund to [IBAN]"),
        ("call me on +49 30 1234 5678", "call me on [PHONE]"),
        ("my number is 0151 23456789", "my number is [PHONE]"),
        ("or 030-12345678 after six", "or [PHONE] after six"),
        ("ring (555) 123-4567", "ring [PHONE]"),
        ("0049 151 2345 6789 is my mobile", "[PHONE] is my mobile"),
    ],
)
def test_redact_replaces_each_kind_of_personal_data(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "where is order 48213, it costs 59.90 EUR",
        "i ordered 2 items on 12/03/2026, size 42",
        "tracking number 123456789 shows nothing",
        "card 4111 1111 1111 1112 is not a valid number",
        "the code SUMMER2026 does not work",
        "can I return shoes after 30 days?",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_checksums_reject_near_misses() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE89370400440532013001")
