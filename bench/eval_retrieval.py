"""``make eval-retrieval``: does candidate search bring a claim's conflicting partner to the judge, on real outlets?

Three corpora from ``../shared/data/news`` (read through ``contra.newsdata``, never copied), each searched
through the pipeline's own ``CandidateSearch`` over a real ``ClaimIndex`` (flat) and a ``LexicalTable``
(the compare job's lexical side, with the store's term choice), exactly as ``Check`` and ``contra compare``
search; a query never retrieves its own outlet, and a candidate with the query's own text (a syndicated
copy) is dropped as ``Detector.candidates`` drops it:

* **emergent**: every headline of the 240 Emergent claims in one corpus (outlet = source). A ``for`` or
  ``against`` headline's partners are the headlines of the same claim from other outlets: *conflicting*
  when the stances are opposite, *agreeing* when they are the same (``observing`` headlines are corpus,
  not partners).
* **claimdiff**: every claim of both outlets of every ClaimDiff topic (outlet = topic + side, date = the
  topic's date). Partners: pairs labelled 1 in ClaimDiff-W (B weakens A: *conflicting*) or ClaimDiff-S
  (B strengthens A: *agreeing*), both directions.
* **fnc1**: every FNC-1 article body of a known Emergent claim, split into claims by
  ``contra.service.claims.split_claims`` (each body its own source). A body's stance on its claim is the
  majority of its headlines' agree/disagree labels; its *key claims* are its two sentences closest to the
  claim (the ones that state or deny it). Queries are key claims; a partner is another body of the same
  claim, found when any of its key claims is among the candidates: *conflicting* for agree vs disagree.

Reported per corpus and per retrieval variant: recall of conflicting and agreeing partners at k = 5, 10,
20, 50 (each k its own search: fusion depends on depth), candidates per claim at k = 20, and the cost per
query in ms (the search alone: the claim's own vector is embedded once either way). The first variant is
plain dense search, measured in the same run; the second is the retrieval settings as they were before
the re-ranking (dense + lexical, RRF), the last the settings' defaults, which Check and compare use.

Vectors are computed once with the int8 ONNX embedder and cached under ``var/eval-retrieval/``.
``--embedder`` measures another one (``torch``: the packaged model in fp32; a path: a sentence-transformers
directory such as ``models/train_embedder.py``'s, fp32), repeated to compare several in one run, each
variant per embedder. ``--roles judge`` counts only queries of Emergent claims (and FNC-1 bodies of
claims) that ``newsdata.role_of`` holds out from training; the corpus keeps every text as a distractor.

    .venv/bin/python bench/eval_retrieval.py [--corpora emergent,claimdiff,fnc1] [--variants ...] [--json out.json]
    .venv/bin/python bench/eval_retrieval.py --roles judge --embedder torch --embedder var/embedder-ft \\
        --variants "dense (plain);defaults (now)"
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from rich.console import Console
from rich.table import Table

from contra import newsdata
from contra.domain import IndexKind
from contra.index import SearchFilter, VectorBatch
from contra.index.lexical import LexicalTable
from contra.index.vectors import create_index
from contra.service.claims import split_claims
from contra.service.config import Settings
from contra.service.retrieval import CandidateSearch, RetrievalSettings

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "var" / "eval-retrieval"
KS = (5, 10, 20, 50)
console = Console(width=160)


# -- corpora ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    row: int
    #: Partners as sets of rows: a partner is found when any row of its set is among the candidates.
    conflicting: tuple[frozenset[int], ...]
    agreeing: tuple[frozenset[int], ...]
    #: ``newsdata.role_of`` of the query's Emergent claim (``--roles`` keeps only some); None for ClaimDiff.
    role: str | None = None


@dataclass(slots=True)
class Corpus:
    name: str
    texts: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    dates: list[Any] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)

    def add(self, text: str, group: str, date: Any = None) -> int:
        self.texts.append(text)
        self.groups.append(group)
        self.dates.append(date)
        return len(self.texts) - 1


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def emergent() -> Corpus:
    corpus = Corpus("emergent")
    rows: list[tuple[int, newsdata.Headline]] = []
    for h in newsdata.emergent_headlines():
        rows.append((corpus.add(h.headline, h.outlet), h))
    by_claim: dict[str, list[tuple[int, newsdata.Headline]]] = collections.defaultdict(list)
    for row, h in rows:
        by_claim[h.claim_id].append((row, h))
    for members in by_claim.values():
        for row, h in members:
            if h.stance == "observing":
                continue
            conflicting, agreeing = [], []
            for other, o in members:
                if o.outlet == h.outlet or o.stance == "observing" or _norm(o.headline) == _norm(h.headline):
                    continue
                (agreeing if o.stance == h.stance else conflicting).append(frozenset({other}))
            if conflicting or agreeing:
                corpus.queries.append(Query(row, tuple(conflicting), tuple(agreeing), newsdata.role_of(h.claim_id)))
    return corpus


def _claimdiff_rows() -> list[tuple[str, dict[str, Any]]]:
    """(``S`` or ``W``, row) for every pair of the -full and train files, without ``_rev`` duplicates."""
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    root = newsdata.news_root() / "claimdiff"
    for path in sorted(root.glob("*/*.json")):
        if path.stem.endswith("-test"):
            continue
        kind = "W" if "ClaimDiff-W" in str(path) else "S"
        for row in json.loads(path.read_text(encoding="utf-8"))["data"]:
            key = (kind, row["pair_id"].removesuffix("_rev"))
            if key not in seen and not row["pair_id"].endswith("_rev"):
                seen.add(key)
                out.append((kind, row))
    return out


def claimdiff() -> Corpus:
    import datetime as dt

    corpus = Corpus("claimdiff")
    slot: dict[tuple[str, str], int] = {}

    def row_of(topic: str, side: str, text: str, date: str) -> int:
        key = (topic, _norm(text))
        if key not in slot:
            slot[key] = corpus.add(text, f"{topic}/{side}", dt.date.fromisoformat(date[:10]) if date else None)
        return slot[key]

    links: dict[int, dict[str, set[int]]] = collections.defaultdict(lambda: {"W": set(), "S": set()})
    for kind, row in _claimdiff_rows():
        a = row_of(row["topic"], "a", row["claim_a"], row["date"])
        b = row_of(row["topic"], "b", row["claim_b"], row["date"])
        if int(row["relation"]) == 1 and corpus.groups[a] != corpus.groups[b]:
            links[a][kind].add(b)
            links[b][kind].add(a)
    for row, by_kind in sorted(links.items()):
        conflicting = tuple(frozenset({o}) for o in sorted(by_kind["W"]))
        agreeing = tuple(frozenset({o}) for o in sorted(by_kind["S"] - by_kind["W"]))
        corpus.queries.append(Query(row, conflicting, agreeing))
    return corpus


def fnc1(embed: Callable[[Sequence[str]], np.ndarray]) -> Corpus:
    corpus = Corpus("fnc1")
    claim_text = {h.claim_id: h.claim for h in newsdata.emergent_headlines()}
    headline_claim = {_norm(h.headline): h.claim_id for h in newsdata.emergent_headlines()}
    votes: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in newsdata.fnc_stances():
        if r.group in claim_text and headline_claim.get(_norm(r.headline)) == r.group and r.stance != "unrelated":
            votes[(r.group, r.body_id)][r.stance] += 1
    bodies = newsdata.fnc_bodies()
    key_rows: dict[tuple[str, str], frozenset[int]] = {}
    stance: dict[tuple[str, str], str] = {}
    for group, body in sorted(votes):
        rows = [corpus.add(c.text, body) for c in split_claims(bodies[body])]
        if not rows:
            continue
        tally = votes[(group, body)]
        if tally["agree"] != tally["disagree"]:
            stance[(group, body)] = "agree" if tally["agree"] > tally["disagree"] else "disagree"
        vectors = embed([corpus.texts[r] for r in rows])
        closeness = vectors @ embed([claim_text[group]])[0]
        key_rows[(group, body)] = frozenset(rows[i] for i in np.argsort(-closeness)[:2])
    by_group: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for key in stance:
        by_group[key[0]].append(key)
    for members in by_group.values():
        for key in members:
            for row in sorted(key_rows[key]):
                conflicting = tuple(key_rows[o] for o in members if o != key and stance[o] != stance[key])
                agreeing = tuple(key_rows[o] for o in members if o != key and stance[o] == stance[key])
                if conflicting or agreeing:
                    corpus.queries.append(Query(row, conflicting, agreeing, newsdata.role_of(key[0])))
    return corpus


# -- vectors, cached -------------------------------------------------------------------------------


class CachedEmbedder:
    """An embedder with a vector cache on disk, keyed by text: ``onnx`` (the int8 ONNX embedder the service
    runs, the default), ``torch`` (the packaged all-MiniLM-L6-v2 in fp32 sentence-transformers) or the path
    of a sentence-transformers directory (fp32; its cache is keyed by its weights too, so a retrained model
    is embedded afresh)."""

    def __init__(self, spec: str = "onnx") -> None:
        from contra.service.models.embedder import SentenceTransformerEmbedder
        from contra.service.models.loading import load_embedder

        key = ""
        if spec == "onnx":
            self.model = load_embedder("", "onnx", Settings().model_cache_dir)
            self.label = "int8 onnx"
        elif spec == "torch":
            self.model = SentenceTransformerEmbedder("")
            self.label = "fp32 packaged"
        else:
            self.model = SentenceTransformerEmbedder(str(Path(spec).resolve()))
            self.label = f"fp32 {Path(spec).name}"
            digest = hashlib.sha256()
            for weights in sorted(Path(spec).glob("*.safetensors")) + sorted(Path(spec).glob("*.bin")):
                digest.update(weights.read_bytes())
            key = digest.hexdigest()
        CACHE.mkdir(parents=True, exist_ok=True)
        self.path = CACHE / f"vectors-{hashlib.sha256((self.model.name + key).encode()).hexdigest()[:12]}.npz"
        self.known: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as saved:
                self.known = dict(zip(saved["texts"].tolist(), saved["vectors"], strict=True))
        self.fresh = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.known})
        if missing:
            for begin in range(0, len(missing), 512):
                chunk = missing[begin : begin + 512]
                self.known.update(zip(chunk, self.model.embed(chunk), strict=True))
            self.fresh += len(missing)
            if self.fresh > 2000:
                self.save()
        if not texts:
            return np.zeros((0, self.model.dimension), dtype=np.float32)
        return np.vstack([self.known[t] for t in texts]).astype(np.float32)

    def save(self) -> None:
        if self.fresh:
            texts = list(self.known)
            np.savez(self.path, texts=np.asarray(texts), vectors=np.vstack([self.known[t] for t in texts]))
            self.fresh = 0


# -- the measurement -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    settings: RetrievalSettings
    dense_only: bool = False
    #: Searched as before this change: no text lookup, so copies of the query are dropped after the cut.
    as_before: bool = False
    #: Trial (``--stance-probe``): the dense pool re-ranked by ``cos + stance_bonus * cues + probe_weight * p``,
    #: ``p`` the learned stance probe's probability that the pair conflicts (``models/train_stance_probe.py``).
    probe: Path | None = None
    probe_weight: float = 0.0


def load_probe(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as saved:
        return {name: np.asarray(saved[name], dtype=np.float32) for name in ("uv", "diff", "cos", "bias")}


def probe_probability(probe: dict[str, np.ndarray], u: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """The stance probe's probability that ``u`` and each row of ``cands`` conflict: a logistic regression
    over ``u*v``, ``|u-v|`` and ``cos`` (one matrix-vector product and one ``|u-v|`` pass per pool)."""
    logit = cands @ (u * probe["uv"]) + np.abs(cands - u) @ probe["diff"] + (cands @ u) * probe["cos"] + probe["bias"]
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0)))


@dataclass(slots=True)
class ProbeSearch(CandidateSearch):
    """``CandidateSearch`` whose dense pool re-rank adds the stance probe's term (the trial, bench only)."""

    probe: dict[str, np.ndarray] = field(default_factory=dict)
    probe_weight: float = 0.0

    def _bonus(self, text, vector, ids, known):  # type: ignore[no-untyped-def]
        """The shipped bonus plus ``probe_weight`` times the probe's probability; with neither, the pool is
        still re-sorted by cosine (a no-op: it arrives in that order)."""
        # Named, not super(): a slots dataclass is a new class, which zero-argument super() does not see.
        bonus = CandidateSearch._bonus(self, text, vector, ids, known)
        score = np.zeros(len(ids), dtype=np.float32) if bonus is None else bonus
        if self.probe_weight:
            u = np.asarray(vector, dtype=np.float32)
            score = score + self.probe_weight * probe_probability(self.probe, u, self.vectors_by_id(ids))
        return score


