"""Protobuf messages <-> domain values. No logic beyond translation and field-level checks."""

from __future__ import annotations

import datetime as dt

from contra.domain import (
    ClaimText,
    Conflict,
    ConflictKind,
    DatePrecision,
    DocumentIn,
    Label,
    Source,
    Span,
    StoredClaim,
    Verdict,
    date_span,
)
from contra.errors import InvalidInput
from contra.service import validate
from contra.service.api.dates import date_to_pb
from contra.service.detector import CheckQuery
from contra.v1 import contra_pb2 as pb

_KIND_TO_PB = {
    ConflictKind.STANCE: pb.CONFLICT_KIND_STANCE,
    ConflictKind.NUMBER: pb.CONFLICT_KIND_NUMBER,
    ConflictKind.DATE: pb.CONFLICT_KIND_DATE,
    ConflictKind.QUANTITY: pb.CONFLICT_KIND_QUANTITY,
}
_PB_TO_KIND: dict[int, ConflictKind] = {int(v): k for k, v in _KIND_TO_PB.items()}
_LABEL_TO_PB = {
    Label.ENTAILMENT: pb.LABEL_ENTAILMENT,
    Label.NEUTRAL: pb.LABEL_NEUTRAL,
    Label.CONTRADICTION: pb.LABEL_CONTRADICTION,
}
_PB_TO_LABEL: dict[int, Label] = {int(v): k for k, v in _LABEL_TO_PB.items()}


def date_from_pb(field: str, msg: pb.Date) -> dt.date | None:
    """A day; a month or year (day 0) is accepted and means its first day (see ``span_from_pb``)."""
    return validate.date_parts(field, msg.year, msg.month, msg.day)


def span_from_pb(field: str, msg: pb.Date) -> validate.PublishDate | None:
    """A date of any precision: day 0 is a month, month and day 0 a year."""
    return validate.date_span_parts(field, msg.year, msg.month, msg.day)


def exact_from_pb(field: str, msg: pb.Date) -> dt.date | None:
    """The day a date names, or None for "not given" and for a month or a year (nothing to resolve against)."""
    parsed = span_from_pb(field, msg)
    return None if parsed is None else parsed.exact


def documents_from_pb(request: pb.IngestRequest) -> list[DocumentIn]:
    documents = []
    for i, doc in enumerate(request.documents):
        published = span_from_pb(f"documents[{i}].published", doc.published)
        documents.append(
            DocumentIn(
                source=Source(source_id=doc.source.source_id, outlet=doc.source.outlet),
                text=doc.text,
                url=doc.url,
                published=None if published is None else published.first_day,
                external_id=doc.document_id,
                published_precision=DatePrecision.DAY if published is None else published.precision,
            )
        )
    return documents


def check_from_pb(request: pb.CheckRequest) -> CheckQuery:
    since = span_from_pb("since", request.since)
    until = span_from_pb("until", request.until)
    return CheckQuery(
        text=request.text,
        source=Source(source_id=request.source.source_id, outlet=request.source.outlet),
        published=exact_from_pb("published", request.published),
        top_k=validate_top_k(request.top_k),
        only_sources=frozenset(request.only_sources),
        # A month or a year as a bound covers the whole span: since its first day, until its last.
        since=None if since is None else since.first_day,
        until=None if until is None else date_span(until.first_day, until.precision)[1],
    )


def validate_top_k(value: int) -> int:
    if value < 0 or value > 500:
        raise InvalidInput("top_k", f"must be between 0 and 500, got {value}")
    return value


def span_to_pb(span: Span | None) -> pb.Span | None:
    return None if span is None else pb.Span(start=span.start, end=span.end)


def verdict_to_pb(verdict: Verdict) -> pb.Verdict:
    return pb.Verdict(
        label=_LABEL_TO_PB[verdict.label],
        kind=_KIND_TO_PB[verdict.kind] if verdict.kind is not None else pb.CONFLICT_KIND_UNSPECIFIED,
        score=verdict.score,
        explanation=verdict.explanation,
        span_a=span_to_pb(verdict.span_a),
        span_b=span_to_pb(verdict.span_b),
    )


def stored_claim_to_pb(claim: StoredClaim) -> pb.Claim:
    return pb.Claim(
        claim_id=claim.claim_id,
        text=claim.text,
        source=pb.Source(source_id=claim.source_id, outlet=claim.outlet),
        document_id=claim.document_id,
        url=claim.url,
        published=date_to_pb(claim.published, claim.published_precision),
        location=pb.Span(start=claim.start, end=claim.end),
    )


def query_claim_to_pb(claim: ClaimText, query: CheckQuery) -> pb.Claim:
    return pb.Claim(
        claim_id=0,
        text=claim.text,
        source=pb.Source(source_id=query.source.source_id, outlet=query.source.outlet),
        published=date_to_pb(query.published),
        location=pb.Span(start=claim.start, end=claim.end),
    )


def conflict_to_pb(conflict: Conflict, query: CheckQuery) -> pb.Conflict:
    return pb.Conflict(
        claim=query_claim_to_pb(conflict.query, query),
        other=stored_claim_to_pb(conflict.other),
        similarity=conflict.similarity,
        verdict=verdict_to_pb(conflict.verdict),
    )


def kind_from_pb(value: int) -> ConflictKind | None:
    return _PB_TO_KIND.get(value)


def label_from_pb(value: int) -> Label | None:
    return _PB_TO_LABEL.get(value)
