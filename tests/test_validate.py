"""Input checks name the field and the problem."""

from __future__ import annotations

import datetime as dt

import pytest

from contra.domain import DocumentIn, Source
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
    with pytest.raises(InvalidInput, match="2025-02-30 is not a valid date"):
        validate.date_parts("d", 2025, 2, 30)
    assert validate.iso_date("d", "2025-05-01") == dt.date(2025, 5, 1)
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        validate.iso_date("d", "01/05/2025")


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
