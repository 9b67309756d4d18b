"""Signed requests: the shop can check that a call comes from this bot and is fresh.

The signature is HMAC-SHA256, keyed with a secret both sides hold, over
``<timestamp>.<body>`` (the Unix time in seconds as sent in ``X-Bot-Timestamp``, a dot, then
the exact request body bytes), sent hex-encoded as ``X-Bot-Signature: sha256=<hex>``. The
shop recomputes it, compares in constant time and refuses a timestamp older than a few
minutes, so a captured request cannot be replayed later. ``verify`` is that check, used by the
demo shop and usable as a reference by a real one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Bot-Timestamp"
SIGNATURE_HEADER = "X-Bot-Signature"
MAX_AGE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    max_age: float = MAX_AGE_SECONDS,
) -> bool:
    """True when ``headers`` carry a valid, fresh signature of ``body``."""
    timestamp = headers.get(TIMESTAMP_HEADER) or headers.get(TIMESTAMP_HEADER.lower()) or ""
    sent = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower()) or ""
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > max_age:
        return False
    return hmac.compare_digest(sent, signature(secret, timestamp, body))
