"""Build the corpus-level evaluation set under tests/data/corpus/ from the hand-written labelled pairs.

The labelled pairs measure the judge; candidate recall needs each claim buried in a document of its
own outlet, next to related sentences and among distractor documents, the way the service sees news.
Everything here is derived from authored files (pairs.jsonl, context.jsonl, distractors.jsonl,
sources.json) with a fixed seed, so the committed corpus can be regenerated and checked byte for byte:

    .venv/bin/python bench/make_corpus.py           # rewrite tests/data/corpus/
    .venv/bin/python bench/make_corpus.py --check   # exit 1 when the committed files are stale
    .venv/bin/python bench/make_corpus.py --stats   # print the counts table used in tests/data/README.md
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysbd

#: Changing the seed reshuffles document order, ids and sentence positions; the tests pin the result.
SEED = 20260304
DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data"
DOMAINS: tuple[str, ...] = ("economy", "health", "sport", "science", "elections", "conflict")
KINDS: tuple[str, ...] = ("stance", "number", "date", "quantity")
DOCUMENTS_FILE = "corpus/documents.jsonl"
LINKS_FILE = "corpus/links.jsonl"


@dataclass(frozen=True, slots=True)
class Pair:
    """One labelled claim pair as stored in pairs.jsonl."""

    id: str
    domain: str
    a: str
    b: str
    a_source: str
    b_source: str
    a_date: str | None
    b_date: str | None
    label: str
    kind: str
    hard_negative: bool
    reason: str


@dataclass(frozen=True, slots=True)
class PairContext:
    """Authored sentences that surround each side of a pair in its document."""

    pair_id: str
    a_context: tuple[str, ...]
    b_context: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Distractor:
    """A document that belongs to no pair: same topic (related) or another topic altogether."""

    doc_key: str
    domain: str
    related: bool
    source: str
    date: str | None
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outlet:
    name: str
    host: str


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    source: str
    outlet: str
    date: str | None
    url: str
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    """Where the two sentences of one labelled pair sit in the corpus."""

    pair_id: str
    a_doc: str
    a_sentence: str
    b_doc: str
    b_sentence: str


@dataclass(frozen=True, slots=True)
class Corpus:
    documents: tuple[Document, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class _Draft:
    """A document before shuffling: ``key`` is stable across runs and seeds the sentence order."""

    key: str
    source: str
    date: str | None
    sentences: tuple[str, ...]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_pairs(path: Path) -> list[Pair]:
    return [Pair(**row) for row in _read_jsonl(path)]


def load_contexts(path: Path) -> dict[str, PairContext]:
    rows = _read_jsonl(path)
    return {
        row["pair_id"]: PairContext(row["pair_id"], tuple(row["a_context"]), tuple(row["b_context"])) for row in rows
    }


def load_distractors(path: Path) -> list[Distractor]:
    return [
        Distractor(
            doc_key=row["doc_key"],
            domain=row["domain"],
            related=row["related"],
            source=row["source"],
            date=row["date"],
            sentences=tuple(row["sentences"]),
        )
        for row in _read_jsonl(path)
    ]


def load_outlets(path: Path) -> dict[str, Outlet]:
    raw: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return {key: Outlet(name=value["outlet"], host=value["host"]) for key, value in raw.items()}


def _place(anchor: str, context: Sequence[str], key: str, seed: int) -> tuple[str, ...]:
    """Put the anchor at a seeded position so that pair sentences are not always first or last."""
    if not context:
        raise ValueError(f"{key}: a pair sentence needs at least one context sentence around it")
    position = random.Random(f"{seed}:{key}").randint(0, len(context))
    return (*context[:position], anchor, *context[position:])


def _url(outlet: Outlet, doc_id: str, date: str | None) -> str:
    path = date.replace("-", "/") if date else "undated"
    return f"https://{outlet.host}/{path}/{doc_id}"


def build_corpus(data_dir: Path = DATA_DIR, seed: int = SEED) -> Corpus:
    """Assemble documents and links; document order and ids come from one seeded shuffle."""
    pairs = load_pairs(data_dir / "pairs.jsonl")
    contexts = load_contexts(data_dir / "context.jsonl")
    distractors = load_distractors(data_dir / "distractors.jsonl")
    outlets = load_outlets(data_dir / "sources.json")

    missing = sorted({p.id for p in pairs} - contexts.keys())
    if missing:
        raise ValueError(f"context.jsonl lacks pairs: {', '.join(missing)}")

    drafts: list[_Draft] = []
    for pair in pairs:
        ctx = contexts[pair.id]
        for side, anchor, source, date, context in (
            ("a", pair.a, pair.a_source, pair.a_date, ctx.a_context),
            ("b", pair.b, pair.b_source, pair.b_date, ctx.b_context),
        ):
            key = f"{pair.id}:{side}"
            drafts.append(_Draft(key, source, date, _place(anchor, context, key, seed)))
    drafts.extend(_Draft(d.doc_key, d.source, d.date, d.sentences) for d in distractors)

    unknown = sorted({d.source for d in drafts} - outlets.keys())
    if unknown:
        raise ValueError(f"sources missing from sources.json: {', '.join(unknown)}")

    random.Random(seed).shuffle(drafts)
    doc_ids = {draft.key: f"doc-{i:04d}" for i, draft in enumerate(drafts, start=1)}
    documents = tuple(
        Document(
            doc_id=doc_ids[d.key],
            source=d.source,
            outlet=outlets[d.source].name,
            date=d.date,
            url=_url(outlets[d.source], doc_ids[d.key], d.date),
            text=" ".join(d.sentences),
        )
        for d in drafts
    )
    links = tuple(
        Link(pair_id=p.id, a_doc=doc_ids[f"{p.id}:a"], a_sentence=p.a, b_doc=doc_ids[f"{p.id}:b"], b_sentence=p.b)
        for p in pairs
    )
    return Corpus(documents=documents, links=links)


def _jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def render(corpus: Corpus) -> dict[str, str]:
    """File contents keyed by path relative to the data directory."""
    documents = (
        {"doc_id": d.doc_id, "source": d.source, "outlet": d.outlet, "date": d.date, "url": d.url, "text": d.text}
        for d in corpus.documents
    )
    links = (
        {
            "pair_id": k.pair_id,
            "a_doc": k.a_doc,
            "a_sentence": k.a_sentence,
            "b_doc": k.b_doc,
            "b_sentence": k.b_sentence,
        }
        for k in corpus.links
    )
    return {DOCUMENTS_FILE: _jsonl(documents), LINKS_FILE: _jsonl(links)}


def count_sentences(text: str) -> int:
    """Sentences as contra's claim splitter sees them (pysbd, English)."""
    segmenter = pysbd.Segmenter(language="en", clean=False)
    return sum(1 for s in segmenter.segment(text) if s.strip())


