"""The sentence embedder on onnxruntime with int8 weights: exported once from the torch model, then cached.

The torch model (fp32) is the reference. Export traces its transformer with mean pooling and L2
normalisation inside the graph, so the runtime only tokenizes and runs one session; then
``quantize_dynamic`` turns the MatMul weights into int8. An export is kept only when its vectors agree
with fp32 (mean cosine >= ``MIN_AGREEMENT`` on calibration sentences); the agreement is written to
``export.json`` beside the model.

The cache directory is keyed by the source model's files and the versions of the export tools, so a
changed model or toolchain re-exports instead of loading a stale graph. An export is written to a
temporary directory and renamed into place, so two processes starting at once cannot see half of one.

    python -m contra.service.models.embedder_onnx --cache-dir var/cache   # the set-up step: export if missing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contra.errors import ModelLoadError
from contra.service.models.embedder import cosine_agreement, packaged_model_path

LOG = logging.getLogger(__name__)

#: Bump when the export recipe changes, so that old cached graphs are not reused.
EXPORT_VERSION = 3
MIN_AGREEMENT = 0.99
MODEL_FILE = "model.onnx"
INFO_FILE = "export.json"
TOKENIZER_FILE = "tokenizer.json"

#: Sentences of the kinds contra embeds (news claims with numbers, dates, names), for the agreement check.
CALIBRATION: tuple[str, ...] = (
    "Consumer prices rose 3.2% in the year to January, the statistics office said on Wednesday.",
    "Annual inflation stood at 4.1% in January, the highest reading since the middle of 2024.",
    "The central bank kept its key interest rate unchanged on Thursday, as most economists had expected.",
    "Ukrainian commanders said on April 29 that their units still held positions inside Kursk Oblast.",
    "The General Staff in Kyiv denied that the operation in the region had been completed.",
    "The war in Ukraine is now in its fourth year.",
    "Skyrail plans fourteen additional routes for the summer season, chiefly to Mediterranean destinations.",
    "The rebels demand more autonomy for the valley.",
    "Turnout reached 61 percent, the electoral commission said, up from 55 percent four years ago.",
    "The vaccine was 94% effective at preventing severe illness in a trial of 30,000 adults.",
    "The striker scored twice in the second half to give the visitors a 3-1 win.",
    "Researchers said the telescope had detected water vapour in the planet's atmosphere.",
    "Officials denied the report.",
    "Rain.",
    "Shares in the carmaker fell 7 per cent after it cut its full-year profit forecast for the second time "
    "this year, blaming weaker demand in China and higher costs for batteries and steel.",
    "The ceasefire, agreed on 3 March after weeks of talks mediated by neighbouring states, collapsed within "
    "days when both sides accused each other of shelling villages near the front line.",
)


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """What ``export.json`` records about one cached export."""

    source: str
    export_version: int
    max_length: int
    dimension: int
    quantization: str
    #: Cosine between int8 and fp32 vectors of the calibration sentences: mean and worst.
    mean_cosine: float
    min_cosine: float
    calibration_sentences: int


@dataclass(frozen=True, slots=True)
class _SourceModel:
    """The parts of a sentence-transformers model directory that the export needs."""

    directory: Path
    transformer_dir: Path
    max_length: int


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _describe_source(directory: Path) -> _SourceModel:
    """Find the transformer module and check that pooling is mean + normalise (what the graph does)."""
    modules_path = directory / "modules.json"
    if not modules_path.is_file():
        raise ModelLoadError(f"{directory}: no modules.json; the onnx backend needs a sentence-transformers directory")
    modules = _read_json(modules_path)
    types = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    paths = {t: str(m.get("path", "")) for t, m in zip(types, modules, strict=True)}
    if types[:2] != ["Transformer", "Pooling"] or any(t not in {"Transformer", "Pooling", "Normalize"} for t in types):
        raise ModelLoadError(
            f"{directory}: modules {types} are not Transformer, Pooling[, Normalize]; use CONTRA_EMBEDDER_BACKEND=torch"
        )
    pooling = _read_json(directory / paths["Pooling"] / "config.json")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise ModelLoadError(f"{directory}: pooling {modes}; the onnx backend supports mean pooling only (use torch)")
    config_path = directory / paths["Transformer"] / "sentence_bert_config.json"
    max_length = int(_read_json(config_path).get("max_seq_length", 256)) if config_path.is_file() else 256
    if "Normalize" not in types:
        LOG.info("%s has no Normalize module; contra normalises anyway (the index uses inner product)", directory)
    return _SourceModel(directory, directory / paths["Transformer"], max_length)


def cache_key(directory: Path) -> str:
    """Changes with the source model's files and with the versions of the tools that export and run it."""
    import onnx
    import onnxruntime
    import torch

    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(directory)}:{stat.st_size}:{int(stat.st_mtime)}\n".encode())
    digest.update(f"{EXPORT_VERSION}:{torch.__version__}:{onnx.__version__}:{onnxruntime.__version__}".encode())
    return digest.hexdigest()[:16]


