"""Batch comparison: every claim of a corpus against the claims of other sources, as one resumable job.

The job runs the service's own parts in stages (read -> claims -> embed -> search -> judge -> write):
``split_claims`` cuts documents into claims, the configured embedder embeds each distinct claim text
once, a ``contra.index`` index with a source filter finds each claim's nearest claims of the other
sources, and the ``Judge`` decides every candidate pair. Nothing is stored in a claim store: a batch
job is a pure function of its inputs and settings, so the same input gives the same output file.

What runs where is an ``Engine``'s business: ``LocalEngine`` runs the models in this process (they use
all cores through their intra-op threads), ``contra.service.batch_ray.RayEngine`` runs them in Ray Data
actor pools. Both receive the same chunks and run the same chunk functions, so they give the same
results; the candidate search always runs here, on the driver, over the collected vectors.

Every chunk's result is written to the work directory as soon as it arrives (atomically: a temporary
file renamed into place), so an interrupted job resumes from the last finished chunk. A manifest
holds a fingerprint of the inputs and settings; resuming a different job is refused.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import numpy as np

from contra.domain import ClaimText, ConflictKind, DatePrecision, DocumentIn, Label, Source, Span, Verdict
from contra.errors import InvalidInput
from contra.index import SearchFilter, VectorBatch, create_index, resolve_kind
from contra.index.lexical import LexicalTable
from contra.index.store import normalise_text
from contra.service import inputs, validate
from contra.service.claims import split_claims
from contra.service.config import Settings
from contra.service.judge.judge import Judge, PairInput
from contra.service.models.embedder import Embedder
from contra.service.retrieval import CandidateSearch, RetrievalSettings

LOG = logging.getLogger(__name__)

#: Bumped whenever the checkpoint layout or the meaning of a chunk changes; old work dirs are then refused.
FORMAT_VERSION = 1

T = TypeVar("T")
R = TypeVar("R")


class Stage(StrEnum):
    """The job's stages, in order; each reports progress in its own unit."""

    READ = "read"
    CLAIMS = "claims"
    EMBED = "embed"
    SEARCH = "search"
    JUDGE = "judge"
    WRITE = "write"


#: What each stage counts, for progress bars and rates.
STAGE_UNITS: dict[Stage, str] = {
    Stage.READ: "documents",
    Stage.CLAIMS: "documents",
    Stage.EMBED: "texts",
    Stage.SEARCH: "claims",
    Stage.JUDGE: "pairs",
    Stage.WRITE: "conflicts",
}


@dataclass(frozen=True, slots=True)
class ChunkSizes:
    """How work is cut into checkpointed chunks. Part of the job's fingerprint: chunks must line up on resume."""

    documents: int = 64
    texts: int = 256
    pairs: int = 64


# -- inputs -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corpus:
    """The documents of a job; ``sides[i]`` is 0 or 1, the input that ``documents[i]`` came from."""

    documents: list[DocumentIn]
    sides: list[int]
    #: True when two inputs were given: only pairs across the two sides are compared.
    two_sided: bool
    #: Bad lines left out with ``skip_invalid``, each naming FILE:LINE and why.
    skipped: list[InvalidInput] = field(default_factory=list)
    #: Documents given again later in the input with the same source and id: the later version replaced them.
    updated: int = 0

    @property
    def sources(self) -> int:
        return len({d.source.source_id for d in self.documents})


def read_corpus(paths: Sequence[Path], max_text_chars: int, *, skip_invalid: bool = False) -> Corpus:
    """One input (all against all, never a source with itself) or two (only pairs across the inputs).

    The first bad line stops the job before any work, unless ``skip_invalid``: then bad lines are left out
    and listed in ``Corpus.skipped``.
    """
    if not 1 <= len(paths) <= 2:
        raise InvalidInput("inputs", f"give one or two inputs, got {len(paths)}")
    documents: list[DocumentIn] = []
    sides: list[int] = []
    skipped: list[InvalidInput] | None = [] if skip_invalid else None
    for side, path in enumerate(paths):
        docs = read_documents(path, max_text_chars, skipped)
        documents.extend(docs)
        sides.extend([side] * len(docs))
    if not documents:
        raise InvalidInput("inputs", "no documents found in " + " and ".join(str(p) for p in paths))
    documents, sides, updated = _latest_versions(documents, sides)
    return Corpus(documents=documents, sides=sides, two_sided=len(paths) == 2, skipped=skipped or [], updated=updated)


