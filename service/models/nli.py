"""NLI backends for the judge: an int8 ONNX model for serving, any Hugging Face model for comparison.

Every backend returns softmax probabilities with columns in ``LABEL_ORDER`` whatever order the model
was trained with, so the judge never needs to know which model it was given. The label order is read
from the model's own ``id2label`` and never assumed, because checkpoints disagree on it.

``load_nli`` picks the backend from the spec: a directory holding ``model.onnx`` runs on onnxruntime;
anything else is loaded with transformers from a local directory or the local Hugging Face cache
(contra runs with ``HF_HUB_OFFLINE=1`` and never downloads a model).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from contra.domain import LABEL_ORDER, Label
from contra.errors import ModelLoadError

#: Names that models use for each label (compared after lowercasing and dropping non-letters).
_SYNONYMS: dict[Label, frozenset[str]] = {
    Label.ENTAILMENT: frozenset({"entailment", "entail", "entails", "entailed"}),
    Label.NEUTRAL: frozenset({"neutral"}),
    Label.CONTRADICTION: frozenset({"contradiction", "contradict", "contradicts", "contradictory"}),
}
_GENERIC = re.compile(r"^label_?\d+$")

#: (premise, hypothesis) pairs as the tokenizer takes them, and what a backend's forward pass returns.
Batch = tuple[list[str], list[str]]


@runtime_checkable
class NLIModel(Protocol):
    """A cross-encoder that scores (premise, hypothesis) pairs."""

    name: str

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Probabilities of shape ``(len(pairs), 3)``, float32, columns in ``LABEL_ORDER``."""
        ...


def _canonical(name: str) -> Label | None:
    key = re.sub(r"[^a-z]", "", name.lower())
    for label, names in _SYNONYMS.items():
        if key in names:
            return label
    return None


