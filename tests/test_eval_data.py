"""Checks on contra's labelled evaluation set (tests/data/) so that later edits cannot quietly break it.

The set is only useful if its promises hold: balanced domains and kinds, enough hard negatives, dates
that parse, pair sentences that sit verbatim (and as one sentence) in their documents, a corpus that
``bench/make_corpus.py`` regenerates exactly, and none of the held-out story's names anywhere.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pysbd
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
DOMAINS = ("economy", "health", "sport", "science", "elections", "conflict")
ID_PREFIX = {
    "economy": "econ",
    "health": "health",
    "sport": "sport",
    "science": "sci",
    "elections": "elec",
    "conflict": "conf",
}
MIN_PER_KIND = {"stance": 40, "number": 25, "date": 25, "quantity": 20}
PAIR_KEYS = {
    "id",
    "domain",
    "a",
    "b",
    "a_source",
    "b_source",
    "a_date",
    "b_date",
    "label",
    "kind",
    "hard_negative",
    "reason",
}
DOC_KEYS = {"doc_id", "source", "outlet", "date", "url", "text"}
LINK_KEYS = {"pair_id", "a_doc", "a_sentence", "b_doc", "b_sentence"}
#: Names of the story held out for independent checks; whole words, so that "computing" is not "Putin".
FORBIDDEN = re.compile(
    r"\b(kursk\w*|ukrain\w*|putin\w*|gerasimov\w*|pyongyang|kadyrov\w*|north\s+korea\w*|russia\w*|kim\s+jong)\b",
    re.IGNORECASE,
)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def pairs() -> list[dict[str, Any]]:
    return _jsonl(DATA / "pairs.jsonl")


@pytest.fixture(scope="module")
def sources() -> dict[str, dict[str, str]]:
    raw: dict[str, dict[str, str]] = json.loads((DATA / "sources.json").read_text(encoding="utf-8"))
    return raw


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {doc["doc_id"]: doc for doc in _jsonl(DATA / "corpus" / "documents.jsonl")}


@pytest.fixture(scope="module")
def links() -> list[dict[str, Any]]:
    return _jsonl(DATA / "corpus" / "links.jsonl")


@pytest.fixture(scope="module")
def segments(documents: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Each document split the way contra splits claims; pysbd is slow, so once per module."""
    segmenter = pysbd.Segmenter(language="en", clean=False)
    return {
        doc_id: [s.strip() for s in segmenter.segment(doc["text"]) if s.strip()] for doc_id, doc in documents.items()
    }


