"""The compare job end to end, with the real models: local and Ray engines, resume, inputs and the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from contra.errors import InvalidInput
from contra.service.batch.job import (
    CompareJob,
    CompareResult,
    LocalEngine,
    Stage,
    read_conflicts,
    read_corpus,
    run_compare,
)
from contra.service.claims import split_claims
from contra.service.cli import app as cli_app
from contra.service.config import Settings
from contra.service.judge.judge import PairInput

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus"
RIVAL = DATA / "batch" / "rival.jsonl"
SEED = Path(__file__).resolve().parents[2] / "shared" / "examples" / "seed.txt"

#: Linked pairs taken per (label, kind) for the test corpus, plus a few documents that belong to no pair.
PER_KIND = {"number": 4, "date": 4, "quantity": 3, "stance": 5, "none": 10}
DISTRACTORS = 4


class Interrupted(Exception):
    """Raised from the checkpoint hook to stop a job the way a crash would."""


def _corpus_rows() -> tuple[list[dict[str, object]], list[tuple[str, str, str]]]:
    """About 56 documents of many sources, and the linked sentence pairs (kind, a, b) they hold."""
    labels = {row["id"]: row for row in map(json.loads, (DATA / "pairs.jsonl").read_text().splitlines())}
    documents = {row["doc_id"]: row for row in map(json.loads, (CORPUS / "documents.jsonl").read_text().splitlines())}
    links = [json.loads(line) for line in (CORPUS / "links.jsonl").read_text().splitlines()]
    taken: dict[str, int] = {}
    chosen: list[str] = []
    pairs: list[tuple[str, str, str]] = []
    for link in links:
        kind = labels[link["pair_id"]]["kind"]
        if taken.get(kind, 0) < PER_KIND[kind]:
            taken[kind] = taken.get(kind, 0) + 1
            chosen += [link["a_doc"], link["b_doc"]]
            pairs.append((kind, link["a_sentence"], link["b_sentence"]))
    linked = {doc for link in links for doc in (link["a_doc"], link["b_doc"])}
    chosen += [doc for doc in documents if doc not in linked][:DISTRACTORS]
    rows = [{k: documents[doc][k] for k in ("source", "outlet", "date", "url", "text")} | {"id": doc} for doc in chosen]
    return rows, pairs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows, _ = _corpus_rows()
    path = tmp_path_factory.mktemp("corpus") / "documents.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def settings() -> Settings:
    # Five candidates per claim keep the judge's work (and the test) small; the search logic is the same.
    return Settings(top_k=5)


@pytest.fixture(scope="module")
def local_engine(settings: Settings) -> Iterator[LocalEngine]:
    with LocalEngine(settings) as engine:
        yield engine


@pytest.fixture(scope="module")
def local_job(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> CompareJob:
    base = tmp_path_factory.mktemp("local")
    return CompareJob((corpus,), base / "out.jsonl", base / "work")


@pytest.fixture(scope="module")
def local_run(local_job: CompareJob, settings: Settings, local_engine: LocalEngine) -> CompareResult:
    return run_compare(local_job, settings, local_engine)


def test_corpus_has_enough_documents_from_several_sources(corpus: Path) -> None:
    parsed = read_corpus([corpus], 100_000)
    assert len(parsed.documents) >= 50
    assert parsed.sources >= 8


def test_local_job_reports_cross_source_conflicts_once(local_run: CompareResult, corpus: Path) -> None:
    summary, records = local_run.summary, local_run.records
    assert summary.documents >= 50 and summary.claims > summary.documents
    assert summary.candidate_pairs >= summary.judged_pairs > 0
    assert summary.conflicts == len(records) > 0
    assert sum(summary.conflicts_by_kind.values()) == len(records)
    assert [s.stage for s in summary.stages] == list(Stage)
    texts = {doc.external_id: doc.text for doc in read_corpus([corpus], 100_000).documents}
    seen = set()
    for r in records:
        assert r.a.source != r.b.source  # one input: never a source with itself
        assert r.a.text != r.b.text
        for side in (r.a, r.b):
            assert texts[side.document][side.position.start : side.position.end] == side.text
            if side.span is not None:
                assert 0 <= side.span.start < side.span.end <= len(side.text)
        key = frozenset({(r.a.document, r.a.position), (r.b.document, r.b.position)})
        assert key not in seen, "each unordered claim pair is reported once"
        seen.add(key)
    scores = [r.score for r in records]
    assert scores == sorted(scores, reverse=True)


def test_local_job_finds_the_linked_pairs_that_the_judge_flags(
    local_run: CompareResult, local_engine: LocalEngine, corpus: Path
) -> None:
    """The corpus links each pair's two sentences; the job must find the pairs that the judge, asked
    directly, calls a clear conflict (a few may fall outside the top-5 search), with the same kind.

    Only clear conflicts (score >= 0.7) count: the int8 NLI model's scores move by up to about 0.1 with
    the other pairs in a batch, and the job batches by chunk while this call batches the linked pairs."""
    _, pairs = _corpus_rows()
    dates = {
        claim.text: doc.published
        for doc in read_corpus([corpus], 100_000).documents
        for claim in split_claims(doc.text)
    }
    inputs = [PairInput(a, b, dates[a], dates[b]) for _, a, b in pairs]
    verdicts = local_engine.judge_model.judge(inputs)
    clear = {(p.a, p.b): v for p, v in zip(inputs, verdicts, strict=True) if v.is_conflict and v.score >= 0.7}
    assert len(clear) >= 3
    found = {(r.a.text, r.b.text): r for r in local_run.records}
    hits = [key for key in clear if key in found]
    assert len(hits) >= 0.8 * len(clear), sorted(set(clear) - set(hits))
    assert [found[key].kind for key in hits] == [clear[key].kind for key in hits]


def test_output_file_is_the_sorted_records(local_job: CompareJob, local_run: CompareResult) -> None:
    out = local_job.out
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == [r.to_json() for r in local_run.records]
    assert set(lines[0]) == {"a", "b", "kind", "score", "similarity", "explanation"}
    assert {"source", "document", "text", "span"} <= set(lines[0]["a"])
    assert read_conflicts(out) == local_run.records


#: The Ray job runs in its own process: a Ray node that dies (say, on a machine too loaded to answer its
#: health checks) terminates its driver, and that must not take the test session with it.
RAY_JOB = """
import sys
from pathlib import Path