def label_columns(id2label: Mapping[Any, str], where: str, label2id: Mapping[str, Any] | None = None) -> np.ndarray:
    """Model output column for each label of ``LABEL_ORDER``: ``probs[:, label_columns(...)]`` reorders.

    ``label2id`` is the fallback for configs whose ``id2label`` only has generic ``LABEL_k`` names
    but whose ``label2id`` was written with the real ones.
    """
    candidates: list[dict[int, str]] = [{int(k): str(v) for k, v in id2label.items()}]
    if label2id:
        candidates.append({int(v): str(k) for k, v in label2id.items()})
    for mapping in candidates:
        found: dict[Label, int] = {}
        for index, name in mapping.items():
            label = _canonical(name)
            if label is not None:
                found.setdefault(label, index)
        if len(mapping) == len(LABEL_ORDER) and len(found) == len(LABEL_ORDER):
            return np.array([found[label] for label in LABEL_ORDER], dtype=np.intp)
    names = dict(sorted(candidates[0].items()))
    if len(names) != len(LABEL_ORDER):
        problem = f"the model has {len(names)} labels {names}, an NLI model needs exactly 3"
    elif all(_GENERIC.match(n.lower()) for n in names.values()):
        problem = f"id2label has only generic names {names}, so the label order cannot be inferred"
    else:
        problem = f"id2label {names} does not name entailment, neutral and contradiction"
    raise ModelLoadError(
        f"{where}: {problem}. Set id2label in the model's config.json, e.g. "
        '{"0": "entailment", "1": "neutral", "2": "contradiction"} in the order the model was trained with.'
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return result


def predict_batched(
    pairs: Sequence[tuple[str, str]],
    forward: Callable[[Batch], np.ndarray],
    columns: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Run ``forward`` (pairs -> logits) over length-sorted batches; probabilities in input order.

    Sorting by length means each batch pads to a similar length, which matters more on CPU than the
    batch size does. Character length is a good enough proxy for token length here.
    """
    result = np.empty((len(pairs), len(LABEL_ORDER)), dtype=np.float32)
    if not pairs:
        return result
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        logits = forward(([pairs[i][0] for i in chunk], [pairs[i][1] for i in chunk]))
        result[chunk] = softmax(logits.astype(np.float64))[:, columns]
    return result


def _check_pairs(pairs: Sequence[tuple[str, str]]) -> None:
    for i, pair in enumerate(pairs):
        if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], str):
            raise TypeError(f"pairs[{i}] must be a (premise, hypothesis) tuple of two str, got {pair!r}")


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Tokenize:
    """A fast tokenizer behind a lock: each call re-sets its padding and truncation state, and two
    threads doing that at once fail with "Already borrowed" (huggingface/tokenizers#537). Encoding is
    cheap beside inference, which stays parallel."""

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.lock = threading.Lock()

    def __call__(self, batch: Batch, tensors: str | None) -> Any:
        """Padded to the longest pair as ``tensors`` arrays, or, with ``tensors=None``, one unpadded list per pair."""
        with self.lock:
            return self.tokenizer(
                batch[0],
                batch[1],
                padding=tensors is not None,
                truncation=True,
                max_length=self.max_length,
                return_tensors=tensors,
            )


def _load_tokenizer(directory: Path, where: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{where}: cannot load the tokenizer from {directory} ({exc}). The directory needs the tokenizer "
            "files saved with the model (tokenizer.json and tokenizer_config.json); re-run models/export_nli.py."
        ) from exc


class OnnxNLI:
    """An exported model (``model.onnx`` + tokenizer + ``config.json``) on onnxruntime's CPU provider.

    Each pair runs as its own sequence, without padding, so that its score depends on nothing but the
    pair. The int8 graph quantizes its activations dynamically, with one scale per input tensor: in a
    padded batch a pair's probabilities moved by up to 0.1 with the other pairs beside it, which flips
    labels near a threshold. Throughput comes from running ``threads`` pairs at once, one core each: on
    the 2-core development machine that measured faster than padded batches of 32 (no padding, no
    synchronisation between threads; models/README.md). ``batch_size`` is how many pairs are tokenized
    at a time.

    The runners are one pool for the model's lifetime, shared by every caller: pairs of concurrent
    calls queue for the same ``threads`` runners and interleave, so the model needs no micro-batcher
    in front (``shared_runners``; the wiring leaves it out).
    """

    shared_runners = True

    def __init__(
        self, directory: Path, *, batch_size: int = 32, max_length: int = 256, threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        self.directory = directory
        self.name = f"onnx:{directory}"
        self.batch_size = batch_size
        self.max_length = max_length
        self.threads = threads or cpu_count()
        config_path = directory / "config.json"
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"{self.name}: cannot read {config_path} ({exc}); the exported model directory needs the "
                "config.json with id2label that models/export_nli.py writes."
            ) from exc
        self.columns = label_columns(config.get("id2label") or {}, str(config_path), config.get("label2id"))
        self.tokenize = _Tokenize(_load_tokenizer(directory, self.name), max_length)
        options = ort.SessionOptions()
        # One thread per run: concurrent runs share the session, and parallelism comes from running pairs side by side.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(
                str(directory / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own non-exported exception classes
            raise ModelLoadError(
                f"{self.name}: onnxruntime cannot load model.onnx ({exc}); re-export it with models/export_nli.py."
            ) from exc
        self.inputs = [i.name for i in self.session.get_inputs()]
        missing = {"input_ids", "attention_mask"} - set(self.inputs)
        if missing:
            raise ModelLoadError(f"{self.name}: model.onnx lacks the inputs {sorted(missing)}; got {self.inputs}.")
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = "logits" if "logits" in outputs else outputs[0]
        self._runners = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="nli")

    def _run(self, encoded: Mapping[str, list[int]]) -> np.ndarray:
        """Logits of one pair, a batch of one."""
        feed = {name: np.asarray([encoded[name]], dtype=np.int64) for name in self.inputs}
        logits: np.ndarray = self.session.run([self.output], feed)[0][0]
        return logits

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        _check_pairs(pairs)
        logits = np.empty((len(pairs), len(LABEL_ORDER)), dtype=np.float64)
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            encoded = self.tokenize(([p for p, _ in chunk], [h for _, h in chunk]), None)
            one_by_one = [{name: encoded[name][i] for name in self.inputs} for i in range(len(chunk))]
            logits[start : start + len(chunk)] = list(self._runners.map(self._run, one_by_one))
        result: np.ndarray = softmax(logits)[:, self.columns].astype(np.float32)
        return result


class TransformersNLI:
    """Any ``AutoModelForSequenceClassification`` NLI model, run by torch in fp32 (the reference backend)."""

    def __init__(self, spec: str, *, batch_size: int = 32, max_length: int = 256) -> None:
        from transformers import AutoModelForSequenceClassification

        self.name = f"transformers:{spec}"
        self.batch_size = batch_size
        self.max_length = max_length
        path = Path(spec).expanduser()
        where = str(path) if path.is_dir() else spec
        try:
            model = AutoModelForSequenceClassification.from_pretrained(where, local_files_only=True)
        except Exception as exc:  # transformers and huggingface_hub raise many unrelated classes here
            if path.is_dir():
                hint = "it is not a Hugging Face sequence-classification model directory (config.json + weights)"
            else:
                hint = (
                    "it is neither a directory nor a model in the local Hugging Face cache, and contra never "
                    "downloads (HF_HUB_OFFLINE=1); copy the model to a directory and give its path"
                )
            raise ModelLoadError(
                f"{self.name}: cannot load the NLI model: {hint}. Tried a directory with model.onnx (onnxruntime) "
                f"and AutoModelForSequenceClassification. Cause: {exc}"
            ) from exc
        self.model = model.eval()
        self.columns = label_columns(model.config.id2label, self.name, getattr(model.config, "label2id", None))
        self.max_length = min(max_length, int(getattr(model.config, "max_position_embeddings", max_length)))
        self.tokenize = _Tokenize(_load_tokenizer(path if path.is_dir() else Path(spec), self.name), self.max_length)

    def _forward(self, batch: Batch) -> np.ndarray:
        import torch

        encoded = self.tokenize(batch, "pt")
        with torch.inference_mode():
            logits: np.ndarray = self.model(**encoded).logits.float().numpy()
        return logits

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        _check_pairs(pairs)
        return predict_batched(pairs, self._forward, self.columns, self.batch_size)


def load_nli(spec: str, *, batch_size: int = 32, max_length: int = 256) -> NLIModel:
    """The NLI backend for ``spec``: a directory with ``model.onnx`` (or that file itself) runs on
    onnxruntime, anything else (a local model directory, a name in the local HF cache) on transformers.
    Raises ``ModelLoadError`` with what was tried when nothing loads."""
    if not spec.strip():
        raise ModelLoadError("the NLI model spec is empty; set CONTRA_NLI_MODEL to a model directory.")
    if batch_size < 1 or max_length < 8:
        raise ValueError(f"batch_size must be >= 1 and max_length >= 8, got {batch_size} and {max_length}")
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".onnx":
        if path.name != "model.onnx":
            raise ModelLoadError(f"{path}: give the directory of an export (model.onnx + tokenizer + config.json).")
        path = path.parent
    if (path / "model.onnx").is_file():
        return OnnxNLI(path, batch_size=batch_size, max_length=max_length)
    looks_like_path = path.is_absolute() or spec.startswith((".", "~")) or path.exists()
    if looks_like_path and not path.is_dir():
        raise ModelLoadError(
            f"NLI model {spec!r}: no such directory. Give a directory with model.onnx + tokenizer + config.json "
            "(make train-nli writes models/contra-nli-minilm-l6) or a Hugging Face model directory."
        )
    if path.is_dir() and not (path / "config.json").is_file():
        raise ModelLoadError(
            f"NLI model {spec!r}: the directory has neither model.onnx (onnxruntime export) nor config.json "
            "(Hugging Face model); point to the exported model directory."
        )
    return TransformersNLI(spec, batch_size=batch_size, max_length=max_length)
