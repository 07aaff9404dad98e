"""Lifecycle under load: NOT_SERVING while loading, SIGTERM drains in-flight calls, SIGKILL loses nothing acknowledged.

One server and one data directory, started three times (each start loads the models). Writers keep
ingesting through IngestStream and Ingest and remember every acknowledgement; after each stop the
server is started again and every acknowledged document must be there with the same claim ids.
An updater keeps sending new versions of one story under one id: after the stop exactly one version
is stored and checked against, the last acknowledged one or a later one that was in flight.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import CONTRA, REPO, ServerProcess, free_port

pytestmark = pytest.mark.e2e

TOPICS = ("ferry", "bridge", "stadium", "museum", "airport", "library")


@pytest.fixture(scope="module")
def proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("lifecycle")
    metrics_addr = f"127.0.0.1:{free_port()}"
    server = ServerProcess(
        base / "data",
        base / "server.log",
        CONTRA_METRICS_ADDR=metrics_addr,
        CONTRA_GRACE_SECONDS="120",
        CONTRA_WORKERS="2",
        CONTRA_TOP_K="3",
    )
    server.env["TEST_METRICS_ADDR"] = metrics_addr
    yield server
    if server.proc is not None:
        server.stop(signal.SIGKILL)


def _health(address: str) -> int | None:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return None
    return int(reply.status)


def _busy_workers(proc: ServerProcess) -> float:
    body = urllib.request.urlopen(f"http://{proc.env['TEST_METRICS_ADDR']}/metrics", timeout=10).read().decode()
    line = next(line for line in body.splitlines() if line.startswith("contra_workers_busy "))
    return float(line.split()[1])


@dataclass
class Writers:
    """Threads that ingest new documents until stopped, recording what the server acknowledged."""

    address: str
    acked: dict[str, tuple[str, str, list[int]]] = field(default_factory=dict)  # doc id -> (source, text, ids)
    errors: list[grpc.StatusCode] = field(default_factory=list)
    #: updater's source -> (last acknowledged version, last version sent)
    versions: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: acknowledgements of a story version that did not report the update they were
    wrong: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, prefix: str, streams: int = 2, unary: int = 2, checkers: int = 2) -> None:
        for i in range(streams):
            self._spawn(self._stream_writer, f"{prefix}-s{i}")
        for i in range(unary):
            self._spawn(self._unary_writer, f"{prefix}-u{i}")
        for i in range(checkers):
            self._spawn(self._checker, f"{prefix}-c{i}")
        self._spawn(self._updater, f"{prefix}-story")

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, args=(name,), daemon=True)  # type: ignore[arg-type]
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)

    @staticmethod
    def _document(name: str, n: int) -> pb.Document:
        topic = TOPICS[n % len(TOPICS)]
        text = f"The {topic} project {name} number {n} employs {n * 7 + 3} workers this season."
        return pb.Document(source=pb.Source(source_id=f"src-{name}"), text=text, document_id=f"{name}-{n}")

    def _record(self, doc: pb.Document, claim_ids: list[int]) -> None:
        with self.lock:
            self.acked[doc.document_id] = (doc.source.source_id, doc.text, claim_ids)

    def _failed(self, exc: grpc.RpcError) -> None:
        with self.lock:
            self.errors.append(exc.code())

    def _stream_writer(self, name: str) -> None:
        n = 0
        while not self.stop.is_set():
            batch = [self._document(name, n + i) for i in range(5)]
            n += 5
            with grpc.insecure_channel(self.address) as channel:
                stub = contra_pb2_grpc.ContraServiceStub(channel)
                requests = iter([pb.IngestStreamRequest(tag=d.document_id, document=d) for d in batch])
                try:
                    for ack in stub.IngestStream(requests, timeout=300):
                        self._record(batch[ack.index], list(ack.document.claim_ids))
                except grpc.RpcError as exc:
                    self._failed(exc)
                    time.sleep(0.2)

    def _unary_writer(self, name: str) -> None:
        n = 0
        with grpc.insecure_channel(self.address) as channel:
            stub = contra_pb2_grpc.ContraServiceStub(channel)
            while not self.stop.is_set():
                batch = [self._document(name, n), self._document(name, n + 1)]
                n += 2
                try:
                    response = stub.Ingest(pb.IngestRequest(documents=batch), timeout=300)
                except grpc.RpcError as exc:
                    self._failed(exc)
                    time.sleep(0.2)
                    continue
                for doc, result in zip(batch, response.documents, strict=True):
                    self._record(doc, list(result.claim_ids))

    @staticmethod
    def story(source: str, version: int) -> str:
        """Each updater's own text (the same text from two sources would be one claim and its copy)."""
        return f"The harbour bridge repairs will cost {version + 10} million dollars, the {source} desk said."

    def _updater(self, source: str) -> None:
        """New versions of one story under one id, one after another, as a newsroom corrects a story."""
        version = 0
        with grpc.insecure_channel(self.address) as channel:
            stub = contra_pb2_grpc.ContraServiceStub(channel)
            while not self.stop.is_set():
                version += 1
                doc = pb.Document(
                    source=pb.Source(source_id=source), text=self.story(source, version), document_id=f"{source}-1"
                )
                with self.lock:
                    self.versions[source] = (self.versions.get(source, (0, 0))[0], version)
                try:
                    [result] = stub.Ingest(pb.IngestRequest(documents=[doc]), timeout=300).documents
                except grpc.RpcError as exc:
                    self._failed(exc)
                    time.sleep(0.2)
                    continue
                with self.lock:
                    self.versions[source] = (version, version)
                    if (result.updated, result.superseded) != (version > 1, int(version > 1)):
                        self.wrong.append(f"{source} v{version}: updated={result.updated} {result.superseded}")

    def _checker(self, name: str) -> None:
        with grpc.insecure_channel(self.address) as channel:
            stub = contra_pb2_grpc.ContraServiceStub(channel)
            while not self.stop.is_set():
                request = pb.CheckRequest(
                    text="The ferry project employs 12 workers this season.", source=pb.Source(source_id=name)
                )
                try:
                    stub.Check(request, timeout=300)
                except grpc.RpcError as exc:
                    self._failed(exc)
                    time.sleep(0.2)


