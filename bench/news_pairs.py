"""The judge's real-news evaluation sets, and cached model outputs for them (shared by ``eval_news.py``
and ``fit_judge.py``).

Every set is read from ``../shared/data/news`` through ``contra.newsdata`` (one fixed split: only claims of
role ``judge`` are used here, the NLI model never trains on them) and turned into judge pairs with a
*group* (the claim, the body's claim, the ClaimDiff topic) and a *fold* (``newsdata.fold_of(group)``):
folds are never drawn by row, so two pairs about one claim always sit in one fold.

* ``emergent``: two outlets' headlines on one claim; ``for`` vs ``against`` is a conflict.
* ``fnc1``: a headline against the sentences of an article body (``split_claims``); the body *disagrees*
  (conflict) or *agrees*. Only sentences the Check pipeline would pass to the judge are kept (embedding
  cosine >= ``Settings.min_similarity``); a body is flagged when any of its sentence pairs is, and its
  score is the maximum.
* ``claimdiff``: two outlets' claims on one topic, none a contradiction: the realistic false-alarm rate.
* ``within-article``: two sentences of one FNC-1 article body that the Check pipeline would pair (cosine
  >= ``min_similarity``), up to ``WITHIN_PER_BODY`` per body: one outlet does not contradict itself, so these
  are compatible pairs of one story that date different events, count different things and negate other
  predicates, the shape of most false alarms among dozens of outlets' sentences about one story.
* ``handwritten``: ``tests/data/pairs.jsonl`` (one more group, ``handwritten``, and its own folds by id).

NLI outputs are cached on disk per (model file hash, premise, hypothesis) and embeddings per (embedder,
text) under ``var/news-eval/``, so a rerun with the same model costs seconds and a new model only its own
pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from contra import newsdata
from contra.domain import LABEL_ORDER
from contra.service.claims import split_claims
from contra.service.config import Settings
from contra.service.judge.judge import Judge, PairEvidence, PairInput
from contra.service.judge.numbers import figure_evidence
from contra.service.models.embedder import Embedder
from contra.service.models.nli import NLIModel

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / "var" / "news-eval"
HANDWRITTEN = REPO / "tests" / "data" / "pairs.jsonl"
SETS = ("emergent", "fnc1", "claimdiff", "within-article", "handwritten")
#: Sentence pairs taken per article body for the within-article set.
WITHIN_PER_BODY = 8


@dataclass(slots=True)
class NewsSet:
    """One evaluation set: judge pairs, and the units that are scored (a pair, or an FNC-1 body row).

    ``unit_of[i]`` is the unit pair ``i`` belongs to; a unit's score is the maximum of its pairs'."""

    name: str
    pairs: list[PairInput]
    unit_of: np.ndarray
    #: Per unit: gold conflict, group (for folds), and a short description.
    gold: np.ndarray
    groups: list[str]
    folds: np.ndarray
    evidence: list[PairEvidence] = field(default_factory=list)

    @property
    def units(self) -> int:
        return len(self.gold)


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def model_hash(spec: str) -> str:
    """sha256 (first 16 hex) of the NLI model's weights file, or of the spec when it is not a directory."""
    path = Path(spec)
    onnx = path / "model.onnx"
    if onnx.exists():
        digest = hashlib.sha256()
        with onnx.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()[:16]
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


class DiskCachedNLI:
    """An ``NLIModel`` whose outputs are kept in SQLite per (model hash, premise, hypothesis)."""

    def __init__(self, inner: NLIModel, key: str, directory: Path = CACHE_DIR) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.inner = inner
        self.name = inner.name
        self.db = sqlite3.connect(directory / f"nli-{key}.sqlite")
        self.db.execute("CREATE TABLE IF NOT EXISTS nli (a TEXT, b TEXT, p BLOB, PRIMARY KEY (a, b))")
        self.scored = 0

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        out = np.zeros((len(pairs), len(LABEL_ORDER)), dtype=np.float32)
        missing: dict[tuple[str, str], list[int]] = {}
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            found: dict[tuple[str, str], bytes] = {}
            for a, b in set(chunk):
                row = self.db.execute("SELECT p FROM nli WHERE a = ? AND b = ?", (a, b)).fetchone()
                if row is not None:
                    found[(a, b)] = row[0]
            for k, pair in enumerate(chunk):
                if pair in found:
                    out[start + k] = np.frombuffer(found[pair], dtype=np.float32)
                else:
                    missing.setdefault(pair, []).append(start + k)
        todo = list(missing)
        t0 = time.perf_counter()
        for start in range(0, len(todo), 512):
            chunk = todo[start : start + 512]
            probs = self.inner.predict(chunk).astype(np.float32)
            self.db.executemany(
                "INSERT OR REPLACE INTO nli VALUES (?, ?, ?)",
                [(a, b, p.tobytes()) for (a, b), p in zip(chunk, probs, strict=True)],
            )
            self.db.commit()
            for pair, p in zip(chunk, probs, strict=True):
                for i in missing[pair]:
                    out[i] = p
            self.scored += len(chunk)
            rate = (start + len(chunk)) / (time.perf_counter() - t0)
            print(f"  NLI {start + len(chunk)}/{len(todo)} new pairs ({rate:.0f}/s)", file=sys.stderr, flush=True)
        return out


