"""Service benchmark (``make bench``): contra as configured against a naive baseline of the same parts.

Both arms are the real gRPC server (``server.create_server`` + ``wiring.build_detector``, as in
``contra serve``) in a child process on a loopback port, driven by grpc.aio clients in this process,
on the same data:

    baseline   fp32 torch embedder, one request at a time (1 worker, no micro-batching), flat index,
               dense search only, NLI on every top-k candidate (min similarity off, no rule skips it),
               no NLI cache
    contra     the settings' defaults, except the int8 ONNX embedder and the index kind (auto)

Measured per arm: Ingest claims/s (8 clients, one document per call, into a copy of the store),
Check latency p50/p99 at 1, 8 and 32 concurrent clients (every Check a different claim), NLI pairs/s
inside the model, and the share of wall time in which neither model was running while the clients
kept the server busy ("outside the models": gRPC, validation, claim splitting, search, storage, glue,
batch waits). Model time is clocked by ``modeltime`` wrappers placed directly on the models.

Data: the project's own text (tests/data/*.jsonl, ../shared/examples/seed.txt when present) plus
generated news documents, to at least ``--claims`` stored claims. That store is built once by a fast
path (in-process ``Detector.ingest`` in batches of 100 documents with the int8 embedder), cached under
var/bench/, and copied for each arm, so both arms search the same vectors.

    .venv/bin/python bench/bench_service.py            # the full run (10,000 claims), a few minutes
    .venv/bin/python bench/bench_service.py --quick    # 2,000 claims, few requests: for development
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import grpc
import numpy as np

from contra.domain import DocumentIn, IndexKind, Source
from contra.service.config import EmbedderBackend, Settings
from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
SEED = REPO.parent / "shared" / "examples" / "seed.txt"
STORE_CACHE = REPO / "var" / "bench"
GENERATOR_VERSION = 1

ARMS: dict[str, dict[str, Any]] = {
    "baseline": {
        "embedder_backend": EmbedderBackend.TORCH,
        "workers": 1,
        "micro_batching": False,
        "index_kind": IndexKind.FLAT,
        "min_similarity": -1.0,
        "nli_cache_entries": 0,
        "judge_all_candidates": True,
        "lexical_k": 0,
    },
    "contra": {"embedder_backend": EmbedderBackend.ONNX},
}


# Data ------------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def project_documents() -> list[DocumentIn]:
    """The corpus documents, the distractors and the seed article, as their sources published them."""
    docs = [
        DocumentIn(
            Source(d["source"], d.get("outlet", "")), d["text"], d.get("url", ""), _date(d.get("date")), d["doc_id"]
        )
        for d in _jsonl(DATA / "corpus" / "documents.jsonl")
    ]
    for d in _jsonl(DATA / "distractors.jsonl"):
        docs.append(DocumentIn(Source(d["source"]), " ".join(d["sentences"]), "", _date(d.get("date")), d["doc_key"]))
    if SEED.is_file():
        docs.append(DocumentIn(Source("seed-news"), SEED.read_text(encoding="utf-8"), "", dt.date(2025, 5, 1), "seed"))
    return docs


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


_OUTLETS = [f"wire-{i:02d}" for i in range(16)]
_PLACES = [
    "Brask",
    "Selka",
    "Norvale",
    "Tiberon",
    "Kestrel",
    "Ardmore",
    "Valmont",
    "Oskar",
    "Pellham",
    "Durnholm",
    "Rivette",
    "Castellan",
]
_ORGS = [
    "Skyrail",
    "Northwind",
    "Helix",
    "Granmar",
    "Orbis",
    "Castlewood",
    "Tessera",
    "Lumen",
    "Redfield",
    "Avalon",
    "Quartzline",
    "Meridian",
]
_PEOPLE = [
    "Anna Reinholt",
    "Tomas Vell",
    "Mira Castell",
    "Jonas Brekke",
    "Lea Marchetti",
    "Omar Haddad",
    "Ines Sato",
    "Piet Dahl",
]
_TEAMS = ["Rovers", "United", "Athletic", "City", "Wanderers", "Albion", "Harriers", "Rangers"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_TEMPLATES = (
    "{org} said its quarterly revenue rose {n}% to {m} million euros, the strongest quarter since {year}.",
    "The council in {place} approved a budget of {m} million for {year}, including {n} new schools.",
    "{place} {team} beat {place2} {team2} {a}-{b} on {day}, with two goals in the last ten minutes.",
    "{person} resigned as head of the {place} port authority on {month} {d} after {n} years in the post.",
    "At least {n} people were hurt when a storm hit {place} on {day}, the regional fire service said.",
    "{org} will cut {n} jobs by {year} and close its plant in {place}, its chief executive told reporters.",
    "Turnout in the {place} regional election reached {n} percent, the electoral commission said on {day}.",
    "Health officials in {place} reported {n} new cases of measles last week, up from {m} a week earlier.",
    "The {place} metro line will open in {month} {year}, {n} months later than first planned.",
    "Police in {place} arrested {n} people after protests against the new fuel tax on {day}.",
    "Researchers at the University of {place} said the new battery kept {n}% of its capacity after {m} cycles.",
    "{org} shares fell {n}% on {day} after the company cut its profit forecast for {year}.",
    "The ceasefire around {place} agreed on {month} {d} has held, officials in {place2} said.",
    "{person} denied that the talks with {org} over the {place} contract had collapsed.",
    "Unemployment in {place} fell to {n}.{d}% in {month}, the lowest level since {year}.",
    "A fire at the {org} warehouse near {place} destroyed {m} tonnes of grain on {day} night.",
)
_FILLER = (
    "Analysts said the figures were broadly in line with expectations.",
    "The company did not respond to a request for comment on the report.",
    "Officials said more details would be released in the coming days.",
    "The decision is expected to face legal challenges from opposition groups.",
    "Independent verification of the account was not immediately possible.",
    "Local residents told reporters they had been expecting the announcement for weeks.",
)


def _fill(rng: random.Random, template: str, event: dict[str, Any]) -> str:
    values = dict(event)
    # Each report of an event may get a figure wrong: that is what contra looks for.
    if rng.random() < 0.3:
        values["n"] = event["n"] + rng.choice((-3, -2, 2, 5, 10))
    if rng.random() < 0.15:
        values["day"] = rng.choice(_DAYS)
    return template.format(**values)


def generated_documents(count: int, seed: int, prefix: str) -> list[DocumentIn]:
    """News documents about shared events: each event is told by several outlets, figures sometimes differ."""
    rng = random.Random(seed)
    docs: list[DocumentIn] = []
    while len(docs) < count:
        event = {
            "org": rng.choice(_ORGS),
            "place": rng.choice(_PLACES),
            "place2": rng.choice(_PLACES),
            "person": rng.choice(_PEOPLE),
            "team": rng.choice(_TEAMS),
            "team2": rng.choice(_TEAMS),
            "month": rng.choice(_MONTHS),
            "day": rng.choice(_DAYS),
            "d": rng.randint(1, 28),
            "n": rng.randint(3, 95),
            "m": rng.randint(100, 990),
            "a": rng.randint(0, 5),
            "b": rng.randint(0, 5),
            "year": rng.randint(2015, 2027),
        }
        templates = rng.sample(_TEMPLATES, 3)
        published = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300))
        for outlet in rng.sample(_OUTLETS, rng.randint(2, 4)):
            sentences = [_fill(rng, t, event) for t in templates] + rng.sample(_FILLER, 2)
            rng.shuffle(sentences)
            doc_id = f"{prefix}-{len(docs):06d}"
            docs.append(DocumentIn(Source(outlet), " ".join(sentences), "", published, doc_id))
    return docs[:count]


def check_queries(count: int, seed: int) -> list[str]:
    """Distinct claims to check: the labelled pairs' sides, then generated claims about stored events."""
    texts = [row[side] for row in _jsonl(DATA / "pairs.jsonl") for side in ("a", "b")]
    rng = random.Random(seed)
    rng.shuffle(texts)
    generated = generated_documents(count, seed + 1, "query")
    for doc in generated:
        texts.append(doc.text.split(". ")[0].rstrip(".") + ".")
    unique = list(dict.fromkeys(texts))
    rng.shuffle(unique)
    if len(unique) < count:
        raise ValueError(f"only {len(unique)} distinct queries for {count} requests")
    return unique[:count]