from contra.service.batch.job import CompareJob, run_compare
from contra.service.batch.ray_engine import RayEngine
from contra.service.config import Settings

settings = Settings()
with RayEngine(settings, num_cpus=2) as engine:
    result = run_compare(CompareJob((Path(sys.argv[1]),), Path(sys.argv[2]), Path(sys.argv[3])), settings, engine)
print(result.summary.engine, result.summary.candidate_pairs)
"""


def test_ray_engine_gives_the_same_conflicts(
    corpus: Path, settings: Settings, local_job: CompareJob, local_run: CompareResult, tmp_path: Path
) -> None:
    pytest.importorskip("ray.data", reason='the ray engine needs pip install "ray[data]"')
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", RAY_JOB, str(corpus), str(out), str(tmp_path / "work")],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "CONTRA_TOP_K": str(settings.top_k)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ray", str(local_run.summary.candidate_pairs)]
    assert read_conflicts(out) == local_run.records
    assert out.read_bytes() == local_job.out.read_bytes()


def test_interrupted_job_resumes_from_its_checkpoints(
    settings: Settings, local_engine: LocalEngine, local_job: CompareJob, local_run: CompareResult, tmp_path: Path
) -> None:
    # Start from what a job stopped during its search leaves behind (the finished job's work dir without the
    # later stages), so that the models' work is done once in this test, then crash it inside the judge stage.
    work = tmp_path / "work"
    shutil.copytree(local_job.workdir, work)
    shutil.rmtree(work / "judge")
    (work / "candidates.npz").unlink()
    job = CompareJob(local_job.inputs, tmp_path / "out.jsonl", work, resume=True)
    computed: list[tuple[Stage, int]] = []

    def crash_in_judge(stage: Stage, chunk: int) -> None:
        computed.append((stage, chunk))
        if stage is Stage.JUDGE and chunk == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_compare(job, settings, local_engine, on_checkpoint=crash_in_judge)
    assert computed == [(Stage.SEARCH, 0), (Stage.JUDGE, 0), (Stage.JUDGE, 1)]  # claims and vectors were loaded
    assert not job.out.exists()

    computed.clear()
    result = run_compare(job, settings, local_engine, on_checkpoint=lambda s, c: computed.append((s, c)))
    judge = next(s for s in result.summary.stages if s.stage is Stage.JUDGE)
    assert judge.chunks > 2 and judge.resumed_chunks == 2
    assert computed == [(Stage.JUDGE, n) for n in range(2, judge.chunks)]  # only the unfinished chunks ran
    assert result.records == local_run.records
    assert job.out.read_bytes() == local_job.out.read_bytes()


def test_resume_refuses_a_work_dir_of_another_job(corpus: Path, settings: Settings, tmp_path: Path) -> None:
    job = CompareJob((corpus,), tmp_path / "out.jsonl", tmp_path / "work")

    def stop(stage: Stage, chunk: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        run_compare(job, settings, LocalEngine(settings), on_checkpoint=stop)
    changed = Settings(top_k=6)
    with pytest.raises(InvalidInput, match="another job"):
        run_compare(CompareJob(job.inputs, job.out, job.workdir, resume=True), changed, LocalEngine(changed))


def test_jsonl_csv_and_text_folder_inputs_read_the_same(tmp_path: Path) -> None:
    rows, _ = _corpus_rows()
    rows = rows[:6]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    table = tmp_path / "docs.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "source", "outlet", "date", "url", "text"])
        writer.writeheader()
        writer.writerows({**r, "date": r["date"] or ""} for r in rows)
    folder = tmp_path / "texts"
    folder.mkdir()
    for r in rows:
        (folder / f"{r['source']}-{r['id']}.txt").write_text(str(r["text"]), encoding="utf-8")
    from_jsonl = read_corpus([jsonl], 100_000).documents
    assert read_corpus([table], 100_000).documents == from_jsonl
    from_folder = read_corpus([folder], 100_000).documents
    assert sorted(d.text for d in from_folder) == sorted(d.text for d in from_jsonl)
    assert {d.source.source_id for d in from_folder} == {f"{r['source']}-{r['id']}" for r in rows}
    two = read_corpus([jsonl, folder], 100_000)
    assert two.two_sided and two.sides == [0] * 6 + [1] * 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"source": "a"}\n', "docs.jsonl:1: text"),
        ('{"source": "a", "text": "x y z w"}\nnot json\n', "docs.jsonl:2"),
        ('{"source": "a", "text": "x y z w", "date": "May 1"}\n', "docs.jsonl:1: date"),
        ('{"source": " a", "text": "x y z w"}\n', "docs.jsonl:1: source"),
    ],
)
def test_bad_input_lines_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        read_corpus([path], 100_000)


def _cli() -> typer.Typer:
    """The real ``contra`` command; each invocation below starts with its ``compare`` sub-command."""
    return cli_app


def test_cli_compares_the_seed_article_with_a_rival_report(tmp_path: Path) -> None:
    if not SEED.exists():
        pytest.skip(f"{SEED} is not present (it lives in ../shared/)")
    out, html = tmp_path / "conflicts.jsonl", tmp_path / "report.html"
    result = CliRunner().invoke(
        _cli(),
        ["compare", str(SEED), str(RIVAL), "--out", str(out), "--html", str(html), "--json", "--fail-on-conflict"],
    )
    assert result.exit_code == 1, result.output  # conflicts found, and --fail-on-conflict
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert summary["conflicts"] == len(lines) > 0 and summary["documents"] == 4
    # Two inputs: every pair crosses from the seed article to the rival documents.
    assert all(line["a"]["document"] == "seed.txt" and line["b"]["source"] != "seed" for line in lines)
    years = [line for line in lines if "seventh year" in line["a"]["text"] and "fourth year" in line["b"]["text"]]
    assert years and years[0]["kind"] in ("date", "number")
    assert not (tmp_path / "conflicts.jsonl.work").exists()  # the default work dir goes once the job succeeded
    assert "seventh year" in html.read_text(encoding="utf-8")


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(_cli(), ["compare", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    shutil.copy(RIVAL, tmp_path / "docs.jsonl")
    local_with_address = runner.invoke(
        _cli(), ["compare", str(tmp_path / "docs.jsonl"), "--out", str(tmp_path / "o.jsonl"), "--ray-address", "x:1"]
    )
    assert local_with_address.exit_code == 2 and "--engine ray" in local_with_address.stderr


def test_skip_invalid_reports_bad_lines_and_compares_the_latest_versions(tmp_path: Path) -> None:
    docs = tmp_path / "feed.jsonl"
    lines = [
        {"source": "north-daily", "id": "n-1", "date": "2025-05-03T08:00:00Z",
         "text": "The flood in the valley forced 300 families from their homes on Thursday."},
        {"source": "south-wire", "id": "s-1", "date": "May 3, 2025",
         "text": "The flood in the valley forced 800 families from their homes on Thursday."},
        '{"source": "south-wire", "text": "unterminated}',
        {"source": "east-radio", "date": "2025-02-30", "text": "The dam held through the night, engineers said."},
        {"source": "south-wire", "id": "s-1", "date": "2025-05-04",
         "text": "The flood in the valley forced 300 families from their homes on Thursday, a correction said."},
    ]  # fmt: skip
    docs.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in lines), encoding="utf-8")
    out = tmp_path / "conflicts.jsonl"
    runner = CliRunner()
    strict = runner.invoke(_cli(), ["compare", str(docs), "--out", str(out)])
    assert strict.exit_code == 2 and f"{docs}:3:34: not valid JSON: Unterminated string" in strict.stderr
    assert not out.exists()  # the first bad line stopped the job before any work
    result = runner.invoke(_cli(), ["compare", str(docs), "--out", str(out), "--skip-invalid", "--json"])
    assert result.exit_code == 0, result.output
    assert f"skipped {docs}:3:34: not valid JSON" in result.stderr.replace("\n", " ")
    assert f"{docs}:4: date: 2025-02-30: February has 28 days in 2025" in result.stderr.replace("\n", " ")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["documents"], summary["updated"], len(summary["skipped"])) == (2, 1, 2)
    # south-wire's story was corrected to agree: only the last version is compared, so nothing conflicts.
    assert read_conflicts(out) == []