def probe_variants(base: RetrievalSettings, path: Path, label: str) -> list[Variant]:
    """The stance probe's trial rows: the dense pool alone re-ranked (no story, no lexical), and the shipped
    defaults with the probe beside or instead of the ``opposite_cues`` bonus."""
    pool = dataclasses.replace(base, lexical_k=0, story=0, stance_bonus=0.0, min_similarity=-1.0)
    out = []
    if label == "probe":
        out.append(Variant("dense pool 60, cue .05 (probe 0)", dataclasses.replace(pool, stance_bonus=0.05), True))
    for k, w in ((60, 0.1), (60, 0.2), (60, 0.3), (100, 0.3)):
        out.append(
            Variant(
                f"dense pool {k} + {label} {w:g}", dataclasses.replace(pool, pool_k=k), True, probe=path, probe_weight=w
            )
        )
    cue = dataclasses.replace(pool, stance_bonus=0.05)
    for w in (0.1, 0.3):
        out.append(Variant(f"dense pool 60, cue .05 + {label} {w:g}", cue, True, probe=path, probe_weight=w))
    for w in (0.1, 0.3):
        out.append(Variant(f"defaults + {label} {w:g}", base, probe=path, probe_weight=w))
        out.append(
            Variant(
                f"defaults, {label} {w:g} instead of cue",
                dataclasses.replace(base, stance_bonus=0.0),
                probe=path,
                probe_weight=w,
            )
        )
    out.append(
        Variant(f"defaults pool 100 + {label} 0.3", dataclasses.replace(base, pool_k=100), probe=path, probe_weight=0.3)
    )
    return out


