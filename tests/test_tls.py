"""TLS and mutual TLS on a real server, with a CA and certificates this test makes for itself."""

from __future__ import annotations

import datetime as dt
import ipaddress
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contra.v1 import contra_pb2 as pb
from contra.v1 import contra_pb2_grpc
from server_process import CONTRA, REPO, ServerProcess

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(common: str) -> tuple[Pem, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return _pem(cert, key), cert, key


def make_leaf(common: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *, server: bool) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return _pem(builder.sign(ca_key, hashes.SHA256()), key)


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    return Pem(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


@dataclass(frozen=True)
class Pki:
    ca: Pem
    server: Pem
    client: Pem
    stranger: Pem  # a client certificate from a CA the server does not trust
    files: dict[str, Path]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("pki")
    ca, ca_cert, ca_key = make_ca("contra test CA")
    _, other_cert, other_key = make_ca("somebody else's CA")
    server = make_leaf("contra test server", ca_cert, ca_key, server=True)
    client = make_leaf("contra test client", ca_cert, ca_key, server=False)
    stranger = make_leaf("stranger", other_cert, other_key, server=False)
    files = {"ca": base / "ca.pem", "cert": base / "server.pem", "key": base / "server.key"}
    files["ca"].write_bytes(ca.cert)
    files["cert"].write_bytes(server.cert)
    files["key"].write_bytes(server.key)
    return Pki(ca, server, client, stranger, files)


class TlsServer(ServerProcess):
    """ServerProcess whose readiness probe speaks TLS (the plain probe cannot reach a TLS port)."""

    def __init__(self, data_dir: Path, log_path: Path, credentials: grpc.ChannelCredentials, **env: str) -> None:
        super().__init__(data_dir, log_path, **env)
        self.credentials = credentials

    def launch(self) -> None:
        """Start without waiting for SERVING."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(CONTRA), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )

    def health(self) -> int | None:
        """The overall health status over TLS, or None when the server cannot be reached."""
        with grpc.secure_channel(self.address, self.credentials) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            except grpc.RpcError:
                return None
        return int(reply.status)

    def wait_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"contra serve exited with {self.proc.returncode}: {self.log_text()[-3000:]}")
            if self.health() == health_pb2.HealthCheckResponse.SERVING:
                return
            time.sleep(0.3)
        raise TimeoutError(f"not SERVING over TLS after {timeout}s: {self.log_text()[-3000:]}")


def _client(pki: Pki, cert: Pem | None) -> grpc.ChannelCredentials:
    if cert is None:
        return grpc.ssl_channel_credentials(root_certificates=pki.ca.cert)
    return grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert, private_key=cert.key, certificate_chain=cert.cert
    )


@pytest.fixture(scope="module")
def mtls_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    base = tmp_path_factory.mktemp("mtls")
    proc = TlsServer(
        base / "data",
        base / "server.log",
        _client(pki, pki.client),
        CONTRA_TLS_CERT=str(pki.files["cert"]),
        CONTRA_TLS_KEY=str(pki.files["key"]),
        CONTRA_TLS_CLIENT_CA=str(pki.files["ca"]),
    )
    proc.start()
    yield proc
    if proc.proc is not None:
        proc.stop()


def _stats_code(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    channel = grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
    with channel:
        try:
            contra_pb2_grpc.ContraServiceStub(channel).Stats(pb.StatsRequest(), timeout=10)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_mutual_tls_ingest_and_check(mtls_server: TlsServer, pki: Pki) -> None:
    with grpc.secure_channel(mtls_server.address, _client(pki, pki.client)) as channel:
        stub = contra_pb2_grpc.ContraServiceStub(channel)
        stub.Ingest(
            pb.IngestRequest(
                documents=[
                    pb.Document(
                        source=pb.Source(source_id="tls-a"),
                        text="The new bridge has four lanes for cars and a tram track.",
                    )
                ]
            ),
            timeout=120,
        )
        response = stub.Check(
            pb.CheckRequest(text="The new bridge has two lanes for cars.", source=pb.Source(source_id="tls-b")),
            timeout=120,
        )
        assert response.candidates >= 1


def test_mutual_tls_refuses_clients_without_a_trusted_certificate(mtls_server: TlsServer, pki: Pki) -> None:
    assert _stats_code(mtls_server.address, _client(pki, pki.client)) == grpc.StatusCode.OK
    assert _stats_code(mtls_server.address, _client(pki, None)) == grpc.StatusCode.UNAVAILABLE
    assert _stats_code(mtls_server.address, _client(pki, pki.stranger)) == grpc.StatusCode.UNAVAILABLE
    assert _stats_code(mtls_server.address, None) == grpc.StatusCode.UNAVAILABLE  # plaintext
    # A client that does not trust the server's CA refuses the server.
    other_ca, _, _ = make_ca("unrelated root")
    untrusting = grpc.ssl_channel_credentials(
        root_certificates=other_ca.cert, private_key=pki.client.key, certificate_chain=pki.client.cert
    )
    assert _stats_code(mtls_server.address, untrusting) == grpc.StatusCode.UNAVAILABLE
    assert "tls on" in mtls_server.log_text()


def test_server_only_tls_while_loading(pki: Pki, tmp_path: Path) -> None:
    """Server-side TLS without client certificates, checked while the models load (the port opens at once)."""
    proc = TlsServer(
        tmp_path / "data",
        tmp_path / "server.log",
        _client(pki, None),
        CONTRA_TLS_CERT=str(pki.files["cert"]),
        CONTRA_TLS_KEY=str(pki.files["key"]),
    )
    proc.launch()
    try:
        status = None
        deadline = time.monotonic() + 60
        while status is None and time.monotonic() < deadline:
            status = proc.health()
            time.sleep(0.2)
        assert status in (health_pb2.HealthCheckResponse.NOT_SERVING, health_pb2.HealthCheckResponse.SERVING)
        assert _stats_code(proc.address, None) == grpc.StatusCode.UNAVAILABLE  # plaintext is refused
    finally:
        assert proc.stop(signal.SIGTERM, timeout=180) == 0
