"""Server logging: text for people, or one JSON object per line for log pipelines, with request ids.

Every call gets a request id (the caller's ``x-request-id`` if it sent a sane one, else a fresh
one), echoed in the response metadata and stamped on every log line written while the call runs,
including lines written by worker threads (``limits.WorkQueue`` copies the context). The id lives
in a ``ContextVar``: per asyncio task, so concurrent calls never see each other's id.

Configured secrets are replaced by ``[redacted]`` in every formatted line, as a second line of
defence: no code path logs a token or metadata, and this makes a future slip harmless.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Any, Literal

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID: ContextVar[str] = ContextVar("contra_request_id", default="")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

#: LogRecord attributes that are not extra fields passed by ``LOG.info(..., extra={...})``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def request_id(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    """The caller's request id when it is short and plain, otherwise a new random one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str) and _SANE_ID.fullmatch(value):
            return value
    return secrets.token_hex(8)


def set_request_id(value: str) -> None:
    _REQUEST_ID.set(value)


def current_request_id() -> str:
    return _REQUEST_ID.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (empty outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, request_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", "")
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", "")
        return f"{line} [rid={rid}]" if rid else line


class Redacting(logging.Formatter):
    """Wraps a formatter and blanks out the given secrets wherever they appear."""

    def __init__(self, inner: logging.Formatter, secret_values: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        self._secrets = sorted({s for s in secret_values if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        for secret in self._secrets:
            line = line.replace(secret, "[redacted]")
        return line


def configure(fmt: Literal["text", "json"], secret_values: Iterable[str] = (), level: int = logging.INFO) -> None:
    """Set the root logger's handlers to write ``fmt`` lines to stderr (replacing any set before)."""
    handler = logging.StreamHandler()
    inner: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler.setFormatter(Redacting(inner, secret_values))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
