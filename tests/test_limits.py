"""Limits, deadlines, the bounded queue, streaming, request ids, JSON logs and metrics, on a real server.

One server with small limits (1 worker, 1 queued call, 2 streams of window 2, 5 messages per
stream) so that every limit can be reached cheaply.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from google.protobuf.message import Message

from contra.errors import InvalidInput, Overloaded
from contra.service.api import flow
from contra.service.api.limits import Deadline, DeadlineExceeded, WorkQueue
from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import ServerProcess, free_port

pytestmark = pytest.mark.e2e

MAX_TEXT = 20_000
MAX_CLAIM = 300
MAX_DOCS = 3
MAX_MESSAGE = 256 * 1024
MAX_STREAM = 5
SENTENCE = "The city council approved a budget of {n} million euros for the new tram line on Tuesday. "
#: Filler for the slow ingest: unrelated to the checked claims, so checks stay cheap afterwards.
FILLER = "Gauge {n} on the upper river recorded a water level of {n} centimetres at dawn. "


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("limits")
    metrics_addr = f"127.0.0.1:{free_port()}"
    proc = ServerProcess(
        base / "data",
        base / "server.log",
        CONTRA_MAX_TEXT_CHARS=str(MAX_TEXT),
        CONTRA_MAX_CLAIM_CHARS=str(MAX_CLAIM),
        CONTRA_MAX_DOCUMENTS_PER_REQUEST=str(MAX_DOCS),
        CONTRA_MAX_MESSAGE_BYTES=str(MAX_MESSAGE),
        CONTRA_MAX_STREAM_MESSAGES=str(MAX_STREAM),
        CONTRA_STREAM_WINDOW="2",
        CONTRA_MAX_STREAMS="2",
        CONTRA_WORKERS="1",
        CONTRA_TOP_K="3",
        CONTRA_MAX_QUEUE="1",
        CONTRA_METRICS_ADDR=metrics_addr,
        CONTRA_LOG_FORMAT="json",
    )
    proc.env["TEST_METRICS_ADDR"] = metrics_addr
    proc.start()
    yield proc
    if proc.proc is not None:
        proc.stop()


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> contra_pb2_grpc.ContraServiceStub:
    return contra_pb2_grpc.ContraServiceStub(channel)


def _doc(text: str, source: str = "limits-a", doc_id: str = "") -> pb.Document:
    return pb.Document(source=pb.Source(source_id=source), text=text, document_id=doc_id)


def _check(
    text: str = "The council approved a budget of 12 million euros.", source: str = "limits-b"
) -> pb.CheckRequest:
    return pb.CheckRequest(text=text, source=pb.Source(source_id=source))


def _error(fn: object, request: object, **kwargs: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn(request, timeout=60, **kwargs)  # type: ignore[operator]
    return info.value


def metrics(server: ServerProcess) -> dict[str, float]:
    body = urllib.request.urlopen(f"http://{server.env['TEST_METRICS_ADDR']}/metrics", timeout=10).read().decode()
    values: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def _wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


# --- sizes and fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.IngestRequest(documents=[_doc("x" * (MAX_TEXT + 1))]), "documents[0].text"),
        (pb.IngestRequest(documents=[_doc("A fine claim about the harbour.")] * (MAX_DOCS + 1)), "documents"),
        (pb.IngestRequest(), "documents"),
        (pb.IngestRequest(documents=[_doc("A fine claim about the harbour.", source=" padded")]), "source_id"),
        (
            pb.IngestRequest(
                documents=[pb.Document(source=pb.Source(source_id="s", outlet="o" * 201), text="A b c d.")]
            ),
            "documents[0].source.outlet",
        ),
        (
            pb.IngestRequest(documents=[_doc("A fine claim.", doc_id="d" * 201)]),
            "documents[0].document_id",
        ),
    ],
)
def test_ingest_limits_name_the_field(
    stub: contra_pb2_grpc.ContraServiceStub, request_: pb.IngestRequest, field: str
) -> None:
    error = _error(stub.Ingest, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.details() or ""), error.details()


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_check("y" * (MAX_CLAIM + 1)), "text"),
        (_check("Nul \x00 inside a claim about trams."), "text"),
        (pb.CheckRequest(text="A claim about trams and budgets.", source=pb.Source(source_id="x"), top_k=501), "top_k"),
        (
            pb.CheckRequest(text="A claim about trams.", source=pb.Source(source_id="x"), only_sources=["ok"] * 1001),
            "only_sources",
        ),
        (
            pb.CheckRequest(text="A claim about trams.", source=pb.Source(source_id="x"), only_sources=["a\nb"]),
            "only_sources[0]",
        ),
        (
            pb.CheckRequest(
                text="A claim.", source=pb.Source(source_id="x"), since=pb.Date(year=2025, month=13, day=1)
            ),
            "since",
        ),
    ],
)
def test_check_limits_name_the_field(
    stub: contra_pb2_grpc.ContraServiceStub, request_: pb.CheckRequest, field: str
) -> None:
    error = _error(stub.Check, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.details() or ""), error.details()


def test_judge_pair_limits(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    error = _error(stub.JudgePair, pb.JudgePairRequest(a="A claim about trams.", b="z" * (MAX_CLAIM + 1)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and (error.details() or "").startswith("b:")
    error = _error(
        stub.JudgePair, pb.JudgePairRequest(a="A claim.", b="B claim.", a_date=pb.Date(year=2025, month=2, day=29))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "a_date" in (error.details() or "")


def test_message_size_limit_is_resource_exhausted(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    """grpc itself refuses a message over CONTRA_MAX_MESSAGE_BYTES before any of contra's code runs."""
    error = _error(stub.Ingest, pb.IngestRequest(documents=[_doc("w" * (MAX_MESSAGE + 10))]))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# --- bytes that are not valid protobuf or not UTF-8 --------------------------------------------


