"""Find and replace personal data in customer text: e-mail addresses, IBANs, payment cards, phones.

Libraries decide what counts wherever a standard exists: ``phonenumbers`` (Google's
libphonenumber metadata) says whether digits form a real number of a country, and
``python-stdnum`` checks IBANs (ISO 13616 length per country and the mod-97 checksum) and
card numbers (Luhn). A regular expression only proposes candidates, so order numbers, prices,
dates and tracking numbers survive. Precision and recall on the project's labelled set are
measured by ``benchmarks/redaction_quality.py`` (figures in the README).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn

EMAIL, IBAN, CARD, PHONE = "email", "iban", "card", "phone"
TOKENS = {EMAIL: "[EMAIL]", IBAN: "[IBAN]", CARD: "[CARD]", PHONE: "[PHONE]"}
# National numbers (no + or 00) are read as numbers of these countries, in this order.
DEFAULT_PHONE_REGIONS = ("DE", "GB", "US", "FR", "ES", "IT", "NL", "AT", "CH", "AU")

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
# VALID: a real number of the region. STRICT_GROUPING (digits grouped as the country groups them)
# would also drop dates such as 03.12.2026, but it drops numbers customers group their own way.
_PHONE_LENIENCY = phonenumbers.Leniency.VALID
_PHONE_MIN_DIGITS = 7
_IBAN_START = re.compile(r"\b[A-Za-z]{2}\d{2}(?= ?[A-Za-z0-9])")
_IBAN_MAX = 34
# Digits in groups separated by single spaces or dashes (a double space slips in when typing).
_CARD = re.compile(r"(?<![\w+-])\d+(?:(?: {1,2}|-)\d+)*(?![\w-])")
# Issuer prefixes of the card networks (Visa, Mastercard, Amex, Discover, JCB, Diners,
# UnionPay, Maestro): a Luhn-valid number without one is a gift card or a parcel number.
_CARD_PREFIX = re.compile(r"^(?:4|5[0-9]|2[2-7]|3[0-9]|6[0-9])")


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    kind: str


def find_personal_data(text: str, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> list[Finding]:
    """Non-overlapping findings in text order; where two overlap, the surer kind wins
    (an e-mail, IBAN or card over the phone number that its digits also spell)."""
    chosen: list[Finding] = []
    for candidates in (_emails(text), _ibans(text), _cards(text), _phones(text, phone_regions)):
        for found in candidates:
            if not any(found.start < other.end and other.start < found.end for other in chosen):
                chosen.append(found)
    return sorted(chosen)


def redact(text: str, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> str:
    """``text`` with each piece of personal data replaced by its kind, e.g. ``[EMAIL]``."""
    pieces, last = [], 0
    for found in find_personal_data(text, phone_regions):
        pieces += [text[last : found.start], TOKENS[found.kind]]
        last = found.end
    return "".join(pieces) + text[last:]


def _emails(text: str) -> Iterator[Finding]:
    for match in _EMAIL.finditer(text):
        yield Finding(match.start(), match.end(), EMAIL)


def _ibans(text: str) -> Iterator[Finding]:
    """The longest run of letters, digits and single spaces after a country code and check
    digits that is a valid IBAN; shorter runs are tried so a following word is left out."""
    for match in _IBAN_START.finditer(text):
        ends = list(_alnum_run_ends(text, match.start()))
        for end in reversed(ends):
            if iban.is_valid(text[match.start() : end]) or _iban_checksum_only(text[match.start() : end]):
                yield Finding(match.start(), end, IBAN)
                break


def _alnum_run_ends(text: str, start: int) -> Iterator[int]:
    """Positions after each letter or digit where a word ends, up to 34 letters and digits."""
    count, position = 0, start
    while position < len(text) and count < _IBAN_MAX:
        char = text[position]
        if char == " " and position + 1 < len(text) and _is_alnum(text[position + 1]):
            position += 1
            continue
        if not _is_alnum(char):
            break
        count += 1
        position += 1
        if position == len(text) or not _is_alnum(text[position]):
            yield position


def _is_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _iban_checksum_only(candidate: str) -> bool:
    """Valid by length and checksum although stdnum does not know the bank code (its bank lists lag)."""
    try:
        iban.validate(candidate, check_country=False)
    except ValueError:
        return False
    return True


def _cards(text: str) -> Iterator[Finding]:
    for match in _CARD.finditer(text):
        groups = list(re.finditer(r"\d+", match.group(0)))
        # A number right after the card (an expiry month, a code) joins the run: try shorter runs.
        for last in range(len(groups) - 1, -1, -1):
            end = groups[last].end()
            digits = re.sub(r"\D", "", match.group(0)[:end])
            if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn.is_valid(digits):
                yield Finding(match.start(), match.start() + end, CARD)
                break


def _phones(text: str, regions: Sequence[str]) -> Iterator[Finding]:
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=_PHONE_LENIENCY):
            # Six digits or fewer are a valid short number somewhere, but far more often a code.
            if sum(char.isdigit() for char in match.raw_string) >= _PHONE_MIN_DIGITS:
                yield Finding(match.start, match.end, PHONE)
