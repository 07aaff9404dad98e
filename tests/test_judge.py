"""How the judge combines the figures check with NLI, using an injected fake NLI model.

End-to-end tests use the shipped model; these pin down the combination rules only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from contra.service.domain import ConflictKind, Label, NumericFinding, Span
from contra.service.judge import Judge, PairInput, diff_spans


class FakeNLI:
    """Answers with whatever ``handler(premise, hypothesis)`` says: (entailment, neutral, contradiction)."""

    name = "fake"

    def __init__(self, handler: Callable[[str, str], tuple[float, float, float]]) -> None:
        self.handler = handler
        self.seen: list[tuple[str, str]] = []

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        self.seen.extend(pairs)
        return np.array([self.handler(p, h) for p, h in pairs], dtype=np.float32).reshape(-1, 3)


def no_figures(a: str, b: str, a_date: dt.date | None, b_date: dt.date | None) -> NumericFinding | None:
    return None


def test_nli_runs_both_directions_and_averages_contradiction() -> None:
    a, b = "The bridge holds.", "The bridge does not hold."
    fake = FakeNLI(lambda p, h: (0.1, 0.1, 0.8) if p == a else (0.1, 0.5, 0.4))
    verdict = Judge(fake, no_figures).judge([PairInput(a, b)])[0]
    assert fake.seen == [(a, b), (b, a)]
    assert verdict.label is Label.CONTRADICTION and verdict.kind is ConflictKind.STANCE
    assert verdict.score == pytest.approx(0.6 / (0.1 + 0.1 + 0.6), abs=1e-6)
    assert "NLI" in verdict.explanation


def test_figure_conflict_wins_even_when_nli_is_unsure() -> None:
    finding = NumericFinding(ConflictKind.DATE, Span(0, 5), Span(0, 6), "'fifth' vs 'second'", 0.9)
    judge = Judge(FakeNLI(lambda p, h: (0.3, 0.6, 0.1)), lambda a, b, x, y: finding)
    verdict = judge.judge([PairInput("fifth week", "second week")])[0]
    assert verdict.kind is ConflictKind.DATE and verdict.span_a == Span(0, 5)
    assert verdict.score == pytest.approx(1 - 0.1 * 0.9)


def test_stance_needs_the_same_event() -> None:
    """NLI models call claims about different events contradictory; the overlap gate stops that."""
    judge = Judge(FakeNLI(lambda p, h: (0.0, 0.01, 0.99)), no_figures)
    unrelated = judge.judge([PairInput("The war is in its fourth year.", "Analysts doubt the official statements.")])[0]
    assert not unrelated.is_conflict
    related = judge.judge([PairInput("The port reopened on Monday.", "The port stayed closed on Monday.")])[0]
    assert related.is_conflict and related.kind is ConflictKind.STANCE


def test_agreement_is_not_a_conflict() -> None:
    verdict = Judge(FakeNLI(lambda p, h: (0.8, 0.15, 0.05)), no_figures).judge([PairInput("x y", "x y z")])[0]
    assert verdict.label is Label.ENTAILMENT and not verdict.is_conflict and verdict.kind is None


def test_numbers_only_judge() -> None:
    judge = Judge(None, no_figures)
    verdict = judge.judge([PairInput("a", "b")])[0]
    assert verdict.label is Label.NEUTRAL and verdict.nli == ()
    with pytest.raises(ValueError, match="at least one part"):
        Judge(None, None)


def test_diff_spans_point_at_the_changed_words() -> None:
    a, b = "The bridge reopened on Monday.", "The bridge remained closed on Monday."
    span_a, span_b = diff_spans(a, b)
    assert span_a is not None and span_b is not None
    assert span_a.of(a) == "reopened" and span_b.of(b) == "remained closed"
    assert diff_spans("same words", "Same words") == (None, None)