def _assert_all_acknowledged_are_stored(address: str, acked: dict[str, tuple[str, str, list[int]]]) -> None:
    """Re-ingest every acknowledged document: each must come back as all-duplicates with the same ids."""
    assert acked
    # Every document is one sentence: an acknowledgement without exactly one claim id means claims were
    # dropped (e.g. by a sentence splitter shared between worker threads).
    dropped = {doc_id: ids for doc_id, (_, _, ids) in acked.items() if len(ids) != 1}
    assert not dropped, f"acknowledged with a wrong number of claims: {dropped}"
    docs = sorted(acked.items())
    with grpc.insecure_channel(address) as channel:
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        for start in range(0, len(docs), 50):
            chunk = docs[start : start + 50]
            request = pb.IngestRequest(
                documents=[
                    pb.Document(source=pb.Source(source_id=source), text=text, document_id=doc_id)
                    for doc_id, (source, text, _) in chunk
                ]
            )
            response = stub.Ingest(request, timeout=600)
            for (doc_id, (_, _, claim_ids)), result in zip(chunk, response.documents, strict=True):
                assert list(result.claim_ids) == claim_ids, doc_id
                assert result.duplicates == len(claim_ids), doc_id
        stats = stub.Stats(pb.StatsRequest(), timeout=60)
        assert stats.indexed == stats.claims