def _with_bad_utf8(message: Message, marker: str) -> bytes:
    data: bytes = message.SerializeToString()
    assert data.count(marker.encode()) == 1
    return data.replace(marker.encode(), b"\xc3\x28\xff" + b"z" * (len(marker) - 3))


@pytest.mark.parametrize(
    ("method", "data", "field"),
    [
        ("Check", _with_bad_utf8(_check("The MARKER approved the tram budget."), "MARKER"), "text"),
        ("Check", _with_bad_utf8(_check(source="SRCMARK"), "SRCMARK"), "source.source_id"),
        (
            "Ingest",
            _with_bad_utf8(
                pb.IngestRequest(documents=[_doc("The tram line opens in May."), _doc("The MARKER line opens.")]),
                "MARKER",
            ),
            "documents[1].text",
        ),
        ("JudgePair", _with_bad_utf8(pb.JudgePairRequest(a="A tram.", b="BMARKER"), "BMARKER"), "b"),
        ("DeleteSource", _with_bad_utf8(pb.DeleteSourceRequest(source_id="SRCMARK"), "SRCMARK"), "source_id"),
    ],
)
def test_invalid_utf8_names_the_field(channel: grpc.Channel, method: str, data: bytes, field: str) -> None:
    call = channel.unary_unary(f"/contra.v1.ContraService/{method}")
    with pytest.raises(grpc.RpcError) as info:
        call(data, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith(f"{field}: is not valid UTF-8"), info.value.details()


@pytest.mark.parametrize("data", [b"\x0a\xff\xff\xff\xff\x0f", b"\x0b" * 5000, b"\xff" * 7, b"\x12\x05ab"])
def test_corrupt_protobuf_is_invalid_argument(channel: grpc.Channel, data: bytes) -> None:
    call = channel.unary_unary("/contra.v1.ContraService/Check")
    with pytest.raises(grpc.RpcError) as info:
        call(data, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("request: is not a valid contra.v1.CheckRequest")


# --- the queue, deadlines -------------------------------------------------------------------


def _slow_ingest(stub: contra_pb2_grpc.ContraServiceStub, results: list[object], tag: str) -> threading.Thread:
    """An ingest that keeps the single worker busy for a while (hundreds of claims to embed)."""
    sentences = (FILLER.format(n=f"{tag}{i}") for i in range(MAX_TEXT))
    text = ""
    while len(text) < MAX_TEXT - 200:
        text += next(sentences)
    request = pb.IngestRequest(documents=[_doc(text, source=f"slow-{tag}-{i}") for i in range(MAX_DOCS)])

    def run() -> None:
        try:
            results.append(stub.Ingest(request, timeout=300))
        except grpc.RpcError as exc:
            results.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_full_queue_is_resource_exhausted_and_deadlines_drop_queued_work(
    server: ServerProcess, stub: contra_pb2_grpc.ContraServiceStub
) -> None:
    stub.Check(_check(), timeout=60)  # warm: the first call loads lazy parts
    before = metrics(server)
    model_checks = 'contra_model_seconds_count{method="Check"}'
    results: list[object] = []
    slow = _slow_ingest(stub, results, "q")
    _wait_for(lambda: metrics(server)["contra_workers_busy"] == 1)
    # A call whose deadline passes while it waits for the worker never runs.
    with pytest.raises(grpc.RpcError) as info:
        stub.Check(_check(), timeout=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # One call may wait (CONTRA_MAX_QUEUE=1); the next is refused at once.
    waiting: list[object] = []
    queued = threading.Thread(target=lambda: waiting.append(stub.Check(_check(), timeout=300)))
    queued.start()
    _wait_for(lambda: metrics(server)["contra_queue_waiting"] == 1)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        stub.Check(_check(), timeout=60)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "waiting" in (info.value.details() or "")
    assert time.monotonic() - started < 5  # refused, not queued
    slow.join(300)
    queued.join(300)
    assert isinstance(results[0], pb.IngestResponse), results
    assert isinstance(waiting[0], pb.CheckResponse)
    after = metrics(server)
    # Model work ran for the warm-up's successor (the queued call) only: the expired one was dropped.
    assert after[model_checks] - before[model_checks] == 1
    assert after['contra_requests_total{code="RESOURCE_EXHAUSTED",method="contra.v1.ContraService/Check"}'] >= 1


# --- streams --------------------------------------------------------------------------------


def test_check_stream_answers_in_order_with_tags(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    stub.Ingest(pb.IngestRequest(documents=[_doc(SENTENCE.format(n=40), source="stream-seed")]), timeout=120)
    texts = [SENTENCE.format(n=n).strip() for n in (41, 42, 43, 44)]
    requests = [pb.CheckStreamRequest(tag=f"t{i}", check=_check(text)) for i, text in enumerate(texts)]
    answers = list(stub.CheckStream(iter(requests), timeout=300))
    assert [a.tag for a in answers] == ["t0", "t1", "t2", "t3"]
    assert [a.index for a in answers] == [0, 1, 2, 3]
    assert all(a.result.candidates >= 1 for a in answers)
    single = stub.Check(_check(texts[2]), timeout=60)
    assert [c.other.claim_id for c in answers[2].result.conflicts] == [c.other.claim_id for c in single.conflicts]


def test_check_stream_ping_pong(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    """A caller that waits for each answer before sending the next is served (reading is not blocked)."""
    ready = threading.Event()

    def requests() -> Iterator[pb.CheckStreamRequest]:
        for i in range(3):
            yield pb.CheckStreamRequest(tag=str(i), check=_check())
            assert ready.wait(60)
            ready.clear()

    got = []
    for answer in stub.CheckStream(requests(), timeout=120):
        got.append(answer.tag)
        ready.set()
    assert got == ["0", "1", "2"]


def test_ingest_stream_acknowledges_each_document(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    docs = [f"The ferry from Harwich to port {n} carried {n}00 passengers on its first trip." for n in range(4)]
    requests = [
        pb.IngestStreamRequest(tag=f"d{i}", document=_doc(t, source="stream-ingest")) for i, t in enumerate(docs)
    ]
    acks = list(stub.IngestStream(iter(requests), timeout=300))
    assert [a.tag for a in acks] == ["d0", "d1", "d2", "d3"]
    assert all(len(a.document.claim_ids) == 1 for a in acks)
    again = stub.Ingest(pb.IngestRequest(documents=[_doc(t, source="stream-ingest") for t in docs[:3]]), timeout=120)
    assert [d.claim_ids for d in again.documents] == [a.document.claim_ids for a in acks[:3]]
    assert all(d.duplicates == 1 for d in again.documents)


def test_ingest_stream_bad_document_ends_stream_after_earlier_acks(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    requests = [
        pb.IngestStreamRequest(tag="ok", document=_doc("The museum reopened its east wing to visitors.", "stream-bad")),
        pb.IngestStreamRequest(tag="bad", document=_doc("   ", "stream-bad")),
        pb.IngestStreamRequest(
            tag="never", document=_doc("The museum closed its west wing for repairs.", "stream-bad")
        ),
    ]
    acks: list[str] = []
    with pytest.raises(grpc.RpcError) as info:
        for ack in stub.IngestStream(iter(requests), timeout=120):
            acks.append(ack.tag)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("requests[1].document.text:")
    assert acks == ["ok"]


def test_stream_message_limit(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    requests = [
        pb.IngestStreamRequest(tag=str(i), document=_doc(f"Harbour crane number {i} was repaired this week.", "lim"))
        for i in range(MAX_STREAM + 1)
    ]
    acks: list[str] = []
    with pytest.raises(grpc.RpcError) as info:
        for ack in stub.IngestStream(iter(requests), timeout=120):
            acks.append(ack.tag)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "CONTRA_MAX_STREAM_MESSAGES" in (info.value.details() or "")
    assert acks == [str(i) for i in range(MAX_STREAM)]


def test_bad_utf8_inside_a_stream(channel: grpc.Channel) -> None:
    good = pb.CheckStreamRequest(tag="a", check=_check()).SerializeToString()
    bad = pb.CheckStreamRequest(tag="b", check=_check("The TRAMMARK line opens.")).SerializeToString()
    bad = bad.replace(b"TRAMMARK", b"\xffRAMMARK")
    call = channel.stream_stream("/contra.v1.ContraService/CheckStream")
    answers: list[bytes] = []
    with pytest.raises(grpc.RpcError) as info:
        for answer in call(iter([good, bad]), timeout=120):
            answers.append(answer)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("requests[1].check.text: is not valid UTF-8")
    assert len(answers) == 1


def test_open_streams_are_capped(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    release = threading.Event()

    def idle() -> Iterator[pb.CheckStreamRequest]:
        release.wait(60)
        return
        yield

    held = [stub.CheckStream(idle(), timeout=120) for _ in range(2)]
    try:
        time.sleep(0.5)
        with pytest.raises(grpc.RpcError) as info:
            list(stub.CheckStream(iter([pb.CheckStreamRequest(check=_check())]), timeout=60))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "streams" in (info.value.details() or "")
    finally:
        release.set()
        for call in held:
            assert list(call) == []


# --- operations: request ids, JSON logs, metrics ---------------------------------------------


def test_request_id_is_echoed_and_logged(server: ServerProcess, stub: contra_pb2_grpc.ContraServiceStub) -> None:
    _, call = stub.Stats.with_call(pb.StatsRequest(), metadata=(("x-request-id", "probe-4711"),), timeout=30)
    assert dict(call.initial_metadata())["x-request-id"] == "probe-4711"
    try:
        stub.DeleteSource.with_call(pb.DeleteSourceRequest(source_id="no-such-source"), timeout=30)
    except grpc.RpcError as exc:
        generated = dict(exc.initial_metadata())["x-request-id"]  # type: ignore[attr-defined]
        assert exc.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    _, call = stub.Stats.with_call(pb.StatsRequest(), metadata=(("x-request-id", "bad id with spaces!"),), timeout=30)
    assert dict(call.initial_metadata())["x-request-id"] != "bad id with spaces!"
    lines = _log_lines(server, wait_for="probe-4711")
    access = [e for e in lines if e.get("request_id") == "probe-4711"]
    assert access and access[0]["logger"] == "contra.access" and access[0]["code"] == "OK"
    assert access[0]["method"] == "contra.v1.ContraService/Stats" and access[0]["duration_ms"] >= 0
    assert any(e.get("request_id") == generated and e.get("code") == "NOT_FOUND" for e in _log_lines(server, generated))


def _log_lines(server: ServerProcess, wait_for: str) -> list[dict[str, object]]:
    _wait_for(lambda: wait_for in server.log_text(), timeout=10)
    entries = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def test_logs_are_json_lines(server: ServerProcess) -> None:
    text = server.log_text()
    json_lines = [line for line in text.splitlines() if line.startswith("{")]
    assert len(json_lines) > 10
    for line in json_lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= entry.keys()
    assert any("ready: serving" in json.loads(line)["msg"] for line in json_lines)


def test_metrics_endpoint(server: ServerProcess, stub: contra_pb2_grpc.ContraServiceStub) -> None:
    stub.Ingest(
        pb.IngestRequest(documents=[_doc("The mayor opened the new library on Friday.", "metrics-src")]), timeout=60
    )
    stub.Check(_check("The mayor closed the new library on Friday."), timeout=60)
    values = metrics(server)
    assert values['contra_requests_total{code="OK",method="contra.v1.ContraService/Ingest"}'] >= 1
    assert values['contra_request_seconds_count{code="OK",method="contra.v1.ContraService/Check"}'] >= 1
    assert values['contra_requests_total{code="INVALID_ARGUMENT",method="contra.v1.ContraService/Check"}'] >= 1
    assert values['contra_batch_size_count{method="Ingest"}'] >= 1
    assert values['contra_model_seconds_sum{method="Check"}'] > 0
    stats = stub.Stats(pb.StatsRequest(), timeout=30)
    assert values["contra_index_size"] >= 1 and metrics(server)["contra_index_size"] == stats.indexed
    assert values["contra_ready"] == 1
    assert values["process_resident_memory_bytes"] > 100e6
    assert values["contra_queue_waiting"] == 0 and values["contra_streams_open"] == 0


def test_nothing_unexpected_in_the_log(server: ServerProcess) -> None:
    entries = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    assert not [e for e in entries if e["level"] in ("ERROR", "CRITICAL")]
    assert not [e for e in entries if e.get("code") in ("UNKNOWN", "INTERNAL")]


# --- the pieces on their own (no server) -------------------------------------------------------


def test_ordered_keeps_order_and_window() -> None:
    async def scenario() -> tuple[list[int], int]:
        running = 0
        peak = 0

        async def source() -> AsyncIterator[int]:
            for i in range(40):
                yield i

        async def work(i: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(random.Random(i).uniform(0, 0.01))
            running -= 1
            return i * i

        return [r async for r in flow.ordered(source(), work, window=3)], peak

    results, peak = asyncio.run(scenario())
    assert results == [i * i for i in range(40)]
    assert 1 < peak <= 3


def test_ordered_raises_failures_in_place_and_cancels_the_rest() -> None:
    started: list[int] = []

    async def scenario() -> list[int]:
        async def source() -> AsyncIterator[int]:
            for i in range(10):
                yield i
            raise AssertionError("never read this far")

        async def work(i: int) -> int:
            started.append(i)
            if i == 2:
                raise InvalidInput(f"requests[{i}].text", "bad")
            await asyncio.sleep(0.01)
            return i

        got: list[int] = []
        with pytest.raises(InvalidInput, match=r"requests\[2\]"):
            async for r in flow.ordered(source(), work, window=2):
                got.append(r)
        return got

    assert asyncio.run(scenario()) == [0, 1]
    assert max(started) <= 4


def test_work_queue_refuses_when_full_and_holds_slots_until_threads_finish() -> None:
    gate = threading.Event()

    async def scenario() -> None:
        queue = WorkQueue(workers=1, max_waiting=1)
        first = asyncio.ensure_future(queue.run("t", Deadline(), gate.wait, 30))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(queue.run("t", Deadline(), lambda: "second"))
        await asyncio.sleep(0.05)
        assert (queue.running, queue.waiting) == (1, 1)
        with pytest.raises(Overloaded):
            await queue.run("t", Deadline(), lambda: "third")
        first.cancel()  # the caller gives up; its thread is still blocked, so its slot stays taken
        await asyncio.sleep(0.05)
        assert queue.running == 1 and not second.done()
        gate.set()
        assert await second == "second"
        assert queue.running == 0
        with pytest.raises(DeadlineExceeded):
            await queue.run("t", Deadline(time.monotonic() - 1), lambda: "late")
        queue.shutdown()

    asyncio.run(scenario())


def test_waiting_stream_messages_do_not_lock_unary_callers_out() -> None:
    gate = threading.Event()

    async def scenario() -> None:
        queue = WorkQueue(workers=1, max_waiting=1)
        busy = asyncio.ensure_future(queue.run("t", Deadline(), gate.wait, 30))
        streamed = [asyncio.ensure_future(queue.run_waiting("s", Deadline(), lambda: "s")) for _ in range(3)]
        await asyncio.sleep(0.05)
        unary = asyncio.ensure_future(queue.run("t", Deadline(), lambda: "unary"))  # admitted: 0 unary waiting
        await asyncio.sleep(0.05)
        assert queue.waiting == 4
        with pytest.raises(Overloaded):  # the second unary caller is one too many
            await queue.run("t", Deadline(), lambda: "refused")
        gate.set()
        assert await unary == "unary" and [await s for s in streamed] == ["s"] * 3
        assert await busy is True
        queue.shutdown()

    asyncio.run(scenario())
