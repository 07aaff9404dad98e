"""How the judge combines the figures check with NLI, using an injected fake NLI model.

End-to-end tests use the shipped model; these pin down the combination rules only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from contra.domain import LABEL_ORDER, ConflictKind, Label, NumericFinding, Span
from contra.service.judge.calibration import (
    DEFAULT_CALIBRATION,
    FEATURES,
    NLI_FEATURES,
    NLI_RANGE,
    Calibration,
    log_odds,
    nli_ranges_given_forward,
)
from contra.service.judge.judge import Judge, PairInput, diff_spans
from contra.service.judge.numbers import figure_evidence

WED = dt.date(2025, 3, 5)
ENT, CON = LABEL_ORDER.index(Label.ENTAILMENT), LABEL_ORDER.index(Label.CONTRADICTION)


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


# --------------------------------------------------------------------------------------------------
# The calibrated judge: one fitted score, with rules that keep unverifiable pairs out.


def _eager_calibration() -> Calibration:
    """A calibration that scores any contradiction signal high, so the tests below see what the rules do."""
    n = len(FEATURES)
    weights = np.zeros(n)
    mean, scale = np.zeros(n), np.ones(n)
    for name in ("nli_contradiction_logit", "figure_conflict", "denial_flip", "opposites_parallel"):
        weights[FEATURES.index(name)] = 5.0
    # The NLI log-odds mapped back onto [0, 1]: probability 0 adds nothing, probability 1 adds the weight.
    k = FEATURES.index("nli_contradiction_logit")
    mean[k], scale[k] = NLI_RANGE[0], NLI_RANGE[1] - NLI_RANGE[0]
    return Calibration(FEATURES, mean, scale, weights, -2.0)


def _calibrated(handler: Callable[[str, str], tuple[float, float, float]]) -> Judge:
    return Judge(FakeNLI(handler), figure_evidence, calibration=_eager_calibration())


def test_calibrated_figure_conflict_carries_kind_spans_score_and_explanation() -> None:
    a = "Officials in Kellby said 12 people were killed in the flood on Tuesday."
    b = "Officials in Kellby said 30 people were killed in the flood on Tuesday."
    verdict = _calibrated(lambda p, h: (0.2, 0.5, 0.3)).judge([PairInput(a, b, WED, WED)])[0]
    assert verdict.is_conflict and verdict.kind is ConflictKind.NUMBER
    assert verdict.span_a is not None and verdict.span_a.of(a) == "12"
    assert verdict.span_b is not None and verdict.span_b.of(b) == "30"
    assert "'12" in verdict.explanation and "'30" in verdict.explanation
    assert 0.5 <= verdict.score <= 1.0


def test_calibrated_stance_names_the_opposite_words_both_ways() -> None:
    a = "The Kellby council approved the new bridge on Monday."
    b = "The Kellby council rejected the new bridge on Monday."
    judge = _calibrated(lambda p, h: (0.05, 0.05, 0.9))
    for x, y in ((a, b), (b, a)):
        verdict = judge.judge([PairInput(x, y)])[0]
        assert verdict.is_conflict and verdict.kind is ConflictKind.STANCE
        assert verdict.span_a is not None and verdict.span_b is not None
        assert {verdict.span_a.of(x), verdict.span_b.of(y)} == {"approved", "rejected"}
        assert verdict.explanation


def test_a_line_that_only_attributes_or_hedges_is_never_judged() -> None:
    """Two outlets' hedges differ all the time; the model reads that as a contradiction. Not a claim."""
    claim = "Rebels said they had shot down two helicopters near Dovrin on Sunday."
    hedge = "The reports could not be independently verified."
    judge = _calibrated(lambda p, h: (0.0, 0.01, 0.99))
    for x, y in ((claim, hedge), (hedge, claim)):
        verdict = judge.judge([PairInput(x, y)])[0]
        assert not verdict.is_conflict and verdict.score <= 0.05
        assert "not a claim" in verdict.explanation
    assert judge.nli is not None and judge.nli.seen == []  # type: ignore[attr-defined]


def test_naming_different_people_or_places_weighs_but_does_not_veto() -> None:
    """Each outlet names its own officials and places: a clash of figures still counts."""
    a = "The ferry sank on Tuesday, March 4, near the port of Kellis, the coastguard said."
    b = "Witnesses on the shore of Lake Varna said the ferry went down on Monday, March 3."
    judge = _calibrated(lambda p, h: (0.1, 0.3, 0.6))
    evidence = judge.evidence([PairInput(a, b)])[0]
    assert evidence.vetoes() == ()
    assert judge.judge([PairInput(a, b)])[0].is_conflict


def test_calibrated_judge_uses_the_given_similarity_else_the_embedder() -> None:
    class FakeEmbedder:
        name, dimension = "fake", 2

        def __init__(self) -> None:
            self.calls = 0

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            self.calls += 1
            return np.tile(np.array([1.0, 0.0], dtype=np.float32), (len(texts), 1))

    embedder = FakeEmbedder()
    judge = Judge(FakeNLI(lambda p, h: (0.3, 0.4, 0.3)), figure_evidence, embedder=embedder)
    given = judge.evidence([PairInput("a", "b", similarity=0.25)])[0]
    assert given.event.cosine == 0.25 and embedder.calls == 0
    computed = judge.evidence([PairInput("a", "b")])[0]
    assert computed.event.cosine == pytest.approx(1.0) and embedder.calls == 1


