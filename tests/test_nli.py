"""The NLI backends: label order, batching, the ONNX export and its agreement with torch, load errors.

A tiny BERT with a deliberately unusual label order (contradiction, entailment, neutral) stands in
for the trained model here, so that a backend that trusted the column order instead of ``id2label``
would fail. The shipped model gets its own check on obvious pairs when it is present.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from contra.domain import LABEL_ORDER, Label
from contra.errors import ModelLoadError
from contra.service.models.nli import OnnxNLI, TransformersNLI, label_columns, load_nli

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "contra-nli-minilm-l6"
#: The tiny model's own order, deliberately not LABEL_ORDER.
TINY_ID2LABEL = {0: "contradiction", 1: "entailment", 2: "neutral"}
WORDS = [
    *("a", "man", "is", "sleeping", "awake", "the", "dog", "runs", "in", "park"),
    *("woman", "plays", "guitar", "on", "stage", "nobody", "music", "it", "rains", "outside"),
]
PAIRS = [
    ("a man is sleeping", "a man is awake"),
    ("the dog runs in the park", "a dog is outside"),
    ("a woman plays guitar on stage", "nobody plays music"),
    ("it rains", "it rains outside on the park and the dog runs"),
    ("unknownword", "a"),
]


def _load_export_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_nli", REPO / "models" / "export_nli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def export_nli() -> ModuleType:
    return _load_export_module()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT whose classifier bias makes contradiction (its id 0) win every pair."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny-nli")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        initializer_range=0.2,
        num_labels=3,
        id2label=TINY_ID2LABEL,
        label2id={v: k for k, v in TINY_ID2LABEL.items()},
    )
    torch.manual_seed(7)
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([4.0, 0.5, -1.5]))
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def tiny_onnx(tiny_model: Path, export_nli: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("tiny-onnx") / "model"
    options = [export_nli.QuantOption(per_channel=True, reduce_range=False, embeddings=True)]
    report = export_nli.export_model(tiny_model, out, PAIRS, candidates=options, threads=1)
    assert report.fp32_max_prob_diff < 1e-4, "the traced fp32 graph must match torch"
    yield out
    shutil.rmtree(out, ignore_errors=True)


def _raw_torch_probs(model_dir: Path, pairs: list[tuple[str, str]]) -> np.ndarray:
    """Softmax in the model's own label order, straight from transformers."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    encoded = tokenizer([p for p, _ in pairs], [h for _, h in pairs], padding=True, return_tensors="pt")
    with torch.inference_mode():
        probs: np.ndarray = torch.softmax(model(**encoded).logits, dim=-1).numpy()
    return probs


def test_transformers_backend_reorders_columns_to_label_order(tiny_model: Path) -> None:
    model = load_nli(str(tiny_model))
    assert isinstance(model, TransformersNLI)
    probs = model.predict(PAIRS)
    raw = _raw_torch_probs(tiny_model, PAIRS)
    own_index = {label: i for i, label in TINY_ID2LABEL.items()}
    expected = raw[:, [own_index[label.value] for label in LABEL_ORDER]]
    assert probs.shape == (len(PAIRS), 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert (probs.argmax(axis=1) == LABEL_ORDER.index(Label.CONTRADICTION)).all()
    assert probs.std(axis=0).max() > 1e-3, "the pairs must change the output, or the comparisons below prove little"


def test_batches_keep_input_order(tiny_model: Path) -> None:
    whole = load_nli(str(tiny_model), batch_size=2).predict(PAIRS)
    one_by_one = np.concatenate([load_nli(str(tiny_model)).predict([pair]) for pair in PAIRS])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)


def test_empty_input_gives_an_empty_array(tiny_model: Path, tiny_onnx: Path) -> None:
    for spec in (tiny_model, tiny_onnx):
        assert load_nli(str(spec)).predict([]).shape == (0, 3)


def test_onnx_export_loads_as_onnx_and_agrees_with_torch(tiny_model: Path, tiny_onnx: Path) -> None:
    onnx_model = load_nli(str(tiny_onnx), batch_size=2)
    assert isinstance(onnx_model, OnnxNLI)
    torch_probs = load_nli(str(tiny_model)).predict(PAIRS)
    onnx_probs = onnx_model.predict(PAIRS)
    assert (onnx_probs.argmax(axis=1) == torch_probs.argmax(axis=1)).all()
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=0.03)
    config = json.loads((tiny_onnx / "config.json").read_text())
    assert config["contra_export"]["quantization"]["per_channel"] is True
    assert {int(k): v for k, v in config["id2label"].items()} == TINY_ID2LABEL


def test_concurrent_predict_calls_agree_with_a_single_call(tiny_onnx: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    model = load_nli(str(tiny_onnx), batch_size=2)
    expected = model.predict(PAIRS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: model.predict(PAIRS), range(32)))
    for probs in results:
        np.testing.assert_allclose(probs, expected, atol=1e-6)