def _latest_versions(documents: list[DocumentIn], sides: list[int]) -> tuple[list[DocumentIn], list[int], int]:
    """A document is identified by (source, id), as in the store: when the input holds it more than once,
    the last version is compared, in the place of the first (an update of a story never conflicts with
    the story it corrects)."""
    where: dict[tuple[str, str], int] = {}
    kept: list[DocumentIn] = []
    kept_sides: list[int] = []
    for doc, side in zip(documents, sides, strict=True):
        key = (doc.source.source_id, doc.external_id)
        if key in where:
            kept[where[key]] = doc
            continue
        where[key] = len(kept)
        kept.append(doc)
        kept_sides.append(side)
    return kept, kept_sides, len(documents) - len(kept)


def read_documents(path: Path, max_text_chars: int, skipped: list[InvalidInput] | None = None) -> list[DocumentIn]:
    """Documents from a JSONL or CSV file with ``source``, ``text`` and optional ``url``, ``date``,
    ``outlet`` and ``id`` fields, from one ``.txt`` file, or from a folder of ``.txt`` files (the source
    of a text file is its name without the suffix). Bad lines raise, or go to ``skipped`` when given."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".txt" and p.is_file())
        if not files:
            raise InvalidInput(str(path), "the folder holds no .txt files")
        return [doc for doc in (_text_document(p, max_text_chars) for p in files) if doc is not None]
    if not path.is_file():
        raise InvalidInput(str(path), "no such file or folder")
    if path.suffix == ".jsonl":
        return list(inputs.jsonl_documents(path, max_text_chars, skipped))
    if path.suffix == ".csv":
        return list(_csv_documents(path, max_text_chars, skipped))
    if path.suffix == ".txt":
        doc = _text_document(path, max_text_chars)
        if doc is None:
            raise InvalidInput(str(path), "the file is empty")
        return [doc]
    raise InvalidInput(
        str(path), "unknown input type; give a .jsonl or .csv file, a .txt file or a folder of .txt files"
    )


def _text_document(path: Path, max_text_chars: int) -> DocumentIn | None:
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        LOG.warning("%s is empty; skipped", path)
        return None
    validate.text(str(path), text, max_text_chars)
    return DocumentIn(source=Source(validate.source_id(f"{path}: source", path.stem)), text=text, external_id=path.name)


def _csv_documents(path: Path, max_text_chars: int, skipped: list[InvalidInput] | None) -> Iterator[DocumentIn]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"source", "text"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidInput(str(path), f"the header lacks the column(s) {', '.join(sorted(missing))}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            try:
                document = inputs.row_document(row, where, f"{path.name}:{reader.line_num}", max_text_chars)
            except InvalidInput as exc:
                if skipped is None:
                    raise
                skipped.append(exc)
                continue
            yield document


# -- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimRef:
    """One side of a reported conflict: the claim, where it sits and who published it."""

    source: str
    document: str
    text: str
    #: The conflicting part of ``text``; None when the judge could not point at one.
    span: Span | None
    #: Where ``text`` sits in the document: ``[start, end)``.
    position: Span
    url: str = ""
    date: dt.date | None = None
    outlet: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "document": self.document,
            "text": self.text,
            "span": None if self.span is None else [self.span.start, self.span.end],
            "position": [self.position.start, self.position.end],
            "url": self.url,
            "date": None if self.date is None else self.date.isoformat(),
            "outlet": self.outlet,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClaimRef:
        span, position = data.get("span"), data["position"]
        return cls(
            source=str(data["source"]),
            document=str(data["document"]),
            text=str(data["text"]),
            span=None if span is None else Span(int(span[0]), int(span[1])),
            position=Span(int(position[0]), int(position[1])),
            url=str(data.get("url") or ""),
            date=dt.date.fromisoformat(data["date"]) if data.get("date") else None,
            outlet=str(data.get("outlet") or ""),
        )

    def sort_key(self) -> tuple[str, str, int, int]:
        return (self.source, self.document, self.position.start, self.position.end)


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """One line of the output file. Scores are rounded to 4 decimals, so that engines whose floating
    point differs in the last bits still write the same file."""

    a: ClaimRef
    b: ClaimRef
    kind: ConflictKind
    score: float
    similarity: float
    explanation: str

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "kind": self.kind.value,
            "score": self.score,
            "similarity": self.similarity,
            "explanation": self.explanation,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConflictRecord:
        return cls(
            a=ClaimRef.from_json(data["a"]),
            b=ClaimRef.from_json(data["b"]),
            kind=ConflictKind(data["kind"]),
            score=float(data["score"]),
            similarity=float(data["similarity"]),
            explanation=str(data["explanation"]),
        )

    def sort_key(self) -> tuple[float, tuple[str, str, int, int], tuple[str, str, int, int]]:
        return (-self.score, self.a.sort_key(), self.b.sort_key())


def read_conflicts(path: Path) -> list[ConflictRecord]:
    """The records of an output file, in file order."""
    with path.open(encoding="utf-8") as lines:
        return [ConflictRecord.from_json(json.loads(line)) for line in lines if line.strip()]


@dataclass(frozen=True, slots=True)
class StageReport:
    stage: Stage
    #: Items this stage handled in all (including those loaded from checkpoints).
    items: int
    seconds: float
    #: Chunks loaded from the work directory instead of computed.
    resumed_chunks: int = 0
    chunks: int = 0

    @property
    def unit(self) -> str:
        return STAGE_UNITS[self.stage]


@dataclass(frozen=True, slots=True)
class CompareSummary:
    engine: str
    documents: int
    sources: int
    claims: int
    #: Distinct claim texts (each is embedded once).
    texts: int
    #: Claim pairs from different sources that the search found similar enough to judge.
    candidate_pairs: int
    #: Distinct (claim A, claim B, dates) inputs the judge ran on.
    judged_pairs: int
    conflicts_by_kind: dict[str, int]
    stages: list[StageReport] = field(default_factory=list)
    #: Input lines left out with ``--skip-invalid``: "FILE:LINE: why".
    skipped: list[str] = field(default_factory=list)
    #: Documents that a later line of the input updated (same source and id): only the last version counts.
    updated: int = 0

    @property
    def conflicts(self) -> int:
        return sum(self.conflicts_by_kind.values())

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "documents": self.documents,
            "sources": self.sources,
            "claims": self.claims,
            "texts": self.texts,
            "candidate_pairs": self.candidate_pairs,
            "judged_pairs": self.judged_pairs,
            "conflicts": self.conflicts,
            "conflicts_by_kind": self.conflicts_by_kind,
            "skipped": self.skipped,
            "updated": self.updated,
            "seconds": round(self.seconds, 3),
            "stages": [
                {
                    "stage": s.stage.value,
                    "items": s.items,
                    "unit": s.unit,
                    "seconds": round(s.seconds, 3),
                    "chunks": s.chunks,
                    "resumed_chunks": s.resumed_chunks,
                }
                for s in self.stages
            ],
        }


@dataclass(frozen=True, slots=True)
class CompareResult:
    records: list[ConflictRecord]
    summary: CompareSummary


# -- engines ----------------------------------------------------------------------------------------

#: A numbered piece of work: chunk number and its items.
Chunk = tuple[int, list[T]]


class Engine(Protocol):
    """Runs the model-heavy stages over chunks. Results may come back in any order; each is tagged with
    its chunk number. Implementations must compute each chunk with ``split_chunk``, ``embed_chunk`` and
    ``judge_chunk`` so that every engine gives the same results."""

    name: str

    def split(self, chunks: Sequence[Chunk[str]]) -> Iterator[tuple[int, list[list[ClaimText]]]]: ...

    def embed(self, chunks: Sequence[Chunk[str]]) -> Iterator[tuple[int, np.ndarray]]: ...

    def judge(self, chunks: Sequence[Chunk[PairInput]]) -> Iterator[tuple[int, list[Verdict]]]: ...


def split_chunk(texts: Sequence[str]) -> list[list[ClaimText]]:
    return [split_claims(text) for text in texts]


def embed_chunk(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    return np.ascontiguousarray(embedder.embed(texts), dtype=np.float32)


def judge_chunk(judge: Judge, pairs: Sequence[PairInput]) -> list[Verdict]:
    return judge.judge(pairs)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder ``wiring.build_detector`` uses, alone (same backend, so batch and service agree)."""
    from contra.service import wiring

    return wiring.build_embedder(settings)


