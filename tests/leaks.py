"""Where an API key shows in what the suite wrote: a finder of the tests' own, independent of the product's redaction.

The suite's redaction and EM-SEC-001 share one matcher (conformance/model/keyforms.py); a check built on it would
miss exactly what redaction misses. This one is written out from the encodings themselves: each exact text a
key takes (as is, percent-encoded, JSON escapes, base64 at every alignment, hex, without its prefix), and any
SLICE characters in a row of its secret part, which is what a key cut short leaves.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from functools import cache

PREFIX = "em_sk_"
# Eight characters of a random secret do not turn up by chance; a key cut in two leaves at least this on one side
# of the cut, once the key is longer than 2 * SLICE.
SLICE = 8
SLICE_NAME = f"{SLICE} characters of the secret part"
CONTEXT = 30


def secret_part(key: str) -> str:
    return key.removeprefix(PREFIX)


def _base64_inner(data: bytes, before: int, encode: Callable[[bytes], bytes]) -> str:
    """The characters of a longer base64 text that only data decides, when `before` bytes precede it: the groups
    of three bytes that lie wholly inside data."""
    encoded = encode(b"\0" * before + data).decode()
    first, last = -(-before // 3), (before + len(data)) // 3
    return encoded[4 * first:4 * last]


def encodings(text: str) -> dict[str, str]:
    """Each exact form of text a careless server may echo, by name."""
    raw = text.encode()
    forms = {
        "as is": text,
        "percent-encoded, upper-case hex": "".join(f"%{byte:02X}" for byte in raw),
        "percent-encoded, lower-case hex": "".join(f"%{byte:02x}" for byte in raw),
        "JSON \\u escapes, lower-case hex": "".join(f"\\u{ord(char):04x}" for char in text),
        "JSON \\u escapes, upper-case hex": "".join(f"\\u{ord(char):04X}" for char in text),
        "base64": base64.b64encode(raw).decode(),
        "base64 URL-safe": base64.urlsafe_b64encode(raw).decode(),
        "hex, lower case": raw.hex(),
        "hex, upper case": raw.hex().upper(),
    }
    for before in range(3):
        forms[f"base64 inside a longer text, {before} bytes before"] = _base64_inner(raw, before, base64.b64encode)
        forms[f"base64 URL-safe inside a longer text, {before} bytes before"] = _base64_inner(
            raw, before, base64.urlsafe_b64encode)
    return forms


@cache
def key_forms(key: str) -> dict[str, str]:
    """Every text whose presence means the key leaked, by a name that says which form it is.

    Each form also as it reads inside a JSON string (drift.json): there a JSON escape's backslash is doubled.
    """
    part = secret_part(key)
    named = {**encodings(key), **{f"secret part {name}": form for name, form in encodings(part).items()}}
    named |= {f"{SLICE_NAME} from its character {start}": part[start:start + SLICE]
              for start in range(len(part) - SLICE + 1)}
    named |= {f"{name}, inside a JSON string": json.dumps(form)[1:-1] for name, form in named.items()}
    forms: dict[str, str] = {}
    for name, form in named.items():
        if len(form) >= SLICE and form not in forms.values():
            forms[name] = form
    return forms


def leaks(text: str, key: str) -> list[str]:
    """Each form of the key found in text, with the text around its first place: empty when the key is not there.

    Of the slices of the secret part, only the first found is named (with how many were): one leak holds many.
    """
    found, slices = [], 0
    for name, form in key_forms(key).items():
        at = text.find(form)
        if at < 0:
            continue
        if name.startswith(SLICE_NAME):
            slices += 1
            if slices > 1:
                continue
        found.append(f"{name}: ...{text[max(at - CONTEXT, 0):at + len(form) + CONTEXT]!r}...")
    if slices > 1:
        found.append(f"{slices} of the {len(secret_part(key)) - SLICE + 1} slices of {SLICE} characters in all")
    return found


def leaks_in(artefacts: Mapping[str, str], key: str) -> dict[str, list[str]]:
    """The forms of the key found in each artefact (console, JUnit, a file), for those that hold any."""
    found = {label: leaks(text, key) for label, text in artefacts.items()}
    return {label: forms for label, forms in found.items() if forms}


def describe(found: Mapping[str, list[str]]) -> str:
    return "the key leaked: " + "; ".join(f"{label}: {', '.join(forms)}" for label, forms in found.items())
