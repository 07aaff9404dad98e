"""``make eval``: how well contra's judge and retrieval do on the project's labelled news pairs.

Prints, in one run and on the same pairs:
* precision / recall / F1 of conflict detection, overall and per gold kind, and the confusion
  matrix of gold kind against predicted kind, for the full judge, NLI alone and numbers alone,
  so that every part has to earn its place;
* candidate recall on the corpus-level set: the share of labelled conflicting pairs whose two
  claims meet as candidates (either claim's Check retrieves the other) at several k, for dense-only
  and hybrid (dense + FTS5/BM25, fused by reciprocal rank) retrieval, on the corpus and on its hard
  variant (``bench/hard_corpus.py``: each B sentence fused with an unrelated sentence).

    python bench/eval_detection.py [--pairs tests/data/pairs.jsonl] [--corpus tests/data/corpus] [--json out.json]
                                   [--recall-only | --judge-only] [--cost]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from fit_judge import fold_calibrations, full_judge, matrix, pair_inputs
from rich.console import Console
from rich.table import Table

from contra.domain import DocumentIn, IndexKind, Source, Verdict
from contra.service.config import Settings
from contra.service.judge.calibration import Calibration
from contra.service.judge.judge import Judge
from contra.service.judge.numbers import FigureEvidence, figure_evidence

REPO = Path(__file__).resolve().parent.parent
KINDS = ("stance", "number", "date", "quantity")
console = Console(width=140)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int


def prf(tp: int, fp: int, fn: int) -> Scores:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(p, r, f, tp, fp, fn)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def score_variant(rows: list[dict[str, Any]], verdicts: list[Verdict]) -> dict[str, Any]:
    """Overall and per-kind P/R/F1; per kind, a gold conflict counts as found whatever kind was predicted,
    and a false alarm counts against the kind it was predicted as."""
    gold = [r["label"] == "contradiction" for r in rows]
    pred = [v.is_conflict for v in verdicts]
    overall = prf(
        sum(g and p for g, p in zip(gold, pred, strict=True)),
        sum(p and not g for g, p in zip(gold, pred, strict=True)),
        sum(g and not p for g, p in zip(gold, pred, strict=True)),
    )
    per_kind: dict[str, Scores] = {}
    for kind in KINDS:
        tp = sum(1 for r, v in zip(rows, verdicts, strict=True) if r["kind"] == kind and v.is_conflict)
        fn = sum(1 for r, v in zip(rows, verdicts, strict=True) if r["kind"] == kind and not v.is_conflict)
        fp = sum(
            1
            for r, v in zip(rows, verdicts, strict=True)
            if r["label"] != "contradiction" and v.is_conflict and v.kind is not None and v.kind.value == kind
        )
        per_kind[kind] = prf(tp, fp, fn)
    confusion = Counter(
        (r["kind"], v.kind.value if v.is_conflict and v.kind else "none") for r, v in zip(rows, verdicts, strict=True)
    )
    kind_agree = [
        (v.kind.value if v.kind else "") == r["kind"]
        for r, v in zip(rows, verdicts, strict=True)
        if r["label"] == "contradiction" and v.is_conflict
    ]
    hard = [i for i, r in enumerate(rows) if r.get("hard_negative")]
    hard_fp = sum(1 for i in hard if pred[i])
    return {
        "overall": overall,
        "per_kind": per_kind,
        "confusion": confusion,
        "kind_accuracy": sum(kind_agree) / len(kind_agree) if kind_agree else 0.0,
        "hard_negative_false_alarms": (hard_fp, len(hard)),
    }


def print_variant(name: str, result: dict[str, Any]) -> None:
    table = Table(title=f"{name}: conflict detection", title_justify="left")
    for col in ("", "precision", "recall", "F1", "TP", "FP", "FN"):
        table.add_column(col, justify="right" if col else "left")
    for label, s in [("overall", result["overall"]), *result["per_kind"].items()]:
        table.add_row(label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.tp), str(s.fp), str(s.fn))
    console.print(table)
    fp, n = result["hard_negative_false_alarms"]
    console.print(
        f"  kind right on detected conflicts: {result['kind_accuracy']:.3f}; false alarms on hard negatives: {fp}/{n}"
    )
    confusion = Table(title=f"{name}: gold kind (rows) vs predicted kind (columns)", title_justify="left")
    cols = (*KINDS, "none")
    confusion.add_column("gold")
    for c in cols:
        confusion.add_column(c, justify="right")
    for g in cols:
        confusion.add_row(g, *(str(result["confusion"].get((g, p), 0)) for p in cols))
    console.print(confusion)


def judge_pairs(rows: list[dict[str, Any]], settings: Settings) -> dict[str, dict[str, Any]]:
    """Every variant judges the same pairs from one gathering of evidence (one NLI run both ways).

    The shipped calibration is fitted on real outlets' news with these pairs as one group among several
    (``make fit-judge``); ``make eval-news`` scores these pairs out of fold in that fit. Here, beside it, a
    calibration of the same features fitted on these pairs alone is scored with 5-fold cross-validation, a
    regression check of the features on the hand-written kinds."""
    pairs = pair_inputs(rows)
    start = time.perf_counter()
    base = full_judge(settings)
    evidence = base.evidence(pairs)
    gather = time.perf_counter() - start
    x = matrix(evidence)
    y = np.array([r["label"] == "contradiction" for r in rows])
    ruled = np.array([e.ruled_out for e in evidence])
    shipped = Calibration.load()
    c = float(shipped.meta.get("C", 0.1))
    threshold = settings.conflict_threshold
    cv_verdicts: list[Verdict | None] = [None] * len(rows)
    for test, cal in fold_calibrations(x, y, ruled, c):
        judge = Judge(base.nli, figure_evidence, threshold=threshold, calibration=cal)
        for i, verdict in zip(test, judge.decide([pairs[i] for i in test], [evidence[i] for i in test]), strict=True):
            cv_verdicts[i] = verdict
    no_figures = [replace(e, figures=FigureEvidence(None)) for e in evidence]
    no_nli = [replace(e, forward=(), backward=()) for e in evidence]
    fixed = Judge(base.nli, figure_evidence, threshold=threshold)
    variants: dict[str, list[Verdict]] = {
        "full judge, shipped calibration (real news + these pairs as one group)": Judge(
            base.nli, figure_evidence, threshold=threshold, calibration=shipped
        ).decide(pairs, evidence),
        "full judge, calibrated on these pairs alone (5-fold cross-validated)": [
            v for v in cv_verdicts if v is not None
        ],
        "fixed rules (noisy-OR of figures and NLI, overlap gate)": fixed.decide(pairs, evidence),
        "NLI alone": fixed.decide(pairs, no_figures),
        "numbers alone": fixed.decide(pairs, no_nli),
    }
    results: dict[str, dict[str, Any]] = {}
    for name, verdicts in variants.items():
        results[name] = score_variant(rows, verdicts)
        results[name]["seconds"] = gather
        results[name]["errors"] = [
            {
                "id": r["id"],
                "gold": r["kind"],
                "pred": v.kind.value if v.is_conflict and v.kind else "none",
                "score": round(v.score, 3),
            }
            for r, v in zip(rows, verdicts, strict=True)
            if (r["label"] == "contradiction") != v.is_conflict
        ]
    return results


#: Corpus variants for candidate recall: the corpus as written; each B sentence fused with one unrelated
#: sentence of its document; both halves of each pair fused with two.
CORPORA: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("normal", None),
    ("hard", {"fillers": 1, "sides": ("b",)}),
    ("hard+", {"fillers": 2, "sides": ("a", "b")}),
)
#: Retrieval variants compared by the candidate-recall table: (name, CONTRA_LEXICAL_K).
RETRIEVERS = (("dense", 0), ("hybrid", Settings().lexical_k or 20))


def candidate_recall(
    corpus: Path, settings: Settings, ks: tuple[int, ...], hard: dict[str, Any] | None = None
) -> dict[str, dict[int, dict[str, float]]]:
    """Ingest the corpus into a fresh detector and ask, for each conflicting pair, whether one claim's
    Check brings the other among its first k candidates, once per retriever in ``RETRIEVERS``.

    Each k is its own Check with ``top_k=k``: fusion ranks depend on the depth of both lists, so the
    ranks of one deep search would not say what a search at k returns. ``hard`` (keyword arguments of
    ``hard_corpus.harden``) uses the variant where labelled sentences are fused with unrelated ones."""
    from hard_corpus import harden

    from contra.service.detector import CheckQuery
    from contra.service.wiring import build_detector

    documents = read_jsonl(corpus / "documents.jsonl")
    links = read_jsonl(corpus / "links.jsonl")
    labels = {r["id"]: r["label"] for r in read_jsonl(corpus.parent / "pairs.jsonl")}
    links = [link for link in links if labels.get(link["pair_id"]) == "contradiction"]
    if hard is not None:
        variant = harden(documents, links, **hard)
        documents, links = variant.documents, variant.links
        console.print(f"hard corpus {hard}: {variant.fused} sentences fused, {variant.unchanged} unchanged")
    by_id = {d["doc_id"]: d for d in documents}
    results: dict[str, dict[int, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(
            update={"data_dir": Path(tmp), "index_kind": IndexKind.FLAT, "min_similarity": -1.0}
        )
        detector = build_detector(local)
        docs = [
            DocumentIn(
                Source(d["source"], d.get("outlet", "")), d["text"], d.get("url", ""), _date(d.get("date")), d["doc_id"]
            )
            for d in documents
        ]
        for start in range(0, len(docs), 64):
            detector.ingest(docs[start : start + 64])
        console.print(
            f"corpus: {len(docs)} documents, {detector.stats().claims} claims, {len(links)} conflicting pairs"
        )
        n = max(len(links), 1)
        for name, lexical_k in RETRIEVERS:
            detector.lexical_k = lexical_k
            results[name] = {}
            for k in ks:
                ab = [
                    _rank(detector, CheckQuery, link["a_sentence"], by_id[link["a_doc"]], link["b_sentence"], k) < k
                    for link in links
                ]
                ba = [
                    _rank(detector, CheckQuery, link["b_sentence"], by_id[link["b_doc"]], link["a_sentence"], k) < k
                    for link in links
                ]
                results[name][k] = {
                    "a_finds_b": sum(ab) / n,
                    "b_finds_a": sum(ba) / n,
                    "either": sum(x or y for x, y in zip(ab, ba, strict=True)) / n,
                }
        detector.close()
    return results


def check_cost(corpus: Path, settings: Settings, repeats: int = 3) -> dict[str, float]:
    """Milliseconds per Check (candidates only, no judging) for each retriever, on the ingested corpus."""
    from contra.service.detector import CheckQuery
    from contra.service.wiring import build_detector

    documents = read_jsonl(corpus / "documents.jsonl")
    queries = [
        CheckQuery(text=d["text"], source=Source(d["source"]), published=_date(d.get("date"))) for d in documents
    ]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        detector = build_detector(settings.model_copy(update={"data_dir": Path(tmp), "index_kind": IndexKind.FLAT}))
        docs = [DocumentIn(Source(d["source"]), d["text"], "", _date(d.get("date")), d["doc_id"]) for d in documents]
        for start in range(0, len(docs), 64):
            detector.ingest(docs[start : start + 64])
        for q in queries[:20]:  # warm-up: model sessions, SQLite pages
            detector.candidates(q)
        for name, lexical_k in RETRIEVERS:
            detector.lexical_k = lexical_k
            best = float("inf")
            for _ in range(repeats):
                start_t = time.perf_counter()
                for q in queries:
                    detector.candidates(q)
                best = min(best, (time.perf_counter() - start_t) / len(queries) * 1000)
            out[name] = best
        detector.close()
    return out


def _rank(detector: Any, query_cls: Any, sentence: str, doc: dict[str, Any], target: str, k: int) -> float:
    """Position of ``target`` among the candidates of ``sentence``'s Check, infinity when absent."""
    query = query_cls(text=sentence, source=Source(doc["source"]), published=_date(doc.get("date")), top_k=k)
    _, rows = detector.candidates(query)
    for row in rows:
        for position, c in enumerate(row):
            if target in c.claim.text or c.claim.text in target:
                return float(position)
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=REPO / "tests" / "data" / "pairs.jsonl")
    parser.add_argument("--corpus", type=Path, default=REPO / "tests" / "data" / "corpus")
    parser.add_argument("--ks", default="5,10,20,50")
    parser.add_argument("--recall-only", action="store_true", help="skip judging; candidate recall only")
    parser.add_argument("--judge-only", action="store_true", help="skip candidate recall; judge the pairs only")
    parser.add_argument("--cost", action="store_true", help="also time Check's candidate step per retriever")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    rows = read_jsonl(args.pairs)
    counts = Counter(r["kind"] for r in rows)
    by_kind = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    console.print(f"pairs: {len(rows)} ({by_kind}); NLI model {settings.nli_model}")
    results = {} if args.recall_only else judge_pairs(rows, settings)
    for name, result in results.items():
        print_variant(name, result)
    recall: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    if not args.judge_only and (args.corpus / "documents.jsonl").exists():
        ks = tuple(int(k) for k in args.ks.split(","))
        for corpus_name, hard in CORPORA:
            recall[corpus_name] = candidate_recall(args.corpus, settings, ks, hard=hard)
        table = Table(
            title="candidate recall: conflicting pairs that meet (either claim's Check finds the other)",
            title_justify="left",
        )
        table.add_column("corpus")
        table.add_column("retriever")
        for k in ks:
            table.add_column(f"k={k}", justify="right")
        for corpus_name, by_retriever in recall.items():
            for retriever, r in by_retriever.items():
                table.add_row(corpus_name, retriever, *(f"{r[k]['either']:.3f}" for k in ks))
        console.print(table)
        one_way = Table(title="candidate recall, one direction (A's Check finds B / B's finds A)", title_justify="left")
        one_way.add_column("corpus")
        one_way.add_column("retriever")
        for k in ks:
            one_way.add_column(f"k={k}", justify="right")
        for corpus_name, by_retriever in recall.items():
            for retriever, r in by_retriever.items():
                cells = (f"{r[k]['a_finds_b']:.3f} / {r[k]['b_finds_a']:.3f}" for k in ks)
                one_way.add_row(corpus_name, retriever, *cells)
        console.print(one_way)
        if args.cost:
            cost = check_cost(args.corpus, settings)
            console.print(
                "ms per Check (candidates only, one corpus document as the query, best of 3): "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in cost.items())
            )
    if args.json:
        payload = {
            name: {
                "overall": vars(r["overall"]),
                "per_kind": {k: vars(s) for k, s in r["per_kind"].items()},
                "kind_accuracy": r["kind_accuracy"],
                "hard_negative_false_alarms": r["hard_negative_false_alarms"],
                "errors": r["errors"],
            }
            for name, r in results.items()
        }
        payload["candidate_recall"] = {
            c: {r: {str(k): v for k, v in by_k.items()} for r, by_k in by_r.items()} for c, by_r in recall.items()
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