#: Each technique on its own over the settings as they were before this change, then pairs of them.
TECHNIQUES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("pool 60 (no re-rank)", {"pool_k": 60}),
    ("story (pool 60)", {"pool_k": 60, "story": 5}),
    ("stance cue (pool 60)", {"pool_k": 60, "stance_bonus": 0.1}),
    ("story + cue (pool 60)", {"pool_k": 60, "story": 5, "stance_bonus": 0.1}),
    ("story + cue .05 (pool 60)", {"pool_k": 60, "story": 5, "stance_bonus": 0.05}),
    ("story + cue, no lexical", {"pool_k": 60, "story": 5, "stance_bonus": 0.1, "lexical_k": 0}),
    ("story + cue, floor .2", {"pool_k": 60, "story": 5, "stance_bonus": 0.1, "min_similarity": 0.2}),
)


def variants(base: RetrievalSettings) -> list[Variant]:
    """Plain dense search first (the baseline), then the settings as they were before this change, then
    each technique, then the settings' defaults (what Check and compare now use)."""
    off = {"pool_k": 0, "story": 0, "stance_bonus": 0.0}
    before = dataclasses.replace(RetrievalSettings(), top_k=20, min_similarity=0.35, lexical_k=20, **off)
    plain = dataclasses.replace(before, lexical_k=0, min_similarity=-1.0)
    out = [
        Variant("dense (plain)", plain, dense_only=True, as_before=True),
        Variant("before: dense+lexical", before, as_before=True),
        Variant("copies dropped before the cut", before),
    ]
    for name, change in TECHNIQUES:
        out.append(Variant(name, dataclasses.replace(before, **change)))
    out.append(Variant("defaults (now)", base))
    return out