@pytest.fixture(scope="module")
def make_corpus() -> ModuleType:
    path = ROOT / "bench" / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("contra_bench_make_corpus", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_pair_schema(pairs: list[dict[str, Any]], sources: dict[str, dict[str, str]]) -> None:
    ids = [p["id"] for p in pairs]
    assert len(ids) == len(set(ids)), "duplicate pair ids"
    for p in pairs:
        assert set(p) == PAIR_KEYS, p["id"]
        assert p["domain"] in DOMAINS, p["id"]
        assert re.fullmatch(rf"{ID_PREFIX[p['domain']]}-\d{{3}}", p["id"]), p["id"]
        assert p["label"] in ("contradiction", "compatible"), p["id"]
        if p["label"] == "contradiction":
            assert p["kind"] in MIN_PER_KIND, p["id"]
            assert p["hard_negative"] is False, f"{p['id']}: only compatible pairs can be hard negatives"
        else:
            assert p["kind"] == "none", p["id"]
            assert isinstance(p["hard_negative"], bool), p["id"]
        assert p["a_source"] != p["b_source"], f"{p['id']}: sources must differ"
        assert p["a_source"] in sources and p["b_source"] in sources, p["id"]
        assert p["a"] != p["b"], p["id"]
        assert len(p["reason"].split()) >= 5, f"{p['id']}: the reason must let a person check the label"


def test_dates_parse_and_some_are_null(pairs: list[dict[str, Any]]) -> None:
    nulls = 0
    for p in pairs:
        for key in ("a_date", "b_date"):
            if p[key] is None:
                nulls += 1
                continue
            day = dt.date.fromisoformat(p[key])
            assert dt.date(2025, 1, 1) <= day <= dt.date(2026, 12, 31), f"{p['id']}: {key} {day}"
    assert nulls > 0, "some pairs must come without a publish date"


def test_counts_per_domain_and_kind(pairs: list[dict[str, Any]]) -> None:
    assert len(pairs) >= 240
    per_domain = Counter(p["domain"] for p in pairs)
    assert set(per_domain) == set(DOMAINS)
    assert min(per_domain.values()) >= 30, per_domain
    assert max(per_domain.values()) - min(per_domain.values()) <= 5, f"domains are unbalanced: {per_domain}"
    kinds = Counter(p["kind"] for p in pairs if p["label"] == "contradiction")
    for kind, minimum in MIN_PER_KIND.items():
        assert kinds[kind] >= minimum, f"{kind}: {kinds[kind]} < {minimum}"


def test_label_balance_and_hard_negatives(pairs: list[dict[str, Any]]) -> None:
    compatible = sum(1 for p in pairs if p["label"] == "compatible")
    hard = sum(1 for p in pairs if p["hard_negative"])
    assert compatible / len(pairs) >= 0.55
    assert (len(pairs) - compatible) / len(pairs) >= 0.40, "contradictions should be close to 45%"
    assert hard * 2 >= len(pairs), f"only {hard} hard negatives of {len(pairs)} pairs"
    assert hard < compatible, "some easy negatives are expected too"


def test_sentences_are_realistic_and_unique(pairs: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for p in pairs:
        for side in ("a", "b"):
            words = len(p[side].split())
            assert 15 <= words <= 40, f"{p['id']}.{side}: {words} words"
            assert p[side] not in seen, f"{p['id']}.{side} repeats another pair's sentence"
            seen.add(p[side])


#: Fixtures that are not part of the evaluation set: the batch tests compare the held-out seed
#: story on purpose (it is the independent check), so they may name it.
NOT_EVALUATION = ("batch",)


def test_no_forbidden_terms_anywhere_under_data() -> None:
    files = [
        path for path in DATA.rglob("*") if path.is_file() and path.relative_to(DATA).parts[0] not in NOT_EVALUATION
    ]
    assert len(files) >= 6
    for path in files:
        hits = sorted({m.group(0) for m in FORBIDDEN.finditer(path.read_text(encoding="utf-8"))})
        assert not hits, f"{path.relative_to(ROOT)} mentions {hits}"


def test_forbidden_pattern_matches_whole_words_only() -> None:
    assert FORBIDDEN.search("talks with Ukraine's envoy")
    assert FORBIDDEN.search("a NORTH KOREAN delegation")
    assert not FORBIDDEN.search("quantum computing research")


def test_documents_schema(documents: dict[str, dict[str, Any]], sources: dict[str, dict[str, str]]) -> None:
    for doc in documents.values():
        assert set(doc) == DOC_KEYS, doc["doc_id"]
        source = sources[doc["source"]]
        assert doc["outlet"] == source["outlet"]
        assert doc["url"].startswith(f"https://{source['host']}/"), doc["url"]
        if doc["date"] is not None:
            dt.date.fromisoformat(doc["date"])


def test_links_point_at_verbatim_sentences(
    pairs: list[dict[str, Any]], documents: dict[str, dict[str, Any]], links: list[dict[str, Any]]
) -> None:
    by_id = {p["id"]: p for p in pairs}
    assert sorted(link["pair_id"] for link in links) == sorted(by_id), "one link per labelled pair"
    for link in links:
        assert set(link) == LINK_KEYS
        pair = by_id[link["pair_id"]]
        assert link["a_doc"] != link["b_doc"]
        for side in ("a", "b"):
            doc = documents[link[f"{side}_doc"]]
            assert link[f"{side}_sentence"] == pair[side]
            assert pair[side] in doc["text"], f"{link['pair_id']}.{side} not verbatim in {doc['doc_id']}"
            assert doc["source"] == pair[f"{side}_source"]
            assert doc["date"] == pair[f"{side}_date"]


def test_link_sentences_are_single_segments(links: list[dict[str, Any]], segments: dict[str, list[str]]) -> None:
    """contra splits documents with pysbd; a pair sentence cut in two could never be retrieved whole."""
    for link in links:
        for side in ("a", "b"):
            assert link[f"{side}_sentence"] in segments[link[f"{side}_doc"]], f"{link['pair_id']}.{side}"


def test_corpus_size_and_document_lengths(
    documents: dict[str, dict[str, Any]], links: list[dict[str, Any]], segments: dict[str, list[str]]
) -> None:
    for doc_id, parts in segments.items():
        assert 3 <= len(parts) <= 8, f"{doc_id}: {len(parts)} sentences"
    assert sum(len(parts) for parts in segments.values()) >= 600
    linked = {link["a_doc"] for link in links} | {link["b_doc"] for link in links}
    assert len(documents) - len(linked) >= 20, "the corpus needs distractor documents"


def test_make_corpus_regenerates_committed_files(make_corpus: ModuleType) -> None:
    files = make_corpus.render(make_corpus.build_corpus(DATA))
    assert set(files) == {"corpus/documents.jsonl", "corpus/links.jsonl"}
    for name, text in files.items():
        assert (DATA / name).read_text(encoding="utf-8") == text, f"{name} is stale: run bench/make_corpus.py"


def test_readme_counts_table_is_current(make_corpus: ModuleType) -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    table = make_corpus.stats_table(make_corpus.load_pairs(DATA / "pairs.jsonl"))
    assert table in readme, "tests/data/README.md counts table is stale: run bench/make_corpus.py --stats"
