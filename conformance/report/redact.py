"""Keeps API keys out of everything the suite writes: one place that knows the secrets."""

from __future__ import annotations

import logging
import re
import threading

from conformance.model.keyforms import REDACTED, hide_keys

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


class RedactingLogRecords:
    """A log record factory that writes each message out redacted, whoever logs it (httpcore logs headers)."""

    def __init__(self) -> None:
        self.previous = logging.getLogRecordFactory()

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        record.msg, record.args = redact(record.getMessage()), ()
        return record

    def install(self) -> None:
        logging.setLogRecordFactory(self)

    def uninstall(self) -> None:
        if logging.getLogRecordFactory() is self:
            logging.setLogRecordFactory(self.previous)


def redact(text: str) -> str:
    """The text with every registered key hidden, in every form keyforms knows, any run of 8 or more characters of
    a key's secret part (a key the target echoed only in part), and anything shaped like a key.

    Redact a text whole, then cut it if it must be short: a key across the cut would leave its first part, which
    no redaction can tell from any other text.
    """
    with _lock:
        secrets = list(_secrets)
    return KEY_SHAPE.sub(REDACTED, hide_keys(text, secrets))