# The store, built once -------------------------------------------------------------------------


def build_store(claims: int, quick: bool) -> tuple[Path, int, int]:
    """A data directory with at least ``claims`` stored claims (cached); returns (dir, documents, claims)."""
    key = hashlib.sha256(f"{GENERATOR_VERSION}:{claims}".encode()).hexdigest()[:10]
    base = STORE_CACHE / f"store-{claims}-{key}"
    info_path = base / "bench-store.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        return base / "data", int(info["documents"]), int(info["claims"])
    from contra.service.wiring import build_detector

    shutil.rmtree(base, ignore_errors=True)
    settings = Settings(
        data_dir=base / "data", embedder_backend=EmbedderBackend.ONNX, micro_batching=False, index_kind=IndexKind.FLAT
    )
    detector = build_detector(settings)
    started = time.perf_counter()
    docs = project_documents()
    stored = 0
    batch = 100
    for start in range(0, len(docs), batch):
        detector.ingest(docs[start : start + batch])
    stored = detector.stats().claims
    generated = 0
    while stored < claims:
        more = generated_documents(batch, seed=1000 + generated, prefix=f"gen{generated}")
        detector.ingest(more)
        generated += 1
        stored = detector.stats().claims
    documents = detector.stats().documents
    detector.close()
    seconds = time.perf_counter() - started
    info_path.write_text(json.dumps({"documents": documents, "claims": stored, "build_seconds": seconds}))
    print(f"built the store: {documents} documents, {stored} claims in {seconds:.0f} s (fast path, cached in {base})")
    return base / "data", documents, stored


