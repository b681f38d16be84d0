"""Every form an API key can take in text: as sent, percent- or JSON-escaped, base64 or hex encoded, unprefixed.

One place knows them, so that what EM-SEC-001 finds in an answer is what redaction hides in every output of
the suite. Redaction hides more: any run of MIN_FRAGMENT characters of a key's secret part, which is what a key
cut short leaves; and the suite hides keys before it cuts any text (hide_keys), so that no cut halves one.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from functools import cache

KEY_PREFIX = "em_sk_"
REDACTED = "[redacted]"
# The secret part of a key without its prefix is still the secret, when it is long enough to be unmistakable.
MIN_SECRET_PART = 12
B64_CHAR = "[A-Za-z0-9+/_-]"
# A run this long of a key's secret part is the key's, wherever it stands: a server, or a cut, may leave only part
# of a key. Eight random characters do not turn up by chance; a key cut in two leaves this much on one side.
MIN_FRAGMENT = 8
# Longer than any form of a key (its JSON escapes take 6 characters a byte, 7 inside a JSON string): a key that
# starts before a place in a text ends less than this after it.
LONGEST_FORM = 4096


def _hex_digits(value: int) -> str:
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{value:02x}")


def _escaped_char(char: str) -> str:
    """A character as itself, percent-encoded, or as a JSON \\u escape, in either case of hex digit; the escape
    also written inside a JSON string, where its backslash is doubled (drift.json)."""
    code = ord(char)
    if code > 0x7F:
        return re.escape(char)
    return f"(?:{re.escape(char)}|%{_hex_digits(code)}|\\\\+u00{_hex_digits(code)})"


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


def secret_part(secret: str) -> str:
    return secret.removeprefix(KEY_PREFIX)


@cache
def fragment_pattern(secret: str) -> re.Pattern[str] | None:
    """A pattern matching a run of MIN_FRAGMENT or more characters of the secret part, as far as the run goes;
    None for a secret part too short to have fragments."""
    part = secret_part(secret)
    alternatives = []
    for start in range(len(part) - MIN_FRAGMENT + 1):
        # The characters after the first MIN_FRAGMENT, each optional only if all before it matched.
        rest = ""
        for char in reversed(part[start + MIN_FRAGMENT:]):
            rest = f"(?:{re.escape(char)}{rest})?"
        alternatives.append(re.escape(part[start:start + MIN_FRAGMENT]) + rest)
    return re.compile("|".join(alternatives)) if alternatives else None


def holds_key(text: str, secret: str) -> bool:
    """Whether text holds the key whole, in one of its forms: what EM-SEC-001 looks for in an answer."""
    return key_pattern(secret).search(text) is not None


def hide_key(text: str, secret: str, replacement: str = REDACTED) -> str:
    """text with the key hidden in every form, and with it any run of MIN_FRAGMENT characters of its secret part."""
    text = key_pattern(secret).sub(replacement, text)
    fragments = fragment_pattern(secret)
    return fragments.sub(replacement, text) if fragments is not None else text


def hide_keys(text: str, secrets: Iterable[str], replacement: str = REDACTED) -> str:
    """text with each key hidden, the longest first (one key may hold another)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = hide_key(text, secret, replacement)
    return text


def hidden_start(text: str, size: int, hide: Callable[[str], str]) -> str:
    """The first size characters of text once hide has hidden its keys: what to show of a text too long, with no
    key cut in two by the cut (the part before the cut would no longer look like a key).

    Of a long text (a body may be 1 MiB), only the start is hidden: enough that, hidden, it still runs LONGEST_FORM
    past size, so that a key the end of that start cuts short lies wholly past size.
    """
    window = size + LONGEST_FORM
    while True:
        hidden = hide(text[:window])
        if window >= len(text) or len(hidden) >= size + LONGEST_FORM:
            return hidden[:size]
        window *= 2


def shown_start(text: str, size: int, secrets: Iterable[str]) -> str:
    """The first size characters of text, the given keys hidden before the cut: what a finding quotes of what a
    target sent, where a key across the cut would leave its first part, which no later redaction recognises."""
    return hidden_start(text, size, lambda start: hide_keys(start, secrets))