class DiskCachedEmbedder:
    """Unit vectors per text, kept in SQLite per embedder name."""

    def __init__(self, inner: Embedder, directory: Path = CACHE_DIR) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.inner = inner
        key = hashlib.sha256(inner.name.encode()).hexdigest()[:12]
        self.db = sqlite3.connect(directory / f"emb-{key}.sqlite")
        self.db.execute("CREATE TABLE IF NOT EXISTS emb (t TEXT PRIMARY KEY, v BLOB)")

    def vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        wanted = set(texts)
        out: dict[str, np.ndarray] = {}
        for t in wanted:
            row = self.db.execute("SELECT v FROM emb WHERE t = ?", (t,)).fetchone()
            if row is not None:
                out[t] = np.frombuffer(row[0], dtype=np.float32)
        todo = sorted(wanted - out.keys())
        for start in range(0, len(todo), 256):
            chunk = todo[start : start + 256]
            vecs = np.asarray(self.inner.embed(chunk), dtype=np.float32)
            self.db.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?)", [(t, v.tobytes()) for t, v in zip(chunk, vecs, strict=True)]
            )
            self.db.commit()
            out.update(zip(chunk, vecs, strict=True))
        return out


def cosines(embedder: DiskCachedEmbedder, pairs: Sequence[tuple[str, str]]) -> list[float]:
    vec = embedder.vectors([t for p in pairs for t in p])
    return [float(np.dot(vec[a], vec[b])) for a, b in pairs]


# --- the sets ---------------------------------------------------------------------------------


def emergent_set(emb: DiskCachedEmbedder) -> NewsSet:
    rows = [p for p in newsdata.emergent_pairs() if newsdata.role_of(p.claim_id) == "judge"]
    sims = cosines(emb, [(p.a, p.b) for p in rows])
    pairs = [PairInput(p.a, p.b, similarity=s) for p, s in zip(rows, sims, strict=True)]
    groups = [p.claim_id for p in rows]
    return NewsSet(
        "emergent",
        pairs,
        np.arange(len(rows)),
        np.array([p.conflict for p in rows]),
        groups,
        np.array([newsdata.fold_of(g) for g in groups]),
    )


def fnc_set(emb: DiskCachedEmbedder, min_similarity: float) -> NewsSet:
    """Headline against body sentences; one unit per (headline, body) row of stance agree/disagree."""
    bodies = newsdata.fnc_bodies()
    rows = [
        r for r in newsdata.fnc_stances() if r.stance in ("agree", "disagree") and newsdata.role_of(r.group) == "judge"
    ]
    seen: set[tuple[str, str]] = set()
    unique = []
    for r in rows:  # the test and train files repeat some rows
        if (r.headline, r.body_id) not in seen:
            seen.add((r.headline, r.body_id))
            unique.append(r)
    sentences = {b: [c.text for c in split_claims(bodies[b])] for b in {r.body_id for r in unique}}
    raw = [(r.headline, s) for r in unique for s in sentences[r.body_id]]
    unit_raw = [u for u, r in enumerate(unique) for _ in sentences[r.body_id]]
    sims = cosines(emb, raw)
    pairs: list[PairInput] = []
    unit_of: list[int] = []
    for (a, b), u, s in zip(raw, unit_raw, sims, strict=True):
        if s >= min_similarity:
            pairs.append(PairInput(a, b, similarity=s))
            unit_of.append(u)
    groups = [r.group for r in unique]
    return NewsSet(
        "fnc1",
        pairs,
        np.array(unit_of, dtype=np.int64),
        np.array([r.stance == "disagree" for r in unique]),
        groups,
        np.array([newsdata.fold_of(g) for g in groups]),
    )


