"""Trial (issue 17): a cheap learned stance signal for re-ranking the dense candidate pool.

Why: on Emergent a claim's 20 candidates fill with its own agreeing repetitions, and the denial, written by
the other side, ranks below them (docs/retrieval.md). ``opposite_cues`` (lexicons) is one stance signal;
this is a learned one that costs one dot product per pair on vectors already in hand: a logistic
regression over the two claims' embeddings (the int8 ONNX embedder the service uses, vectors from
``bench/eval_retrieval.py``'s cache), features ``u*v``, ``|u-v|`` and ``cos(u, v)`` (all symmetric).

Target: "a conflicting pair" (``for`` vs ``against`` headlines of one claim, different outlets) against

* the other pairs of the same claim (same stance, or one side ``observing``), and
* pairs of different claims drawn from the dense neighbourhood (each ``for``/``against`` headline's first
  ``--pool`` hits of other claims: the hard negatives the candidate pool really holds).

Data: Emergent headlines of claims of role ``nli`` only (``newsdata.role_of``); headlines of ``judge``
claims are never read here (not even as negatives), so ``bench/eval_retrieval.py --roles judge`` measures
on unseen claims. ``C`` (L2) is chosen by cross-validation grouped by claim (a pair of two claims belongs
to the group of its query). The same folds give out-of-fold probe scores, with which the dense pool of
each nli-role query is re-ranked by ``cos + w * p`` for a few ``w``: a choice of ``w`` that never sees a
judge claim.

Output: ``--out`` (default ``var/stance-probe/probe.npz``): ``uv``, ``diff`` (float32, one weight per
dimension), ``cos`` and ``bias``, with the feature standardisation folded in, so that the logit of a pair
is ``(u*v) @ uv + |u-v| @ diff + cos * cos_w + bias``; the training record (``probe.json``) beside it.

    nice -n 10 .venv/bin/python models/train_stance_probe.py
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

from contra import newsdata

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from eval_retrieval import CachedEmbedder  # noqa: E402

KIND_CONFLICT, KIND_AGREE, KIND_SAME_CLAIM, KIND_OTHER = 0, 1, 2, 3
KIND_NAMES = ("conflicting", "agreeing", "same claim, observing", "other claim (pool)")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``[u*v, |u-v|, cos]`` per row of two (n, d) arrays of unit vectors."""
    uv = u * v
    return np.hstack([uv, np.abs(u - v), uv.sum(axis=1, keepdims=True)]).astype(np.float32)


def pairs(heads: list[newsdata.Headline], vectors: np.ndarray, pool: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, kind) unordered pairs of headline rows, and the claim (group) of each pair."""
    by_claim: dict[str, list[int]] = collections.defaultdict(list)
    for i, h in enumerate(heads):
        by_claim[h.claim_id].append(i)
    norm = [_norm(h.headline) for h in heads]
    seen: set[tuple[int, int]] = set()
    rows: list[tuple[int, int, int]] = []
    groups: list[str] = []

    def add(i: int, j: int, kind: int, group: str) -> None:
        key = (min(i, j), max(i, j))
        if i == j or key in seen or heads[i].outlet == heads[j].outlet or norm[i] == norm[j]:
            return
        seen.add(key)
        rows.append((key[0], key[1], kind))
        groups.append(group)

    for claim, members in by_claim.items():
        for a in members:
            for b in members:
                sa, sb = heads[a].stance, heads[b].stance
                kind = KIND_SAME_CLAIM if "observing" in (sa, sb) else KIND_AGREE if sa == sb else KIND_CONFLICT
                add(a, b, kind, claim)
    sims = vectors @ vectors.T
    claims = np.asarray([h.claim_id for h in heads])
    for i, h in enumerate(heads):
        if h.stance == "observing":
            continue
        order = np.argsort(-sims[i])
        taken = 0
        for j in order:
            if heads[j].outlet == h.outlet or norm[j] == norm[i]:
                continue
            taken += 1
            if taken > pool:
                break
            if claims[j] != h.claim_id:
                add(i, int(j), KIND_OTHER, h.claim_id)
    arr = np.asarray(rows, dtype=np.int64)
    return arr, np.asarray(groups), claims


def kind_weights(kinds: np.ndarray) -> np.ndarray:
    """Sample weights giving the conflicting pairs half the mass and each kind of negative an equal share of
    the other half, so that the 20x more numerous other-claim pairs do not make the probe a story detector
    only (within a story, conflicting vs agreeing is what the pool's order lacks)."""
    out = np.zeros(len(kinds))
    present = [k for k in range(4) if (kinds == k).any()]
    for k in present:
        share = 0.5 if k == KIND_CONFLICT else 0.5 / (len(present) - 1)
        out[kinds == k] = share * len(kinds) / (kinds == k).sum()
    return out


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float) -> tuple[StandardScaler, LogisticRegression]:
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(scaler.transform(x), y, sample_weight=weight)
    return scaler, model


