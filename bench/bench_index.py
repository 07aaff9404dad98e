"""``make bench-index``: memory, build time, query latency and recall@10 of each vector index backend.

For each corpus size and each backend (flat, hnsw, ivfpq) it builds the index and reports, in one run:
* memory: bytes of the FAISS serialisation plus the backend's own arrays (what a snapshot holds), as a
  share of flat's, and the growth of the process RSS while building;
* build time (IVF-PQ: training included);
* single-query latency p50 / p99 over 1,000 queries, each with the exclude-source selector active (the
  query's own source is filtered inside the search, as in ``Check``);
* recall@10 against flat under the same filter.

Data: 384-dimensional vectors of the packaged all-MiniLM-L6-v2. ``--real`` (20,000) distinct sentences
(premises and hypotheses of data/nli/train.jsonl.gz) are embedded for real; the rest of the corpus is
synthetic, each vector a real one plus Gaussian noise of norm 0.5, renormalised (cosine about 0.89 to its
real sentence), so that the corpus has the cluster structure of real embeddings. By default the noise has
the covariance of the real embeddings (``--noise shaped``: a paraphrase moves along the directions in
which sentences differ); ``--noise isotropic`` spreads it evenly over all 384 dimensions, which no
embedding does and which is the worst case for graph and list indexes. With 2,000 real sentences a
1M corpus is 500 near-copies of each, which disconnects the HNSW graph (recall@10 0.27 in our run): real
corpora are not like that, so the default keeps it to 50 copies. Queries are 1,000 other real sentences,
not in the corpus. Claims are spread over 50 sources.

    python bench/bench_index.py [--sizes 100000,1000000] [--quick] [--kinds flat,hnsw,ivfpq]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss
import numpy as np

from contra.domain import ClaimText, DocumentIn, Source
from contra.index import ClaimIndex, ClaimStore, FlatIndex, SearchFilter, VectorBatch, build_from_store, create_index

REPO = Path(__file__).resolve().parent.parent
NLI_TRAIN = REPO / "data" / "nli" / "train.jsonl.gz"
CACHE = REPO / "var" / "bench-index"
SOURCES = 50
NOISE = 0.5  # norm of the noise added to a unit vector: cosine 1 / sqrt(1 + 0.25) = 0.894
K = 10
#: Search-effort settings tried on each built index, to show the recall/latency trade-off behind the defaults.
SWEEPS = {
    "hnsw": ("ef_search", [48, 64, 96, 128, 192, 256]),
    "ivfpq": ("nprobe", [16, 32, 64, 96, 128, 192, 256]),
    "ivfpq+store": ("nprobe", [16, 32, 64, 96, 128, 192, 256]),
}


@dataclass(frozen=True, slots=True)
class Row:
    size: int
    kind: str
    build_s: float
    index_bytes: int
    rss_delta: int
    p50_ms: float
    p99_ms: float
    recall: float
    extra: str = ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated corpus sizes")
    parser.add_argument("--quick", action="store_true", help="one 10,000-claim corpus (a smoke run)")
    parser.add_argument(
        "--kinds",
        default="flat,hnsw,ivfpq,ivfpq+store",
        help="ivfpq re-ranks with its 6-bit codes; ivfpq+store is built from a ClaimStore holding the corpus "
        "and re-ranks with the store's exact vectors, as open_index sets it up",
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--real", type=int, default=20_000, help="real sentence embeddings in the corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", choices=["shaped", "isotropic"], default="shaped")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    kinds = [k for k in args.kinds.split(",") if k != "flat"]

    print(machine())
    real, queries = real_embeddings(args.real, args.queries, args.seed)
    print(
        f"data: {real.shape[1]}-dim all-MiniLM-L6-v2 embeddings; {len(real):,} real sentences from "
        f"{NLI_TRAIN.relative_to(REPO)}, the rest synthetic (a real vector + {args.noise} Gaussian noise of norm "
        f"{NOISE}, renormalised); {len(queries):,} queries = other real sentences; {SOURCES} sources, each query "
        f"excludes its own source inside the search; k={K}"
    )
    data = Data(real, queries, args.noise == "shaped", args.seed)
    rows: list[Row] = []
    for size in sizes:
        rows.extend(bench_size(size, kinds, data))
        print_table(rows)


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"machine: {model}, {os.cpu_count()} cores, load average {load}; Python {platform.python_version()}, "
        f"faiss {faiss.__version__} ({faiss.get_compile_options().strip()}), {faiss.omp_get_max_threads()} "
        "OpenMP threads for building, one for the single-query latencies"
    )


def real_embeddings(n_corpus: int, n_queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(corpus, queries) embeddings of distinct hypothesis sentences, cached under var/bench-index/."""
    cache = CACHE / f"real-{n_corpus}-{n_queries}-{seed}.npy"
    if cache.is_file():
        vectors = np.load(cache)
    else:
        sentences = nli_sentences(n_corpus + n_queries, seed)
        from sentence_transformers import SentenceTransformer

        from contra.service.models.embedder import packaged_model_path

        started = time.perf_counter()
        model = SentenceTransformer(str(packaged_model_path()), device="cpu")
        vectors = model.encode(sentences, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        print(f"embedded {len(sentences):,} sentences in {time.perf_counter() - started:.0f} s (cached in {cache})")
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    return vectors[:n_corpus], vectors[n_corpus:]


def nli_sentences(n: int, seed: int) -> list[str]:
    """``n`` distinct premises and hypotheses of four words or more, in a seeded random order."""
    seen: dict[str, None] = {}
    with gzip.open(NLI_TRAIN, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for text in (row["premise"].strip(), row["hypothesis"].strip()):
                if len(text.split()) >= 4:
                    seen.setdefault(text, None)
    unique = list(seen)
    order = np.random.default_rng(seed).permutation(len(unique))[:n]
    return [unique[i] for i in order]


@dataclass(frozen=True, slots=True)
class Data:
    real: np.ndarray  # (n_real, d) unit vectors, the first claims of every corpus
    queries: np.ndarray  # (n_queries, d) unit vectors of other sentences
    shaped: bool  # noise with the real embeddings' covariance, else isotropic
    seed: int

    @property
    def dimension(self) -> int:
        return int(self.real.shape[1])

    def noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, d) Gaussian noise of expected norm NOISE."""
        if not self.shaped:
            scale = NOISE / np.sqrt(self.dimension)
            return np.asarray(scale * rng.standard_normal((n, self.dimension)), dtype=np.float32)
        # Gaussian with the real vectors' covariance C = V diag(w) V^T: g @ (V sqrt(w))^T.
        values, basis = np.linalg.eigh(np.cov(self.real, rowvar=False))
        shape = basis * np.sqrt(np.clip(values, 0, None)) * (NOISE / np.sqrt(values.clip(0, None).sum()))
        return np.asarray(rng.standard_normal((n, self.dimension)) @ shape.T, dtype=np.float32)

    def corpus(self, size: int, batch: int = 50_000) -> Iterator[VectorBatch]:
        """The first claims are the real vectors; the others are noisy copies of random real vectors."""
        rng = np.random.default_rng(self.seed)
        real = self.real
        for start in range(0, size, batch):
            n = min(batch, size - start)
            ids = np.arange(start + 1, start + n + 1, dtype=np.int64)
            vectors = real[rng.integers(0, len(real), n)] + self.noise(rng, n)
            first_real = max(0, min(len(real), size) - start)
            if first_real:
                vectors[: min(first_real, n)] = real[start : start + min(first_real, n)]
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            sources = rng.integers(0, SOURCES, n)
            yield VectorBatch(ids, vectors.astype(np.float32), [f"s{s}" for s in sources], [None] * n)


def bench_size(size: int, kinds: list[str], data: Data) -> list[Row]:
    own = [f"s{s}" for s in np.random.default_rng(data.seed + 1).integers(0, SOURCES, len(data.queries))]
    flat_row, exact, flat_bytes = bench_kind(size, "flat", data, own, None, 0)
    rows = [flat_row]
    for kind in kinds:
        row, _, _ = bench_kind(size, kind, data, own, exact, flat_bytes)
        rows.append(row)
    return rows


def bench_kind(
    size: int,
    kind: str,
    data: Data,
    own: list[str],
    exact: list[list[int]] | None,
    flat_bytes: int,
) -> tuple[Row, list[list[int]], int]:
    gc.collect()
    with contextlib.ExitStack() as cleanup:
        store, store_note = None, ""
        if kind == "ivfpq+store":
            store, store_note = fill_store(size, data, cleanup)
        rss_before = rss()
        started = time.perf_counter()
        if store is not None:
            index = build_from_store(store, "ivfpq", data.dimension)
        else:
            index = create_index(kind, data.dimension, expected_size=size)
            if index.needs_training and index.train_size(size):
                index.train(training_sample(size, index.train_size(size), data))
            for batch in data.corpus(size):
                index.add(batch)
        build_s = time.perf_counter() - started
        rss_delta = rss() - rss_before
        return measure_kind(size, kind, index, data, own, exact, flat_bytes, build_s, rss_delta, store_note)


def fill_store(size: int, data: Data, cleanup: contextlib.ExitStack) -> tuple[ClaimStore, str]:
    """A ClaimStore holding the corpus (one document per claim), removed when ``cleanup`` closes."""
    folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(dir=CACHE.parent, prefix="bench-store-")))
    store = ClaimStore(folder / "claims.sqlite3", data.dimension)
    cleanup.callback(store.close)
    started = time.perf_counter()
    for batch in data.corpus(size):
        texts = [f"Synthetic claim number {i}." for i in batch.ids.tolist()]
        documents = [DocumentIn(Source(s), t) for s, t in zip(batch.source_ids, texts, strict=True)]
        claims = [[ClaimText(t, 0, len(t))] for t in texts]
        results = store.add_documents(documents, claims, [batch.vectors[i : i + 1] for i in range(len(texts))])
        assert [r.claim_ids[0] for r in results] == batch.ids.tolist(), "store ids must follow the corpus ids"
    megabytes = (folder / "claims.sqlite3").stat().st_size / 2**20
    return store, f"store: ingest {time.perf_counter() - started:.0f} s, SQLite file {megabytes:,.0f} MB; "


def measure_kind(
    size: int,
    kind: str,
    index: ClaimIndex,
    data: Data,
    own: list[str],
    exact: list[list[int]] | None,
    flat_bytes: int,
    build_s: float,
    rss_delta: int,
    note: str,
) -> tuple[Row, list[list[int]], int]:
    queries = data.queries
    # One untimed query per source first: the per-source selector bitmaps are cached, as in a running server.
    for source in sorted(set(own)):
        index.search(queries[:1], K, SearchFilter(exclude_source=source))
    latencies, results = measure(index, queries, own)
    sweep = ""
    if exact is not None and kind in SWEEPS:
        name, values = SWEEPS[kind]
        default = getattr(index, name)
        points = []
        for value in values:
            setattr(index, name, value)
            lat, res = measure(index, queries, own)
            points.append(
                f"{name}={value}: recall {recall_at_k(res, exact):.3f} p50 {1000 * np.percentile(lat, 50):.2f} "
                f"p99 {1000 * np.percentile(lat, 99):.2f}"
            )
        setattr(index, name, default)
        sweep = "\n" + "\n".join(f"{'':>19}{point}" for point in points)
    index_bytes = index.nbytes()
    extra = bitmap_cost(index)
    recall = 1.0 if exact is None else recall_at_k(results, exact)
    row = Row(
        size=size,
        kind=kind,
        build_s=build_s,
        index_bytes=index_bytes,
        rss_delta=rss_delta,
        p50_ms=1000 * float(np.percentile(latencies, 50)),
        p99_ms=1000 * float(np.percentile(latencies, 99)),
        recall=recall,
        extra=f"{note}{extra}; {params(index)}",
    )
    print(format_row(row, flat_bytes or index_bytes) + sweep, flush=True)
    del index
    gc.collect()
    return row, results, flat_bytes or index_bytes


def measure(index: ClaimIndex, queries: np.ndarray, own: list[str]) -> tuple[list[float], list[list[int]]]:
    """Latency of each single query (own source excluded) and its hits, on one OpenMP thread."""
    latencies, results = [], []
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # a server runs one query per request thread
    try:
        for query, source in zip(queries, own, strict=True):
            t = time.perf_counter()
            hits = index.search(query[None, :], K, SearchFilter(exclude_source=source))[0]
            latencies.append(time.perf_counter() - t)
            results.append([h.claim_id for h in hits])
    finally:
        faiss.omp_set_num_threads(threads)
    return latencies, results


def training_sample(size: int, n: int, data: Data) -> np.ndarray:
    """A uniform sample of the corpus, as ``ClaimStore.sample_vectors`` would give."""
    wanted = np.sort(np.random.default_rng(data.seed + 2).choice(size, min(n, size), replace=False))
    parts, offset = [], 0
    for batch in data.corpus(size):
        rows = wanted[(wanted >= offset) & (wanted < offset + len(batch.ids))] - offset
        parts.append(batch.vectors[rows])
        offset += len(batch.ids)
    return np.concatenate(parts)


def bitmap_cost(index: ClaimIndex) -> str:
    """Time to build one exclude-source selector bitmap (a cache miss)."""
    t = time.perf_counter()
    index._meta.selection(SearchFilter(exclude_source="s-uncached"), has_dead=False)
    return f"uncached selector {1000 * (time.perf_counter() - t):.1f} ms"


def params(index: ClaimIndex) -> str:
    shown = {k: v for k, v in index.params().items() if k in {"m", "ef_search", "ef_construction", "nlist", "nprobe"}}
    if isinstance(index, FlatIndex):
        return "exact"
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def recall_at_k(got: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(g) & set(e)) / max(1, len(e)) for g, e in zip(got, exact, strict=True)]))


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


HEADER = (
    f"{'claims':>9} {'kind':<6} {'build s':>8} {'index MB':>9} {'% flat':>7} {'RSS +MB':>8} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'recall@10':>9}  notes"
)


def format_row(row: Row, flat_bytes: int) -> str:
    return (
        f"{row.size:>9,} {row.kind:<6} {row.build_s:>8.1f} {row.index_bytes / 2**20:>9.1f} "
        f"{100 * row.index_bytes / flat_bytes:>6.1f}% {row.rss_delta / 2**20:>8.0f} {row.p50_ms:>7.2f} "
        f"{row.p99_ms:>7.2f} {row.recall:>9.3f}  {row.extra}"
    )


def print_table(rows: list[Row]) -> None:
    print()
    print(HEADER)
    flat = {r.size: r.index_bytes for r in rows if r.kind == "flat"}
    for row in rows:
        print(format_row(row, flat.get(row.size, row.index_bytes)))
    print("load average now: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)


if __name__ == "__main__":
    main()
