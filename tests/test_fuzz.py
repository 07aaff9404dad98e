"""Property-based fuzzing of every RPC against the real server on loopback.

Hypothesis sends well-formed messages with hostile values (huge, empty, control characters,
invalid dates, extreme integers) and raw bytes that are not valid protobuf at all: random bytes,
mutated valid requests, invalid UTF-8 in string fields, unknown fields and enum-like varints, and
groups nested far beyond protobuf's recursion limit. Every answer must carry a documented status
code (INVALID_ARGUMENT ones naming a field); at the end the server must still be SERVING, its log
free of unhandled errors, and the documents stored before the fuzzing must all still be there.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import ServerProcess

pytestmark = pytest.mark.e2e

MAX_TEXT = 3_000
MAX_CLAIM = 400
MAX_DOCS = 4
MAX_MESSAGE = 512 * 1024
MAX_STREAM = 6
SERVICE = "/contra.v1.ContraService/"
DOCUMENTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
#: INVALID_ARGUMENT details start with the field path, e.g. "documents[2].source.source_id: ...".
FIELD_MESSAGE = re.compile(r"^(request|requests|[a-z_]+(\[\d+\])?)(\.[a-z_]+(\[\d+\])?)*: \S")
GUARD_SOURCE = "fuzz-guard-" + secrets.token_hex(6)
GUARD_TEXTS = [
    "The northern railway line carried 41,000 passengers in its first week of service.",
    "The regional parliament voted to extend the fishing ban until the end of 2027.",
]
TRIED: Counter[str] = Counter()
SLOW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("fuzz")
    proc = ServerProcess(
        base / "data",
        base / "server.log",
        CONTRA_MAX_TEXT_CHARS=str(MAX_TEXT),
        CONTRA_MAX_CLAIM_CHARS=str(MAX_CLAIM),
        CONTRA_MAX_DOCUMENTS_PER_REQUEST=str(MAX_DOCS),
        CONTRA_MAX_MESSAGE_BYTES=str(MAX_MESSAGE),
        CONTRA_MAX_STREAM_MESSAGES=str(MAX_STREAM),
        CONTRA_TOP_K="3",
    )
    proc.start()
    yield proc
    if proc.proc is not None:
        proc.stop()


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address, options=[("grpc.max_send_message_length", 4 * MAX_MESSAGE)]) as ch:
        yield ch


@pytest.fixture(scope="module")
def guard(channel: grpc.Channel) -> pb.IngestResponse:
    """Documents stored before any fuzzing; they must survive it unchanged."""
    stub = contra_pb2_grpc.ContraServiceStub(channel)
    request = pb.IngestRequest(
        documents=[pb.Document(source=pb.Source(source_id=GUARD_SOURCE), text=t) for t in GUARD_TEXTS]
    )
    response: pb.IngestResponse = stub.Ingest(request, timeout=120)
    assert all(len(d.claim_ids) == 1 for d in response.documents)
    return response


def _expect_documented(method: str, call: Callable[[], object]) -> None:
    TRIED[method] += 1
    try:
        call()
    except grpc.RpcError as exc:
        code = exc.code()
        assert code in DOCUMENTED, (method, code, exc.details())
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            assert FIELD_MESSAGE.match(exc.details() or ""), (method, exc.details())


def _unary(channel: grpc.Channel, method: str, data: bytes) -> None:
    _expect_documented(method, lambda: channel.unary_unary(SERVICE + method)(data, timeout=120))


def _stream(channel: grpc.Channel, method: str, messages: list[bytes]) -> None:
    _expect_documented(method, lambda: list(channel.stream_stream(SERVICE + method)(iter(messages), timeout=120)))


# --- strategies -----------------------------------------------------------------------------

WORDS = [
    "the",
    "minister",
    "said",
    "bridge",
    "reopened",
    "on",
    "Monday",
    "after",
    "12",
    "3.5 million",
    "not",
    "denied",
    "in",
    "2024",
    "workers",
    "per",
    "cent",
    "km",
    "fourth",
    "year",
    "war",
    "Kyiv",
    "São Paulo",
]
#: Texts that pass validation, so the fuzzer reaches the models too (unicode words included).
plausible_text = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)),
    min_size=4,
    max_size=40,
).map(lambda words: " ".join(words).capitalize() + ".")
hostile_text = st.one_of(
    plausible_text,
    plausible_text,
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=MAX_CLAIM + 50),
    st.sampled_from(
        [
            "",
            " \t\n",
            "\x00",
            "Nul\x00inside a sentence about trains.",
            "\u202e\u200b\ufeff" * 20,
            "💥" * 300,
            "A" * (MAX_CLAIM + 1),
            "B" * (MAX_TEXT + 1),
            ". " * 500,
            "The train was late. " * 20,
        ]
    ),
    st.integers(0, 300).map(lambda n: "word " * n),
)
plausible_source = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
source_id = st.one_of(
    plausible_source,
    plausible_source,
    st.sampled_from(["", " ", "a", "fuzz", " lead", "trail ", "x" * 201, "tab\tbed", "fuzz-other"]),
    st.text(max_size=30),
)
int32 = st.integers(-(2**31), 2**31 - 1)
date = st.one_of(
    st.none(),
    st.none(),
    st.dates().map(lambda d: pb.Date(year=d.year, month=d.month, day=d.day)),
    st.builds(pb.Date, year=st.integers(0, 10_000), month=st.integers(0, 13), day=st.integers(0, 32)),
    st.builds(pb.Date, year=int32, month=int32, day=int32),
)
source = st.builds(pb.Source, source_id=source_id, outlet=st.one_of(st.just(""), st.text(max_size=250)))
document = st.builds(
    pb.Document,
    source=source,
    text=hostile_text,
    url=st.one_of(st.just(""), st.text(max_size=30), st.just("u" * 2001)),
    published=date,
    document_id=st.one_of(st.just(""), st.text(max_size=20), st.just("d" * 201)),
)
check_request = st.builds(
    pb.CheckRequest,
    text=hostile_text,
    source=source,
    published=date,
    top_k=st.one_of(st.integers(0, 10), st.integers(-5, 600), int32),
    only_sources=st.lists(source_id, max_size=5),
    since=date,
    until=date,
)
judge_request = st.builds(pb.JudgePairRequest, a=hostile_text, b=hostile_text, a_date=date, b_date=date)
ingest_request = st.builds(pb.IngestRequest, documents=st.lists(document, max_size=MAX_DOCS + 2))
delete_request = st.builds(pb.DeleteSourceRequest, source_id=source_id)


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@st.composite
def unknown_fields(draw: st.DrawFn) -> bytes:
    """Fields the schema does not have (ignored by proto3), including enum-like varints of any value."""
    out = b""
    for _ in range(draw(st.integers(1, 5))):
        number = draw(st.integers(16, 2**29 - 1))
        if draw(st.booleans()):
            out += _varint(number << 3) + _varint(draw(st.integers(-(2**63), 2**64 - 1)))
        else:
            payload = draw(st.binary(max_size=50))
            out += _varint(number << 3 | 2) + _varint(len(payload)) + payload
    return out


@st.composite
def raw_request(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """Random bytes, or a valid request spoiled: truncated, bytes flipped, bad UTF-8, nested groups."""
    base = draw(valid)
    kind = draw(st.sampled_from(["random", "truncate", "flip", "utf8", "unknown", "groups", "varint"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "truncate" and base:
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "flip" and base:
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]))
        # field 1 is a string in every request that has fields (text, documents[].source..., a, source_id)
        return _varint(1 << 3 | 2) + _varint(len(bad)) + bad + base
    if kind == "unknown":
        return base + draw(unknown_fields())
    if kind == "groups":
        depth = draw(st.sampled_from([1, 10, 99, 101, 1_000, 20_000]))
        return base + b"\x7b" * depth + b"\x7c" * draw(st.integers(0, depth))  # field 15: start/end group
    return base + b"\x08" + b"\xff" * draw(st.integers(1, 12))  # over-long varint


def _serialized(strategy: st.SearchStrategy[Message]) -> st.SearchStrategy[bytes]:
    return strategy.map(lambda m: m.SerializeToString())


# --- the fuzzers ----------------------------------------------------------------------------


@SLOW
@given(request=check_request)
def test_fuzz_check(channel: grpc.Channel, guard: pb.IngestResponse, request: pb.CheckRequest) -> None:
    _unary(channel, "Check", request.SerializeToString())


@SLOW
@given(request=judge_request)
def test_fuzz_judge_pair(channel: grpc.Channel, guard: pb.IngestResponse, request: pb.JudgePairRequest) -> None:
    _unary(channel, "JudgePair", request.SerializeToString())


@SLOW
@given(request=ingest_request)
def test_fuzz_ingest(channel: grpc.Channel, guard: pb.IngestResponse, request: pb.IngestRequest) -> None:
    _unary(channel, "Ingest", request.SerializeToString())


@FAST
@given(request=delete_request)
def test_fuzz_delete_source(channel: grpc.Channel, guard: pb.IngestResponse, request: pb.DeleteSourceRequest) -> None:
    _unary(channel, "DeleteSource", request.SerializeToString())


@SLOW
@given(
    requests=st.lists(
        st.builds(pb.CheckStreamRequest, tag=st.text(max_size=210), check=check_request), max_size=MAX_STREAM + 1
    )
)
def test_fuzz_check_stream(
    channel: grpc.Channel, guard: pb.IngestResponse, requests: list[pb.CheckStreamRequest]
) -> None:
    _stream(channel, "CheckStream", [r.SerializeToString() for r in requests])


@SLOW
@given(
    requests=st.lists(
        st.builds(pb.IngestStreamRequest, tag=st.text(max_size=210), document=document), max_size=MAX_STREAM + 1
    )
)
def test_fuzz_ingest_stream(
    channel: grpc.Channel, guard: pb.IngestResponse, requests: list[pb.IngestStreamRequest]
) -> None:
    _stream(channel, "IngestStream", [r.SerializeToString() for r in requests])


RAW_VALID: dict[str, st.SearchStrategy[bytes]] = {
    "Check": _serialized(check_request),
    "JudgePair": _serialized(judge_request),
    "Ingest": _serialized(ingest_request),
    "DeleteSource": _serialized(delete_request),
    "Stats": st.just(b""),
}


@pytest.mark.parametrize("method", sorted(RAW_VALID))
def test_fuzz_raw_bytes(channel: grpc.Channel, guard: pb.IngestResponse, method: str) -> None:
    @FAST
    @given(data=raw_request(RAW_VALID[method]))
    def fuzz(data: bytes) -> None:
        _unary(channel, method, data)

    fuzz()


@pytest.mark.parametrize("method", ["CheckStream", "IngestStream"])
def test_fuzz_raw_stream_messages(channel: grpc.Channel, guard: pb.IngestResponse, method: str) -> None:
    valid = _serialized(
        st.builds(pb.CheckStreamRequest, check=check_request)
        if method == "CheckStream"
        else st.builds(pb.IngestStreamRequest, document=document)
    )

    @SLOW
    @given(messages=st.lists(raw_request(valid), min_size=1, max_size=3))
    def fuzz(messages: list[bytes]) -> None:
        _stream(channel, method, messages)

    fuzz()


def test_oversized_messages(channel: grpc.Channel, guard: pb.IngestResponse) -> None:
    for method in ("Check", "Ingest", "JudgePair", "DeleteSource", "Stats"):
        _unary(channel, method, b"\x0a" + _varint(MAX_MESSAGE * 2) + b"x" * (MAX_MESSAGE * 2))
    _stream(channel, "IngestStream", [b"\x12" + _varint(MAX_MESSAGE * 2) + b"y" * (MAX_MESSAGE * 2)])


def test_server_survived_and_lost_nothing(
    server: ServerProcess, channel: grpc.Channel, guard: pb.IngestResponse
) -> None:
    """Runs last: the server is up and healthy, and the guard documents are all still stored and indexed."""
    assert server.proc is not None and server.proc.poll() is None
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = contra_pb2_grpc.ContraServiceStub(channel)
    again = stub.Ingest(
        pb.IngestRequest(
            documents=[pb.Document(source=pb.Source(source_id=GUARD_SOURCE), text=t) for t in GUARD_TEXTS]
        ),
        timeout=120,
    )
    assert [list(d.claim_ids) for d in again.documents] == [list(d.claim_ids) for d in guard.documents]
    assert all(d.duplicates == 1 for d in again.documents)
    stats = stub.Stats(pb.StatsRequest(), timeout=30)
    assert stats.indexed == stats.claims
    log = server.log_text()
    assert "unhandled error" not in log and "Traceback" not in log
    total = sum(TRIED.values())
    print(f"fuzz inputs tried: {total} ({dict(sorted(TRIED.items()))})")
    assert total >= 500
