"""Export contra's trained NLI cross-encoder to an int8 ONNX model for serving.

The fp32 model is traced with torch's TorchScript exporter (Optimum is not a dependency, and the
dynamo exporter needs onnxscript), with the eager attention path so that no data-dependent mask
shortcut is baked into the graph, and checked against torch on real pairs. It is then quantized
with ``onnxruntime.quantization.quantize_dynamic`` under every candidate setting (per-channel or
per-tensor weight scales, 7-bit ``reduce_range`` or full 8-bit, with or without the embedding tables)
and each candidate is scored by how often it agrees with the fp32 model on a calibration sample of
the *training* pool (never evaluation data). The kept setting is the smallest file among those
within ``--tolerance`` of the best agreement; ties go to the lowest mean probability change.

Dynamic quantization computes each activation scale over the whole input tensor, so a padded batch
would make a pair's score depend on its neighbours; ``OnnxNLI`` therefore runs one pair per session
run, and the export checks that a pair scores the same alone and among others. Static (calibrated)
QDQ quantization, which would allow batches, lost 1.7-2 points of MultiNLI/SNLI accuracy here and was
no faster on AVX2, so it is not a candidate (models/README.md has the figures).

The output directory gets only ``model.onnx`` (int8), the tokenizer files and ``config.json``
(with ``id2label`` and a ``contra_export`` block that records the chosen setting), since it is
committed. ``--keep-fp32 PATH`` writes the fp32 ONNX elsewhere for comparisons.

    python models/export_nli.py --checkpoint var/nli-train/final --out models/contra-nli-minilm-l6
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import logging
import os
import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from contra.service.models.nli import OnnxNLI, cpu_count, label_columns, softmax

LOG = logging.getLogger("export_nli")

REPO = Path(__file__).resolve().parent.parent
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
#: What the output directory may hold; anything else there means --out points somewhere unintended.
OUTPUT_FILES = frozenset({"model.onnx", "config.json", *TOKENIZER_FILES})
#: The training pool of models/train_nli.py: calibration pairs come from here, never from evaluation sets.
POOL = ("train.jsonl.gz", "dev_snli.jsonl.gz", "dev_lingnli.jsonl.gz")

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class QuantOption:
    """One ``quantize_dynamic`` setting."""

    per_channel: bool
    reduce_range: bool
    #: Also quantize the Gather ops (word, position and type embeddings): half the weights, 4x smaller.
    embeddings: bool

    @property
    def op_types(self) -> list[str]:
        return ["MatMul", "Gather"] if self.embeddings else ["MatMul"]

    @property
    def name(self) -> str:
        return "+".join(
            [
                "per-channel" if self.per_channel else "per-tensor",
                "reduce-range" if self.reduce_range else "8-bit",
                "MatMul+Gather" if self.embeddings else "MatMul",
            ]
        )


#: Every combination; weights are always signed int8 (QUInt8 weights were slower and no more accurate).
CANDIDATES: tuple[QuantOption, ...] = tuple(
    QuantOption(per_channel=pc, reduce_range=rr, embeddings=emb)
    for emb in (True, False)
    for pc in (True, False)
    for rr in (False, True)
)


@dataclass(frozen=True, slots=True)
class QuantResult:
    option: QuantOption
    #: Share of calibration pairs whose argmax label equals the fp32 model's.
    agreement: float
    #: Mean absolute change of the probabilities against fp32.
    mean_abs_diff: float
    #: Accuracy on the calibration pairs' gold labels (fp32 has its own line in the report).
    accuracy: float
    size_bytes: int
    pairs_per_s: float


@dataclass(frozen=True, slots=True)
class ExportReport:
    chosen: QuantResult
    candidates: tuple[QuantResult, ...]
    fp32_accuracy: float
    #: Largest probability difference between the fp32 ONNX graph and torch on the calibration pairs.
    fp32_max_prob_diff: float
    calibration_pairs: int


def read_calibration(data_dir: Path, n: int, seed: int = 13) -> tuple[list[Pair], list[str]]:
    """A seeded sample of ``n`` pairs (and gold labels) from the training pool."""
    rows: list[tuple[str, str, str]] = []
    for name in POOL:
        with gzip.open(data_dir / name, "rt", encoding="utf-8") as handle:
            rows.extend((r["premise"], r["hypothesis"], r["label"]) for r in map(json.loads, handle))
    sample = random.Random(seed).sample(rows, min(n, len(rows)))
    return [(p, h) for p, h, _ in sample], [label for _, _, label in sample]


def _load_torch(checkpoint: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # Eager attention: the SDPA path has shape-dependent Python branches that tracing would freeze.
    model = AutoModelForSequenceClassification.from_pretrained(
        str(checkpoint), local_files_only=True, attn_implementation="eager"
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint), local_files_only=True)
    return model, tokenizer


def export_fp32(checkpoint: Path, path: Path, opset: int = 17) -> list[str]:
    """Trace the checkpoint to ``path`` with dynamic batch and sequence axes; returns the input names."""
    import torch

    model, tokenizer = _load_torch(checkpoint)
    # Two pairs of different lengths, so that the traced graph contains the padding-mask path.
    example = tokenizer(
        ["A man is playing a guitar on stage.", "Rain."],
        ["Nobody is playing music.", "It is wet outside today."],
        padding=True,
        return_tensors="pt",
    )
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in INPUTS if n in example and n in accepted]
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings():
        # The tracer warns about every Python branch on a tensor, and about the exporter's deprecation;
        # export_model compares the traced graph with torch on real pairs instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (),
            str(path),
            kwargs={n: example[n] for n in names},
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    return names


def torch_logits(checkpoint: Path, pairs: Sequence[Pair], batch_size: int = 32, max_length: int = 256) -> np.ndarray:
    import torch

    model, tokenizer = _load_torch(checkpoint)
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            encoded = tokenizer(
                [p for p, _ in chunk],
                [h for _, h in chunk],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            out.append(model(**encoded).logits.float().numpy())
    return np.concatenate(out) if out else np.empty((0, 3), dtype=np.float32)


def quantize(fp32: Path, out: Path, option: QuantOption) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        fp32,
        out,
        op_types_to_quantize=option.op_types,
        per_channel=option.per_channel,
        reduce_range=option.reduce_range,
        weight_type=QuantType.QInt8,
    )


def write_assets(checkpoint: Path, directory: Path, export_info: dict[str, Any] | None = None) -> None:
    """Tokenizer files and config.json (validated id2label, plus ``contra_export``) into ``directory``."""
    config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    label_columns(config.get("id2label") or {}, str(checkpoint / "config.json"), config.get("label2id"))
    if export_info is not None:
        config["contra_export"] = export_info
    (directory / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    copied = [name for name in TOKENIZER_FILES if (checkpoint / name).is_file()]
    if "tokenizer.json" not in copied and "vocab.txt" not in copied:
        raise FileNotFoundError(f"{checkpoint} has no tokenizer.json or vocab.txt to ship with the model")
    for name in copied:
        shutil.copyfile(checkpoint / name, directory / name)


def _score(
    stage: Path, pairs: Sequence[Pair], labels: Sequence[str], batch_size: int, threads: int
) -> tuple[np.ndarray, float, float]:
    """Probabilities of the model in ``stage`` (through the serving code), accuracy, pairs/s."""
    from contra.domain import LABEL_ORDER

    model = OnnxNLI(stage, batch_size=batch_size, threads=threads)
    started = time.perf_counter()
    probs = model.predict(pairs)
    speed = len(pairs) / max(time.perf_counter() - started, 1e-9)
    gold = np.array([LABEL_ORDER.index(label) for label in labels]) if labels else np.empty(0, dtype=int)
    accuracy = float((probs.argmax(1) == gold).mean()) if len(gold) else float("nan")
    return probs, accuracy, speed


def batch_dependence(stage: Path, pairs: Sequence[Pair]) -> float:
    """Largest probability change of a pair between scoring it alone and inside one call with the others
    (in reverse order too); the serving code must make this zero for any exported graph."""
    model = OnnxNLI(stage, batch_size=max(len(pairs), 1), threads=1)
    alone = np.concatenate([model.predict([pair]) for pair in pairs])
    together = model.predict(pairs)
    reverse = model.predict(list(pairs)[::-1])[::-1]
    return float(max(np.abs(alone - together).max(), np.abs(alone - reverse).max()))


def choose(results: Sequence[QuantResult], tolerance: float) -> QuantResult:
    """Smallest file (to the megabyte: scales add a few kB) among the candidates within ``tolerance`` of
    the best agreement with fp32, then the one that changes the probabilities least."""
    best = max(r.agreement for r in results)
    good = [r for r in results if r.agreement >= best - tolerance - 1e-12]
    return min(good, key=lambda r: (round(r.size_bytes / 1e6), r.mean_abs_diff, -r.agreement))


def _check_out(out_dir: Path, force: bool) -> None:
    if not out_dir.exists():
        return
    extra = sorted(p.name for p in out_dir.iterdir() if p.name not in OUTPUT_FILES)
    if extra and not force:
        raise FileExistsError(
            f"{out_dir} holds files an export does not write ({', '.join(extra[:5])}); it would be replaced. "
            "Choose another --out, or pass --force."
        )


def export_model(
    checkpoint: Path,
    out_dir: Path,
    pairs: Sequence[Pair],
    labels: Sequence[str] = (),
    *,
    candidates: Sequence[QuantOption] = CANDIDATES,
    tolerance: float = 0.005,
    opset: int = 17,
    batch_size: int = 32,
    threads: int | None = None,
    keep_fp32: Path | None = None,
    force: bool = False,
) -> ExportReport:
    """fp32 export, checked against torch; each quantization candidate scored on ``pairs``; the chosen
    int8 model and its assets replace ``out_dir``. Raises if the fp32 graph disagrees with torch."""
    import onnxruntime

    if not pairs:
        raise ValueError("export_model needs calibration pairs")
    _check_out(out_dir, force)
    threads = threads or cpu_count()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="export-nli-") as tmp:
        work = Path(tmp)
        stage = work / "stage"
        stage.mkdir()
        write_assets(checkpoint, stage)
        fp32 = work / "fp32.onnx"
        LOG.info("exporting %s to ONNX (opset %d)", checkpoint, opset)
        export_fp32(checkpoint, fp32, opset)

        shutil.copyfile(fp32, stage / "model.onnx")
        reference, fp32_accuracy, fp32_speed = _score(stage, pairs, labels, batch_size, threads)
        columns = OnnxNLI(stage, batch_size=batch_size, threads=1).columns
        torch_probs = softmax(torch_logits(checkpoint, pairs, batch_size).astype(np.float64))[:, columns]
        # Compare probabilities in LABEL_ORDER; logits differ only by the tracer's float rounding.
        max_diff = float(np.abs(torch_probs - reference).max())
        LOG.info("fp32 ONNX vs torch: max |Δp| %.2e, %.1f pairs/s, accuracy %.4f", max_diff, fp32_speed, fp32_accuracy)
        if max_diff > 1e-3:
            raise RuntimeError(
                f"the fp32 ONNX graph differs from torch by {max_diff:.3g} in probability; not exporting"
            )

        results: list[QuantResult] = []
        for option in candidates:
            quantize(fp32, stage / "model.onnx", option)
            probs, accuracy, speed = _score(stage, pairs, labels, batch_size, threads)
            result = QuantResult(
                option=option,
                agreement=float((probs.argmax(1) == reference.argmax(1)).mean()),
                mean_abs_diff=float(np.abs(probs - reference).mean()),
                accuracy=accuracy,
                size_bytes=(stage / "model.onnx").stat().st_size,
                pairs_per_s=speed,
            )
            LOG.info(
                "%-40s agreement %.4f  mean|Δp| %.4f  accuracy %.4f  %5.1f MB  %6.1f pairs/s",
                option.name,
                result.agreement,
                result.mean_abs_diff,
                result.accuracy,
                result.size_bytes / 1e6,
                result.pairs_per_s,
            )
            results.append(result)
        chosen = choose(results, tolerance)
        LOG.info("chosen: %s", chosen.option.name)

        quantize(fp32, stage / "model.onnx", chosen.option)
        dependence = batch_dependence(stage, pairs[:16])
        LOG.info("largest change of a pair's probabilities alone vs among others: %.2e", dependence)
        if dependence > 1e-4:
            raise RuntimeError(f"a pair's score depends on the other pairs by up to {dependence:.3g}; not exporting")
        info = {
            "quantization": {**asdict(chosen.option), "op_types": chosen.option.op_types, "weight_type": "QInt8"},
            "name": chosen.option.name,
            "opset": opset,
            "onnxruntime": onnxruntime.__version__,
            "calibration_pairs": len(pairs),
            "agreement_with_fp32": round(chosen.agreement, 4),
            "source_checkpoint": checkpoint.name,
        }
        write_assets(checkpoint, stage, info)
        if keep_fp32 is not None:
            keep_fp32.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fp32, keep_fp32)
        # Copy next to the target first, so that a failed copy never leaves a half-written model.
        fresh = out_dir.with_name(out_dir.name + ".export-tmp")
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(stage, fresh)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        fresh.rename(out_dir)
    return ExportReport(
        chosen=chosen,
        candidates=tuple(results),
        fp32_accuracy=fp32_accuracy,
        fp32_max_prob_diff=max_diff,
        calibration_pairs=len(pairs),
    )


def _parse_candidates(text: str) -> list[QuantOption]:
    if text == "all":
        return list(CANDIDATES)
    by_name = {c.name: c for c in CANDIDATES}
    unknown = [t for t in text.split(",") if t not in by_name]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown candidates {unknown}; choose from: all, {', '.join(by_name)}")
    return [by_name[t] for t in text.split(",")]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a CrossEncoder.save_pretrained directory")
    parser.add_argument("--out", type=Path, default=REPO / "models" / "contra-nli-minilm-l6")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "nli", help="training pool (calibration)")
    parser.add_argument("--calibration", type=int, default=1000, help="pairs used to compare the candidates")
    parser.add_argument("--candidates", type=_parse_candidates, default=list(CANDIDATES), help="'all' or names")
    parser.add_argument("--tolerance", type=float, default=0.005, help="agreement a smaller file may lose")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=cpu_count())
    parser.add_argument("--keep-fp32", type=Path, default=None, help="also write the fp32 ONNX model here")
    parser.add_argument("--force", action="store_true", help="replace --out even if it holds other files")
    args = parser.parse_args(argv)
    # onnxruntime's quantizer logs every tensor at INFO on the root logger; only this script's lines are wanted.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    LOG.setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:  # and it advises pre-processing, which changed nothing here
        handler.addFilter(lambda record: "pre-processing before quantization" not in record.getMessage())

    pairs, labels = read_calibration(args.data, args.calibration)
    report = export_model(
        args.checkpoint,
        args.out,
        pairs,
        labels,
        candidates=args.candidates,
        tolerance=args.tolerance,
        opset=args.opset,
        batch_size=args.batch_size,
        threads=args.threads,
        keep_fp32=args.keep_fp32,
        force=args.force,
    )
    size = (args.out / "model.onnx").stat().st_size
    LOG.info(
        "wrote %s: %s, %.1f MB, agreement with fp32 %.4f, accuracy %.4f (fp32 %.4f) on %d calibration pairs",
        args.out,
        report.chosen.option.name,
        size / 1e6,
        report.chosen.agreement,
        report.chosen.accuracy,
        report.fp32_accuracy,
        report.calibration_pairs,
    )


if __name__ == "__main__":
    main()
