"""Every form an API key can take in text: as sent, percent- or JSON-escaped, base64 or hex encoded, unprefixed.

One place knows them, so that what EM-SEC-001 finds in an answer is exactly what redaction hides in every
output of the suite.
"""

from __future__ import annotations

import base64
import re
from functools import cache

KEY_PREFIX = "em_sk_"
# The secret part of a key without its prefix is still the secret, when it is long enough to be unmistakable.
MIN_SECRET_PART = 12
B64_CHAR = "[A-Za-z0-9+/_-]"


def _hex_digits(value: int) -> str:
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{value:02x}")


def _escaped_char(char: str) -> str:
    """A character as itself, percent-encoded, or as a JSON \\u escape, in either case of hex digit."""
    code = ord(char)
    if code > 0x7F:
        return re.escape(char)
    return f"(?:{re.escape(char)}|%{_hex_digits(code)}|\\\\u00{_hex_digits(code)})"


def _base64_middles(value: bytes) -> list[str]:
    """The part of a base64 text that is the same whatever stands before or after the value, at each alignment."""
    middles = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value).decode()
        start = 4 if offset else 0  # the first group mixes in the bytes before
        end = len(encoded) - (4 if (offset + len(value)) % 3 else 0)  # the last one, those after
        if end - start >= 8:
            middle = encoded[start:end]
            middles += [middle, middle.replace("+", "-").replace("/", "_")]
    return middles


@cache
def key_pattern(secret: str) -> re.Pattern[str]:
    """A pattern matching the key, or its secret part, in any of the forms a careless server might echo it."""
    parts = [secret]
    if secret.startswith(KEY_PREFIX) and len(secret) - len(KEY_PREFIX) >= MIN_SECRET_PART:
        parts.append(secret[len(KEY_PREFIX):])
    alternatives: list[str] = []
    for part in sorted(parts, key=len, reverse=True):
        alternatives.append("".join(_escaped_char(char) for char in part))
        raw = part.encode()
        # The groups on either side mix a byte or two of the key in: they go with it.
        alternatives += [f"{B64_CHAR}{{0,4}}{re.escape(middle)}{B64_CHAR}{{0,4}}=*" for middle in _base64_middles(raw)]
        alternatives += [raw.hex(), raw.hex().upper()]
    return re.compile("|".join(alternatives))


def holds_key(text: str, secret: str) -> bool:
    return key_pattern(secret).search(text) is not None


def hide_key(text: str, secret: str, replacement: str) -> str:
    return key_pattern(secret).sub(replacement, text)
