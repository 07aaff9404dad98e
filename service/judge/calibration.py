"""One calibrated score per pair: a logistic model over the judge's features, fitted offline.

The parts of the judge (NLI in both directions, the figures check, the same-event evidence, stance
cues) each say something about a pair, and none of them is a probability of a real conflict on its
own. ``bench/fit_judge.py`` fits a logistic regression on the project's labelled pairs and writes the
standardisation and weights here as a small JSON file (``models/judge-calibration.json``); the judge
loads it and needs no scikit-learn at run time. The eval reports cross-validated figures, never the
in-sample fit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from contra.service.config import REPO_ROOT

DEFAULT_CALIBRATION = REPO_ROOT / "models" / "judge-calibration.json"

#: The features, in column order, by group (the ablation of ``make eval-news`` drops one group at a time).
#: Changing them means refitting: ``make fit-judge``.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    # Not the smaller of the two directions' contradiction log-odds beside their mean: out of fold (session 8)
    # it moved Emergent ROC AUC by +0.002 and cost FNC-1 F1 0.029 (0.512 -> 0.483).
    "nli": ("nli_contradiction_logit", "nli_entailment_logit"),
    "figures": ("figure_conflict", "figure_conflict_weak_parallel", "figure_agreements"),
    "stance_cues": ("denial_flip", "denies_shared_predicate", "debunk_flip", "opposites_parallel"),
    # Not "stale" (the stories' publish dates a week or more apart): no real-news set carries two dates, so its
    # weight came from 15 hand-written pairs alone and was a veto (-11 log-odds: every pair of stories nine days
    # apart scored 0, the seed's war-year clash included). The figures check already lets running counts and
    # ordinal periods move between two publish dates; a caller who wants a time window passes since/until.
    # Not "entity_mismatch" (both claims name people or places and share none): outlets name their own
    # officials and places, and the feature lowered real conflicts as much as unrelated pairs. Without it, out
    # of fold (session 8): ROC AUC Emergent 0.877 -> 0.883, FNC-1 0.679 -> 0.694, false alarms ClaimDiff
    # 0.010 -> 0.009 and within-article 0.022 -> 0.020; hand-written F1 0.845 -> 0.842.
}
FEATURES: tuple[str, ...] = tuple(f for group in FEATURE_GROUPS.values() for f in group)
#: Features that come from the NLI model's probabilities: the judge bounds a pair's score over their range
#: (``NLI_RANGE``) before running the model, and skips the model where even the most conflicting answer
#: cannot reach the threshold.
NLI_FEATURES: tuple[str, ...] = FEATURE_GROUPS["nli"]
#: Probabilities are clipped to [NLI_CLIP, 1 - NLI_CLIP] before their log-odds are taken.
NLI_CLIP = 1e-4


def log_odds(p: float) -> float:
    """The NLI probabilities enter the logistic model as log-odds, not as probabilities.

    A logistic model is linear in log-odds, and on real news what separates conflicts is at the top end:
    0.99 against 0.9 is a tenfold difference in odds but 0.09 in probability. Measured out of fold
    (`make fit-judge`, same features otherwise): Emergent ROC AUC 0.846 -> 0.852, and the best F1 at
    precision >= 0.80 0.02 -> 0.48, because the few pairs the model is sure of now rank above the
    cue-only ones. A missing probability (NaN: the model did not run) stays missing."""
    if math.isnan(p):
        return math.nan
    q = min(max(p, NLI_CLIP), 1.0 - NLI_CLIP)
    return math.log(q / (1.0 - q))


#: The range of every NLI feature: the log-odds of probabilities 0 and 1 after clipping.
NLI_RANGE = (log_odds(0.0), log_odds(1.0))


def nli_ranges_given_forward(forward: np.ndarray, con: int, ent: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Where each NLI feature can still land once A->B is known (rows of ``forward``: its probabilities)
    and B->A is not: the mean contradiction between half A->B's and halfway to 1, the larger entailment at
    least A->B's. The judge skips B->A where even the top of these
    ranges cannot reach the threshold."""
    f_con, f_ent = forward[:, con], forward[:, ent]

    def odds(p: np.ndarray) -> np.ndarray:  # log_odds over an array
        q = np.clip(p, NLI_CLIP, 1.0 - NLI_CLIP)
        return np.asarray(np.log(q / (1.0 - q)), dtype=np.float64)

    return {
        "nli_contradiction_logit": (odds(f_con / 2.0), odds((f_con + 1.0) / 2.0)),
        "nli_entailment_logit": (odds(f_ent), np.full(len(forward), NLI_RANGE[1])),
    }


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted logistic model: ``sigmoid(((x - mean) / scale) @ weights + bias)``.

    A feature that is missing for a pair (NaN, e.g. the NLI probabilities when no model ran) takes
    its training mean, i.e. contributes nothing."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    #: How it was fitted and what cross-validation measured, for people reading the file.
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (self.mean.shape == self.scale.shape == self.weights.shape == (n,)):
            raise ValueError(f"calibration arrays must all have {n} entries, one per feature")

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of a real conflict for the rows of ``x`` (shape ``(n, len(features))``)."""
        x = np.where(np.isnan(x), self.mean, x)
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def max_score(self, x: np.ndarray, ranges: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None) -> np.ndarray:
        """The highest score each row of ``x`` can reach whatever value each feature named in ``ranges`` takes
        between its (low, high) ends, one pair for all rows or one per row (exact: the score is monotone in
        each feature). By default the NLI features are free over all of ``NLI_RANGE``."""
        if ranges is None:
            ranges = {name: NLI_RANGE for name in NLI_FEATURES if name in self.features}
        x = np.where(np.isnan(x), self.mean, x)
        z = ((x - self.mean) / self.scale) * self.weights
        for name, (low, high) in ranges.items():
            k = self.features.index(name)
            ends = np.stack([np.broadcast_to(low, len(x)), np.broadcast_to(high, len(x))]).astype(np.float64)
            z[:, k] = ((ends - self.mean[k]) / self.scale[k] * self.weights[k]).max(axis=0)
        return np.asarray(1.0 / (1.0 + np.exp(-(z.sum(axis=1) + self.bias))), dtype=np.float64)

    def save(self, path: Path) -> None:
        payload = {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "meta": self.meta,
        }
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = DEFAULT_CALIBRATION) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        features = tuple(data["features"])
        if features != FEATURES:
            raise ValueError(f"{path} was fitted on features {features}, the judge computes {FEATURES}: refit it")
        return cls(
            features=features,
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            meta=dict(data.get("meta", {})),
        )