def test_calibration_round_trip_and_feature_check(tmp_path: Path) -> None:
    cal = _eager_calibration()
    path = tmp_path / "cal.json"
    cal.save(path)
    loaded = Calibration.load(path)
    x = np.random.default_rng(0).random((4, len(FEATURES)))
    assert np.allclose(loaded.score(x), cal.score(x))
    x[0, 0] = np.nan  # a missing feature takes the training mean
    assert np.isfinite(loaded.score(x)).all()
    data = json.loads(path.read_text())
    data["features"] = data["features"][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="refit"):
        Calibration.load(path)


log_odds_of = np.vectorize(log_odds)


def test_max_score_bounds_every_answer_of_the_model() -> None:
    cal = Calibration.load(DEFAULT_CALIBRATION)
    rng = np.random.default_rng(1)
    x = rng.random((50, len(FEATURES)))
    bound = cal.max_score(x)
    for _ in range(20):
        y = x.copy()
        for name in NLI_FEATURES:
            y[:, FEATURES.index(name)] = log_odds_of(rng.random(len(y)))
        assert (cal.score(y) <= bound + 1e-12).all()


def test_the_bound_after_one_direction_covers_every_answer_of_the_other() -> None:
    cal = Calibration.load(DEFAULT_CALIBRATION)
    rng = np.random.default_rng(2)
    n = 200
    x = rng.random((n, len(FEATURES)))
    forward = rng.dirichlet((0.3, 0.3, 0.3), size=n)
    bound = cal.max_score(x, nli_ranges_given_forward(forward, CON, ENT))
    for _ in range(20):
        backward = rng.dirichlet((0.3, 0.3, 0.3), size=n)
        y = x.copy()
        y[:, FEATURES.index("nli_contradiction_logit")] = log_odds_of((forward[:, CON] + backward[:, CON]) / 2)
        y[:, FEATURES.index("nli_entailment_logit")] = log_odds_of(np.maximum(forward[:, ENT], backward[:, ENT]))
        assert (cal.score(y) <= bound + 1e-12).all()


def test_the_second_direction_runs_only_where_the_first_leaves_the_verdict_open() -> None:
    """Unrelated pairs need B->A only if A->B leaves the threshold within reach; the verdicts are those
    of running both directions everywhere."""
    rng = np.random.default_rng(3)
    answers: dict[tuple[str, str], tuple[float, float, float]] = {}

    def handler(p: str, h: str) -> tuple[float, float, float]:
        if (p, h) not in answers:
            e, n, c = rng.dirichlet((0.4, 0.4, 0.4))
            answers[(p, h)] = (float(e), float(n), float(c))
        return answers[(p, h)]

    pairs = [
        PairInput(f"The Kellby council approved plan {i} on Monday.", f"Plan {i} was discussed by residents in Kellby.")
        for i in range(40)
    ]
    cal = Calibration.load(DEFAULT_CALIBRATION)
    lean, full = FakeNLI(handler), FakeNLI(handler)
    skipped = Judge(lean, figure_evidence, calibration=cal).judge(pairs)
    everything = Judge(full, figure_evidence, calibration=cal).judge(pairs, nli_for_all=True)
    assert len(full.seen) == 2 * len(pairs)
    assert len(pairs) <= len(lean.seen) < 2 * len(pairs)
    assert [v.is_conflict for v in skipped] == [v.is_conflict for v in everything]
    assert [v.kind for v in skipped] == [v.kind for v in everything]
    flagged = [(s.score, e.score) for s, e in zip(skipped, everything, strict=True) if e.is_conflict]
    assert all(s == pytest.approx(e) for s, e in flagged)


def test_shipped_calibration_was_fitted_on_real_news_and_records_out_of_fold_figures() -> None:
    cal = Calibration.load(DEFAULT_CALIBRATION)
    assert cal.features == FEATURES
    oof = cal.meta["out_of_fold"]
    assert {"emergent", "fnc1", "claimdiff", "handwritten"} <= set(oof)
    assert all(0.0 <= oof[name]["f1"] <= 1.0 for name in oof)
    # Every weight keeps the sign fixed before the fit.
    for name, weight in zip(FEATURES, cal.weights, strict=True):
        sign = cal.meta["signs"][name]
        assert sign == 0 or sign * weight >= 0, name


def test_nli_is_skipped_only_where_no_answer_could_reach_the_threshold() -> None:
    clash = PairInput(
        "Officials in Kellby said 12 people were killed in the flood on Tuesday.",
        "Officials in Kellby said 30 people were killed in the flood on Tuesday.",
        WED,
        WED,
    )
    paraphrase = PairInput("The Kellby bridge reopened to traffic.", "Traffic is flowing over the Kellby bridge again.")
    hedge = PairInput("The Kellby council approved the budget.", "The reports could not be independently verified.")
    pairs = [clash, paraphrase, hedge]
    cal = Calibration.load(DEFAULT_CALIBRATION)
    lean = FakeNLI(lambda p, h: (0.05, 0.05, 0.9))
    full = FakeNLI(lambda p, h: (0.05, 0.05, 0.9))
    skipped = Judge(lean, figure_evidence, calibration=cal).judge(pairs)
    everything = Judge(full, figure_evidence, calibration=cal).judge(pairs, nli_for_all=True)
    assert (hedge.a, hedge.b) not in lean.seen and len(full.seen) == 2 * len(pairs)
    assert [v.is_conflict for v in skipped] == [v.is_conflict for v in everything]
    assert [v.kind for v in skipped] == [v.kind for v in everything]
