"""The ``contra`` command: a thin client over the gRPC API, plus ``serve`` and in-process ``judge``.

Exit codes: 0 success, 1 conflicts found with ``--fail-on-conflict``, 2 bad input or usage,
3 server unreachable, 4 any other failure. Every error is one line on stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import grpc
import typer
from rich.console import Console
from rich.table import Table

from contra.errors import ContraError, InvalidInput
from contra.service import validate
from contra.service.batch.command import compare
from contra.service.config import Settings
from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc

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


def _default_server() -> str:
    return Settings().addr


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
    try:
        parsed = validate.iso_date(field, value)
    except InvalidInput as exc:
        fail(str(exc), EXIT_USAGE)
    return None if parsed is None else pb.Date(year=parsed.year, month=parsed.month, day=parsed.day)


@app.command()
def serve() -> None:
    """Start the gRPC server (what `make run` runs). Configured by CONTRA_* environment variables.

    Example: CONTRA_ADDR=127.0.0.1:50051 CONTRA_DATA_DIR=./var contra serve
    """
    from contra.service.api.server import serve as run_server
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
            yield from _jsonl_documents(path)
            continue
        if not source:
            fail(f"{path}: --source is required for plain text files", EXIT_USAGE)
        yield pb.Document(
            source=pb.Source(source_id=source),
            text=path.read_text(encoding="utf-8"),
            url=url or "",
            published=published,
            document_id=path.name,
        )


def _jsonl_documents(path: Path) -> Iterator[pb.Document]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{path}:{number}: not JSON ({exc.msg})", EXIT_USAGE)
        if not isinstance(row, dict) or not row.get("source") or not row.get("text"):
            fail(f'{path}:{number}: each line needs "source" and "text"', EXIT_USAGE)
        yield pb.Document(
            source=pb.Source(source_id=str(row["source"]), outlet=str(row.get("outlet") or "")),
            text=str(row["text"]),
            url=str(row.get("url") or ""),
            published=_date_pb(f"{path}:{number}: date", row.get("date")),
            document_id=str(row.get("id") or row.get("document_id") or ""),
        )


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="plain text files, or .jsonl with one document a line")],
    source: Annotated[str | None, typer.Option(help="source id for plain text files")] = None,
    url: Annotated[str | None, typer.Option(help="URL of the document(s)")] = None,
    date: Annotated[str | None, typer.Option(help="publish date, YYYY-MM-DD")] = None,
    server: ServerOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Store documents in a running contra server.

    Example: contra ingest article.txt --source example-news --date 2025-05-01
    JSONL lines: {"source": "...", "text": "...", "url"?: "...", "date"?: "YYYY-MM-DD", "outlet"?: "..."}
    """
    server = server or _default_server()
    docs = list(_documents(files, source, url, date))
    response = _call(_stub(server).Ingest, pb.IngestRequest(documents=docs), server)
    if as_json:
        for doc in response.documents:
            print(
                json.dumps({"document_id": doc.document_id, "claims": len(doc.claim_ids), "duplicates": doc.duplicates})
            )
        return
    table = Table("document", "claims stored", "already stored")
    for doc in response.documents:
        table.add_row(doc.document_id, str(len(doc.claim_ids) - doc.duplicates), str(doc.duplicates))
    out.print(table)


_KIND_NAMES = {
    pb.CONFLICT_KIND_STANCE: "stance",
    pb.CONFLICT_KIND_NUMBER: "number",
    pb.CONFLICT_KIND_DATE: "date",
    pb.CONFLICT_KIND_QUANTITY: "quantity",
}


def _highlight(text: str, span: pb.Span) -> str:
    if span.end <= span.start:
        return text
    return f"{text[: span.start]}[bold yellow]{text[span.start : span.end]}[/]{text[span.end :]}"


