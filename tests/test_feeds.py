"""Real news feeds end to end (issue 18): updated stories, feed timestamps, run-on lines, readable names and
messages, and a CLI that answers at once. Everything goes through the real server and the ``contra`` command.

The stories are written for these tests; each test uses sources of its own, so they share the session
server with the other end-to-end tests without meeting their claims.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from contra.service import cli
from contra.service.config import Settings
from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import CONTRA, ServerProcess

pytestmark = pytest.mark.e2e

FIRE_12 = (
    "A fire at the harbour depot on Friday injured 12 people, the fire service said. "
    "Crews worked through the night to contain the blaze."
)
FIRE_15 = FIRE_12.replace("12 people", "15 people")
FIRE_CHECK = "The fire at the harbour depot on Friday injured 15 people."


def _contra(*args: str, timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONTRA), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


def _jsonl(path: Path, *rows: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _fire_conflicts(stub: contra_pb2_grpc.ContraServiceStub, source: str) -> list[pb.Conflict]:
    response = stub.Check(
        pb.CheckRequest(text=FIRE_CHECK, source=pb.Source(source_id="coast-radio"), only_sources=[source]), timeout=60
    )
    return list(response.conflicts)


# -- 1. document versions ---------------------------------------------------------------------------


def test_an_updated_story_replaces_its_claims_and_removes_the_conflict(
    server: ServerProcess, stub: contra_pb2_grpc.ContraServiceStub, tmp_path: Path
) -> None:
    first = pb.Document(
        source=pb.Source(source_id="harbour-post"),
        text=FIRE_12,
        document_id="story-42",
        published=pb.Date(year=2025, month=5, day=3),
    )
    [v1] = stub.Ingest(pb.IngestRequest(documents=[first]), timeout=60).documents
    assert (v1.updated, v1.superseded, len(v1.claim_ids)) == (False, 0, 2)
    [conflict] = _fire_conflicts(stub, "harbour-post")
    assert conflict.other.document_id == "story-42" and "12 people" in conflict.other.text

    # The corrected version through the CLI: a feed timestamp, the same id, reported as updated.
    feed = _jsonl(
        tmp_path / "update.jsonl",
        {"source": "harbour-post", "id": "story-42", "date": "2025-05-04T18:00:00Z", "text": FIRE_15},
    )
    result = _contra("ingest", str(feed), "--server", server.address, "--json")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row == {"document_id": "story-42", "status": "updated", "claims": 2, "duplicates": 0,
                   "updated": True, "superseded": 2}  # fmt: skip
    assert _fire_conflicts(stub, "harbour-post") == []  # the superseded "12 people" is gone from every check
    stats = {s.source_id: s for s in stub.Stats(pb.StatsRequest(), timeout=10).per_source}
    assert (stats["harbour-post"].documents, stats["harbour-post"].claims) == (1, 2)
    overall = stub.Stats(pb.StatsRequest(), timeout=10)
    assert overall.indexed == overall.claims

    # The same version again changes nothing; the table says so.
    table = _contra("ingest", str(feed), "--server", server.address)
    assert table.returncode == 0 and "already stored" in table.stdout and "updated" not in table.stdout

    # The new version's publish date is the one kept: a rival claim dated before it is compared with it.
    rival = stub.Check(
        pb.CheckRequest(
            text=FIRE_12.split(",")[0] + ".",
            source=pb.Source(source_id="coast-radio"),
            only_sources=["harbour-post"],
            since=pb.Date(year=2025, month=5, day=4),
        ),
        timeout=60,
    )
    assert rival.conflicts and rival.conflicts[0].other.published == pb.Date(year=2025, month=5, day=4)
    # A month as a bound covers the whole month: "until May 2025" keeps May 4, "until April 2025" does not.
    for until, found in ((pb.Date(year=2025, month=5), True), (pb.Date(year=2025, month=4), False)):
        request = pb.CheckRequest(
            text=FIRE_12.split(",")[0] + ".",
            source=pb.Source(source_id="coast-radio"),
            only_sources=["harbour-post"],
            until=until,
        )
        assert bool(stub.Check(request, timeout=60).conflicts) is found, until


def test_two_sources_may_use_one_id(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    """A document is (source, id): another outlet's "owned-1" is its own document, and updating one of
    them leaves the other as it was."""
    mine = pb.Source(source_id="owner-wire")
    theirs = pb.Source(source_id="other-wire")
    first = pb.Document(document_id="owned-1", source=mine, text="The owner wire filed this short report today.")
    other = pb.Document(document_id="owned-1", source=theirs, text="The other wire counted 40 boats in the harbour.")
    stub.Ingest(pb.IngestRequest(documents=[first]), timeout=60)
    [stored] = stub.Ingest(pb.IngestRequest(documents=[other]), timeout=60).documents
    assert not stored.updated and len(stored.claim_ids) == 1
    edited = pb.Document(document_id="owned-1", source=mine, text="The owner wire filed this longer report today.")
    [update] = stub.Ingest(pb.IngestRequest(documents=[edited]), timeout=60).documents
    assert update.updated and update.superseded == 1
    [again] = stub.Ingest(pb.IngestRequest(documents=[other]), timeout=60).documents
    assert not again.updated and again.claim_ids == stored.claim_ids  # untouched by the other source's update


# -- 2. dates as feeds send them --------------------------------------------------------------------


def test_feed_dates_are_accepted_and_months_stay_months(server: ServerProcess, tmp_path: Path) -> None:
    feed = _jsonl(
        tmp_path / "feed.jsonl",
        {"source": "bus-monthly", "date": "May 2025",
         "text": "The city council approved 40 new bus routes at its spring session."},
        {"source": "bus-daily", "date": "Sat, 03 May 2025 10:00:00 GMT",
         "text": "Bus drivers in the city voted to accept the new pay offer."},
        {"source": "bus-weekly", "date": "2025-05-03T23:30:00-05:00",
         "text": "The depot on the east side will close for repairs in June."},
        {"source": "bus-yearly", "date": "2025",
         "text": "The transport authority counted 3 million trips on the night buses."},
    )  # fmt: skip
    result = _contra("ingest", str(feed), "--server", server.address, "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["document_id"] for line in result.stdout.splitlines()] == [
        f"feed.jsonl:{n}" for n in range(1, 5)
    ]  # no id: named by file and line
    check = _contra(
        "check", "The city council approved 25 new bus routes at its spring session.",
        "--source", "bus-rival", "--date", "May 3, 2025", "--server", server.address, "--json",
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    rows = [json.loads(line) for line in check.stdout.splitlines()]
    monthly = [r for r in rows if r["b"]["source"] == "bus-monthly"]
    assert monthly and monthly[0]["b"]["date"] == "2025-05" and monthly[0]["b"]["document"] == "feed.jsonl:1"


def test_an_impossible_date_is_named_and_stops_the_ingest(server: ServerProcess, tmp_path: Path) -> None:
    feed = _jsonl(
        tmp_path / "bad-date.jsonl",
        {"source": "date-check", "date": "2025-02-28", "text": "The council met on the last day of February."},
        {"source": "date-check", "date": "2025-02-30", "text": "The council met again two days after that."},
    )  # fmt: skip
    result = _contra("ingest", str(feed), "--server", server.address)
    assert result.returncode == 2
    assert f"{feed}:2: date: 2025-02-30: February has 28 days in 2025" in result.stderr
    sources = _contra("sources", "--server", server.address, "--json")
    assert "date-check" not in sources.stdout  # the good first line was not sent either


# -- 3. claims of bounded length --------------------------------------------------------------------


def _run_on(words: int) -> str:
    """One line without a sentence end: the same clause pattern with changing numbers, commas between."""
    return ", ".join(f"crews in ward {i} reported {i * 7 % 90 + 3} damaged roofs and {i % 11} fallen trees"
                     for i in range(words // 12))  # fmt: skip


def test_a_run_on_line_becomes_claims_under_the_limit(
    server: ServerProcess, stub: contra_pb2_grpc.ContraServiceStub
) -> None:
    text = _run_on(6_000)
    assert len(text) > 30_000 and "." not in text
    limit = Settings().max_claim_chars
    doc = pb.Document(source=pb.Source(source_id="storm-log"), text=text, document_id="storm-log-1")
    [result] = stub.Ingest(pb.IngestRequest(documents=[doc]), timeout=120).documents
    assert len(result.claim_ids) >= len(text) // limit
    # Every stored claim is at most the claim limit (read from the server's own store), and together
    # they cover the line but for the white space after each cut.
    with sqlite3.connect(f"file:{server.data_dir / 'claims.sqlite3'}?mode=ro", uri=True) as conn:
        lengths = [n for (n,) in conn.execute("SELECT length(text) FROM claims WHERE document_id = 'storm-log-1'")]
    assert len(lengths) == len(result.claim_ids) and max(lengths) <= limit
    assert sum(lengths) >= len(text) - 2 * len(lengths)


def test_tables_cut_long_claims_with_an_ellipsis(server: ServerProcess) -> None:
    long_claim = "Officials said that " + _run_on(300) + ", and 12 people were hurt."
    assert 1_500 < len(long_claim) < Settings().max_claim_chars
    result = _contra("judge", long_claim, "Officials said that 15 people were hurt.", "--server", server.address)
    assert result.returncode == 0, result.stderr
    assert "\u2026" in result.stdout
    assert len(result.stdout.splitlines()) < 40  # the whole claim would take about 100 lines at this width


# -- 4. readable names and messages -----------------------------------------------------------------


BROKEN_LINE = '{"source": "a", "text": "unterminated}'


def test_json_errors_give_line_column_and_the_parsers_message_in_every_command(
    server: ServerProcess, tmp_path: Path
) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"source": "a", "text": "A fine first line of text."}) + "\n" + BROKEN_LINE + "\n")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"a": "One claim here.", "b": "Another claim here."}) + "\n" + BROKEN_LINE + "\n")
    expected = "not valid JSON: Unterminated string starting at: line 2 column 25 (char 24)"
    for args, path in [
        (["ingest", str(docs), "--server", server.address], docs),
        (["judge", "--pairs", str(pairs), "--server", server.address], pairs),
        (["compare", str(docs), "--out", str(tmp_path / "out.jsonl")], docs),
    ]:
        result = _contra(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert f"{path}:2:25: {expected}" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    empty = _jsonl(tmp_path / "empty.jsonl", {"source": "a", "text": ""})
    result = _contra("ingest", str(empty), "--server", server.address)
    assert result.returncode == 2 and f"{empty}:1: text: must not be empty" in result.stderr


def test_ingest_help_documents_ids_and_dates() -> None:
    result = _contra("ingest", "--help", env={"COLUMNS": "300"})
    assert result.returncode == 0
    for words in ('"id"', "updates the document", "FILE:LINE", "2025-05-03T10:00:00Z", "May 3, 2025", "2025-05"):
        assert words in result.stdout, words


# -- 5. a CLI that answers at once ------------------------------------------------------------------


def test_judge_asks_the_running_server(server: ServerProcess, tmp_path: Path) -> None:
    before = server.log_text().count("ContraService/JudgePair OK")
    result = _contra("judge", "Putin spoke on April 30.", "Putin spoke on April 28.", "--json",
                     env={"CONTRA_ADDR": server.address})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "loading the models" not in result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["label"] == "contradiction" and verdict["kind"] == "date"
    assert server.log_text().count("ContraService/JudgePair OK") == before + 1
    # typer's path (--pairs, which the quick parser leaves to it) asks the server too, with the same answer.
    pairs = _jsonl(tmp_path / "pairs.jsonl", {"a": "Putin spoke on April 30.", "b": "Putin spoke on April 28."})
    result = _contra("judge", "--pairs", str(pairs), "--server", server.address)
    assert result.returncode == 0 and "loading the models" not in result.stderr
    assert json.loads(result.stdout) == verdict
    assert server.log_text().count("ContraService/JudgePair OK") == before + 2


def test_judge_without_a_server_loads_the_models_and_says_so() -> None:
    result = _contra("judge", "Putin spoke on April 30.", "Putin spoke on April 28.", "--json",
                     "--server", "127.0.0.1:1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no contra server answers at 127.0.0.1:1" in result.stderr and "loading the models" in result.stderr
    assert json.loads(result.stdout)["label"] == "contradiction"


def test_quick_judge_parsing_leaves_everything_else_to_typer() -> None:
    quick = cli._quick_judge_args(["judge", "A b c.", "D e f.", "--server", "h:1", "--json"])
    assert quick is not None and (quick["a"], quick["b"], quick["server"], quick["as_json"]) == (
        "A b c.", "D e f.", "h:1", True
    )  # fmt: skip
    for argv in (
        ["judge", "A", "B", "--help"],
        ["judge", "--pairs", "p.jsonl"],
        ["judge", "A", "B", "--local"],
        ["judge", "A"],
        ["check", "A", "B", "C"],
        ["judge", "A", "B", "C"],
    ):
        assert cli._quick_judge_args(argv) is None, argv


def test_the_cli_default_address_is_the_servers() -> None:
    assert Settings.model_fields["addr"].default == cli.DEFAULT_ADDR