class LocalEngine:
    """The models in this process, loaded on first use (a resumed job may not need them at all).

    One copy of each model: torch and onnxruntime already spread one batch over every core, and more
    copies would only compete for the same cores and memory.
    """

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Embedder | None = None
        self._judge: Judge | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = build_embedder(self.settings)
        return self._embedder

    @property
    def judge_model(self) -> Judge:
        if self._judge is None:
            from contra.service.wiring import build_judge

            self._judge = build_judge(self.settings, embedder=self.embedder)
        return self._judge

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Drop the models (the process may go on to other work)."""
        self._embedder = None
        self._judge = None

    def split(self, chunks: Sequence[Chunk[str]]) -> Iterator[tuple[int, list[list[ClaimText]]]]:
        for number, texts in chunks:
            yield number, split_chunk(texts)

    def embed(self, chunks: Sequence[Chunk[str]]) -> Iterator[tuple[int, np.ndarray]]:
        for number, texts in chunks:
            yield number, embed_chunk(self.embedder, texts)

    def judge(self, chunks: Sequence[Chunk[PairInput]]) -> Iterator[tuple[int, list[Verdict]]]:
        for number, pairs in chunks:
            yield number, judge_chunk(self.judge_model, pairs)


# -- progress ---------------------------------------------------------------------------------------


class Progress(Protocol):
    """Where the job reports how far each stage is (a rich progress display in the CLI)."""

    def start(self, stage: Stage, total: int, done: int) -> None: ...

    def advance(self, stage: Stage, amount: int) -> None: ...

    def finish(self, stage: Stage) -> None: ...

    def skipped(self, message: str) -> None:
        """An input line left out (``--skip-invalid``), as "FILE:LINE: why"; told before any work starts."""


class NoProgress:
    def start(self, stage: Stage, total: int, done: int) -> None:
        pass

    def advance(self, stage: Stage, amount: int) -> None:
        pass

    def finish(self, stage: Stage) -> None:
        pass

    def skipped(self, message: str) -> None:
        LOG.warning("skipped %s", message)


#: Called after each chunk's checkpoint is written, with the stage and the chunk number. Tests use it to
#: interrupt a job at a known point.
CheckpointHook = Callable[[Stage, int], None]


# -- checkpoints ------------------------------------------------------------------------------------


class WorkDir:
    """The job's checkpoints: a manifest, one file per finished chunk, and the candidate pairs."""

    MANIFEST = "manifest.json"
    _OWNED = (MANIFEST, "claims", "embed", "candidates.npz", "judge")

    def __init__(self, path: Path) -> None:
        self.path = path

    def prepare(self, fingerprint: str, resume: bool) -> bool:
        """Make the directory ready for the job; True when earlier checkpoints of the same job are kept."""
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / self.MANIFEST
        if resume and manifest.is_file():
            try:
                stored = json.loads(manifest.read_text(encoding="utf-8"))
            except ValueError:
                stored = {}
            if stored.get("fingerprint") != fingerprint or stored.get("format") != FORMAT_VERSION:
                raise InvalidInput(
                    "--resume",
                    f"the work dir {self.path} holds another job (its inputs or settings differ); "
                    "run without --resume to start again, or give another --workdir",
                )
            return True
        self._clear()
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        write_atomic(manifest, json.dumps({"format": FORMAT_VERSION, "fingerprint": fingerprint, "created": created}))
        return False

    def chunk(self, stage: Stage, number: int, suffix: str) -> Path:
        return self.path / stage.value / f"{number:06d}{suffix}"

    def candidates(self) -> Path:
        return self.path / "candidates.npz"

    def remove(self) -> None:
        """Delete the checkpoints (and the directory when nothing else is in it)."""
        self._clear()
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()

    def _clear(self) -> None:
        """Only what a job writes is deleted: a work dir may be a folder the user also keeps other files in."""
        for name in self._OWNED:
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file so that it is either complete or absent, whatever interrupts the job."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are private (0600); this one gets the umask's permissions like any output.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("xb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


