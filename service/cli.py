"""The ``contra`` command: a thin client over the gRPC API, plus ``serve``, ``judge`` and ``compare``.

Exit codes: 0 success, 1 conflicts found with ``--fail-on-conflict``, 2 bad input or usage,
3 server unreachable, 4 any other failure. Every error is one line on stderr.

The client commands import only gRPC, the generated stubs, typer and rich: the models, numpy and the
settings object are imported inside the commands that need them (``serve``, ``compare``, and ``judge``
when no server answers), so that ``contra judge "A" "B"`` against a running server answers at once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import grpc
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contra.domain import DatePrecision, DocumentIn
from contra.errors import ContraError, InvalidInput
from contra.service import inputs, validate
from contra.service.api.dates import date_to_pb
from contra.service.batch.command import compare
from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc

if TYPE_CHECKING:
    from contra.domain import Verdict

EXIT_CONFLICTS, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_FAILURE = 1, 2, 3, 4

app = typer.Typer(
    name="contra",
    help=(
        "Cross-source contradiction detector. Spot checks and operations against a running contra server. "
        "Client settings: CONTRA_ADDR (server), CONTRA_TOKEN (bearer token), CONTRA_TLS_CA "
        "(+ CONTRA_TLS_CLIENT_CERT/KEY for mutual TLS)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

ServerOpt = Annotated[str, typer.Option("--server", help="host:port of the contra server [env CONTRA_ADDR]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")]


#: ``Settings.addr``'s default, read here without building the settings object (pydantic costs ~0.2 s of
#: start-up); tests/test_cli.py checks that the two agree.
DEFAULT_ADDR = "127.0.0.1:50051"

#: Table cells show at most this many characters of a claim (the whole text is in ``--json``).
CELL_CHARS = 280


def _default_server() -> str:
    return os.environ.get("CONTRA_ADDR") or DEFAULT_ADDR


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _stub(server: str) -> contra_pb2_grpc.ContraServiceStub:
    """A stub for ``server``; TLS when CONTRA_TLS_CA names the CA bundle to trust (plus CONTRA_TLS_CLIENT_CERT
    and CONTRA_TLS_CLIENT_KEY for mutual TLS)."""
    ca = os.environ.get("CONTRA_TLS_CA")
    if not ca:
        return contra_pb2_grpc.ContraServiceStub(grpc.insecure_channel(server))
    cert, key = os.environ.get("CONTRA_TLS_CLIENT_CERT"), os.environ.get("CONTRA_TLS_CLIENT_KEY")
    try:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=Path(ca).read_bytes(),
            private_key=Path(key).read_bytes() if key else None,
            certificate_chain=Path(cert).read_bytes() if cert else None,
        )
    except OSError as exc:
        fail(f"cannot read a TLS file: {exc}", EXIT_USAGE)
    return contra_pb2_grpc.ContraServiceStub(grpc.secure_channel(server, credentials))


def _metadata() -> list[tuple[str, str]]:
    """The caller's bearer token (CONTRA_TOKEN), sent with every call when set."""
    token = os.environ.get("CONTRA_TOKEN", "").strip()
    return [("authorization", f"Bearer {token}")] if token else []


def _call(fn: Any, request: Any, server: str, timeout: float = 120.0) -> Any:
    """Call an RPC; turn gRPC failures into one line and the documented exit code."""
    try:
        return fn(request, timeout=timeout, metadata=_metadata())
    except grpc.RpcError as exc:
        code = exc.code()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and "loading" not in (
            exc.details() or ""
        ):
            fail(f"cannot reach the contra server at {server} ({code.name}: {exc.details()})", EXIT_UNREACHABLE)
        exit_code = (
            EXIT_USAGE if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND) else EXIT_FAILURE
        )
        fail(f"{code.name}: {exc.details()}", exit_code)


def _date_pb(field: str, value: str | None) -> pb.Date | None:
    """A date in any accepted form (``validate.DATE_FORMATS``) as ``contra.v1.Date``, month or year included."""
    try:
        parsed = validate.publish_date(field, value)
    except InvalidInput as exc:
        fail(str(exc), EXIT_USAGE)
    if parsed is None:
        return None
    return date_to_pb(parsed.first_day, parsed.precision)


def _date_text(date: pb.Date) -> str | None:
    """``contra.v1.Date`` as ISO text of its own precision: 2025-05-03, 2025-05 or 2025; None when not given."""
    if not date.year:
        return None
    if not date.month:
        return f"{date.year:04d}"
    return f"{date.year:04d}-{date.month:02d}" + (f"-{date.day:02d}" if date.day else "")