def folded(scaler: StandardScaler, model: LogisticRegression, dim: int) -> dict[str, np.ndarray]:
    """The probe's weights on raw features (standardisation folded in)."""
    w = model.coef_[0] / scaler.scale_
    bias = float(model.intercept_[0] - (scaler.mean_ / scaler.scale_) @ model.coef_[0])
    return {
        "uv": w[:dim].astype(np.float32),
        "diff": w[dim : 2 * dim].astype(np.float32),
        "cos": np.float32(w[2 * dim]),
        "bias": np.float32(bias),
    }


def logit(probe: dict[str, np.ndarray], u: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """The probe's logit of ``u`` against each row of ``cands`` (the computation the search would run)."""
    cos = cands @ u
    return cands @ (u * probe["uv"]) + np.abs(cands - u) @ probe["diff"] + cos * probe["cos"] + probe["bias"]


def pool_recall(
    heads: list[newsdata.Headline],
    vectors: np.ndarray,
    queries: list[int],
    probe_of: dict[int, dict[str, np.ndarray]],
    weights: list[float],
    pool: int,
    k: int,
) -> dict[float, tuple[float, float]]:
    """Conflicting and agreeing recall at ``k`` of each nli query's dense pool (other outlets, copies out),
    re-ranked by ``cos + w * sigmoid(logit)`` with the probe of the query's held-out fold."""
    norm = [_norm(h.headline) for h in heads]
    outlets = np.asarray([h.outlet for h in heads])
    hits: dict[float, dict[str, list[bool]]] = {w: {"conf": [], "agr": []} for w in weights}
    for q in queries:
        h = heads[q]
        sims = vectors @ vectors[q]
        sims[outlets == h.outlet] = -9
        order = [int(j) for j in np.argsort(-sims) if sims[j] > -9 and norm[j] != norm[q]][:pool]
        cand = np.asarray(order)
        p = 1.0 / (1.0 + np.exp(-np.clip(logit(probe_of[q], vectors[q], vectors[cand]), -30, 30)))
        partners = [
            (j, heads[j].stance == h.stance)
            for j in range(len(heads))
            if heads[j].claim_id == h.claim_id
            and heads[j].stance != "observing"
            and outlets[j] != h.outlet
            and norm[j] != norm[q]
        ]
        for w in weights:
            top = set(cand[np.argsort(-(sims[cand] + w * p), kind="stable")[:k]].tolist())
            for j, agrees in partners:
                hits[w]["agr" if agrees else "conf"].append(j in top)
    return {w: (float(np.mean(v["conf"])), float(np.mean(v["agr"]))) for w, v in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "stance-probe" / "probe.npz")
    parser.add_argument("--pool", type=int, default=60, help="dense neighbours per query for the other-claim negatives")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--c", default="0.001,0.003,0.01,0.03,0.1,0.3,1", help="L2 strengths C tried by grouped CV")
    parser.add_argument("--weights", default="0.05,0.1,0.2,0.3", help="w tried in the out-of-fold pool re-rank")
    parser.add_argument(
        "--balance",
        choices=("kinds", "classes"),
        default="kinds",
        help="kinds: conflicting pairs half the weight, each kind of negative an equal share; classes: balanced",
    )
    args = parser.parse_args()
    start = time.perf_counter()

    heads = [h for h in newsdata.emergent_headlines() if newsdata.role_of(h.claim_id) == "nli"]
    embed = CachedEmbedder("onnx")
    vectors = embed([h.headline for h in heads])
    embed.save()
    rows, groups, claims = pairs(heads, vectors, args.pool)
    x = features(vectors[rows[:, 0]], vectors[rows[:, 1]])
    y = (rows[:, 2] == KIND_CONFLICT).astype(np.int64)
    kinds = rows[:, 2]
    counts = {KIND_NAMES[k]: int((kinds == k).sum()) for k in range(4)}
    print(f"{len(heads)} headlines of {len(set(claims))} nli-role claims; pairs: {counts}")

    weight = kind_weights(kinds) if args.balance == "kinds" else kind_weights(np.minimum(kinds, KIND_AGREE))
    folds = list(GroupKFold(n_splits=args.folds).split(x, y, groups))
    fold_of_claim = {g: n for n, (_, test) in enumerate(folds) for g in set(groups[test].tolist())}
    queries = [i for i, h in enumerate(heads) if h.stance != "observing" and h.claim_id in fold_of_claim]
    grid = [float(c) for c in args.c.split(",")]
    weights = [0.0, *[float(w) for w in args.weights.split(",")]]
    dim = vectors.shape[1]
    cv: dict[str, dict[str, float]] = {}
    rerank: dict[str, dict[str, float]] = {}
    for c in grid:
        pred = np.zeros(len(y))
        probes = []
        for train, test in folds:
            scaler, model = fit(x[train], y[train], weight[train], c)
            pred[test] = model.predict_proba(scaler.transform(x[test]))[:, 1]
            probes.append(folded(scaler, model, dim))
        agree = np.isin(kinds, (KIND_CONFLICT, KIND_AGREE))
        other = np.isin(kinds, (KIND_CONFLICT, KIND_OTHER))
        cv[f"{c:g}"] = {
            "ap": float(average_precision_score(y, pred)),
            "auc_vs_agreeing": float(roc_auc_score(y[agree], pred[agree])),
            "auc_vs_other_claims": float(roc_auc_score(y[other], pred[other])),
        }
        # Out-of-fold pool re-rank: each nli query scored by the probe of the folds that did not hold its claim.
        probe_of = {q: probes[fold_of_claim[heads[q].claim_id]] for q in queries}
        for k in (10, 20):
            for w, (conf, agr) in pool_recall(heads, vectors, queries, probe_of, weights, args.pool, k).items():
                rerank.setdefault(f"C={c:g} w={w:g}", {})[f"conf@{k}"] = conf
                rerank[f"C={c:g} w={w:g}"][f"agr@{k}"] = agr
        print(f"C={c:g}: " + ", ".join(f"{k} {v:.3f}" for k, v in cv[f"{c:g}"].items()))
        for w in weights:
            r = rerank[f"C={c:g} w={w:g}"]
            print(f"   pool {args.pool} re-rank w={w:g}: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(r.items())))

    def gain(key: str) -> float:
        r, r0 = rerank[key], rerank[f"C={grid[0]:g} w=0"]
        if r["agr@20"] < r0["agr@20"] - 0.005:
            return -1.0
        return r["conf@20"] + 0.001 * r["conf@10"]

    chosen = max((k for k in rerank if not k.endswith(" w=0")), key=gain)
    best = float(chosen.split()[0].removeprefix("C="))
    print(f"chosen {chosen} (out-of-fold conf@20 of the re-ranked pool, then conf@10; agr@20 within 0.005)")

    scaler, model = fit(x, y, weight, best)
    probe = folded(scaler, model, dim)
    check = logit(probe, vectors[rows[0, 0]], vectors[rows[:50, 1]])[:1]
    expected = model.decision_function(scaler.transform(x[:1]))
    assert np.allclose(check, expected, atol=1e-3), (check, expected)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **probe)
    info = {
        "embedder": embed.model.name,
        "claims": len(set(claims)),
        "headlines": len(heads),
        "pairs": counts,
        "pool": args.pool,
        "cv": cv,
        "balance": args.balance,
        "C": best,
        "chosen": chosen,
        "oof_rerank": rerank,
        "seconds": round(time.perf_counter() - start, 1),
    }
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) in {info['seconds']} s")


if __name__ == "__main__":
    main()