def _export_fp32(source: _SourceModel, path: Path) -> list[str]:
    """Trace transformer + mean pooling + L2 norm to ``path``; returns the input names of the graph."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(source.transformer_dir), local_files_only=True, attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(str(source.transformer_dir), local_files_only=True)

    class Pooled(torch.nn.Module):  # type: ignore[misc]  # torch is untyped to mypy here
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            kwargs = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    # Two texts of different lengths, so that the traced graph contains the padding-mask path.
    example = tokenizer(["A man is playing a guitar on stage tonight.", "Rain."], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]
    with warnings.catch_warnings(), torch.inference_mode():
        # The tracer warns about Python branches on tensors; the agreement check below is the real test.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model.eval()),
            tuple(example[n] for n in names),
            str(path),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names} | {"sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return names


def _quantize(fp32: Path, out: Path, keep_ffn_output: bool) -> None:
    """int8 weights for the MatMuls, per channel (per tensor loses too much: mean cosine 0.96 measured).

    ``keep_ffn_output`` leaves each layer's FFN output projection in fp32, the most sensitive one: the
    fallback when quantizing every MatMul disagrees with fp32. On the project's sentences, run one text
    at a time, all MatMuls in int8 gave mean cosine 0.991 against 0.994 with those six kept, and ran a
    19-token claim in 5.2 ms against 6.6 ms on one core (2-core development machine, same run)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = [n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node if n.op_type == "MatMul"]
    excluded = [n for n in nodes if "/output/dense/" in n and "/attention/" not in n] if keep_ffn_output else []
    quantize_dynamic(
        fp32,
        out,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=excluded,
    )


