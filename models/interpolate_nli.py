"""Interpolate two checkpoints of the same NLI cross-encoder, weight by weight (WiSE-FT style).

``theta = (1 - alpha) * theta_start + alpha * theta_tuned``: a fine-tune on a new domain (the warm
start's news and VitaminC pairs) can lose some of the general skill it started with; a point on the
straight line between the two weight sets often keeps most of the new skill and most of the old
(Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022). ``alpha`` 1 is the tuned model,
0 the start. Both checkpoints must share architecture and tokenizer (the warm start keeps both).

    python models/interpolate_nli.py --start var/nli-warm/init --tuned var/nli-warm/final \\
        --alpha 0.7 --out var/nli-warm/mix-0.7
    python models/interpolate_nli.py --start var/nli-warm/init --tuned var/nli-warm/final \\
        --select --out var/nli-warm/mixed

``--select`` picks ``alpha`` by a rule fixed in advance, on sets that the card does not gate on and
that no news figure uses: the largest ``alpha`` of ``--grid`` whose fp32 accuracy on MultiNLI dev
*mismatched* (the 4,498-pair subset) and counterfactual SNLI dev (998 pairs) stays within
``--tolerance`` of the start's (MNLI-mm) and twice that (CAD-SNLI dev, a quarter of the size). The
gated figures (MNLI-m, SNLI test, the judge-role news sets) are measured afterwards, by eval_nli.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np


def interpolate(start: Path, tuned: Path, alpha: float, out: Path) -> None:
    from safetensors.torch import load_file, save_file

    a = load_file(str(start / "model.safetensors"))
    b = load_file(str(tuned / "model.safetensors"))
    if a.keys() != b.keys():
        raise ValueError(f"the checkpoints differ in parameters: {sorted(a.keys() ^ b.keys())[:8]}")
    mixed = {}
    for name, tensor in b.items():
        if tensor.shape != a[name].shape:
            raise ValueError(f"{name}: shapes {tuple(a[name].shape)} and {tuple(tensor.shape)}")
        mixed[name] = ((1 - alpha) * a[name].float() + alpha * tensor.float()).to(tensor.dtype).contiguous()
    out.mkdir(parents=True, exist_ok=True)
    for item in tuned.iterdir():  # config and tokenizer of the tuned checkpoint
        if item.is_file() and item.name.endswith((".json", ".txt")) and item.name != "trainer_state.json":
            shutil.copyfile(item, out / item.name)
    save_file(mixed, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "interpolation.json").write_text(
        json.dumps({"start": str(start), "tuned": str(tuned), "alpha": alpha}, indent=2) + "\n", encoding="utf-8"
    )


SELECT_SETS = (("dev_mnli_mismatched.jsonl.gz", 1.0), ("dev_cad_snli.jsonl.gz", 2.0))


def _accuracy(checkpoint: Path, pairs: list[tuple[str, str]], gold: np.ndarray) -> float:
    from contra.service.models.nli import TransformersNLI

    model = TransformersNLI(str(checkpoint), batch_size=32, max_length=256)
    return float((model.predict(pairs).argmax(axis=1) == gold).mean())


def select(start: Path, tuned: Path, grid: list[float], tolerance: float, out: Path) -> float:
    """The largest alpha of ``grid`` that keeps the start's general accuracy (see the module docstring)."""
    import gzip

    from contra.newsdata import nli_root

    labels = ("entailment", "neutral", "contradiction")
    sets = []
    for name, weight in SELECT_SETS:
        with gzip.open(nli_root() / name, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        pairs = [(r["premise"], r["hypothesis"]) for r in rows]
        sets.append((name, weight, pairs, np.array([labels.index(r["label"]) for r in rows])))
    reference = {name: _accuracy(start, pairs, gold) for name, _, pairs, gold in sets}
    log = {"start": reference, "tolerance": tolerance, "alphas": {}}
    print(f"start: {reference}", flush=True)
    # Binary search over the grid, assuming general accuracy falls as alpha grows (the log shows every
    # point tried, so the assumption can be checked).
    ordered = sorted(grid)
    low, high, chosen = 0, len(ordered) - 1, 0.0
    while low <= high:
        middle = (low + high) // 2
        alpha = ordered[middle]
        stage = out.with_name(out.name + f"-{alpha:g}")
        interpolate(start, tuned, alpha, stage)
        figures = {name: _accuracy(stage, pairs, gold) for name, _, pairs, gold in sets}
        ok = all(figures[name] >= reference[name] - weight * tolerance for name, weight, _, _ in sets)
        log["alphas"][f"{alpha:g}"] = {**figures, "keeps_general_skill": ok}
        print(f"alpha {alpha:g}: {figures} -> {'keeps' if ok else 'loses'} general skill", flush=True)
        shutil.rmtree(stage)
        if ok:
            chosen, low = alpha, middle + 1
        else:
            high = middle - 1
    interpolate(start, tuned, chosen, out)
    log["chosen"] = chosen
    (out / "selection.json").write_text(json.dumps(log, indent=2) + "\n", encoding="utf-8")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=Path, required=True)
    parser.add_argument("--tuned", type=Path, required=True)
    parser.add_argument("--alpha", type=float, default=None, help="weight of --tuned (0..1)")
    parser.add_argument("--select", action="store_true", help="choose alpha by the rule of the module docstring")
    parser.add_argument(
        "--grid", type=lambda t: [float(x) for x in t.split(",")], default=[1.0, 0.8, 0.7, 0.6, 0.5, 0.4]
    )
    parser.add_argument("--tolerance", type=float, default=0.005, help="accuracy --select may lose on MNLI-mm")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.select:
        print(f"chosen alpha: {select(args.start, args.tuned, args.grid, args.tolerance, args.out):g}")
        return
    if args.alpha is None or not 0.0 <= args.alpha <= 1.0:
        parser.error("give --alpha in [0, 1], or --select")
    interpolate(args.start, args.tuned, args.alpha, args.out)


if __name__ == "__main__":
    main()