@app.command()
def check(
    claim: Annotated[str, typer.Argument(help="the claim to check")],
    source: Annotated[str, typer.Option(help="source id of the claim: its own stored claims are skipped")],
    date: Annotated[str | None, typer.Option(help="date of the claim, YYYY-MM-DD")] = None,
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
                c.other.source.source_id,
                c.verdict.explanation,
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


@app.command()
def judge(
    a: Annotated[str | None, typer.Argument(help="claim A")] = None,
    b: Annotated[str | None, typer.Argument(help="claim B")] = None,
    pairs: Annotated[Path | None, typer.Option(help='JSONL file: {"a", "b", "a_date"?, "b_date"?} per line')] = None,
    a_date: Annotated[str | None, typer.Option(help="date of A, YYYY-MM-DD")] = None,
    b_date: Annotated[str | None, typer.Option(help="date of B, YYYY-MM-DD")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Judge two claims in-process (no server needed): label, kind, score and explanation.

    Example: contra judge "The war enters its seventh year." "The war is in its fourth year."
    """
    from contra.service.judge.judge import PairInput
    from contra.service.wiring import build_judge

    inputs = _pair_inputs(a, b, pairs, a_date, b_date)
    settings = Settings()
    try:
        verdicts = build_judge(settings).judge(inputs, nli_for_all=True)
    except ContraError as exc:
        fail(str(exc), EXIT_USAGE if isinstance(exc, InvalidInput) else EXIT_FAILURE)
    if as_json or pairs is not None:
        for verdict in verdicts:
            print(
                json.dumps(
                    {
                        "label": verdict.label.value,
                        "kind": verdict.kind.value if verdict.kind else None,
                        "score": round(verdict.score, 4),
                        "explanation": verdict.explanation,
                    },
                    ensure_ascii=False,
                )
            )
        return
    verdict, pair = verdicts[0], inputs[0]
    assert isinstance(pair, PairInput)
    table = Table("label", "kind", "score", "A", "B", "explanation", show_lines=True)
    table.add_row(
        verdict.label.value,
        verdict.kind.value if verdict.kind else "-",
        f"{verdict.score:.2f}",
        _highlight(pair.a, pb.Span(start=verdict.span_a.start, end=verdict.span_a.end)) if verdict.span_a else pair.a,
        _highlight(pair.b, pb.Span(start=verdict.span_b.start, end=verdict.span_b.end)) if verdict.span_b else pair.b,
        verdict.explanation,
    )
    out.print(table)


def _pair_inputs(a: str | None, b: str | None, pairs: Path | None, a_date: str | None, b_date: str | None) -> list[Any]:
    from contra.service.judge.judge import PairInput

    limit = Settings().max_claim_chars
    try:
        if pairs is not None:
            if a or b:
                fail("give either two claims or --pairs, not both", EXIT_USAGE)
            return list(_read_pairs(pairs, limit))
        if not a or not b:
            fail('give two claims, e.g. contra judge "A" "B", or --pairs FILE.jsonl', EXIT_USAGE)
        return [
            PairInput(
                validate.text("A", a, limit),
                validate.text("B", b, limit),
                validate.iso_date("--a-date", a_date),
                validate.iso_date("--b-date", b_date),
            )
        ]
    except InvalidInput as exc:
        fail(str(exc), EXIT_USAGE)


def _read_pairs(path: Path, limit: int) -> Iterator[Any]:
    from contra.service.judge.judge import PairInput

    if not path.is_file():
        fail(f"{path}: no such file", EXIT_USAGE)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{path}:{number}: not JSON ({exc.msg})", EXIT_USAGE)
        if not isinstance(row, dict):
            fail(f"{path}:{number}: each line must be a JSON object", EXIT_USAGE)
        where = f"{path}:{number}"
        yield PairInput(
            validate.text(f"{where}: a", str(row.get("a") or ""), limit),
            validate.text(f"{where}: b", str(row.get("b") or ""), limit),
            validate.iso_date(f"{where}: a_date", row.get("a_date")),
            validate.iso_date(f"{where}: b_date", row.get("b_date")),
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
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
