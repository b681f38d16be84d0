"""Keeps API keys out of everything the suite writes: one place that knows the secrets."""

from __future__ import annotations

import re
import threading

REDACTED = "[redacted]"
# Evermuse keys have one recognisable shape; anything in it is hidden even when not registered.
KEY_SHAPE = re.compile(r"em_sk_[A-Za-z0-9_\-]+")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value:
        with _lock:
            _secrets.add(value)


def forget_secrets() -> None:
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return KEY_SHAPE.sub(REDACTED, text)