# The server child ------------------------------------------------------------------------------


async def serve_child(arm: str, data_dir: Path) -> None:
    """The child process: the real server with the arm's settings; answers clock readings on stdin."""
    from contra.service.api import server
    from contra.service.models.modeltime import ModelClock
    from contra.service.wiring import build_detector

    settings = Settings(data_dir=data_dir, addr="127.0.0.1:0", **ARMS[arm])
    clock = ModelClock()
    running = await server.create_server(settings, "127.0.0.1:0")
    loop = asyncio.get_running_loop()
    detector = await loop.run_in_executor(running.queue.executor, build_detector, settings, clock)
    await server.mark_ready(running, detector)
    print(
        json.dumps({"port": running.port, "index": detector.index.kind, "embedder": detector.embedder.name}), flush=True
    )
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "clock":
            print(json.dumps({**vars_of(clock.reading()), **wrapper_stats(detector)}), flush=True)
        elif line in ("quit", ""):
            break
    await server.shutdown(running, detector, 5.0)


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def wrapper_stats(detector: Any) -> dict[str, Any]:
    """Cache hits and batch counts from whichever wrappers this arm has."""
    out: dict[str, Any] = {}
    nli = detector.judge.nli
    if hasattr(nli, "stats") and hasattr(nli.stats, "hits"):
        out |= {"cache_hits": nli.stats.hits, "cache_misses": nli.stats.misses, "cache_joined": nli.stats.joined}
        nli = nli.inner
    if hasattr(nli, "batcher"):
        out |= {"nli_batches": nli.batcher.stats.batches, "nli_jobs": nli.batcher.stats.jobs}
    if hasattr(detector.embedder, "batcher"):
        stats = detector.embedder.batcher.stats
        out |= {"embed_batches": stats.batches, "embed_jobs": stats.jobs}
    return out


