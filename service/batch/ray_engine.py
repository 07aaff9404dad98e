"""The batch job's Ray Data engine: claims, embeddings and verdicts computed by Ray workers.

Each stage is one Ray Data pipeline over the job's chunks (one row per chunk, one block per row, so the
actors share the work evenly and results stream back as they finish). The embedder and the judge live in
actor pools (``map_batches`` with a class), so every actor loads its model once; splitting needs no model
and runs as tasks. Workers call the same chunk functions as ``LocalEngine`` on the same chunks, which is
what makes both engines give the same results. Messages are JSON and ``.npy`` bytes, not pickles of
contra's objects, so what crosses the wire is plain data.

Ray is optional: ``pip install "ray[data]"``. Without an address the engine starts a private local Ray
instance (and stops it again); with ``address`` it joins a running cluster, whose workers need contra and
the model files at the same paths (``RAY_ADDRESS`` in the environment counts as an address). A process
that already called ``ray.init`` keeps its instance.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Self

import numpy as np

from contra.domain import ClaimText, Verdict
from contra.errors import ContraError
from contra.service.batch.job import (
    Chunk,
    build_embedder,
    claims_from_json,
    claims_to_json,
    embed_chunk,
    judge_chunk,
    pair_from_json,
    pair_to_json,
    split_chunk,
    verdict_from_json,
    verdict_to_json,
)
from contra.service.config import Settings
from contra.service.judge.judge import PairInput

LOG = logging.getLogger(__name__)

Batch = dict[str, np.ndarray]


class RayUnavailable(ContraError):
    """Ray is not installed, or the cluster at the given address cannot be reached."""


def _threads(cpus: float) -> None:
    """Limit torch to the CPUs Ray gave this worker, so actors on one node do not fight over cores."""
    import torch

    torch.set_num_threads(max(1, int(cpus)))


def _split_batch(batch: Batch) -> Batch:
    results = [json.dumps(claims_to_json(split_chunk(json.loads(p)))) for p in batch["payload"]]
    return {"chunk": batch["chunk"], "result": np.asarray(results, dtype=object)}


class _EmbedWorker:
    """Holds one embedder for the actor's lifetime."""

    def __init__(self, settings: dict[str, Any], cpus: float) -> None:
        _threads(cpus)
        self.embedder = build_embedder(Settings(**settings))

    def __call__(self, batch: Batch) -> Batch:
        results = []
        for payload in batch["payload"]:
            buffer = io.BytesIO()
            np.save(buffer, embed_chunk(self.embedder, json.loads(payload)))
            results.append(buffer.getvalue())
        return {"chunk": batch["chunk"], "result": np.asarray(results, dtype=object)}


class _JudgeWorker:
    """Holds one judge (NLI model and figures check) for the actor's lifetime."""

    def __init__(self, settings: dict[str, Any], cpus: float) -> None:
        from contra.service.wiring import build_judge

        _threads(cpus)
        self.judge = build_judge(Settings(**settings))

    def __call__(self, batch: Batch) -> Batch:
        results = []
        for payload in batch["payload"]:
            pairs = [pair_from_json(p) for p in json.loads(payload)]
            results.append(json.dumps([verdict_to_json(v) for v in judge_chunk(self.judge, pairs)]))
        return {"chunk": batch["chunk"], "result": np.asarray(results, dtype=object)}


class RayEngine:
    """Runs the model stages on Ray Data; use as a context manager so a Ray instance it started is stopped.

    ``num_cpus`` caps a local instance (tests use 2); ``cpus_per_actor`` is what each model actor reserves
    and the number of torch threads it uses. The pools get as many actors as the cluster has room for.
    """

    name = "ray"

    def __init__(
        self,
        settings: Settings,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_actor: float = 1.0,
    ) -> None:
        try:
            import ray
            import ray.data
        except ImportError as exc:
            raise RayUnavailable(f'the ray engine needs Ray Data: pip install "ray[data]" ({exc})') from exc
        self._ray = ray
        self.settings = settings
        self.cpus_per_actor = cpus_per_actor
        self._started = False
        if not ray.is_initialized():
            try:
                quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
                if address or os.environ.get("RAY_ADDRESS"):
                    ray.init(address=address, **quiet)  # None: Ray reads RAY_ADDRESS itself
                else:
                    # "local": a private instance, never whatever cluster this machine happens to run.
                    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **quiet)
            except (ConnectionError, RuntimeError, TimeoutError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise RayUnavailable(f"cannot start or reach {where}: {exc}") from exc
            self._started = True
        # Ray Data logs every pipeline start and end at INFO; the job shows its own progress.
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.enable_operator_progress_bars = False
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.actors = max(1, int(cpus // cpus_per_actor))
        LOG.info("ray engine: %d actors of %.1f CPUs each", self.actors, cpus_per_actor)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    def _dataset(self, chunks: Sequence[tuple[int, str]]) -> Any:
        rows = [{"chunk": number, "payload": payload} for number, payload in chunks]
        return self._ray.data.from_items(rows, override_num_blocks=len(rows))

    def _rows(self, dataset: Any) -> Iterator[tuple[int, Any]]:
        for row in dataset.iter_rows():
            yield int(row["chunk"]), row["result"]

    def _actor_pool(self, chunks: Sequence[tuple[int, str]], worker: type[Any]) -> Iterator[tuple[int, Any]]:
        ray_data = self._ray.data
        dataset = self._dataset(chunks).map_batches(
            worker,
            fn_constructor_kwargs={"settings": self.settings.model_dump(mode="json"), "cpus": self.cpus_per_actor},
            batch_size=1,
            batch_format="numpy",
            compute=ray_data.ActorPoolStrategy(size=min(self.actors, len(chunks))),
            num_cpus=self.cpus_per_actor,
        )
        return self._rows(dataset)

    def split(self, chunks: Sequence[Chunk[str]]) -> Iterator[tuple[int, list[list[ClaimText]]]]:
        texts = dict(chunks)
        dataset = self._dataset([(n, json.dumps(t)) for n, t in chunks]).map_batches(
            _split_batch, batch_size=1, batch_format="numpy", num_cpus=1
        )
        for number, result in self._rows(dataset):
            yield number, claims_from_json(json.loads(result), texts[number])

    def embed(self, chunks: Sequence[Chunk[str]]) -> Iterator[tuple[int, np.ndarray]]:
        payloads = [(n, json.dumps(t)) for n, t in chunks]
        for number, result in self._actor_pool(payloads, _EmbedWorker):
            yield number, np.load(io.BytesIO(result), allow_pickle=False)

    def judge(self, chunks: Sequence[Chunk[PairInput]]) -> Iterator[tuple[int, list[Verdict]]]:
        payloads = [(n, json.dumps([pair_to_json(p) for p in pairs])) for n, pairs in chunks]
        for number, result in self._actor_pool(payloads, _JudgeWorker):
            yield number, [verdict_from_json(v) for v in json.loads(result)]