# -- serialisation of chunk results (checkpoints, and the Ray engine's messages) ----------------------


def claims_to_json(claims: Sequence[Sequence[ClaimText]]) -> list[list[list[int]]]:
    """Only the spans: the texts are cut from the documents again."""
    return [[[c.start, c.end] for c in doc] for doc in claims]


def claims_from_json(data: Sequence[Sequence[Sequence[int]]], texts: Sequence[str]) -> list[list[ClaimText]]:
    return [
        [ClaimText(text[start:end], start, end) for start, end in doc] for doc, text in zip(data, texts, strict=True)
    ]


def pair_to_json(pair: PairInput) -> list[Any]:
    return [pair.a, pair.b, _iso(pair.a_date), _iso(pair.b_date), pair.similarity]


def pair_from_json(data: Sequence[Any]) -> PairInput:
    similarity = None if len(data) < 5 or data[4] is None else float(data[4])
    return PairInput(str(data[0]), str(data[1]), _date(data[2]), _date(data[3]), similarity)


def verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "label": verdict.label.value,
        "kind": None if verdict.kind is None else verdict.kind.value,
        "score": verdict.score,
        "explanation": verdict.explanation,
        "span_a": None if verdict.span_a is None else [verdict.span_a.start, verdict.span_a.end],
        "span_b": None if verdict.span_b is None else [verdict.span_b.start, verdict.span_b.end],
        "nli": list(verdict.nli),
    }


