"""Shared fixtures: the real server on a loopback port, and the seed article with a rival report."""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import pytest

from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import REPO, ServerProcess

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED = REPO.parent / "shared"
SEED_PATH = SHARED / "examples" / "seed.txt"

#: A second outlet's report of the seed article's story that disputes some of its claims.
RIVAL_REPORT = (
    "Ukrainian commanders said on April 29 that their units still held positions inside Kursk Oblast. "
    "The General Staff in Kyiv denied that the operation in the region had been completed. "
    "The war in Ukraine is now in its fourth year, and neither side has shown signs of giving ground. "
    "Analysts said independent verification of the situation remained difficult."
)


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED_PATH.exists():
        pytest.skip(f"{SEED_PATH} is not present (it lives in ../shared/, which exists on CI and dev machines)")
    return SEED_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real contra server for the session, with its own empty data directory."""
    base = tmp_path_factory.mktemp("contra-server")
    proc = ServerProcess(base / "data", base / "server.log")
    proc.start()
    yield proc
    if proc.proc is not None:
        proc.stop()


@pytest.fixture(scope="session")
def stub(server: ServerProcess) -> Iterator[contra_pb2_grpc.ContraServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield contra_pb2_grpc.ContraServiceStub(channel)


@pytest.fixture(scope="session")
def seeded(stub: contra_pb2_grpc.ContraServiceStub, seed_text: str) -> pb.IngestResponse:
    """The seed article (source seed-news) and the rival report (source rival-wire), ingested once."""
    request = pb.IngestRequest(
        documents=[
            pb.Document(
                source=pb.Source(source_id="seed-news", outlet="Seed News"),
                text=seed_text,
                url="https://seed.example/kursk",
                published=pb.Date(year=2025, month=5, day=1),
                document_id="seed",
            ),
            pb.Document(
                source=pb.Source(source_id="rival-wire", outlet="Rival Wire"),
                text=RIVAL_REPORT,
                url="https://rival.example/kursk",
                published=pb.Date(year=2025, month=5, day=2),
                document_id="rival",
            ),
        ]
    )
    response: pb.IngestResponse = stub.Ingest(request, timeout=120)
    return response