def stats_table(pairs: Sequence[Pair]) -> str:
    """Markdown counts table per domain; the README carries a copy and a test keeps it current."""
    header = "| domain | pairs | contradiction | stance | number | date | quantity | compatible | hard negative |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    lines = [header, rule]

    def row(name: str, group: Sequence[Pair]) -> str:
        kinds = Counter(p.kind for p in group)
        contra = sum(1 for p in group if p.label == "contradiction")
        hard = sum(1 for p in group if p.hard_negative)
        cells = [name, str(len(group)), str(contra), *(str(kinds[k]) for k in KINDS), str(len(group) - contra)]
        return "| " + " | ".join([*cells, str(hard)]) + " |"

    for domain in DOMAINS:
        lines.append(row(domain, [p for p in pairs if p.domain == domain]))
    lines.append(row("**all**", pairs))
    return "\n".join(lines)


def corpus_summary(corpus: Corpus) -> str:
    """One line for the README: how large the recall corpus is."""
    sentences = sum(count_sentences(d.text) for d in corpus.documents)
    linked = {k.a_doc for k in corpus.links} | {k.b_doc for k in corpus.links}
    return (
        f"The corpus has {len(corpus.documents)} documents ({len(linked)} holding a pair sentence, "
        f"{len(corpus.documents) - len(linked)} distractors), {sentences} sentences and {len(corpus.links)} links."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    parser.add_argument("--stats", action="store_true", help="print the README counts table and corpus size")
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir

    corpus = build_corpus(data_dir)
    if args.stats:
        print(stats_table(load_pairs(data_dir / "pairs.jsonl")))
        print()
        print(corpus_summary(corpus))
        return 0

    files = render(corpus)
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (data_dir / name).exists() or (data_dir / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"stale: {data_dir / name}", file=sys.stderr)
        return 1 if stale else 0

    for name, text in files.items():
        target = data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
