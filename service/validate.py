"""Input checks shared by every entry point (gRPC, CLI, batch jobs).

Each failure raises ``InvalidInput`` naming the field, so a caller learns exactly what to fix,
and runs before anything is written, so a bad request never leaves a partial ingest behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from contra.domain import DocumentIn
from contra.errors import InvalidInput

MAX_SOURCE_ID_CHARS = 200


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes the service accepts; from Settings in production, small in tests."""

    max_text_chars: int = 100_000
    max_claim_chars: int = 2_000
    max_documents: int = 1_000
    max_claims: int = 10_000


def claim_count(field: str, count: int, limits: Limits) -> None:
    """Claims are counted after splitting, since one short text can hold many sentences."""
    if count > limits.max_claims:
        raise InvalidInput(field, f"splits into {count} claims; the limit is {limits.max_claims} per request")


def text(field: str, value: str, max_chars: int) -> str:
    """A non-empty text of at most ``max_chars`` characters, without NUL bytes."""
    if not value or not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_chars:
        raise InvalidInput(field, f"is {len(value)} characters long; the limit is {max_chars}")
    if "\x00" in value:
        raise InvalidInput(field, "contains a NUL character")
    return value


def source_id(field: str, value: str) -> str:
    if not value or not value.strip():
        raise InvalidInput(field, "is required")
    if value != value.strip():
        raise InvalidInput(field, "must not start or end with whitespace")
    if len(value) > MAX_SOURCE_ID_CHARS:
        raise InvalidInput(field, f"is longer than {MAX_SOURCE_ID_CHARS} characters")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(field, "contains control characters")
    return value


def date_parts(field: str, year: int, month: int, day: int) -> dt.date | None:
    """A date from its parts; all zero means "not given"."""
    if year == month == day == 0:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise InvalidInput(field, f"{year:04d}-{month:02d}-{day:02d} is not a valid date ({exc})") from None


def iso_date(field: str, value: str | None) -> dt.date | None:
    """A YYYY-MM-DD date; empty or None means "not given"."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a date in YYYY-MM-DD form") from None


def documents(docs: Sequence[DocumentIn], limits: Limits) -> None:
    if not docs:
        raise InvalidInput("documents", "at least one document is required")
    if len(docs) > limits.max_documents:
        raise InvalidInput("documents", f"{len(docs)} documents in one request; the limit is {limits.max_documents}")
    for i, doc in enumerate(docs):
        source_id(f"documents[{i}].source.source_id", doc.source.source_id)
        text(f"documents[{i}].text", doc.text, limits.max_text_chars)
        if len(doc.url) > 2_000:
            raise InvalidInput(f"documents[{i}].url", "is longer than 2000 characters")
        if len(doc.external_id) > 200:
            raise InvalidInput(f"documents[{i}].document_id", "is longer than 200 characters")