def verdict_from_json(data: dict[str, Any]) -> Verdict:
    def span(value: Sequence[int] | None) -> Span | None:
        return None if value is None else Span(int(value[0]), int(value[1]))

    return Verdict(
        label=Label(data["label"]),
        kind=None if data["kind"] is None else ConflictKind(data["kind"]),
        score=float(data["score"]),
        explanation=str(data["explanation"]),
        span_a=span(data["span_a"]),
        span_b=span(data["span_b"]),
        nli=tuple(float(x) for x in data["nli"]),
    )


def _iso(date: dt.date | None) -> str | None:
    return None if date is None else date.isoformat()


def _date(value: str | None) -> dt.date | None:
    return None if not value else dt.date.fromisoformat(value)


# -- the job ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompareJob:
    inputs: tuple[Path, ...]
    out: Path
    workdir: Path
    resume: bool = False
    chunks: ChunkSizes = ChunkSizes()
    #: Leave bad input lines out (listed in the summary) instead of stopping at the first.
    skip_invalid: bool = False


@dataclass(slots=True)
class _Claims:
    """Every claim of the corpus, in document order (side 0 first), as parallel lists."""

    doc: list[int]
    spans: list[ClaimText]
    #: Index into ``texts`` of the claim's normalised text.
    text_id: list[int]
    #: Distinct normalised texts, as first written.
    texts: list[str]


