"""contra's settings: one typed object, read once from ``CONTRA_*`` environment variables.

Only ``wiring.py`` and the CLI entry points construct it; everything else receives the values it
needs as arguments, so tests can build any component with explicit settings.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contra.domain import IndexKind

#: The repository root (models/ and data/ live there). ``resolve()`` follows the editable-install
#: link tree back to the real files.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NLI_MODEL = REPO_ROOT / "models" / "contra-nli-minilm-l6"


class EmbedderBackend(StrEnum):
    TORCH = "torch"
    ONNX = "onnx"


class Settings(BaseSettings):
    """Every knob of a running contra, with its environment variable ``CONTRA_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CONTRA_", extra="ignore")

    addr: str = Field("127.0.0.1:50051", description="host:port the gRPC server listens on")
    data_dir: Path = Field(Path("var"), description="where the claim store and index snapshots live")

    embedder: str = Field("", description="sentence-transformers model path or name; empty = packaged all-MiniLM-L6-v2")
    embedder_backend: EmbedderBackend = Field(
        EmbedderBackend.ONNX, description="onnx (int8, exported once into model_cache_dir) or torch (fp32)"
    )
    nli_model: str = Field(
        str(DEFAULT_NLI_MODEL),
        description="NLI model: a directory with model.onnx (onnxruntime) or any HF sequence-classification model",
    )
    nli_batch_size: int = Field(32, ge=1, le=1024)

    # Performance (issue 6): model caches and batching across concurrent requests.
    model_cache_dir: Path = Field(REPO_ROOT / "var" / "cache", description="where the int8 ONNX embedder is exported")
    micro_batching: bool = Field(
        True,
        description="run concurrent requests' model calls as one batch (torch backends; the ONNX ones "
        "interleave concurrent calls on their shared runners and need no batcher)",
    )
    batch_wait_ms: float = Field(2.0, ge=0.0, le=100.0, description="longest wait for more work to join a batch")
    batch_max_items: int = Field(256, ge=1, le=10_000, description="texts or pairs gathered into one model batch")
    nli_cache_entries: int = Field(100_000, ge=0, description="NLI results kept per text pair; 0 = no cache")
    judge_all_candidates: bool = Field(
        False, description="run NLI on every candidate, even where a rule already decides (slower; for comparison)"
    )

    index_kind: IndexKind = Field(IndexKind.AUTO)
    top_k: int = Field(20, ge=1, le=500, description="candidates fetched from other sources per claim")
    min_similarity: float = Field(0.35, ge=-1.0, le=1.0, description="candidates below this cosine are skipped")
    lexical_k: int = Field(5, ge=0, le=500, description="full-text (BM25) hits fused with the dense ones; 0 = off")
    lexical_min_similarity: float = Field(
        0.15, ge=-1.0, le=1.0, description="lexical-only candidates below this cosine are skipped"
    )
    conflict_threshold: float = Field(0.5, ge=0.0, le=1.0, description="score at which a pair is reported")
    # Retrieval made for conflicts (issue 17; docs/retrieval.md, make eval-retrieval).
    pool_k: int = Field(60, ge=0, le=1000, description="dense hits re-ranked before the cut to top_k; 0 = top_k")
    story: int = Field(
        5, ge=0, le=100, description="first dense hits whose mean (with the claim) is searched as the story; 0 = off"
    )
    story_weight: float = Field(1.0, ge=0.0, le=10.0, description="weight of those hits against the claim")
    stance_bonus: float = Field(
        0.05, ge=0.0, le=1.0, description="re-rank bonus for a candidate whose stance cues oppose the claim's"
    )

    max_text_chars: int = Field(100_000, ge=1, description="longest document text accepted")
    max_claim_chars: int = Field(2_000, ge=1, description="longest single claim accepted by Check/JudgePair")
    max_documents_per_request: int = Field(1_000, ge=1)
    max_message_bytes: int = Field(16 * 1024 * 1024, ge=1024)

    # Reliability and security (issue 8). Appended here; see the README's "Operations" section.
    max_claims_per_request: int = Field(10_000, ge=1, description="claims one Ingest or Check may produce in total")
    max_stream_messages: int = Field(100_000, ge=1, description="messages (documents or claims) per streaming call")
    stream_window: int = Field(8, ge=1, le=256, description="messages of one stream processed at once (read-ahead)")
    max_streams: int = Field(64, ge=1, description="streaming calls open at once; more get RESOURCE_EXHAUSTED")
    workers: int = Field(4, ge=1, le=64, description="threads running model work")
    max_queue: int = Field(64, ge=0, description="unary calls waiting for a worker; more get RESOURCE_EXHAUSTED")
    grace_seconds: float = Field(10.0, ge=0.0, description="how long in-flight calls may finish after SIGTERM")
    tls_cert: Path | None = Field(None, description="PEM server certificate chain; with tls_key enables TLS")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    tls_client_ca: Path | None = Field(None, description="PEM CA bundle; when set, clients must present a cert (mTLS)")
    tokens: SecretStr = Field(SecretStr(""), description="bearer tokens, 'TOKEN ROLE' entries separated by , or ;")
    tokens_file: Path | None = Field(None, description="file with one 'TOKEN ROLE' line per token (role read|write)")
    metrics_addr: str = Field("", description="host:port for the Prometheus /metrics endpoint; empty = off")
    log_format: Literal["text", "json"] = Field("text", description="text, or json: one JSON object per line")
