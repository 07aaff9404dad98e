"""``make eval-news``: the judge on real news from real outlets (Emergent, FNC-1, ClaimDiff) beside the
hand-written pairs.

    python bench/eval_news.py [--sets emergent,fnc1,claimdiff,handwritten] [--json out.json] [--shipped-only]

Per set: precision, recall and F1 at the shipped threshold, ROC AUC of the score, the F1 of answering
"contradiction" every time, the false-alarm rate on ClaimDiff (no conflicts there), and for every veto
rule the number of real conflicts it vetoed. Two judges are scored on the same evidence:

* ``shipped``: the judge with ``models/judge-calibration.json`` as the service runs it;
* ``out-of-fold``: the calibration refitted by ``bench/fit_judge.py`` on the other folds only (folds by
  claim / body's claim / ClaimDiff topic / hand-written id), so every figure is measured on groups the
  fit never saw. The shipped calibration has seen every pair, so its figures are in-sample.

The data is read from ``../shared/data/news`` at run time (nothing is copied into the repository); the
run skips with a message when it is absent. NLI outputs and embeddings are cached under
``var/news-eval/`` per model file hash, so a rerun costs seconds. The sets are described in
``bench/news_pairs.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from news_pairs import SETS, NewsSet, build, load_sets
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

from contra import newsdata
from contra.domain import LABEL_ORDER, Label
from contra.service.config import Settings
from contra.service.judge.calibration import Calibration
from contra.service.judge.judge import Judge, PairEvidence

console = Console(width=170)
#: The precision a flag must keep on unseen news (the judge's target there: F1 >= 0.70 at precision >= 0.80).
HIGH_PRECISION = 0.8
_CON = LABEL_ORDER.index(Label.CONTRADICTION)


@dataclass(frozen=True)
class SetScores:
    name: str
    units: int
    conflicts: int
    precision: float
    recall: float
    f1: float
    flagged: int
    auc: float | None
    nli_auc: float | None
    always_f1: float
    vetoes: dict[str, int]
    #: The best F1 any threshold reaches with precision >= ``HIGH_PRECISION`` (0 where none does), and
    #: that threshold: how the score ranks at the top, where a newsroom would set the bar.
    f1_at_high_precision: float
    threshold_at_high_precision: float | None

    def row(self) -> dict[str, Any]:
        return dict(vars(self))


def unit_max(s: NewsSet, values: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """Per unit, the maximum over its pairs (``empty`` for a unit with no pair, e.g. an FNC-1 body with
    no sentence close enough to its headline to be a candidate)."""
    out = np.full(s.units, -np.inf)
    np.maximum.at(out, s.unit_of, values)
    return np.where(np.isinf(out), empty, out)


def nli_contradiction(e: PairEvidence) -> float:
    return (e.forward[_CON] + e.backward[_CON]) / 2.0 if e.forward else 0.0


def vetoes_of(e: PairEvidence) -> list[str]:
    """Names of the rules that decide this pair before any score (the judge's own list)."""
    return list(e.vetoes())


def best_f1_at_precision(y: np.ndarray, scores: np.ndarray, precision: float) -> tuple[float, float | None]:
    """The highest F1 over thresholds whose flags keep ``precision``, and the threshold (ties broken
    toward flagging less: a threshold between two tied scores is not reachable)."""
    order = np.argsort(-scores, kind="stable")
    ranked, y_ranked = scores[order], y[order]
    tp = np.cumsum(y_ranked)
    flagged = np.arange(1, len(y) + 1)
    # Only cut where the next score is lower: a threshold flags all pairs tied at it.
    cut = np.append(ranked[1:] < ranked[:-1], True)
    p, r = tp / flagged, tp / max(int(y.sum()), 1)
    f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    ok = cut & (p >= precision)
    if not ok.any():
        return 0.0, None
    best = int(np.argmax(np.where(ok, f1, -1.0)))
    return float(f1[best]), float(ranked[best])


def score_set(s: NewsSet, scores: np.ndarray, threshold: float) -> SetScores:
    """Unit-level figures for pair-level ``scores``; vetoes are counted on each real conflict's most
    contradictory pair (by NLI), which for a pair-level set is the pair itself."""
    unit_scores = unit_max(s, scores)
    pred = unit_scores >= threshold
    y = s.gold
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    both = 0 < y.sum() < len(y)
    nli = np.array([nli_contradiction(e) for e in s.evidence])
    base = y.mean()
    # For each unit, the pair the model finds most contradictory: the one a veto must not kill.
    best = np.full(s.units, -1)
    best_val = np.full(s.units, -np.inf)
    for i, (u, v) in enumerate(zip(s.unit_of, nli, strict=True)):
        if v > best_val[u]:
            best_val[u], best[u] = v, i
    vetoes: dict[str, int] = {}
    for u in np.flatnonzero(y):
        if best[u] < 0:
            vetoes["no candidate sentence"] = vetoes.get("no candidate sentence", 0) + 1
            continue
        for name in vetoes_of(s.evidence[best[u]]):
            vetoes[name] = vetoes.get(name, 0) + 1
    return SetScores(
        s.name,
        s.units,
        int(y.sum()),
        p,
        r,
        f,
        int(pred.sum()),
        float(roc_auc_score(y, unit_scores)) if both else None,
        float(roc_auc_score(y, unit_max(s, nli))) if both else None,
        2 * base / (1 + base) if base else 0.0,
        vetoes,
        *(best_f1_at_precision(y, unit_scores, HIGH_PRECISION) if both else (0.0, None)),
    )


def shipped_scores(judge: Judge, s: NewsSet, calibration: Calibration) -> np.ndarray:
    shipped = Judge(judge.nli, judge.figures, threshold=judge.threshold, calibration=calibration)
    return np.array([v.score for v in shipped.decide(s.pairs, s.evidence)])


def print_table(title: str, results: Sequence[SetScores]) -> None:
    table = Table(title=title, title_justify="left")
    for col in (
        "set",
        "units",
        "conflicts",
        "P",
        "R",
        "F1",
        "flagged",
        "AUC",
        "NLI AUC",
        "always-C F1",
        f"F1 @P>={HIGH_PRECISION}",
        "vetoed conflicts",
    ):
        table.add_column(col, justify="left" if col in ("set", "vetoed conflicts") else "right")
    for r in results:
        vetoes = ", ".join(f"{k} {v} ({v / max(r.conflicts, 1):.0%})" for k, v in sorted(r.vetoes.items())) or "-"
        fp_rate = f" (FP rate {r.flagged / r.units:.3f})" if r.conflicts == 0 else ""
        table.add_row(
            r.name,
            str(r.units),
            str(r.conflicts),
            f"{r.precision:.3f}" if r.conflicts else "-",
            f"{r.recall:.3f}" if r.conflicts else "-",
            f"{r.f1:.3f}" if r.conflicts else "-",
            f"{r.flagged}{fp_rate}",
            f"{r.auc:.3f}" if r.auc is not None else "-",
            f"{r.nli_auc:.3f}" if r.nli_auc is not None else "-",
            f"{r.always_f1:.3f}" if r.conflicts else "-",
            f"{r.f1_at_high_precision:.3f} (t {r.threshold_at_high_precision:.2f})"
            if r.threshold_at_high_precision is not None
            else ("0" if r.conflicts else "-"),
            vetoes,
        )
    console.print(table)


def evaluate(sets: Sequence[NewsSet], scorer: Callable[[NewsSet], np.ndarray], threshold: float) -> list[SetScores]:
    return [score_set(s, scorer(s), threshold) for s in sets]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--shipped-only", action="store_true", help="skip the out-of-fold refit")
    args = parser.parse_args()
    if not newsdata.available():
        print(f"eval-news skipped: no real-news data at {newsdata.news_root()} (see SOURCES.md there)")
        return
    settings = Settings()
    judge, emb, key = build(settings)
    console.print(
        f"machine: {platform.node()} ({platform.machine()}, {platform.processor() or 'cpu'}); "
        f"NLI model {settings.nli_model} (weights sha256 {key}); threshold {settings.conflict_threshold}"
    )
    sets = load_sets(settings, judge, emb, args.sets.split(","))
    calibration = Calibration.load()
    report: dict[str, Any] = {"nli_model": settings.nli_model, "nli_hash": key}
    shipped = evaluate(sets, lambda s: shipped_scores(judge, s, calibration), settings.conflict_threshold)
    print_table("shipped judge (models/judge-calibration.json; in-sample where it was fitted)", shipped)
    report["shipped"] = [r.row() for r in shipped]
    if not args.shipped_only:
        from fit_judge import out_of_fold, publish_ablation

        oof = out_of_fold(sets, settings)
        out = evaluate(sets, lambda s: oof[s.name], settings.conflict_threshold)
        print_table("refitted judge, out of fold (grouped folds: claim / body's claim / topic / id)", out)
        report["out_of_fold"] = [r.row() for r in out]
        report["ablation"] = publish_ablation(sets, settings, console)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
