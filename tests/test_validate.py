"""Input checks name the field and the problem."""

from __future__ import annotations

import datetime as dt

import pytest

from contra.domain import DatePrecision, DocumentIn, Source, date_span
from contra.errors import InvalidInput
from contra.service import validate


def test_text_rules() -> None:
    assert validate.text("text", "fine", 10) == "fine"
    for bad, problem in [("", "empty"), ("   ", "empty"), ("x" * 11, "limit is 10"), ("a\x00b", "NUL")]:
        with pytest.raises(InvalidInput, match=problem) as info:
            validate.text("text", bad, 10)
        assert info.value.field == "text"


def test_dates() -> None:
    assert validate.date_parts("d", 0, 0, 0) is None
    assert validate.date_parts("d", 2025, 4, 30) == dt.date(2025, 4, 30)
    with pytest.raises(InvalidInput, match="2025-02-30: February has 28 days in 2025"):
        validate.date_parts("d", 2025, 2, 30)
    assert validate.iso_date("d", "2025-05-01") == dt.date(2025, 5, 1)
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        validate.iso_date("d", "01/05/2025")
    with pytest.raises(InvalidInput, match="names a month; a day is needed"):
        validate.iso_date("d", "2025-05")


DAY, MONTH, YEAR = DatePrecision.DAY, DatePrecision.MONTH, DatePrecision.YEAR


@pytest.mark.parametrize(
    ("value", "first_day", "precision"),
    [
        ("2025-05-03", dt.date(2025, 5, 3), DAY),
        ("2025-05-03T10:00:00Z", dt.date(2025, 5, 3), DAY),  # RSS/Atom/most APIs
        ("2025-05-03T23:30:00-05:00", dt.date(2025, 5, 3), DAY),  # the writer's own calendar day
        ("2025-05-03 08:15:00.123+02:00", dt.date(2025, 5, 3), DAY),
        ("Sat, 03 May 2025 10:00:00 GMT", dt.date(2025, 5, 3), DAY),  # RFC 822, RSS pubDate
        ("May 3, 2025", dt.date(2025, 5, 3), DAY),
        ("3 May 2025", dt.date(2025, 5, 3), DAY),
        ("2025-05", dt.date(2025, 5, 1), MONTH),
        ("May 2025", dt.date(2025, 5, 1), MONTH),
        ("2025", dt.date(2025, 1, 1), YEAR),
        ("2024-02-29", dt.date(2024, 2, 29), DAY),
    ],
)
def test_feed_dates(value: str, first_day: dt.date, precision: DatePrecision) -> None:
    parsed = validate.publish_date("date", value)
    assert parsed is not None and (parsed.first_day, parsed.precision) == (first_day, precision)
    assert (parsed.exact is not None) == (precision is DAY)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2025-02-30", "2025-02-30: February has 28 days in 2025"),
        ("2025-04-31", "April has 30 days in 2025"),
        ("2025-13-01", "there is no month 13"),
        ("2025-05-00", "there is no day 0"),
        ("February 30, 2025", "not a real date"),
        ("05/03/2025", "could be day/month or month/day"),
        ("next Tuesday", "is not a date; accepted: YYYY-MM-DD"),
        ("May 3", "has no year"),
    ],
)
def test_impossible_and_unreadable_dates_are_named(value: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem) as info:
        validate.publish_date("date", value)
    assert info.value.field == "date"


def test_reduced_precision_dates_are_spans() -> None:
    may = validate.date_span_parts("published", 2025, 5, 0)
    assert may == validate.PublishDate(dt.date(2025, 5, 1), MONTH)
    assert date_span(may.first_day, may.precision) == (dt.date(2025, 5, 1), dt.date(2025, 5, 31))
    year = validate.date_span_parts("published", 2024, 0, 0)
    assert year is not None and date_span(year.first_day, year.precision) == (
        dt.date(2024, 1, 1),
        dt.date(2024, 12, 31),
    )
    assert date_span(dt.date(2024, 2, 1), MONTH)[1] == dt.date(2024, 2, 29)
    with pytest.raises(InvalidInput, match="a day without a month"):
        validate.date_span_parts("published", 2025, 0, 3)


def test_documents_name_the_bad_one() -> None:
    limits = validate.Limits(max_text_chars=100, max_documents=2)
    good = DocumentIn(Source("a"), "Some text here.")
    with pytest.raises(InvalidInput, match=r"documents\[1\]\.source\.source_id"):
        validate.documents([good, DocumentIn(Source(""), "text")], limits)
    with pytest.raises(InvalidInput, match="limit is 2"):
        validate.documents([good, good, good], limits)
    with pytest.raises(InvalidInput, match="at least one"):
        validate.documents([], limits)
    with pytest.raises(InvalidInput, match="whitespace"):
        validate.source_id("source", " padded ")


def test_claim_count_is_checked_after_splitting() -> None:
    limits = validate.Limits(max_claims=3)
    validate.claim_count("text", 3, limits)
    with pytest.raises(InvalidInput) as err:
        validate.claim_count("text", 4, limits)
    assert err.value.field == "text" and "4 claims" in str(err.value) and "limit is 3" in str(err.value)
