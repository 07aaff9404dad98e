"""The operating-point arithmetic of ``make eval-news`` (bench/eval_news.py), on scores made up here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def best_f1_at_precision():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        from eval_news import best_f1_at_precision as fn
    finally:
        sys.path.remove(str(BENCH))
    return fn


def test_best_f1_at_precision_picks_the_deepest_cut_that_keeps_precision(best_f1_at_precision) -> None:  # type: ignore[no-untyped-def]
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0], dtype=bool)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    # Flag the top 4: 3 of 4 right (P 0.75 < 0.8); the top 2: P 1.0, R 0.5, F1 0.667.
    f1, threshold = best_f1_at_precision(y, scores, 0.8)
    assert f1 == pytest.approx(2 / 3) and threshold == pytest.approx(0.8)
    f1, threshold = best_f1_at_precision(y, scores, 0.75)
    assert f1 == pytest.approx(0.75) and threshold == pytest.approx(0.6)


def test_tied_scores_are_flagged_together(best_f1_at_precision) -> None:  # type: ignore[no-untyped-def]
    y = np.array([1, 0, 1, 0], dtype=bool)
    scores = np.array([0.9, 0.9, 0.5, 0.1])
    # The top pair alone would have P 1.0, but no threshold flags one of two tied scores.
    assert best_f1_at_precision(y, scores, 0.8) == (0.0, None)
    assert best_f1_at_precision(y, scores, 0.6)[0] == pytest.approx(0.8)