def fingerprint(corpus: Corpus, settings: Settings, chunks: ChunkSizes) -> str:
    """What decides a job's results: its documents (with their sides), the settings that reach the
    models and the search, and the chunking."""
    digest = hashlib.sha256()
    header = {
        "format": FORMAT_VERSION,
        "two_sided": corpus.two_sided,
        "embedder": settings.embedder,
        "nli_model": settings.nli_model,
        "index_kind": settings.index_kind.value,
        "top_k": settings.top_k,
        "min_similarity": settings.min_similarity,
        "lexical_k": settings.lexical_k,
        "lexical_min_similarity": settings.lexical_min_similarity,
        "retrieval": dataclasses.asdict(RetrievalSettings.from_settings(settings)),
        "conflict_threshold": settings.conflict_threshold,
        "chunks": [chunks.documents, chunks.texts, chunks.pairs],
    }
    digest.update(json.dumps(header, sort_keys=True).encode("utf-8"))
    for side, doc in zip(corpus.sides, corpus.documents, strict=True):
        row = [side, doc.source.source_id, doc.source.outlet, doc.external_id, doc.url, _iso(doc.published), doc.text]
        if doc.published_precision is not DatePrecision.DAY:
            row.append(doc.published_precision.value)
        digest.update(b"\n" + json.dumps(row, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def run_compare(
    job: CompareJob,
    settings: Settings,
    engine: Engine,
    *,
    progress: Progress | None = None,
    on_checkpoint: CheckpointHook | None = None,
) -> CompareResult:
    """Run (or resume) a job and write its output file; the result also holds the records for the report."""
    return _Run(job, settings, engine, progress or NoProgress(), on_checkpoint).run()


class _Run:
    """One execution of a job: the stages in order, each resuming from the checkpoints it finds."""

    def __init__(
        self, job: CompareJob, settings: Settings, engine: Engine, progress: Progress, hook: CheckpointHook | None
    ) -> None:
        self.job = job
        self.settings = settings
        self.engine = engine
        self.progress = progress
        self.hook = hook
        self.workdir = WorkDir(job.workdir)
        self.reports: list[StageReport] = []

    def run(self) -> CompareResult:
        started = time.perf_counter()
        self.progress.start(Stage.READ, len(self.job.inputs), 0)
        corpus = read_corpus(self.job.inputs, self.settings.max_text_chars, skip_invalid=self.job.skip_invalid)
        self.progress.advance(Stage.READ, len(self.job.inputs))
        self.progress.finish(Stage.READ)
        for exc in corpus.skipped:
            self.progress.skipped(str(exc))
        resumed = self.workdir.prepare(fingerprint(corpus, self.settings, self.job.chunks), self.job.resume)
        if resumed:
            LOG.info("resuming the job in %s", self.job.workdir)
        self._report(Stage.READ, len(corpus.documents), started)

        claims = self._claims(corpus)
        vectors = self._embed(claims.texts)
        pairs, similarity = self._search(corpus, claims, vectors)
        inputs, pair_input = _judge_inputs(corpus, claims, pairs, similarity)
        verdicts = self._judge(inputs)

        started = time.perf_counter()
        records = _records(corpus, claims, pairs, similarity, [verdicts[i] for i in pair_input])
        self.progress.start(Stage.WRITE, len(records), 0)
        lines = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
        write_atomic(self.job.out, lines)
        self.progress.advance(Stage.WRITE, len(records))
        self.progress.finish(Stage.WRITE)
        self._report(Stage.WRITE, len(records), started)

        summary = CompareSummary(
            engine=self.engine.name,
            documents=len(corpus.documents),
            sources=corpus.sources,
            claims=len(claims.doc),
            texts=len(claims.texts),
            candidate_pairs=len(pairs),
            judged_pairs=len(inputs),
            conflicts_by_kind=dict(sorted(Counter(r.kind.value for r in records).items())),
            stages=self.reports,
            skipped=[str(exc) for exc in corpus.skipped],
            updated=corpus.updated,
        )
        return CompareResult(records=records, summary=summary)

    def _report(self, stage: Stage, items: int, started: float, chunks: int = 0, resumed: int = 0) -> None:
        seconds = time.perf_counter() - started
        self.reports.append(StageReport(stage, items, seconds, resumed_chunks=resumed, chunks=chunks))

    def _chunked_stage(
        self,
        stage: Stage,
        chunks: list[Chunk[T]],
        suffix: str,
        compute: Callable[[Sequence[Chunk[T]]], Iterator[tuple[int, R]]],
        save: Callable[[R], bytes | str],
        load: Callable[[Path, int], R],
    ) -> list[R]:
        """Load finished chunks, compute the others with the engine, and checkpoint each as it arrives."""
        started = time.perf_counter()
        total = sum(len(items) for _, items in chunks)
        results: dict[int, R] = {}
        for number, _ in chunks:
            path = self.workdir.chunk(stage, number, suffix)
            if path.is_file():
                results[number] = load(path, number)
        resumed = len(results)
        done = sum(len(items) for number, items in chunks if number in results)
        self.progress.start(stage, total, done)
        sizes = {number: len(items) for number, items in chunks}
        pending = [chunk for chunk in chunks if chunk[0] not in results]
        if pending:
            for number, result in compute(pending):
                write_atomic(self.workdir.chunk(stage, number, suffix), save(result))
                results[number] = result
                self.progress.advance(stage, sizes[number])
                if self.hook is not None:
                    self.hook(stage, number)
        self.progress.finish(stage)
        self._report(stage, total, started, chunks=len(chunks), resumed=resumed)
        return [results[number] for number, _ in chunks]

    def _claims(self, corpus: Corpus) -> _Claims:
        texts = [doc.text for doc in corpus.documents]
        chunks = list(_numbered(texts, self.job.chunks.documents))
        size = self.job.chunks.documents

        def load(path: Path, number: int) -> list[list[ClaimText]]:
            return claims_from_json(
                json.loads(path.read_text(encoding="utf-8")), texts[number * size : (number + 1) * size]
            )

        per_chunk = self._chunked_stage(
            Stage.CLAIMS,
            chunks,
            ".json",
            self.engine.split,
            lambda result: json.dumps(claims_to_json(result)),
            load,
        )
        claims = _Claims(doc=[], spans=[], text_id=[], texts=[])
        ids: dict[str, int] = {}
        for doc_number, doc_claims in enumerate(c for chunk in per_chunk for c in chunk):
            for claim in doc_claims:
                key = normalise_text(claim.text)
                text_id = ids.get(key)
                if text_id is None:
                    text_id = ids[key] = len(claims.texts)
                    claims.texts.append(claim.text)
                claims.doc.append(doc_number)
                claims.spans.append(claim)
                claims.text_id.append(text_id)
        return claims

    def _embed(self, texts: list[str]) -> np.ndarray:
        chunks = list(_numbered(texts, self.job.chunks.texts))

        def save(vectors: np.ndarray) -> bytes:
            return _npz_bytes(vectors=vectors)

        def load(path: Path, number: int) -> np.ndarray:
            with np.load(path) as data:
                return np.asarray(data["vectors"], dtype=np.float32)

        parts = self._chunked_stage(Stage.EMBED, chunks, ".npz", self.engine.embed, save, load)
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)

    def _search(self, corpus: Corpus, claims: _Claims, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate pairs ``(a, b)`` of claim numbers with ``a < b``, sorted, and their similarities."""
        started = time.perf_counter()
        path = self.workdir.candidates()
        self.progress.start(Stage.SEARCH, len(claims.doc), 0)
        if path.is_file():
            with np.load(path) as data:
                pairs, similarity = np.asarray(data["pairs"]), np.asarray(data["similarity"])
            self.progress.advance(Stage.SEARCH, len(claims.doc))
            resumed = 1
        else:
            pairs, similarity = search_candidates(corpus, claims, vectors, self.settings, self.progress)
            write_atomic(path, _npz_bytes(pairs=pairs, similarity=similarity))
            if self.hook is not None:
                self.hook(Stage.SEARCH, 0)
            resumed = 0
        self.progress.finish(Stage.SEARCH)
        self._report(Stage.SEARCH, len(claims.doc), started, chunks=1, resumed=resumed)
        return pairs, similarity

    def _judge(self, inputs: list[PairInput]) -> list[Verdict]:
        chunks = list(_numbered(inputs, self.job.chunks.pairs))

        def save(verdicts: list[Verdict]) -> str:
            return json.dumps([verdict_to_json(v) for v in verdicts])

        def load(path: Path, number: int) -> list[Verdict]:
            return [verdict_from_json(v) for v in json.loads(path.read_text(encoding="utf-8"))]

        parts = self._chunked_stage(Stage.JUDGE, chunks, ".json", self.engine.judge, save, load)
        return [v for part in parts for v in part]


def _numbered(items: Sequence[T], size: int) -> Iterator[Chunk[T]]:
    for number, start in enumerate(range(0, len(items), size)):
        yield number, list(items[start : start + size])


def search_candidates(
    corpus: Corpus, claims: _Claims, vectors: np.ndarray, settings: Settings, progress: Progress
) -> tuple[np.ndarray, np.ndarray]:
    """Each claim's candidates that it may be compared with, found by the pipeline's ``CandidateSearch``
    (dense + lexical, as ``Check``) over the corpus.

    The index holds one entry per distinct (text, group), where the group is the source (one input) or
    the side (two inputs), and the search filter keeps a query's own group out: the same rule as the
    service's ``exclude_source``, or, with two inputs, ``only_sources`` naming the other side. A claim
    whose text equals the query's is a copy, not a conflict, and is skipped as ``Detector.candidates``
    does. Each unordered pair is kept once, with the larger of its two similarities.
    """
    empty = (np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32))
    if not claims.doc:
        return empty
    groups = [str(corpus.sides[d]) if corpus.two_sided else corpus.documents[d].source.source_id for d in claims.doc]
    slot_of: dict[tuple[int, str], int] = {}
    slot_text: list[int] = []
    slot_group: list[str] = []
    slot_claims: list[list[int]] = []
    for number, (text_id, group) in enumerate(zip(claims.text_id, groups, strict=True)):
        slot = slot_of.get((text_id, group))
        if slot is None:
            slot = slot_of[(text_id, group)] = len(slot_text)
            slot_text.append(text_id)
            slot_group.append(group)
            slot_claims.append([])
        slot_claims[slot].append(number)
    text_of_slot = np.asarray(slot_text, dtype=np.int64)
    slot_vectors = np.ascontiguousarray(vectors[text_of_slot])
    index = create_index(resolve_kind(settings.index_kind, len(slot_text)), vectors.shape[1], len(slot_text))
    wanted = index.train_size(len(slot_text))
    if index.needs_training and wanted:
        index.train(slot_vectors[np.random.default_rng(0).permutation(len(slot_text))[:wanted]])
    index.add(
        VectorBatch(
            ids=np.arange(len(slot_text), dtype=np.int64),
            vectors=slot_vectors,
            source_ids=slot_group,
            published=[None] * len(slot_text),
        )
    )
    lexical = None
    if settings.lexical_k > 0:
        lexical = LexicalTable(range(len(slot_text)), slot_group, [claims.texts[t] for t in slot_text])
    search = CandidateSearch(
        index,
        lexical,
        lambda ids: slot_vectors[ids],
        RetrievalSettings.from_settings(settings),
        texts_by_id=lambda ids: {int(i): claims.texts[slot_text[int(i)]] for i in ids},
    )
    best: dict[tuple[int, int], float] = {}
    by_group: dict[str, list[int]] = {}
    for slot, group in enumerate(slot_group):
        by_group.setdefault(group, []).append(slot)
    for group in sorted(by_group):
        flt = (
            SearchFilter(only_sources=frozenset({"0", "1"} - {group}))
            if corpus.two_sided
            else SearchFilter(exclude_source=group)
        )
        slots = by_group[group]
        for start in range(0, len(slots), 1024):
            batch = slots[start : start + 1024]
            rows = search.search([claims.texts[slot_text[s]] for s in batch], slot_vectors[batch], flt)
            for slot, row in zip(batch, rows, strict=True):
                for other, cosine in row:
                    if slot_text[other] == slot_text[slot]:
                        continue
                    key = (min(slot, other), max(slot, other))
                    best[key] = max(best.get(key, -2.0), cosine)
            progress.advance(Stage.SEARCH, sum(len(slot_claims[s]) for s in batch))
    if lexical is not None:
        lexical.close()
    occurrences: list[tuple[int, int, float]] = []
    for (x, y), sim in best.items():
        for i in slot_claims[x]:
            for j in slot_claims[y]:
                occurrences.append((min(i, j), max(i, j), sim))
    if not occurrences:
        return empty
    occurrences.sort()
    pairs = np.asarray([(a, b) for a, b, _ in occurrences], dtype=np.int64)
    similarity = np.asarray([s for _, _, s in occurrences], dtype=np.float32)
    return pairs, similarity


def _judge_inputs(
    corpus: Corpus, claims: _Claims, pairs: np.ndarray, similarity: np.ndarray
) -> tuple[list[PairInput], list[int]]:
    """The distinct judge inputs, and for each candidate pair the input that decides it: syndicated
    copies of a pair of texts (with the same dates) are judged once. The search's cosine goes with
    each pair, as in ``Check``, so the judge need not embed the pair again."""
    inputs: list[PairInput] = []
    seen: dict[PairInput, int] = {}
    which: list[int] = []
    for (a, b), sim in zip(pairs.tolist(), similarity.tolist(), strict=True):
        pair = PairInput(
            claims.spans[a].text,
            claims.spans[b].text,
            _exact_date(corpus.documents[claims.doc[a]]),
            _exact_date(corpus.documents[claims.doc[b]]),
            round(float(sim), 6),
        )
        number = seen.get(pair)
        if number is None:
            number = seen[pair] = len(inputs)
            inputs.append(pair)
        which.append(number)
    return inputs, which


def _exact_date(doc: DocumentIn) -> dt.date | None:
    """A month or a year cannot anchor "on Tuesday": the judge gets only day-precise dates, as in Check."""
    return doc.published if doc.published_precision is DatePrecision.DAY else None


def _records(
    corpus: Corpus, claims: _Claims, pairs: np.ndarray, similarity: np.ndarray, verdicts: Sequence[Verdict]
) -> list[ConflictRecord]:
    def ref(claim: int, span: Span | None) -> ClaimRef:
        doc = corpus.documents[claims.doc[claim]]
        spans = claims.spans[claim]
        return ClaimRef(
            source=doc.source.source_id,
            document=doc.external_id,
            text=spans.text,
            span=span,
            position=Span(spans.start, spans.end),
            url=doc.url,
            date=doc.published,
            outlet=doc.source.outlet,
        )

    records = [
        ConflictRecord(
            a=ref(a, verdict.span_a),
            b=ref(b, verdict.span_b),
            kind=verdict.kind or ConflictKind.STANCE,
            score=round(verdict.score, 4),
            similarity=round(float(sim), 4),
            explanation=verdict.explanation,
        )
        for (a, b), sim, verdict in zip(pairs.tolist(), similarity.tolist(), verdicts, strict=True)
        if verdict.is_conflict
    ]
    records.sort(key=ConflictRecord.sort_key)
    return records
