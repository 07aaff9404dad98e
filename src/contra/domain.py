"""Typed values that cross module boundaries inside contra.

Every step of the pipeline (validate -> claims -> embed -> search -> judge -> respond) takes and
returns these, so that the gRPC layer, the CLI and the batch jobs all speak the same language and
none of them passes protobuf messages or dicts into the domain code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class IndexKind(StrEnum):
    """Vector index backends; ``auto`` picks by corpus size (see ``contra.index``)."""

    AUTO = "auto"
    FLAT = "flat"
    HNSW = "hnsw"
    IVFPQ = "ivfpq"


class DatePrecision(StrEnum):
    """How much of a publish date the source gave: a day, a month ("2025-05") or a year ("2025").

    A date of reduced precision is kept as its first day plus this precision, i.e. as the span
    ``date_span(first_day, precision)``; code that compares dates reads the span, code that resolves
    "on Tuesday" against a publish date needs ``DAY``.
    """

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


def date_span(first_day: dt.date, precision: DatePrecision) -> tuple[dt.date, dt.date]:
    """The first and last day that a date of this precision may mean (both included)."""
    if precision is DatePrecision.YEAR:
        return first_day.replace(month=1, day=1), first_day.replace(month=12, day=31)
    if precision is DatePrecision.MONTH:
        start = first_day.replace(day=1)
        following = (
            start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        )
        return start, following - dt.timedelta(days=1)
    return first_day, first_day


class Label(StrEnum):
    """NLI relation of claim B to claim A."""

    ENTAILMENT = "entailment"
    NEUTRAL = "neutral"
    CONTRADICTION = "contradiction"


#: The column order of every probability array that an NLI model returns inside contra.
LABEL_ORDER: tuple[Label, ...] = (Label.ENTAILMENT, Label.NEUTRAL, Label.CONTRADICTION)


class ConflictKind(StrEnum):
    """Why two claims conflict: opposite stance, or incompatible figures of one kind."""

    STANCE = "stance"
    NUMBER = "number"
    DATE = "date"
    QUANTITY = "quantity"


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character range ``[start, end)`` inside one claim's text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span [{self.start}, {self.end})")

    def of(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Source:
    """Who published a document. ``source_id`` is the caller's stable key (e.g. "reuters")."""

    source_id: str
    outlet: str = ""


@dataclass(frozen=True, slots=True)
class DocumentIn:
    """A document as a caller hands it in, before it is split into claims."""

    source: Source
    text: str
    url: str = ""
    published: dt.date | None = None
    #: Caller's own id for the document; contra makes one from the content when empty.
    external_id: str = ""
    #: How much of ``published`` the source gave; ``published`` is the first day of that span.
    published_precision: DatePrecision = DatePrecision.DAY


@dataclass(frozen=True, slots=True)
class ClaimText:
    """One claim cut out of a document: its text and where it sits in the document."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class StoredClaim:
    """A claim as the store knows it; ``claim_id`` is also its id in the vector index."""

    claim_id: int
    text: str
    source_id: str
    document_id: str
    start: int
    end: int
    outlet: str = ""
    url: str = ""
    published: dt.date | None = None
    #: How much of ``published`` the source gave (see ``DatePrecision``).
    published_precision: DatePrecision = DatePrecision.DAY

    @property
    def exact_published(self) -> dt.date | None:
        """The publish date when it names one day, else None (what relative dates can be resolved against)."""
        return self.published if self.published_precision is DatePrecision.DAY else None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored claim that the index returned for a query, with its cosine similarity."""

    claim: StoredClaim
    similarity: float


@dataclass(frozen=True, slots=True)
class NumericFinding:
    """What the numbers check found wrong between two claims."""

    kind: ConflictKind
    span_a: Span
    span_b: Span
    explanation: str
    #: How sure the check is that the figures measure the same thing and disagree, in [0, 1].
    confidence: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's answer for one pair (A, B)."""

    label: Label
    #: Set only when ``label`` is CONTRADICTION.
    kind: ConflictKind | None
    #: Calibrated probability that the pair is a real conflict, in [0, 1].
    score: float
    explanation: str
    span_a: Span | None = None
    span_b: Span | None = None
    #: NLI probabilities in ``LABEL_ORDER`` (both directions combined), empty when NLI was not run.
    nli: tuple[float, ...] = field(default_factory=tuple)

    @property
    def is_conflict(self) -> bool:
        return self.label is Label.CONTRADICTION


@dataclass(frozen=True, slots=True)
class Conflict:
    """A stored claim that contradicts the queried claim."""

    query: ClaimText
    other: StoredClaim
    similarity: float
    verdict: Verdict
