"""Personal data never reaches a training round; ordinary text passes untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.privacy.redact import find_personal_data, redact
from bot.privacy.redaction_quality import load_labelled, score


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
    assert redact("4111111111111111") == "[CARD]" and redact("4111111111111112") == "4111111111111112"
    assert redact("DE89370400440532013000") == "[IBAN]"
    assert redact("DE89370400440532013001") == "DE89370400440532013001"


def test_an_iban_stops_before_the_next_word() -> None:
    assert redact("IBAN DE89 3704 0044 0532 0130 00 or call") == "IBAN [IBAN] or call"


def test_a_card_followed_by_its_expiry_is_still_found() -> None:
    assert redact("card 4111 1111 1111 1111 12 28") == "card [CARD] 12 28"


def test_overlapping_findings_keep_the_surer_kind() -> None:
    findings = find_personal_data("tel +4915112345678 or 4111-1111-1111-1111")
    assert [f.kind for f in findings] == ["phone", "card"]


LABELLED_SET = PROJECT_ROOT / "data" / "privacy" / "redaction_labelled.jsonl"


def test_labelled_set_has_every_kind_and_look_alikes() -> None:
    rows = load_labelled(LABELLED_SET)
    kinds = {kind for row in rows for _, _, kind in row.spans}
    assert len(rows) >= 200 and kinds == {"email", "iban", "card", "phone"}
    assert sum(1 for row in rows if not row.spans) >= 50


def test_redaction_meets_the_issue_targets_on_the_labelled_set() -> None:
    """The targets of issue 13; benchmarks/redaction_quality.py prints the figures."""
    result = score(load_labelled(Path(LABELLED_SET)))
    assert result.recall >= 0.98, result.missed
    assert result.precision >= 0.95, result.wrong
