"""Decode a data file someone else wrote: UTF-8 (with or without a byte-order mark), UTF-16 or
UTF-32 with a byte-order mark (what Excel's "Unicode text" and PowerShell write), or an encoding
the user names. Anything else is refused in one line that names the encoding to use, never read
as mojibake: Latin-1 decodes every byte, so guessing it would import ``cafÃ©`` without a word.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from bot.intents.dataset import DatasetError

# UTF-32's little-endian mark begins with UTF-16's, so it is looked for first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def check_encoding(name: str) -> str:
    """``name`` if Python knows the encoding, else :class:`DatasetError`."""
    try:
        codecs.lookup(name)
    except LookupError as error:
        raise DatasetError(f"unknown encoding {name!r}; try utf-8, cp1252 or latin-1") from error
    return name


def read_text(path: Path, encoding: str | None = None) -> str:
    """The text of ``path``; ``encoding`` None detects UTF-8/16/32 as described above."""
    data = path.read_bytes()
    if encoding is not None:
        return _decode(path, data, check_encoding(encoding)).removeprefix("\ufeff")
    for mark, name in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return _decode(path, data, name)  # the codec drops the mark itself
    if b"\x00" in data[:4096]:
        raise DatasetError(
            f"{path}: looks like UTF-16 without a byte-order mark; save it as UTF-8 "
            "(or pass --encoding utf-16-le)"
        )
    return _decode(path, data, "utf-8-sig")


def _decode(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex().upper()
        if encoding != "utf-8-sig":
            advice = "name the encoding it was saved in, or save it as UTF-8"
            raise DatasetError(f"{path}:{line}: not {encoding} (byte 0x{byte}); {advice}") from error
        advice = f"save it as UTF-8, or pass --encoding {_likely_encoding(data)} if it was written in that"
        raise DatasetError(f"{path}:{line}: not UTF-8 (byte 0x{byte}); {advice}") from error


def _likely_encoding(data: bytes) -> str:
    """Windows' code page where it decodes (it is Excel's CSV default there), else Latin-1."""
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"