def export(source_dir: Path, out_dir: Path, calibration: Sequence[str] = CALIBRATION) -> ExportInfo:
    """Export ``source_dir`` to ``out_dir`` (created atomically); raise when int8 disagrees with fp32."""
    from sentence_transformers import SentenceTransformer

    source = _describe_source(source_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        fp32_path = work / "fp32.onnx"
        _export_fp32(source, fp32_path)
        reference = SentenceTransformer(str(source_dir), device="cpu").encode(
            list(calibration), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        shutil.copy(source.transformer_dir / TOKENIZER_FILE, work / TOKENIZER_FILE)
        tried: list[str] = []
        for keep_ffn_output in (False, True):
            quantization = "int8 dynamic per-channel, MatMul" + (" except FFN output" if keep_ffn_output else "")
            _quantize(fp32_path, work / MODEL_FILE, keep_ffn_output)
            vectors = OnnxEmbedder.from_files(work, source.max_length, name="calibration").embed(calibration)
            mean, worst = cosine_agreement(vectors, reference)
            tried.append(f"{quantization}: mean cosine {mean:.4f}")
            if mean >= MIN_AGREEMENT:
                break
        else:
            raise ModelLoadError(f"int8 export of {source_dir} disagrees with fp32 ({'; '.join(tried)})")
        fp32_path.unlink()
        info = ExportInfo(
            source=str(source_dir),
            export_version=EXPORT_VERSION,
            max_length=source.max_length,
            dimension=int(vectors.shape[1]),
            quantization=quantization,
            mean_cosine=mean,
            min_cosine=worst,
            calibration_sentences=len(calibration),
        )
        (work / INFO_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
        work.chmod(0o755)  # mkdtemp makes it private; the cache is shared by whoever runs contra here
        try:
            work.rename(out_dir)
        except OSError:  # another process finished first: its export is as good as ours
            if not (out_dir / INFO_FILE).is_file():
                raise
        LOG.info("exported %s to %s (%s, mean cosine %.4f)", source_dir, out_dir, quantization, mean)
        return info
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cached_export(source_dir: Path, cache_dir: Path) -> Path:
    """The cached export of ``source_dir``, made now when it is missing."""
    out_dir = cache_dir / f"embedder-onnx-{cache_key(source_dir)}"
    if not (out_dir / INFO_FILE).is_file():
        LOG.info("no cached int8 export of %s in %s; exporting (about a minute)", source_dir, cache_dir)
        export(source_dir, out_dir)
    return out_dir


class OnnxEmbedder:
    """An exported embedder (``model.onnx`` + ``tokenizer.json``) on onnxruntime's CPU provider.

    Each text runs as its own unpadded sequence, ``threads`` texts at once with one core each, as the
    NLI model does. Dynamic int8 quantizes activations with one scale per input tensor, so in a padded
    batch a text's vector moved with the texts beside it (mean cosine 0.99 between alone and batched);
    run alone, a text always gets the same vector, whichever request it came in. It is
    also faster here: on the 2-core development machine 62 texts/s against 49 for length-sorted padded
    batches of 40 on the project's sentences (best of 3 rounds, same run; no padding and no
    synchronisation between cores). ``batch_size`` is how many texts are tokenized at a time.

    The runners are one pool for the embedder's lifetime, shared by every caller, so the texts of
    concurrent requests interleave on them as they come (``shared_runners``: the wiring puts no
    micro-batcher in front, whose one-batch-at-a-time turns left a core idle at the end of each batch:
    ingest 13% faster without it, 8 clients, make bench data).
    """

    shared_runners = True

    def __init__(self, directory: Path, *, name: str, batch_size: int = 64, threads: int | None = None) -> None:
        info = _read_json(directory / INFO_FILE)
        self._setup(directory, int(info["max_length"]), name, batch_size, threads)
        self.info: dict[str, Any] = info

    @classmethod
    def from_files(cls, directory: Path, max_length: int, *, name: str) -> OnnxEmbedder:
        """An embedder over an export that has no ``export.json`` yet (during the export's own check)."""
        embedder = cls.__new__(cls)
        embedder._setup(directory, max_length, name, 64, None)
        embedder.info = {}
        return embedder

    def _setup(self, directory: Path, max_length: int, name: str, batch_size: int, threads: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from contra.service.models.nli import cpu_count

        self.name = name
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=max_length)
        # Configured here once and never again, so encode_batch is safe from several threads (the
        # "Already borrowed" error of huggingface/tokenizers#537 comes from re-configuring per call).
        # Each text runs alone, so no padding (a tokenizer.json may carry a padding setting of its own).
        self._tokenizer.no_padding()
        self.threads = threads or cpu_count()
        options = ort.SessionOptions()
        # One thread per run: concurrent runs share the session, parallelism comes from texts side by side.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(directory / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own non-exported exception classes
            model = directory / MODEL_FILE
            raise ModelLoadError(f"onnxruntime cannot load {model}: {exc}; delete {directory} to re-export") from exc
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.dimension = int(self._session.get_outputs()[0].shape[-1])
        self._runners = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="embed")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            encodings = self._tokenizer.encode_batch(list(texts[start : start + self.batch_size]))
            result[start : start + len(encodings)] = list(self._runners.map(self._run, encodings))
        return result

    def _run(self, encoding: Any) -> np.ndarray:
        """The vector of one text, an unpadded batch of one."""
        feed = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
        }
        vector: np.ndarray = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
        return vector


def main(argv: Sequence[str] | None = None) -> int:
    """Export the configured (or packaged) embedder into the cache unless it is there already."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--model", default="", help="sentence-transformers model directory; default packaged")
    args = parser.parse_args(argv)
    # contra's progress only: the quantizer logs a line per tensor on the root logger at INFO.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for name in ("contra", __name__):  # __name__ is __main__ under python -m
        logging.getLogger(name).setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    source = Path(args.model) if args.model else packaged_model_path()
    out = cached_export(source, args.cache_dir)
    info = _read_json(out / INFO_FILE)
    agreement = f"mean cosine vs fp32 {info['mean_cosine']:.4f} (min {info['min_cosine']:.4f})"
    print(f"{out}: {info['quantization']}, {agreement}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