class Child:
    """The parent's handle on a server child."""

    def __init__(self, arm: str, data_dir: Path) -> None:
        self.log = data_dir.parent / "server.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--serve", arm, "--data", str(data_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        ready = self._read()
        self.port = int(ready["port"])
        self.index = str(ready["index"])
        self.embedder = str(ready["embedder"])

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the server child exited with {self.proc.wait()}; its log ends:\n{tail}")
        data: dict[str, Any] = json.loads(line)
        return data

    def clock(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("clock\n")
        self.proc.stdin.flush()
        return self._read()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Load ------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    clients: int
    requests: int
    seconds: float
    latencies: list[float]
    model: dict[str, Any]
    extra: dict[str, float] = field(default_factory=dict)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")

    @property
    def outside(self) -> float:
        """Share of the phase's wall time in which no model was running."""
        return 1.0 - float(self.model["busy"]) / self.seconds

    @property
    def nli_pairs_per_s(self) -> float:
        return float(self.model["nli_items"]) / max(float(self.model["nli_seconds"]), 1e-9)


async def _drive(stub: Any, calls: Sequence[Any], clients: int, method: str) -> tuple[float, list[float]]:
    """Send ``calls`` from ``clients`` concurrent clients (each one call at a time); wall and latencies."""
    queue = list(calls)
    latencies: list[float] = []

    async def client() -> None:
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            await getattr(stub, method)(request, timeout=600)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies


def _reading_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - before.get(k, 0) for k in after}


async def run_arms(
    arms: Sequence[str], store: Path, ingest_docs: list[DocumentIn], queries: dict[int, list[str]]
) -> dict[str, list[Phase]]:
    """Every phase on every arm, the arms taking turns phase by phase, so that a change in the
    machine's load during the run falls on both arms alike."""
    work = Path(tempfile.mkdtemp(prefix="contra-bench-"))
    children: dict[str, Child] = {}
    results: dict[str, list[Phase]] = {arm: [] for arm in arms}
    try:
        for arm in arms:
            shutil.copytree(store, work / arm / "data")
            children[arm] = child = Child(arm, work / arm / "data")
            print(f"  {arm}: server up on port {child.port} (index {child.index}, embedder {child.embedder})")
        channels = {arm: grpc.aio.insecure_channel(f"127.0.0.1:{c.port}") for arm, c in children.items()}
        stubs = {arm: contra_pb2_grpc.ContraServiceStub(channel) for arm, channel in channels.items()}
        for arm in arms:
            await _drive(stubs[arm], [_check_request(q) for q in queries[0]], 2, "Check")
        phases: list[tuple[str, int, str, list[Any]]] = [
            ("ingest", 8, "Ingest", [pb.IngestRequest(documents=[_doc_to_pb(d)]) for d in ingest_docs])
        ]
        phases += [(f"check@{n}", n, "Check", [_check_request(q) for q in queries[n]]) for n in (1, 8, 32)]
        for name, clients, method, calls in phases:
            for arm in arms:
                child = children[arm]
                before, cpu_before = child.clock(), child.cpu_seconds()
                seconds, latencies = await _drive(stubs[arm], calls, clients, method)
                model = _reading_delta(child.clock(), before)
                cpu = child.cpu_seconds() - cpu_before
                results[arm].append(Phase(name, clients, len(calls), seconds, latencies, model, {"cpu": cpu}))
                print(f"  {arm}: {name} done in {seconds:.1f} s", flush=True)
        for channel in channels.values():
            await channel.close()
    finally:
        for child in children.values():
            child.stop()
        shutil.rmtree(work, ignore_errors=True)
    return results


def _check_request(text: str) -> pb.CheckRequest:
    return pb.CheckRequest(text=text, source=pb.Source(source_id="bench-query"))


def _doc_to_pb(doc: DocumentIn) -> pb.Document:
    published = doc.published or dt.date(2026, 1, 1)
    return pb.Document(
        source=pb.Source(source_id=doc.source.source_id),
        text=doc.text,
        published=pb.Date(year=published.year, month=published.month, day=published.day),
        document_id=doc.external_id,
    )


# Report ----------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores usable, {platform.python_implementation()} {platform.python_version()}"


def report(results: dict[str, list[Phase]], ingest_claims: int, stored: int, load: tuple[float, ...]) -> None:
    base = {p.name: p for p in results["baseline"]}
    ours = {p.name: p for p in results["contra"]}
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, b: float, o: float, unit: str, higher_is_better: bool, fmt: str = "{:.1f}") -> None:
        ratio = (o / b) if higher_is_better else (b / o)
        rows.append((label, f"{fmt.format(b)} {unit}", f"{fmt.format(o)} {unit}", f"{ratio:.2f}x"))

    bi, oi = base["ingest"], ours["ingest"]
    row("Ingest claims/s (8 clients)", ingest_claims / bi.seconds, ingest_claims / oi.seconds, "", True)
    for clients in (1, 8, 32):
        b, o = base[f"check@{clients}"], ours[f"check@{clients}"]
        row(f"Check p50, {clients} clients", b.pct(50), o.pct(50), "ms", False, "{:.0f}")
        row(f"Check p99, {clients} clients (n={b.requests})", b.pct(99), o.pct(99), "ms", False, "{:.0f}")
    b8, o8 = base["check@8"], ours["check@8"]
    row("NLI pairs/s in the model (8 clients)", b8.nli_pairs_per_s, o8.nli_pairs_per_s, "", True)
    row(
        "NLI pairs run per Check (8 clients)",
        b8.model["nli_items"] / b8.requests,
        o8.model["nli_items"] / o8.requests,
        "",
        False,
    )
    widths = [max(len(r[i]) for r in [("", "baseline", "contra", "gain"), *rows]) for i in range(4)]
    print()
    print(
        f"machine: {machine()}; load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after "
        f"{os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
    )
    print(
        f"store: {stored} claims (built once by the fast path, copied for each arm); "
        f"ingest: {ingest_claims} claims in {bi.requests} documents"
    )
    header = ("", "baseline", "contra", "gain")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))))
    print()
    print("time outside the models (share of wall time with no model running while clients wait):")
    for arm, phases in results.items():
        parts = ", ".join(f"{p.name} {100 * p.outside:.0f}%" for p in phases)
        print(f"  {arm}: {parts}")
    print("model time per phase (embed s / NLI s / wall s / server CPU s):")
    for arm, phases in results.items():
        parts = ", ".join(
            f"{p.name} {p.model['embed_seconds']:.1f}/{p.model['nli_seconds']:.1f}/{p.seconds:.1f}/{p.extra['cpu']:.1f}"
            for p in phases
        )
        print(f"  {arm}: {parts}")
    extra = {k: v for k, v in o8.model.items() if k.startswith(("cache", "nli_b", "nli_j", "embed_b", "embed_j"))}
    if extra:
        print(f"contra wrappers during check@8: {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 stored claims and few requests")
    parser.add_argument("--claims", type=int, default=0, help="stored claims (default 10,000; 2,000 with --quick)")
    parser.add_argument("--arms", default="baseline,contra")
    parser.add_argument("--serve", default="", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_child(args.serve, args.data))
        return
    load = os.getloadavg()
    claims = args.claims or (2_000 if args.quick else 10_000)
    # Sized for a small shared machine: the baseline takes about 2 s per Check on 2 loaded cores.
    sizes = {0: 4, 1: 8, 8: 24, 32: 64} if args.quick else {0: 8, 1: 24, 8: 64, 32: 96}
    # About 1,000 claims, a few seconds per arm: 64 documents made a 1.6 s phase whose ratio moved by 0.2 between runs.
    ingest_docs = generated_documents(24 if args.quick else 192, seed=99, prefix="ingest")
    from contra.service.claims import split_claims

    ingest_claims = sum(len(split_claims(d.text)) for d in ingest_docs)
    store, _, stored = build_store(claims, args.quick)
    pool = check_queries(sum(sizes.values()), seed=7)
    queries: dict[int, list[str]] = {}
    offset = 0
    for level, n in sizes.items():
        queries[level] = pool[offset : offset + n]
        offset += n
    results = asyncio.run(run_arms(args.arms.split(","), store, ingest_docs, queries))
    if set(results) == {"baseline", "contra"}:
        report(results, ingest_claims, stored, load)


if __name__ == "__main__":
    main()
