"""Bearer-token auth on a real server: every RPC with no, wrong, read-only and read-write tokens.

The calls that pass auth are built to fail validation (empty text, unknown source), so they prove
the interceptor let them through without spending model time.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from contra.errors import InvalidInput
from contra.service.api import auth
from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import CONTRA, ServerProcess

pytestmark = pytest.mark.e2e

READ = "ro-" + secrets.token_hex(16)
WRITE = "rw-" + secrets.token_hex(16)
READ_ENV = "env-ro-" + secrets.token_hex(16)
WRONG = "no-" + secrets.token_hex(16)

Call = Callable[[contra_pb2_grpc.ContraServiceStub, tuple[tuple[str, str], ...]], object]


def _stream(requests: list[object]) -> Iterator[object]:
    yield from requests


#: Each RPC with a request that passes auth and then fails cheaply, and the code it then gets.
RPCS: dict[str, tuple[Call, grpc.StatusCode]] = {
    "Check": (
        lambda s, md: s.Check(pb.CheckRequest(text="", source=pb.Source(source_id="a")), metadata=md, timeout=30),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "CheckStream": (
        lambda s, md: list(
            s.CheckStream(_stream([pb.CheckStreamRequest(check=pb.CheckRequest(text=""))]), metadata=md, timeout=30)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "JudgePair": (
        lambda s, md: s.JudgePair(pb.JudgePairRequest(a="", b="x"), metadata=md, timeout=30),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "Stats": (lambda s, md: s.Stats(pb.StatsRequest(), metadata=md, timeout=30), grpc.StatusCode.OK),
    "Ingest": (lambda s, md: s.Ingest(pb.IngestRequest(), metadata=md, timeout=30), grpc.StatusCode.INVALID_ARGUMENT),
    "IngestStream": (
        lambda s, md: list(
            s.IngestStream(_stream([pb.IngestStreamRequest(document=pb.Document(text=""))]), metadata=md, timeout=30)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "DeleteSource": (
        lambda s, md: s.DeleteSource(pb.DeleteSourceRequest(source_id="never-stored"), metadata=md, timeout=30),
        grpc.StatusCode.NOT_FOUND,
    ),
}
WRITE_RPCS = {"Ingest", "IngestStream", "DeleteSource"}


def test_every_rpc_is_listed() -> None:
    assert set(RPCS) == {m.name for m in pb.DESCRIPTOR.services_by_name["ContraService"].methods}
    assert {name for name in RPCS if auth.needed_role(f"/contra.v1.ContraService/{name}") is auth.Role.WRITE} == (
        WRITE_RPCS
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("auth")
    tokens = base / "tokens"
    tokens.write_text(f"# contra tokens\n{READ} read\n\n{WRITE}   write  # the ingest job\n", encoding="utf-8")
    proc = ServerProcess(
        base / "data", base / "server.log", CONTRA_TOKENS_FILE=str(tokens), CONTRA_TOKENS=f"{READ_ENV} read"
    )
    proc.start()
    yield proc
    if proc.proc is not None:
        proc.stop()


@pytest.fixture(scope="module")
def stub(server: ServerProcess) -> Iterator[contra_pb2_grpc.ContraServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield contra_pb2_grpc.ContraServiceStub(channel)


def _code(
    call: Call, stub: contra_pb2_grpc.ContraServiceStub, metadata: tuple[tuple[str, str], ...]
) -> grpc.StatusCode:
    try:
        call(stub, metadata)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_missing_or_wrong_token_is_unauthenticated(stub: contra_pb2_grpc.ContraServiceStub, rpc: str) -> None:
    call, _ = RPCS[rpc]
    assert _code(call, stub, ()) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(call, stub, _bearer(WRONG)) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(call, stub, _bearer(WRITE[:-1])) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(call, stub, _bearer(WRITE + "x")) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(call, stub, (("authorization", f"Basic {WRITE}"),)) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(call, stub, (("authorization", "Bearer "),)) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_read_token_may_only_read(stub: contra_pb2_grpc.ContraServiceStub, rpc: str) -> None:
    call, allowed = RPCS[rpc]
    for token in (READ, READ_ENV):
        expected = grpc.StatusCode.PERMISSION_DENIED if rpc in WRITE_RPCS else allowed
        assert _code(call, stub, _bearer(token)) == expected


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_write_token_may_call_everything(stub: contra_pb2_grpc.ContraServiceStub, rpc: str) -> None:
    call, allowed = RPCS[rpc]
    assert _code(call, stub, _bearer(WRITE)) == allowed
    assert _code(call, stub, (("authorization", f"bearer {WRITE}"),)) == allowed  # the scheme is case-insensitive


def test_refusals_say_why(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.Stats(pb.StatsRequest(), timeout=30)
    assert "Bearer" in (info.value.details() or "")
    with pytest.raises(grpc.RpcError) as info:
        stub.Ingest(pb.IngestRequest(), metadata=_bearer(READ), timeout=30)
    assert "read-only" in (info.value.details() or "") and READ not in (info.value.details() or "")
    assert "x-request-id" in dict(info.value.initial_metadata())  # type: ignore[attr-defined]


def test_ingest_and_check_with_tokens(stub: contra_pb2_grpc.ContraServiceStub) -> None:
    text = "The regional airport will close its second runway for repairs in March."
    stub.Ingest(
        pb.IngestRequest(documents=[pb.Document(source=pb.Source(source_id="auth-a"), text=text)]),
        metadata=_bearer(WRITE),
        timeout=120,
    )
    stats = stub.Stats(pb.StatsRequest(), metadata=_bearer(READ), timeout=30)
    assert stats.claims >= 1
    response = stub.Check(
        pb.CheckRequest(
            text="The regional airport will keep its second runway open in March.", source=pb.Source(source_id="b")
        ),
        metadata=_bearer(READ_ENV),
        timeout=120,
    )
    assert response.candidates >= 1


def test_health_and_reflection_stay_open(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="contra.v1.ContraService"), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(
            reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
            )
        )
        names = {s.name for s in answers[0].list_services_response.service}
        assert "contra.v1.ContraService" in names


def test_tokens_never_reach_the_log(server: ServerProcess, stub: contra_pb2_grpc.ContraServiceStub) -> None:
    for token in (READ, WRITE, WRONG):
        _code(RPCS["Stats"][0], stub, _bearer(token))
    log = server.log_text()
    assert "auth on, 3 tokens" in log
    assert "UNAUTHENTICATED" in log  # refused calls are logged, without what was presented
    for token in (READ, WRITE, READ_ENV, WRONG):
        assert token not in log
        assert token[-12:] not in log


def test_malformed_token_file_fails_start_without_echoing_it(tmp_path: Path) -> None:
    short = "tooshort1"
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{WRITE} write\n{short} read\n", encoding="utf-8")
    proc = ServerProcess(tmp_path / "data", tmp_path / "server.log", CONTRA_TOKENS_FILE=str(tokens))
    with pytest.raises(RuntimeError, match="exited"):
        proc.start(timeout=60)
    log = proc.log_text()
    assert "entry 2" in log and "at least 16" in log
    assert short not in log and WRITE not in log


# --- the token table itself (no server) -----------------------------------------------------


def test_parse_rejects_bad_entries_without_echoing_them() -> None:
    for text, problem in [
        ("abcdefghijklmnopqrstuvwxyz", "expected 'TOKEN ROLE'"),
        ("abcdefghijklmnopqrstuvwxyz admin", "role must be"),
        ("short read", "at least 16"),
        ("abcdefghijklmnopqrstuvwxyz read extra", "expected 'TOKEN ROLE'"),
        ("abcdéfghijklmnopqrstuvwxyz read", "printable ASCII"),
    ]:
        with pytest.raises(InvalidInput, match=problem) as info:
            auth.parse(text, "CONTRA_TOKENS")
        assert text.split()[0] not in str(info.value)


def test_lookup_compares_every_entry_and_knows_roles() -> None:
    tokens, plain = auth.Tokens.load(f"{READ} read; {WRITE} write", None)
    assert plain == [READ, WRITE] and len(tokens) == 2
    assert (grant := tokens.find(WRITE)) is not None and grant.role is auth.Role.WRITE and grant.number == 2
    assert (grant := tokens.find(READ)) is not None and grant.role is auth.Role.READ
    assert tokens.find(WRONG) is None and tokens.find("") is None
    assert auth.needed_role("/grpc.health.v1.Health/Check") is None
    assert auth.needed_role("/contra.v1.ContraService/SomethingNew") is auth.Role.WRITE
    empty, _ = auth.Tokens.load("", None)
    assert not empty.enabled
    assert auth.decide(empty, "/contra.v1.ContraService/DeleteSource", ()) is None


def test_cli_sends_the_token_from_the_environment(server: ServerProcess) -> None:
    def stats(token: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "CONTRA_TOKEN"}
        if token is not None:
            env["CONTRA_TOKEN"] = token
        return subprocess.run(
            [str(CONTRA), "stats", "--server", server.address, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    allowed = stats(READ)
    assert allowed.returncode == 0, allowed.stderr
    refused = stats(None)
    assert refused.returncode != 0 and "UNAUTHENTICATED" in refused.stderr
    assert READ not in refused.stderr + allowed.stderr
