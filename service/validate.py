"""Input checks shared by every entry point (gRPC, CLI, batch jobs).

Each failure raises ``InvalidInput`` naming the field, so a caller learns exactly what to fix,
and runs before anything is written, so a bad request never leaves a partial ingest behind.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from contra.domain import DatePrecision, DocumentIn
from contra.errors import InvalidInput

MAX_SOURCE_ID_CHARS = 200

#: What ``publish_date`` accepts, for help texts and error messages.
DATE_FORMATS = (
    "YYYY-MM-DD, an RFC 3339 / ISO 8601 timestamp (2025-05-03T10:00:00Z, +02:00 offsets), "
    "a month (2025-05, May 2025) or a year (2025), or written out (May 3, 2025; 3 May 2025; "
    "Sat, 03 May 2025 10:00:00 GMT)"
)

_NUMERIC = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?)?")
_SLASHED = re.compile(r"(?P<first>\d{1,2})[/.](?P<second>\d{1,2})[/.]\d{4}")


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


@dataclass(frozen=True, slots=True)
class PublishDate:
    """A publish date as a source gave it: its first day and how much of it was given."""

    first_day: dt.date
    precision: DatePrecision = DatePrecision.DAY

    @property
    def exact(self) -> dt.date | None:
        """The day, when one was given (what "on Tuesday" can be resolved against)."""
        return self.first_day if self.precision is DatePrecision.DAY else None


def date_parts(field: str, year: int, month: int, day: int) -> dt.date | None:
    """A full date from its parts; all zero means "not given". See ``date_span_parts`` for reduced precision."""
    parsed = date_span_parts(field, year, month, day)
    return None if parsed is None else parsed.first_day


def date_span_parts(field: str, year: int, month: int, day: int) -> PublishDate | None:
    """A date from its parts as ``contra.v1.Date`` carries them: all zero is "not given", day 0 a month,
    month and day 0 a year (google.type.Date's convention)."""
    if year == month == day == 0:
        return None
    if month == 0 and day != 0:
        raise InvalidInput(field, f"{year:04d}-00-{day:02d} gives a day without a month")
    return PublishDate(_checked(field, f"{year:04d}-{month:02d}-{day:02d}", year, month, day), _precision(month, day))


def _precision(month: int, day: int) -> DatePrecision:
    if month == 0:
        return DatePrecision.YEAR
    return DatePrecision.MONTH if day == 0 else DatePrecision.DAY


def _checked(field: str, shown: str, year: int, month: int, day: int) -> dt.date:
    """The first day of (year, month or 1, day or 1), with a message that says which part is impossible."""
    if not 1 <= year <= 9999:
        raise InvalidInput(field, f"{shown}: the year must be between 1 and 9999")
    if month and not 1 <= month <= 12:
        raise InvalidInput(field, f"{shown}: there is no month {month}")
    if day:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise InvalidInput(
                field,
                f"{shown}: {calendar.month_name[month]} has {last} days in {year}"
                if day > last
                else f"{shown}: there is no day {day}",
            )
    return dt.date(year, month or 1, day or 1)


def publish_date(field: str, value: str | None) -> PublishDate | None:
    """A publish date as feeds send it (see ``DATE_FORMATS``); empty or None means "not given".

    A timestamp keeps the calendar day of its own offset (what "today" meant to its writer). A month or
    a year is kept as such, as a span; an impossible date is named as such; a slashed date whose day and
    month could be swapped (05/03/2025) is refused rather than guessed.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    numeric = _NUMERIC.fullmatch(text)
    if numeric:
        year, month, day = (int(numeric[part] or 0) for part in ("year", "month", "day"))
        for part, number in (("month", month), ("day", day)):
            if numeric[part] is not None and number == 0:
                raise InvalidInput(field, f"{text}: there is no {part} 0")
        return PublishDate(_checked(field, text, year, month, day), _precision(month, day))
    try:
        return PublishDate(dt.datetime.fromisoformat(text.replace("z", "Z")).date())
    except ValueError:
        pass
    return _written_date(field, text)


def _written_date(field: str, text: str) -> PublishDate:
    """ "May 3, 2025", "May 2025", RFC 822 feed dates: python-dateutil, told two different defaults so that
    a part missing from the text shows up as a part that differs between the two readings."""
    from dateutil import parser as date_parser  # type: ignore[import-untyped]

    slashed = _SLASHED.fullmatch(text)
    if slashed and slashed["first"] != slashed["second"] and int(slashed["first"]) <= 12 >= int(slashed["second"]):
        raise InvalidInput(field, f"{text!r} could be day/month or month/day; write it as YYYY-MM-DD")
    try:
        one = date_parser.parse(text, default=dt.datetime(2001, 1, 1))
        two = date_parser.parse(text, default=dt.datetime(2002, 2, 2))
    except date_parser.ParserError as exc:
        problem = str(exc).split(":", 1)[0]
        if "out of range" in problem or "must be in" in problem:
            raise InvalidInput(field, f"{text!r} is not a real date ({problem})") from None
        raise InvalidInput(field, f"{text!r} is not a date; accepted: {DATE_FORMATS}") from None
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(field, f"{text!r} is not a real date ({exc})") from None
    if one.year != two.year:
        raise InvalidInput(field, f"{text!r} has no year; accepted: {DATE_FORMATS}")
    if one.month != two.month:
        return PublishDate(dt.date(one.year, 1, 1), DatePrecision.YEAR)
    if one.day != two.day:
        return PublishDate(dt.date(one.year, one.month, 1), DatePrecision.MONTH)
    return PublishDate(one.date())


def iso_date(field: str, value: str | None) -> dt.date | None:
    """A date that must name one day (Check's and JudgePair's claim dates), in any ``publish_date`` form."""
    parsed = publish_date(field, value)
    if parsed is None:
        return None
    if parsed.exact is None:
        raise InvalidInput(field, f"{value!r} names a {parsed.precision.value}; a day is needed here")
    return parsed.exact


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