@dataclass(slots=True)
class Outcome:
    recall: dict[str, dict[int, float]]
    candidates: float
    ms: float


def measure(corpus: Corpus, vectors: np.ndarray, variant: Variant) -> Outcome:
    index = create_index(IndexKind.FLAT, vectors.shape[1], len(corpus.texts))
    index.add(
        VectorBatch(
            ids=np.arange(len(corpus.texts), dtype=np.int64),
            vectors=vectors,
            source_ids=list(corpus.groups),
            published=list(corpus.dates),
        )
    )
    lexical = None if variant.dense_only else LexicalTable(range(len(corpus.texts)), corpus.groups, corpus.texts)
    search = CandidateSearch(
        index,
        lexical,
        lambda ids: vectors[ids],
        variant.settings,
        texts_by_id=None if variant.as_before else (lambda ids: {int(i): corpus.texts[i] for i in ids}),
    )
    if variant.probe is not None:
        search = ProbeSearch(
            index,
            lexical,
            lambda ids: vectors[ids],
            variant.settings,
            texts_by_id=lambda ids: {int(i): corpus.texts[i] for i in ids},
            probe=load_probe(variant.probe),
            probe_weight=variant.probe_weight,
        )
    by_group: dict[str, list[Query]] = collections.defaultdict(list)
    for q in corpus.queries:
        by_group[corpus.groups[q.row]].append(q)
    found: dict[str, dict[int, list[bool]]] = {"conflicting": {k: [] for k in KS}, "agreeing": {k: [] for k in KS}}
    sizes: list[int] = []
    seconds = 0.0
    norm = [_norm(t) for t in corpus.texts]
    for k in KS:
        for group in sorted(by_group):
            queries = by_group[group]
            texts = [corpus.texts[q.row] for q in queries]
            start = time.perf_counter()
            rows = search.search(texts, vectors[[q.row for q in queries]], SearchFilter(exclude_source=group), k)
            seconds += time.perf_counter() - start
            for q, row in zip(queries, rows, strict=True):
                got = {cid for cid, _ in row if norm[cid] != norm[q.row]}
                if k == 20:
                    sizes.append(len(got))
                for kind, partners in (("conflicting", q.conflicting), ("agreeing", q.agreeing)):
                    found[kind][k].extend(bool(p & got) for p in partners)
    if lexical is not None:
        lexical.close()
    n = len(corpus.queries) * len(KS)
    return Outcome(
        recall={
            kind: {k: float(np.mean(v)) if v else float("nan") for k, v in by_k.items()} for kind, by_k in found.items()
        },
        candidates=float(np.mean(sizes)) if sizes else 0.0,
        ms=seconds / n * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default="emergent,claimdiff,fnc1")
    parser.add_argument("--variants", default="", help="semicolon-separated names to run (default: all)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--embedder",
        action="append",
        default=None,
        help="onnx (default: the service's int8 embedder), torch (packaged, fp32) or a sentence-transformers "
        "directory (fp32); repeat to compare embedders in one run (the first one picks FNC-1's key claims)",
    )
    parser.add_argument(
        "--roles",
        default="",
        help="comma-separated newsdata roles: only queries of Emergent claims (and FNC-1 bodies) of these roles "
        "count, e.g. 'judge' for claims no model trained on; the corpus keeps every text (default: all)",
    )
    parser.add_argument(
        "--stance-probe",
        action="append",
        type=Path,
        default=None,
        help="trial: add rows re-ranking the dense pool with this stance probe (models/train_stance_probe.py's "
        "npz); repeat for several probes",
    )
    args = parser.parse_args()
    if not newsdata.available():
        sys.exit(f"eval-retrieval: no news data under {newsdata.news_root()} (set CONTRA_NEWS_DATA)")
    embedders = [CachedEmbedder(spec) for spec in args.embedder or ["onnx"]]
    embed = embedders[0]
    roles = set(filter(None, args.roles.split(",")))
    settings = Settings()
    base = RetrievalSettings.from_settings(settings)
    candidates = variants(base)
    for n, path in enumerate(args.stance_probe or []):
        candidates += probe_variants(base, path, "probe" if n == 0 else f"probe{n + 1}")
    names = set(args.variants.split(";"))
    chosen = [v for v in candidates if not args.variants or v.name in names or ("probe" in names and "probe" in v.name)]
    builders: dict[str, Callable[[], Corpus]] = {
        "emergent": emergent,
        "claimdiff": claimdiff,
        "fnc1": lambda: fnc1(embed),
    }
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or 'cpu'})"
    payload: dict[str, Any] = {"machine": machine, "corpora": {}}
    for name in args.corpora.split(","):
        corpus = builders[name]()
        if roles:
            corpus.queries = [q for q in corpus.queries if q.role is None or q.role in roles]
        n_conf = sum(len(q.conflicting) for q in corpus.queries)
        n_agr = sum(len(q.agreeing) for q in corpus.queries)
        console.print(
            f"\n[bold]{name}[/]: {len(corpus.texts)} claims, {len(set(corpus.groups))} outlets, {len(corpus.queries)} "
            f"queries, {n_conf} conflicting and {n_agr} agreeing (query, partner) pairs"
        )
        table = Table(title=f"{name}: partner recall at k (search through CandidateSearch)", title_justify="left")
        table.add_column("variant")
        for kind in ("conflicting", "agreeing"):
            for k in KS:
                table.add_column(f"{kind[:4]}@{k}", justify="right")
        for col in ("cand/claim @20", "ms/query"):
            table.add_column(col, justify="right")
        payload["corpora"][name] = {}
        for embedder in embedders:
            vectors = embedder(corpus.texts)
            embedder.save()
            for variant in chosen:
                out = measure(corpus, vectors, variant)
                label = variant.name if len(embedders) == 1 else f"{embedder.label}: {variant.name}"
                table.add_row(
                    label,
                    *[f"{out.recall[kind][k]:.3f}" for kind in ("conflicting", "agreeing") for k in KS],
                    f"{out.candidates:.1f}",
                    f"{out.ms:.2f}",
                )
                payload["corpora"][name][label] = dataclasses.asdict(out)
        console.print(table)
    console.print(f"machine: {machine}; embedder {', '.join(e.model.name for e in embedders)}")
    if roles:
        console.print(f"queries of roles {sorted(roles)} only (ClaimDiff: all)")
    for embedder in embedders:
        embedder.save()
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