def _assert_one_version_of_each_story(address: str, versions: dict[str, tuple[int, int]]) -> None:
    """Exactly one version of each updated story is stored, and it is the one Check sees: the last one
    acknowledged, or a later one that was in flight when the server stopped; never an older one."""
    assert versions and all(acked >= 2 for acked, _ in versions.values()), versions
    with grpc.insecure_channel(address) as channel:
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        per_source = {s.source_id: s for s in stub.Stats(pb.StatsRequest(), timeout=60).per_source}
        for source, (acked, sent) in versions.items():
            assert (per_source[source].documents, per_source[source].claims) == (1, 1), source
            response = stub.Check(
                pb.CheckRequest(
                    text=Writers.story(source, -5), source=pb.Source(source_id="checker"), only_sources=[source]
                ),
                timeout=120,
            )
            seen = [int(c.other.text.split("cost ")[1].split(" ")[0]) - 10 for c in response.conflicts]
            assert len(seen) == 1 and acked <= seen[0] <= sent, (source, acked, sent, seen)


def test_not_serving_until_loaded(proc: ServerProcess) -> None:
    log = proc.log_path.open("ab")
    proc.proc = subprocess.Popen([str(CONTRA), "serve"], env=proc.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        status = _health(proc.address)
        if status is not None:
            seen.append(status)
        time.sleep(0.05)
    assert seen == [health_pb2.HealthCheckResponse.NOT_SERVING]
    with grpc.insecure_channel(proc.address) as channel:
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Stats(pb.StatsRequest(), timeout=10)
    if _health(proc.address) == health_pb2.HealthCheckResponse.NOT_SERVING:  # still loading when it answered
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "loading" in (info.value.details() or "")
    proc.wait_serving(300)
    assert _health(proc.address) == health_pb2.HealthCheckResponse.SERVING


def test_sigterm_under_load_finishes_in_flight_calls_and_loses_nothing(proc: ServerProcess) -> None:
    if proc.proc is None:
        proc.start()
    writers = Writers(proc.address)
    writers.start("term")
    deadline = time.monotonic() + 120
    while (
        len(writers.acked) < 10 or writers.versions.get("term-story", (0, 0))[0] < 2 or _busy_workers(proc) < 1
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _busy_workers(proc) >= 1, "no call was in flight"
    assert proc.proc is not None
    proc.proc.send_signal(signal.SIGTERM)
    code = proc.proc.wait(180)
    proc.proc = None
    writers.join()
    assert code == 0
    log = proc.log_text()
    assert "shutting down" in log and "index snapshot saved" in log and "stopped" in log
    # Calls in flight at SIGTERM were answered: every call the server accepted ends OK in its access log.
    # Calls that arrived after it were refused: UNAVAILABLE, or CANCELLED when a new stream raced the
    # shutdown (gRPC resets it before any handler runs; the server never saw it).
    assert set(writers.errors) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, writers.errors
    after = log.split("shutting down", 1)[1]
    answered = re.findall(r"contra\.access: contra\.v1\.ContraService/\w+ (\w+) ", after)
    assert answered and set(answered) <= {"OK", "UNAVAILABLE"}, answered
    print(f"\nSIGTERM under load: {len(writers.acked)} documents acknowledged, then {Counter(writers.errors)}")
    proc.start()
    _assert_all_acknowledged_are_stored(proc.address, writers.acked)
    _assert_one_version_of_each_story(proc.address, writers.versions)


def test_sigkill_under_load_loses_nothing_acknowledged(proc: ServerProcess) -> None:
    if proc.proc is None:
        proc.start()
    writers = Writers(proc.address)
    writers.start("kill")
    deadline = time.monotonic() + 120
    while (
        len(writers.acked) < 10 or writers.versions.get("kill-story", (0, 0))[0] < 3
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.stop(signal.SIGKILL) == -signal.SIGKILL
    writers.join()
    assert writers.acked
    assert set(writers.errors) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, writers.errors
    assert not writers.wrong, writers.wrong
    print(f"\nSIGKILL under load: {len(writers.acked)} documents acknowledged, errors: {Counter(writers.errors)}")
    print(f"story versions (acknowledged, sent) at SIGKILL: {writers.versions}")
    proc.start()
    _assert_all_acknowledged_are_stored(proc.address, writers.acked)
    _assert_one_version_of_each_story(proc.address, writers.versions)
    proc.stop()
