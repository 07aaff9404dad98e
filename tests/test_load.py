"""Load: 64 concurrent clients for 30 s against the real server (``make test-load``; marker ``load``).

The clients mix Check, CheckStream, JudgePair, Ingest and Stats, backing off briefly when refused.
Checked: no status but OK and RESOURCE_EXHAUSTED comes back, the server's resident memory stays
bounded (sampled from /proc/PID/status), every acknowledged ingest is stored and indexed, and the
server is healthy afterwards. The figures (requests/s, p50/p99 latency, max RSS) are printed.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import ServerProcess

pytestmark = [pytest.mark.load, pytest.mark.e2e]

CLIENTS = int(os.environ.get("CONTRA_LOAD_CLIENTS", "64"))
SECONDS = float(os.environ.get("CONTRA_LOAD_SECONDS", "30"))
CHANNELS = 8
MAX_RSS_BYTES = 4 * 1024**3
MAX_RSS_GROWTH_BYTES = 512 * 1024**2
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
TOPICS = ["ferry", "bridge", "stadium", "museum", "airport", "library", "harbour", "tram line"]


def _claim(rng: random.Random) -> str:
    topic = rng.choice(TOPICS)
    return f"The {topic} project employs {rng.randint(2, 900)} workers and will open in {rng.randint(2026, 2031)}."


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Tally:
    codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acked: dict[str, list[int]] = field(default_factory=dict)  # document text -> claim ids
    rss: list[tuple[float, int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("load")
    proc = ServerProcess(base / "data", base / "server.log", CONTRA_MAX_QUEUE="32", CONTRA_TOP_K="5")
    proc.start()
    yield proc
    if proc.proc is not None:
        proc.stop()


async def _client(number: int, channel: grpc.aio.Channel, stop: float, tally: Tally) -> None:
    rng = random.Random(number)
    stub = contra_pb2_grpc.ContraServiceStub(channel)
    n = 0
    while time.monotonic() < stop:
        n += 1
        roll = rng.random()
        started = time.monotonic()
        method = "Check"
        try:
            if roll < 0.55:
                await stub.Check(
                    pb.CheckRequest(text=_claim(rng), source=pb.Source(source_id=f"c{number}")), timeout=120
                )
            elif roll < 0.65:
                method = "CheckStream"
                requests = [
                    pb.CheckStreamRequest(check=pb.CheckRequest(text=_claim(rng), source=pb.Source(source_id="s")))
                    for _ in range(3)
                ]
                answers = [a async for a in stub.CheckStream(iter(requests), timeout=120)]
                assert len(answers) == 3
            elif roll < 0.80:
                method = "JudgePair"
                await stub.JudgePair(pb.JudgePairRequest(a=_claim(rng), b=_claim(rng)), timeout=120)
            elif roll < 0.92:
                method = "Ingest"
                text = f"{_claim(rng)} Client {number} filed report {n}."
                response = await stub.Ingest(
                    pb.IngestRequest(documents=[pb.Document(source=pb.Source(source_id=f"load-{number}"), text=text)]),
                    timeout=120,
                )
                tally.acked[f"{number}\t{text}"] = list(response.documents[0].claim_ids)
            else:
                method = "Stats"
                await stub.Stats(pb.StatsRequest(), timeout=120)
            code = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        tally.codes[(method, code.name)] += 1
        if code == grpc.StatusCode.OK:
            tally.latencies.append(time.monotonic() - started)
        else:
            await asyncio.sleep(rng.uniform(0.02, 0.1))  # back off, as a polite client does


async def _load(address: str, tally: Tally) -> float:
    channels = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
    started = time.monotonic()
    stop = started + SECONDS
    await asyncio.gather(*(_client(i, channels[i % CHANNELS], stop, tally) for i in range(CLIENTS)))
    elapsed = time.monotonic() - started
    for channel in channels:
        await channel.close()
    return elapsed


def _sample_rss(pid: int, tally: Tally, done: threading.Event) -> None:
    while not done.is_set():
        tally.rss.append((time.monotonic(), rss_bytes(pid)))
        time.sleep(0.25)


def test_64_clients_for_30_seconds(server: ServerProcess) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    with grpc.insecure_channel(server.address) as channel:  # warm-up: first calls allocate model buffers
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        rng = random.Random(0)
        seed = [pb.Document(source=pb.Source(source_id=f"seed-{i}"), text=_claim(rng)) for i in range(40)]
        stub.Ingest(pb.IngestRequest(documents=seed), timeout=300)
        for _ in range(3):
            stub.Check(pb.CheckRequest(text=_claim(rng), source=pb.Source(source_id="warm")), timeout=120)
    baseline = rss_bytes(pid)
    tally = Tally()
    done = threading.Event()
    sampler = threading.Thread(target=_sample_rss, args=(pid, tally, done), daemon=True)
    sampler.start()
    try:
        elapsed = asyncio.run(_load(server.address, tally))
    finally:
        done.set()
        sampler.join()

    codes = {code for _, code in tally.codes}
    ok = sum(n for (_, code), n in tally.codes.items() if code == "OK")
    refused = sum(n for (_, code), n in tally.codes.items() if code == "RESOURCE_EXHAUSTED")
    latencies = sorted(tally.latencies)
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    peak = max(r for _, r in tally.rss)
    print(
        f"\nload: {CLIENTS} clients, {elapsed:.1f}s, {ok} OK ({ok / elapsed:.1f}/s), {refused} RESOURCE_EXHAUSTED, "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, RSS baseline {baseline / 2**20:.0f} MiB, "
        f"peak {peak / 2**20:.0f} MiB; by method: {dict(sorted(tally.codes.items()))}"
    )
    assert codes <= {c.name for c in ALLOWED}, tally.codes
    assert {method for (method, code) in tally.codes if code == "OK"} == {
        "Check", "CheckStream", "JudgePair", "Ingest", "Stats"
    }  # fmt: skip
    assert peak < MAX_RSS_BYTES
    assert peak - baseline < MAX_RSS_GROWTH_BYTES, (baseline, peak)

    with grpc.insecure_channel(server.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        acked = sorted(tally.acked.items())
        for start in range(0, len(acked), 100):
            chunk = acked[start : start + 100]
            docs = [
                pb.Document(source=pb.Source(source_id=f"load-{key.split(chr(9))[0]}"), text=key.split(chr(9), 1)[1])
                for key, _ in chunk
            ]
            again = stub.Ingest(pb.IngestRequest(documents=docs), timeout=600)
            assert [list(d.claim_ids) for d in again.documents] == [ids for _, ids in chunk]
        stats = stub.Stats(pb.StatsRequest(), timeout=60)
        assert stats.indexed == stats.claims
    assert "Traceback" not in server.log_text()
