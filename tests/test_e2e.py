"""End to end: the real server on loopback, the shipped models, the seed article and a rival report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import CONTRA, REPO, ServerProcess

pytestmark = pytest.mark.e2e

FOURTH_YEAR = "The war in Ukraine is now in its fourth year."


def _check(stub: contra_pb2_grpc.ContraServiceStub, text: str, source: str = "third-daily") -> pb.CheckResponse:
    response: pb.CheckResponse = stub.Check(
        pb.CheckRequest(text=text, source=pb.Source(source_id=source), published=pb.Date(year=2025, month=5, day=3)),
        timeout=60,
    )
    return response


def test_ingest_returns_claim_ids(seeded: pb.IngestResponse) -> None:
    seed, rival = seeded.documents
    assert seed.document_id == "seed" and rival.document_id == "rival"
    assert len(seed.claim_ids) >= 15  # the seed article has ~20 sentences
    assert len(rival.claim_ids) == 4
    assert not set(seed.claim_ids) & set(rival.claim_ids)


def test_check_finds_the_year_of_the_war_conflict(
    stub: contra_pb2_grpc.ContraServiceStub, seeded: pb.IngestResponse
) -> None:
    response = _check(stub, FOURTH_YEAR)
    assert response.candidates > 0
    years = [c for c in response.conflicts if "seventh year" in c.other.text]
    assert years, [c.other.text for c in response.conflicts]
    conflict = years[0]
    assert conflict.other.source.source_id == "seed-news"
    assert conflict.other.document_id == "seed"
    assert conflict.other.url == "https://seed.example/kursk"
    assert conflict.verdict.label == pb.LABEL_CONTRADICTION
    assert conflict.verdict.kind in (pb.CONFLICT_KIND_DATE, pb.CONFLICT_KIND_NUMBER)
    assert 0.5 <= conflict.verdict.score <= 1.0
    span_a, span_b = conflict.verdict.span_a, conflict.verdict.span_b
    assert "fourth" in FOURTH_YEAR[span_a.start : span_a.end]
    assert "seventh" in conflict.other.text[span_b.start : span_b.end]
    assert "seventh" in conflict.verdict.explanation and "fourth" in conflict.verdict.explanation
    # The stored claim's location points back into the seed article.
    loc = conflict.other.location
    assert loc.end - loc.start == len(conflict.other.text)


def test_check_never_returns_the_queries_own_source(
    stub: contra_pb2_grpc.ContraServiceStub, seeded: pb.IngestResponse
) -> None:
    response = _check(stub, FOURTH_YEAR, source="rival-wire")
    assert all(c.other.source.source_id != "rival-wire" for c in response.conflicts)
    response = _check(
        stub, "As the war in Ukraine enters its seventh year, events in Kursk shape the conflict.", "seed-news"
    )
    assert all(c.other.source.source_id != "seed-news" for c in response.conflicts)
    assert any("fourth year" in c.other.text for c in response.conflicts)


def test_conflict_through_the_cli(server: ServerProcess, seeded: pb.IngestResponse) -> None:
    result = subprocess.run(
        [str(CONTRA), "check", FOURTH_YEAR, "--source", "cli-check", "--server", server.address, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    years = [r for r in rows if "seventh year" in r["b"]["text"]]
    assert years, result.stdout
    assert years[0]["b"]["source"] == "seed-news"
    assert years[0]["kind"] in ("date", "number")
    table = subprocess.run(
        [str(CONTRA), "check", FOURTH_YEAR, "--source", "cli-check", "--server", server.address],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert table.returncode == 0 and "seed-news" in table.stdout


def test_cli_ingest_plain_text_and_jsonl(server: ServerProcess, tmp_path: Path) -> None:
    text_file = tmp_path / "note.txt"
    text_file.write_text(
        "The harbour authority said the new ferry terminal will open in June next year.", encoding="utf-8"
    )
    result = subprocess.run(
        [str(CONTRA), "ingest", str(text_file), "--source", "harbour-gazette", "--date", "2025-04-02",
         "--server", server.address, "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["claims"] == 1
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(
        json.dumps({"source": "coast-radio", "text": "The ferry terminal will not open before 2027, the port said.",
                    "date": "2025-04-03", "outlet": "Coast Radio"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    result = subprocess.run(
        [str(CONTRA), "ingest", str(jsonl), "--server", server.address, "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_plain_generated_stub_and_health(server: ServerProcess, seeded: pb.IngestResponse) -> None:
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="contra.v1.ContraService"), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        stats = stub.Stats(pb.StatsRequest(), timeout=10)
        assert stats.sources >= 2 and stats.claims >= 19 and stats.indexed == stats.claims
        assert {s.source_id for s in stats.per_source} >= {"seed-news", "rival-wire"}
        verdict = stub.JudgePair(
            pb.JudgePairRequest(
                a="As the war in Ukraine enters its seventh year, the fighting goes on.", b=FOURTH_YEAR
            ),
            timeout=30,
        ).verdict
        assert verdict.label == pb.LABEL_CONTRADICTION


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.CheckRequest(text="", source=pb.Source(source_id="x")), "text"),
        (pb.CheckRequest(text="A claim with enough words in it.", source=pb.Source(source_id="")), "source"),
        (pb.CheckRequest(text="x" * 5000, source=pb.Source(source_id="x")), "text"),
        (
            pb.CheckRequest(
                text="A claim.", source=pb.Source(source_id="x"), published=pb.Date(year=2025, month=2, day=30)
            ),
            "published",
        ),
    ],
)
def test_bad_check_input_is_invalid_argument(
    stub: contra_pb2_grpc.ContraServiceStub, request_: pb.CheckRequest, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.Check(request_, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (info.value.details() or "")


def test_bad_ingest_stores_nothing(stub: contra_pb2_grpc.ContraServiceStub, seeded: pb.IngestResponse) -> None:
    before = stub.Stats(pb.StatsRequest(), timeout=10)
    bad = pb.IngestRequest(
        documents=[
            pb.Document(source=pb.Source(source_id="ok-source"), text="A perfectly fine sentence about the harbour."),
            pb.Document(source=pb.Source(source_id="ok-source"), text="   "),
        ]
    )
    with pytest.raises(grpc.RpcError) as info:
        stub.Ingest(bad, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "documents[1].text" in (info.value.details() or "")
    after = stub.Stats(pb.StatsRequest(), timeout=10)
    assert (after.documents, after.claims) == (before.documents, before.claims)


def test_unknown_source_is_not_found(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.DeleteSource(pb.DeleteSourceRequest(source_id="never-ingested"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_cli_errors_are_one_line_and_nonzero(server: ServerProcess) -> None:
    unreachable = subprocess.run(
        [str(CONTRA), "check", FOURTH_YEAR, "--source", "x", "--server", "127.0.0.1:1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unreachable.returncode == 3
    assert "cannot reach" in unreachable.stderr and "Traceback" not in unreachable.stderr
    bad_date = subprocess.run(
        [str(CONTRA), "check", FOURTH_YEAR, "--source", "x", "--date", "2025-13-01", "--server", server.address],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad_date.returncode == 2 and "--date" in bad_date.stderr


def test_restart_loses_nothing(tmp_path: Path) -> None:
    """A separate server: ingest, stop with SIGTERM, start again, and find everything still there."""
    proc = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    proc.start()
    try:
        with grpc.insecure_channel(proc.address) as channel:
            stub = contra_pb2_grpc.ContraServiceStub(channel)
            stub.Ingest(
                pb.IngestRequest(
                    documents=[
                        pb.Document(
                            source=pb.Source(source_id="a"),
                            text="The bridge over the river reopened on Monday after repairs.",
                        ),
                        pb.Document(
                            source=pb.Source(source_id="b"),
                            text="The bridge over the river remains closed for repairs.",
                        ),
                    ]
                ),
                timeout=60,
            )
            before = stub.Stats(pb.StatsRequest(), timeout=10)
        assert proc.stop() == 0
        assert (tmp_path / "data" / "index").exists()
        proc.start()
        with grpc.insecure_channel(proc.address) as channel:
            stub = contra_pb2_grpc.ContraServiceStub(channel)
            after = stub.Stats(pb.StatsRequest(), timeout=10)
            assert (after.claims, after.indexed, after.documents) == (before.claims, before.indexed, before.documents)
            response = stub.Check(
                pb.CheckRequest(text="The bridge over the river reopened on Monday.", source=pb.Source(source_id="c")),
                timeout=60,
            )
            assert response.candidates >= 2
    finally:
        if proc.proc is not None:
            proc.stop()


def test_make_run_entry_point_has_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contra.service.cli", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0 and "check" in result.stdout and "ingest" in result.stdout