@app.command()
def serve() -> None:
    """Start the gRPC server (what `make run` runs). Configured by CONTRA_* environment variables.

    Example: CONTRA_ADDR=127.0.0.1:50051 CONTRA_DATA_DIR=./var contra serve
    """
    import asyncio
    import logging

    from contra.service.api.server import serve as run_server
    from contra.service.config import Settings
    from contra.service.wiring import build_detector

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    try:
        asyncio.run(run_server(settings, build_detector))
    except (ContraError, OSError) as exc:
        fail(str(exc), EXIT_FAILURE)


def _documents(paths: list[Path], source: str | None, url: str | None, date: str | None) -> Iterator[pb.Document]:
    published = _date_pb("--date", date)
    for path in paths:
        if not path.is_file():
            fail(f"{path}: no such file", EXIT_USAGE)
        if path.suffix == ".jsonl":
            try:
                yield from (_document_pb(doc) for doc in inputs.jsonl_documents(path, _max_text_chars()))
            except InvalidInput as exc:
                fail(str(exc), EXIT_USAGE)
            except UnicodeDecodeError as exc:
                fail(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", EXIT_USAGE)
            continue
        if not source:
            fail(f"{path}: --source is required for plain text files (JSONL lines carry their own)", EXIT_USAGE)
        yield pb.Document(
            source=pb.Source(source_id=source),
            text=path.read_text(encoding="utf-8"),
            url=url or "",
            published=published,
            document_id=path.name,
        )


def _max_text_chars() -> int:
    from contra.service.config import Settings

    return Settings().max_text_chars


def _document_pb(doc: DocumentIn) -> pb.Document:
    return pb.Document(
        source=pb.Source(source_id=doc.source.source_id, outlet=doc.source.outlet),
        text=doc.text,
        url=doc.url,
        published=date_to_pb(doc.published, doc.published_precision),
        document_id=doc.external_id,
    )


def _status(doc: pb.IngestedDocument) -> str:
    if doc.updated:
        return "updated"
    return "already stored" if doc.claim_ids and doc.duplicates == len(doc.claim_ids) else "stored"


@app.command(
    help=(
        "Store documents in a running contra server.\n\n"
        "Example: contra ingest article.txt --source example-news --date 2025-05-01\n\n"
        f"JSONL lines: {inputs.DOCUMENT_FIELDS}\n\n"
        f"{inputs.ID_HELP} (a plain text file is named by its file name).\n\n"
        f"Dates: {validate.DATE_FORMATS}; a month or a year is kept as such.\n\n"
        "Each document is reported as stored, already stored (same id, same text, URL and date: nothing "
        "changes) or updated (same id, new version: the earlier claims are replaced, and no check sees "
        "them again)."
    )
)
def ingest(
    files: Annotated[list[Path], typer.Argument(help="plain text files, or .jsonl with one document a line")],
    source: Annotated[str | None, typer.Option(help="source id for plain text files")] = None,
    url: Annotated[str | None, typer.Option(help="URL of the document(s)")] = None,
    date: Annotated[str | None, typer.Option(help="publish date of plain text files: 2025-05-03, 2025-05, ...")] = None,
    server: ServerOpt = "",
    as_json: JsonOpt = False,
) -> None:
    server = server or _default_server()
    docs = list(_documents(files, source, url, date))
    response = _call(_stub(server).Ingest, pb.IngestRequest(documents=docs), server)
    if as_json:
        for doc in response.documents:
            row = {
                "document_id": doc.document_id,
                "status": _status(doc),
                "claims": len(doc.claim_ids),
                "duplicates": doc.duplicates,
                "updated": doc.updated,
                "superseded": doc.superseded,
            }
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table("document", "status", "claims stored", "already stored", "superseded")
    for doc in response.documents:
        table.add_row(
            escape(doc.document_id),
            _status(doc),
            str(len(doc.claim_ids) - doc.duplicates),
            str(doc.duplicates),
            str(doc.superseded) if doc.updated else "",
        )
    out.print(table)


_KIND_NAMES = {
    pb.CONFLICT_KIND_STANCE: "stance",
    pb.CONFLICT_KIND_NUMBER: "number",
    pb.CONFLICT_KIND_DATE: "date",
    pb.CONFLICT_KIND_QUANTITY: "quantity",
}


def _highlight(text: str, span: pb.Span | None, limit: int = CELL_CHARS) -> str:
    """A table cell: the text with its span highlighted, cut to about ``limit`` characters around the span
    with an ellipsis where text was left out (the whole text is in ``--json``)."""
    start, end = (span.start, span.end) if span is not None and span.end > span.start else (0, 0)
    lo, hi = 0, len(text)
    if len(text) > limit:
        middle = (start + end) // 2 if end else 0
        lo = max(0, min(middle - limit // 2, len(text) - limit))
        hi = lo + limit
    start, end = max(start, lo), min(end, hi)
    head = "\u2026" if lo > 0 else ""
    tail = "\u2026" if hi < len(text) else ""
    if end <= start:
        return head + escape(text[lo:hi]) + tail
    return f"{head}{escape(text[lo:start])}[bold yellow]{escape(text[start:end])}[/]{escape(text[end:hi])}{tail}"


@app.command()
def check(
    claim: Annotated[str, typer.Argument(help="the claim to check")],
    source: Annotated[str, typer.Option(help="source id of the claim: its own stored claims are skipped")],
    date: Annotated[str | None, typer.Option(help="date of the claim, e.g. 2025-05-03")] = None,
    top_k: Annotated[int, typer.Option(help="candidates per claim (0: server default)")] = 0,
    server: ServerOpt = "",
    as_json: JsonOpt = False,
    fail_on_conflict: Annotated[bool, typer.Option(help="exit 1 when a conflict is found")] = False,
) -> None:
    """Which stored claims from other sources contradict this one?

    Example: contra check "The war in Ukraine is in its fourth year." --source other-outlet
    """
    server = server or _default_server()
    request = pb.CheckRequest(
        text=claim, source=pb.Source(source_id=source), published=_date_pb("--date", date), top_k=top_k
    )
    response = _call(_stub(server).Check, request, server)
    if as_json:
        for c in response.conflicts:
            print(json.dumps(_conflict_json(c), ensure_ascii=False))
    elif not response.conflicts:
        out.print(f"No conflicts among {response.candidates} candidate claims from other sources.")
    else:
        table = Table("score", "kind", "this claim", "conflicting claim", "source", "explanation", show_lines=True)
        for c in response.conflicts:
            table.add_row(
                f"{c.verdict.score:.2f}",
                _KIND_NAMES.get(c.verdict.kind, "?"),
                _highlight(c.claim.text, c.verdict.span_a),
                _highlight(c.other.text, c.verdict.span_b),
                escape(c.other.source.source_id),
                escape(c.verdict.explanation),
            )
        out.print(table)
    if fail_on_conflict and response.conflicts:
        raise typer.Exit(EXIT_CONFLICTS)


def _conflict_json(c: pb.Conflict) -> dict[str, Any]:
    def claim(msg: pb.Claim, span: pb.Span) -> dict[str, Any]:
        return {
            "claim_id": msg.claim_id,
            "text": msg.text,
            "source": msg.source.source_id,
            "document": msg.document_id,
            "url": msg.url,
            "date": _date_text(msg.published),
            "span": [span.start, span.end],
        }

    return {
        "a": claim(c.claim, c.verdict.span_a),
        "b": claim(c.other, c.verdict.span_b),
        "kind": _KIND_NAMES.get(c.verdict.kind, ""),
        "score": round(c.verdict.score, 4),
        "similarity": round(c.similarity, 4),
        "explanation": c.verdict.explanation,
    }


@dataclass(frozen=True, slots=True)
class _Pair:
    """One pair to judge, as the CLI read it (the judge's own ``PairInput`` would import the models)."""

    a: str
    b: str
    a_date: Any = None
    b_date: Any = None


@dataclass(frozen=True, slots=True)
class _Answer:
    """A verdict as the CLI shows it, from the server or from the judge in this process."""

    label: str
    kind: str | None
    score: float
    explanation: str
    span_a: pb.Span | None
    span_b: pb.Span | None


_LABEL_NAMES = {
    pb.LABEL_ENTAILMENT: "entailment",
    pb.LABEL_NEUTRAL: "neutral",
    pb.LABEL_CONTRADICTION: "contradiction",
}


@app.command()
def judge(
    a: Annotated[str | None, typer.Argument(help="claim A")] = None,
    b: Annotated[str | None, typer.Argument(help="claim B")] = None,
    pairs: Annotated[Path | None, typer.Option(help='JSONL file: {"a", "b", "a_date"?, "b_date"?} per line')] = None,
    a_date: Annotated[str | None, typer.Option(help="date of A, e.g. 2025-05-03")] = None,
    b_date: Annotated[str | None, typer.Option(help="date of B, e.g. 2025-05-03")] = None,
    server: ServerOpt = "",
    local: Annotated[bool, typer.Option("--local", help="load the models in this process; ask no server")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Judge two claims: label, kind, score and explanation.

    Asks the contra server at --server / CONTRA_ADDR (JudgePair) when one answers, which takes a fraction
    of a second; otherwise loads the models in this process (a few seconds) and says so on stderr.

    Example: contra judge "The war enters its seventh year." "The war is in its fourth year."
    """
    inputs_ = _pair_inputs(a, b, pairs, a_date, b_date)
    answers = None if local else _judge_remote(inputs_, server or _default_server())
    if answers is None:
        answers = _judge_local(inputs_)
    if as_json or pairs is not None:
        for answer in answers:
            row = {"label": answer.label, "kind": answer.kind, "score": round(answer.score, 4),
                   "explanation": answer.explanation}  # fmt: skip
            print(json.dumps(row, ensure_ascii=False))
        return
    answer, pair = answers[0], inputs_[0]
    table = Table("label", "kind", "score", "A", "B", "explanation", show_lines=True)
    table.add_row(
        answer.label,
        answer.kind or "-",
        f"{answer.score:.2f}",
        _highlight(pair.a, answer.span_a),
        _highlight(pair.b, answer.span_b),
        escape(answer.explanation),
    )
    out.print(table)


def _judge_remote(pairs: list[_Pair], server: str) -> list[_Answer] | None:
    """The server's verdicts, or None when no server answers at ``server`` (nothing listening, or still
    loading its models)."""
    stub = _stub(server)
    answers: list[_Answer] = []
    for pair in pairs:
        request = pb.JudgePairRequest(
            a=pair.a,
            b=pair.b,
            a_date=date_to_pb(pair.a_date, DatePrecision.DAY),
            b_date=date_to_pb(pair.b_date, DatePrecision.DAY),
        )
        try:
            reply = stub.JudgePair(request, timeout=60.0, metadata=_metadata())
        except grpc.RpcError as exc:
            code = exc.code()
            if not answers and code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                why = "is still loading its models" if "loading" in (exc.details() or "") else "does not answer"
                err.print(
                    f"note: no contra server answers at {server} (it {why}); loading the models in this process, "
                    "which takes a few seconds. Start one with `make run` (or `contra serve`) for answers at once.",
                    highlight=False,
                    soft_wrap=True,
                )
                return None
            exit_code = EXIT_USAGE if code == grpc.StatusCode.INVALID_ARGUMENT else EXIT_FAILURE
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                exit_code = EXIT_UNREACHABLE
            fail(f"{code.name}: {exc.details()}", exit_code)
        verdict = reply.verdict
        answers.append(
            _Answer(
                label=_LABEL_NAMES.get(verdict.label, "?"),
                kind=_KIND_NAMES.get(verdict.kind),
                score=verdict.score,
                explanation=verdict.explanation,
                span_a=verdict.span_a if verdict.HasField("span_a") else None,
                span_b=verdict.span_b if verdict.HasField("span_b") else None,
            )
        )
    return answers


def _judge_local(pairs: list[_Pair]) -> list[_Answer]:
    from contra.service.config import Settings
    from contra.service.judge.judge import PairInput
    from contra.service.wiring import build_judge

    settings = Settings()
    try:
        for i, pair in enumerate(pairs):
            validate.text(f"pair {i + 1}: A", pair.a, settings.max_claim_chars)
            validate.text(f"pair {i + 1}: B", pair.b, settings.max_claim_chars)
        verdicts = build_judge(settings).judge(
            [PairInput(p.a, p.b, p.a_date, p.b_date) for p in pairs], nli_for_all=True
        )
    except ContraError as exc:
        fail(str(exc), EXIT_USAGE if isinstance(exc, InvalidInput) else EXIT_FAILURE)
    return [_answer(v) for v in verdicts]


def _answer(verdict: Verdict) -> _Answer:
    def span(value: Any) -> pb.Span | None:
        return None if value is None else pb.Span(start=value.start, end=value.end)

    return _Answer(
        label=verdict.label.value,
        kind=verdict.kind.value if verdict.kind else None,
        score=verdict.score,
        explanation=verdict.explanation,
        span_a=span(verdict.span_a),
        span_b=span(verdict.span_b),
    )


def _pair_inputs(
    a: str | None, b: str | None, pairs: Path | None, a_date: str | None, b_date: str | None
) -> list[_Pair]:
    try:
        if pairs is not None:
            if a or b:
                fail("give either two claims or --pairs, not both", EXIT_USAGE)
            return list(_read_pairs(pairs))
        if not a or not b:
            fail('give two claims, e.g. contra judge "A" "B", or --pairs FILE.jsonl', EXIT_USAGE)
        return [
            _Pair(
                a,
                b,
                validate.iso_date("--a-date", a_date),
                validate.iso_date("--b-date", b_date),
            )
        ]
    except InvalidInput as exc:
        fail(str(exc), EXIT_USAGE)


def _read_pairs(path: Path) -> Iterator[_Pair]:
    if not path.is_file():
        fail(f"{path}: no such file", EXIT_USAGE)
    for number, line in inputs.read_jsonl(path):
        row = inputs.parse_line(path, number, line)
        where = f"{path}:{number}"
        yield _Pair(
            validate.text(f"{where}: a", inputs.field_text(row, "a"), sys.maxsize),
            validate.text(f"{where}: b", inputs.field_text(row, "b"), sys.maxsize),
            validate.iso_date(f"{where}: a_date", inputs.field_text(row, "a_date")),
            validate.iso_date(f"{where}: b_date", inputs.field_text(row, "b_date")),
        )


@app.command()
def stats(server: ServerOpt = "", as_json: JsonOpt = False) -> None:
    """Counts of stored sources, documents and claims, and the models in use.

    Example: contra stats --server 127.0.0.1:50051
    """
    server = server or _default_server()
    response = _call(_stub(server).Stats, pb.StatsRequest(), server)
    if as_json:
        print(
            json.dumps(
                {
                    "sources": response.sources,
                    "documents": response.documents,
                    "claims": response.claims,
                    "indexed": response.indexed,
                    "index_kind": response.index_kind,
                    "embedder": response.embedder,
                    "nli_model": response.nli_model,
                }
            )
        )
        return
    table = Table("sources", "documents", "claims", "indexed", "index", "embedder", "NLI model")
    table.add_row(
        str(response.sources),
        str(response.documents),
        str(response.claims),
        str(response.indexed),
        response.index_kind,
        response.embedder,
        response.nli_model,
    )
    out.print(table)


@app.command()
def sources(server: ServerOpt = "", as_json: JsonOpt = False) -> None:
    """Stored sources with their document and claim counts.

    Example: contra sources
    """
    server = server or _default_server()
    response = _call(_stub(server).Stats, pb.StatsRequest(), server)
    if as_json:
        for s in response.per_source:
            print(json.dumps({"source": s.source_id, "outlet": s.outlet, "documents": s.documents, "claims": s.claims}))
        return
    table = Table("source", "outlet", "documents", "claims")
    for s in response.per_source:
        table.add_row(s.source_id, s.outlet, str(s.documents), str(s.claims))
    out.print(table)


@app.command("delete-source")
def delete_source(
    source_id: Annotated[str, typer.Argument(help="the source to remove with all its claims")],
    server: ServerOpt = "",
) -> None:
    """Remove a source, its documents and claims from the store and the index.

    Example: contra delete-source example-news
    """
    server = server or _default_server()
    response = _call(_stub(server).DeleteSource, pb.DeleteSourceRequest(source_id=source_id), server)
    out.print(f"deleted {response.documents_deleted} documents and {response.claims_deleted} claims of {source_id}")


app.command()(compare)


def main() -> None:
    """Console-script entry point; usage errors exit 2 (click's convention)."""
    try:
        quick = _quick_judge_args(sys.argv[1:])
        if quick is None:
            app()
            return
        try:
            judge(**quick)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


def _quick_judge_args(argv: list[str]) -> dict[str, Any] | None:
    """``contra judge "A" "B" [--server S] [--json] [--a-date D] [--b-date D]`` parsed without typer.

    The one command people run in a loop, and the one whose answer should come at once: typer's per-call
    parameter coercion imports pydantic (about 0.1 s of a 0.3 s run). Anything else (``--help``,
    ``--pairs``, ``--local``, an unknown option, a missing claim) returns None and goes to typer, which
    then gives the usual help and errors; ``tests/test_cli.py`` runs both paths.
    """
    if len(argv) < 3 or argv[0] != "judge" or any(arg in ("--help", "-h") for arg in argv):
        return None
    import argparse

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("a", nargs="?")
    parser.add_argument("b", nargs="?")
    for option in ("--server", "--a-date", "--b-date"):
        parser.add_argument(option)
    parser.add_argument("--json", dest="as_json", action="store_true")
    try:
        parsed, unknown = parser.parse_known_args(argv[1:])
    except argparse.ArgumentError:
        return None
    if unknown or not parsed.a or not parsed.b:
        return None
    return {
        "a": parsed.a,
        "b": parsed.b,
        "pairs": None,
        "a_date": parsed.a_date,
        "b_date": parsed.b_date,
        "server": parsed.server or "",
        "local": False,
        "as_json": parsed.as_json,
    }


if __name__ == "__main__":
    main()
