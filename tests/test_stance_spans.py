"""Stance spans point at the words that carry the opposite assertion (hand-marked), not at a word diff."""

from __future__ import annotations

import pytest

from contra.service.judge.judge import diff_spans, stance_explanation
from contra.service.judge.spans import denies_shared_predicate, stance_spans

#: (A, B, the words marked in A, the words marked in B); None where the claim has no such words.
MARKED = [
    (
        "Officials said the ferry was overloaded when it left the port.",
        "Officials said the ferry was not overloaded and blamed a sudden storm.",
        "overloaded",
        "not overloaded",
    ),
    (
        "The ministry confirmed it had opened talks with the dockers' union.",
        "The ministry denied it had opened talks with the dockers' union.",
        "confirmed",
        "denied",
    ),
    (
        "Exports rose in March, the statistics office said.",
        "Exports fell sharply in March, according to figures released on Friday.",
        "rose",
        "fell",
    ),
    (
        "Banksy was arrested in London on Monday, a tabloid reported.",
        "Banksy has not been arrested, his publicist said.",
        "arrested",
        "not been arrested",
    ),
    (
        "A giant crab was photographed off the coast near Whitstable.",
        "The giant crab photo is a hoax, a marine biologist says.",
        None,
        "hoax",
    ),
    (
        "The regulator approved the merger after a two-year review.",
        "The regulator blocked the merger on Friday, citing competition concerns.",
        "approved",
        "blocked",
    ),
    (
        "The lighthouse keeper was rescued from the rocks on Sunday.",
        "The lighthouse keeper wasn't rescued until Tuesday, the coast guard said.",
        "rescued",
        "wasn't rescued",
    ),
    (
        "The photo of the frozen waterfall is no hoax, the park ranger says.",
        "The frozen waterfall photo is fake, a glaciologist says.",
        "no hoax",
        "fake",
    ),
    (
        "The mayor said the bridge would reopen next week.",
        "The bridge will never reopen, engineers told the council.",
        "reopen",
        "never reopen",
    ),
]


@pytest.mark.parametrize(("a", "b", "in_a", "in_b"), MARKED, ids=[m[3] for m in MARKED])
def test_stance_spans_match_the_hand_marked_words_both_ways(a: str, b: str, in_a: str | None, in_b: str) -> None:
    found = stance_spans(a, b)
    assert found is not None
    span_a, span_b = found
    assert (span_a.of(a) if span_a else None) == in_a
    assert span_b is not None and span_b.of(b) == in_b
    swapped = stance_spans(b, a)
    assert swapped is not None
    assert swapped[0] is not None and swapped[0].of(b) == in_b
    assert (swapped[1].of(a) if swapped[1] else None) == in_a


def test_the_word_diff_marked_the_wrong_words_where_the_cue_spans_do_not() -> None:
    a, b, _, in_b = MARKED[0]
    _, diff_b = diff_spans(a, b)
    assert diff_b is not None and diff_b.of(b) != in_b  # the diff marks the longest change, not the conflict
    _, span_b, text = stance_explanation(a, b, 0.7)
    assert span_b is not None and span_b.of(b) == in_b and f"'{in_b}'" in text


def test_without_a_cue_the_spans_fall_back_to_the_word_diff() -> None:
    a, b = "The minister resigned on Friday.", "The minister was still in office on Saturday, aides said."
    assert stance_spans(a, b) is None
    span_a, span_b, _ = stance_explanation(a, b, 0.9)
    assert (span_a, span_b) == diff_spans(a, b)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Banksy arrested in London.", "Banksy hasn't been arrested, police say.", True),
        ("The ferry was overloaded, police said.", "The ferry was not overloaded, its owner insisted.", True),
        # A negation elsewhere in a long sentence does not deny what the other claim asserts.
        ("The ferry sank on Tuesday.", "The ferry, which had not been inspected since 2019, sank on Tuesday.", False),
        ("Prices rose in May.", "Prices rose in May, not in June.", False),
    ],
)
def test_denies_shared_predicate(a: str, b: str, expected: bool) -> None:
    assert denies_shared_predicate(a, b) is expected
    assert denies_shared_predicate(b, a) is expected