def claimdiff_set(emb: DiskCachedEmbedder) -> NewsSet:
    rows = list(newsdata.claimdiff_pairs())
    sims = cosines(emb, [(p.a, p.b) for p in rows])
    pairs = [PairInput(p.a, p.b, similarity=s) for p, s in zip(rows, sims, strict=True)]
    groups = [f"topic:{p.topic}" for p in rows]
    return NewsSet(
        "claimdiff",
        pairs,
        np.arange(len(rows)),
        np.zeros(len(rows), dtype=bool),
        groups,
        np.array([newsdata.fold_of(g) for g in groups]),
    )


def within_article_set(emb: DiskCachedEmbedder, min_similarity: float) -> NewsSet:
    """Pairs of sentences of one article body (no conflicts), grouped by the body's claim."""
    import random

    bodies = newsdata.fnc_bodies()
    group_of: dict[str, str] = {}
    for r in newsdata.fnc_stances():
        if r.stance in ("agree", "disagree") and newsdata.role_of(r.group) == "judge":
            group_of.setdefault(r.body_id, r.group)
    rng = random.Random(0)
    raw: list[tuple[str, str]] = []
    groups: list[str] = []
    for body in sorted(group_of):
        sentences = [c.text for c in split_claims(bodies[body])]
        pairs = [(a, b) for i, a in enumerate(sentences) for b in sentences[i + 1 :] if a != b]
        if not pairs:
            continue
        sims = cosines(emb, pairs)
        close = [p for p, sim in zip(pairs, sims, strict=True) if sim >= min_similarity]
        rng.shuffle(close)
        for p in close[:WITHIN_PER_BODY]:
            raw.append(p)
            groups.append(group_of[body])
    sims = cosines(emb, raw)
    return NewsSet(
        "within-article",
        [PairInput(a, b, similarity=sim) for (a, b), sim in zip(raw, sims, strict=True)],
        np.arange(len(raw)),
        np.zeros(len(raw), dtype=bool),
        groups,
        np.array([newsdata.fold_of(g) for g in groups]),
    )


def handwritten_set(emb: DiskCachedEmbedder, path: Path = HANDWRITTEN) -> NewsSet:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    sims = cosines(emb, [(r["a"], r["b"]) for r in rows])
    pairs = [
        PairInput(r["a"], r["b"], _date(r.get("a_date")), _date(r.get("b_date")), similarity=s)
        for r, s in zip(rows, sims, strict=True)
    ]
    # One group for the fit (it is one more source of pairs, not the only one); its own folds by id so
    # that every hand-written pair is still scored out of fold.
    return NewsSet(
        "handwritten",
        pairs,
        np.arange(len(rows)),
        np.array([r["label"] == "contradiction" for r in rows]),
        ["handwritten"] * len(rows),
        np.array([newsdata.fold_of(f"handwritten:{r['id']}") for r in rows]),
    )


def load_sets(settings: Settings, judge: Judge, emb: DiskCachedEmbedder, names: Sequence[str] = SETS) -> list[NewsSet]:
    """The sets, each with the judge's evidence for every pair (NLI run on all pairs, from the cache)."""
    out = []
    for name in names:
        t0 = time.perf_counter()
        if name == "emergent":
            s = emergent_set(emb)
        elif name == "fnc1":
            s = fnc_set(emb, settings.min_similarity)
        elif name == "claimdiff":
            s = claimdiff_set(emb)
        elif name == "within-article":
            s = within_article_set(emb, settings.min_similarity)
        else:
            s = handwritten_set(emb)
        s.evidence = judge.evidence(s.pairs)
        print(f"{name}: {s.units} units, {len(s.pairs)} pairs ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
        out.append(s)
    return out


def build(settings: Settings) -> tuple[Judge, DiskCachedEmbedder, str]:
    """A judge whose NLI model is disk-cached (no calibration: callers decide how to score), the cached
    embedder, and the model hash naming the cache."""
    from contra.service.models.loading import load_embedder
    from contra.service.models.nli import load_nli

    key = model_hash(settings.nli_model)
    nli = DiskCachedNLI(load_nli(settings.nli_model, batch_size=settings.nli_batch_size), key)
    embedder = load_embedder(settings.embedder, settings.embedder_backend.value, settings.model_cache_dir)
    return Judge(nli, figure_evidence, threshold=settings.conflict_threshold), DiskCachedEmbedder(embedder), key


def describe(settings: Settings, key: str) -> dict[str, Any]:
    return {"nli_model": settings.nli_model, "nli_hash": key}
