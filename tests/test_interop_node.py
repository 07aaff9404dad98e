"""Interoperability: a Node.js client (@grpc/grpc-js + @grpc/proto-loader) calls contra through the .proto.

The client in tests/node/ loads proto/contra/v1/contra.proto at run time, as a third party would;
its dependencies are installed with ``npm ci`` from the lockfile when missing. Skipped only when
``node`` is not installed.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest

from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import REPO, ServerProcess

pytestmark = pytest.mark.e2e

NODE_DIR = REPO / "tests" / "node"


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed")
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True, timeout=600
        )
    return exe


def _run_client(node: str, address: str, run_id: str) -> dict[str, Any]:
    result = subprocess.run(
        [node, str(NODE_DIR / "client.mjs"), address, str(REPO / "proto"), run_id],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=NODE_DIR,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def test_node_client_ingests_and_checks(node: str, server: ServerProcess, tmp_path: Path) -> None:
    run_id = secrets.token_hex(4)
    out = _run_client(node, server.address, run_id)

    ingest = out["ingest"]
    assert ingest["error"] is None, ingest
    hall, bridge = ingest["response"]["documents"]
    assert hall["document_id"] == f"node-hall-{run_id}" and len(hall["claim_ids"]) == 1
    assert bridge["document_id"] and len(bridge["claim_ids"]) == 1
    assert ingest["echoed"]  # a request id came back in the response metadata

    check = out["check"]
    assert check["error"] is None and check["echoed"] == f"node-{run_id}"
    conflicts = check["response"]["conflicts"]
    mine = [c for c in conflicts if c["other"]["document_id"] == f"node-hall-{run_id}"]
    assert mine, conflicts
    assert mine[0]["other"]["claim_id"] == hall["claim_ids"][0]  # int64 arrives as a decimal string
    assert mine[0]["other"]["source"]["outlet"] == "Node Wire"
    assert mine[0]["verdict"]["label"] == "LABEL_CONTRADICTION"
    assert mine[0]["verdict"]["kind"] in ("CONFLICT_KIND_NUMBER", "CONFLICT_KIND_QUANTITY")

    assert [a["tag"] for a in out["stream"]] == ["hall", "bridge"]
    assert [a["index"] for a in out["stream"]] == ["0", "1"]
    assert out["invalid"]["error"]["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert out["invalid"]["error"]["details"].startswith("text:")

    # The Python stub sees what the Node client stored, and gets the same answer to the same check.
    with grpc.insecure_channel(server.address) as channel:
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        sources = {s.source_id for s in stub.Stats(pb.StatsRequest(), timeout=30).per_source}
        assert {f"node-wire-{run_id}", f"node-daily-{run_id}"} <= sources
        response = stub.Check(
            pb.CheckRequest(
                text="The city's new concert hall has 1,400 seats.",
                source=pb.Source(source_id=f"node-check-{run_id}"),
                published=pb.Date(year=2025, month=3, day=4),
            ),
            timeout=120,
        )
    assert [str(c.other.claim_id) for c in response.conflicts] == [c["other"]["claim_id"] for c in conflicts]