def _alone_and_batched(model: OnnxNLI, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair scored alone, all pairs in one call, and all pairs in reverse order (reordered back)."""
    alone = np.concatenate([model.predict([pair]) for pair in pairs])
    return alone, model.predict(pairs), model.predict(pairs[::-1])[::-1]


def test_onnx_scores_do_not_depend_on_the_other_pairs(tiny_onnx: Path) -> None:
    # The tiny export is dynamically quantized like the shipped model, and the pairs differ in length,
    # so a padded batch would change both the padding and the activation scales of each pair.
    model = load_nli(str(tiny_onnx), batch_size=3)
    assert isinstance(model, OnnxNLI)
    alone, batched, reversed_ = _alone_and_batched(model, PAIRS)
    np.testing.assert_allclose(batched, alone, atol=1e-4)
    np.testing.assert_allclose(reversed_, alone, atol=1e-4)


def test_export_writes_only_the_model_tokenizer_and_config(tiny_onnx: Path, export_nli: ModuleType) -> None:
    names = {p.name for p in tiny_onnx.iterdir()}
    assert "model.onnx" in names and "config.json" in names
    assert names <= export_nli.OUTPUT_FILES
    assert not any(n.endswith((".data", ".safetensors", ".bin")) for n in names)


def test_choose_prefers_the_smaller_file_within_tolerance(export_nli: ModuleType) -> None:
    def result(agreement: float, size: int, diff: float, emb: bool) -> object:
        option = export_nli.QuantOption(per_channel=True, reduce_range=False, embeddings=emb)
        return export_nli.QuantResult(option, agreement, diff, 0.5, size, 10.0)

    small, big = result(0.97, 23_107_907, 0.01, True), result(0.972, 58_900_000, 0.008, False)
    assert export_nli.choose([big, small], tolerance=0.005) is small
    worse_small = result(0.95, 23_107_907, 0.02, True)
    assert export_nli.choose([big, worse_small], tolerance=0.005) is big
    # A few kilobytes of scales do not outweigh a closer match to fp32.
    closer = result(0.97, 23_150_000, 0.005, True)
    assert export_nli.choose([small, closer, big], tolerance=0.005) is closer


def test_onnx_config_without_usable_labels_is_refused(tiny_onnx: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_onnx, broken)
    config = json.loads((broken / "config.json").read_text())
    config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    config.pop("label2id", None)
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="generic names"):
        load_nli(str(broken))


@pytest.mark.parametrize(
    ("id2label", "label2id", "columns"),
    [
        ({0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}, None, [0, 1, 2]),
        ({"0": "contradiction", "1": "entailment", "2": "neutral"}, None, [1, 2, 0]),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, {"Contradiction": 0, "Neutral": 1, "Entailment": 2}, [2, 1, 0]),
    ],
)
def test_label_columns_accepts_variants(
    id2label: dict[object, str], label2id: dict[str, int] | None, columns: list[int]
) -> None:
    assert label_columns(id2label, "test", label2id).tolist() == columns


@pytest.mark.parametrize(
    ("id2label", "message"),
    [
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, "generic names"),
        ({0: "entailment", 1: "not_entailment"}, "exactly 3"),
        ({0: "entailment", 1: "neutral", 2: "refutes"}, "does not name"),
    ],
)
def test_label_columns_refuses_what_it_cannot_map(id2label: dict[object, str], message: str) -> None:
    with pytest.raises(ModelLoadError, match=message) as info:
        label_columns(id2label, "config.json")
    assert "id2label" in str(info.value)


def test_missing_directory_says_what_to_give(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError) as info:
        load_nli(str(missing))
    message = str(info.value)
    assert str(missing) in message and "model.onnx" in message


def test_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"neither model\.onnx"):
        load_nli(str(tmp_path))


def test_name_outside_the_local_cache_is_not_downloaded() -> None:
    with pytest.raises(ModelLoadError, match="local Hugging Face cache"):
        load_nli("contra-tests/no-such-nli-model")


@pytest.mark.skipif(not (SHIPPED / "model.onnx").exists(), reason="the shipped NLI model has not been exported yet")
def test_shipped_model_gets_obvious_pairs_right() -> None:
    model = load_nli(str(SHIPPED))
    assert isinstance(model, OnnxNLI)
    cases = [
        ("A man is sleeping in his bed.", "A man is awake and running a marathon.", Label.CONTRADICTION),
        ("A dog is running through a park.", "An animal is outside.", Label.ENTAILMENT),
        (
            "The company reported a large profit in 2023.",
            "The company lost money in 2023.",
            Label.CONTRADICTION,
        ),
        ("Two children are playing soccer on a field.", "Kids are playing a sport.", Label.ENTAILMENT),
        ("A woman is playing a guitar.", "The woman is a famous musician on her world tour.", Label.NEUTRAL),
    ]
    probs = model.predict([(p, h) for p, h, _ in cases])
    predicted = [LABEL_ORDER[i] for i in probs.argmax(axis=1)]
    assert predicted == [label for _, _, label in cases]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.skipif(not (SHIPPED / "model.onnx").exists(), reason="the shipped NLI model has not been exported yet")
def test_shipped_model_scores_a_pair_the_same_alone_and_in_any_batch() -> None:
    """A service must give one answer per pair: with per-batch activation scales, one pair of these
    moved by 0.1 in probability depending on its neighbours."""
    model = load_nli(str(SHIPPED), batch_size=4)
    assert isinstance(model, OnnxNLI)
    pairs = [
        ("A man is sleeping.", "A man is awake."),
        (
            "The city council voted on Tuesday to raise the budget for public transport by 12 percent, after "
            "months of debate about fares, new bus lines and the cost of maintaining the old tram network.",
            "The council cut the transport budget.",
        ),
        ("Rain.", "It is wet outside today."),
        ("The company reported a large profit in 2023.", "The company lost money in 2023."),
        ("Two children are playing soccer on a field near the school.", "Kids are playing a sport."),
        ("Prices rose 3% in May.", "Inflation in May was 3 percent, the central bank said on Friday morning."),
        ("A woman is playing a guitar.", "The woman is a famous musician on her world tour."),
    ]
    alone, batched, reversed_ = _alone_and_batched(model, pairs)
    np.testing.assert_allclose(batched, alone, atol=1e-4)
    np.testing.assert_allclose(reversed_, alone, atol=1e-4)
    assert alone.std(axis=0).max() > 0.1, "the pairs must get different scores, or the comparison proves little"
