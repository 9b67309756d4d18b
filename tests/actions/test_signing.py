"""HMAC-SHA256 over timestamp and body: what the shop checks."""

from __future__ import annotations

import hashlib
import hmac

from bot.actions.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers, verify


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    headers = signed_headers("shared", b'{"number":"NW-10042"}', now=1_764_000_000)
    expected = hmac.new(b"shared", b'1764000000.{"number":"NW-10042"}', hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: "1764000000", SIGNATURE_HEADER: f"sha256={expected}"}


def test_verify_accepts_the_signed_request_only() -> None:
    body = b'{"number":"NW-10042"}'
    headers = signed_headers("shared", body, now=1_764_000_000)
    assert verify("shared", headers, body, now=1_764_000_010)
    assert not verify("other", headers, body, now=1_764_000_010)
    assert not verify("shared", headers, body + b" ", now=1_764_000_010)
    assert not verify("shared", headers, body, now=1_764_000_000 + 301)  # a replay, too late
    assert not verify("shared", {}, body, now=1_764_000_000)
