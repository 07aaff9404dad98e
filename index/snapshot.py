"""Index snapshots on disk: backend files in a fresh folder, then a JSON manifest that points at it.

The manifest is replaced atomically (write, fsync, rename) only after the files are durable, so a crash
mid-save leaves the previous snapshot in force. The manifest records what the snapshot was built with
(kind, dimension, embedder), how far into the store it reaches (``last_claim_id``) and each file's size,
which catches truncated files before FAISS reads them.

    <directory>/manifest.json
    <directory>/snap-<time>-<random>/index.faiss, ...
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import faiss

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class SnapshotError(Exception):
    """The snapshot cannot be used; the index is rebuilt from the store instead."""


@dataclass(frozen=True, slots=True)
class Manifest:
    kind: str
    dimension: int
    embedder: str
    last_claim_id: int
    count: int
    created: str
    folder: str
    files: dict[str, int]
    params: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    contra_version: str = ""
    faiss_version: str = ""

    @property
    def path(self) -> Path:
        return Path(self.folder)


def write_snapshot(
    directory: Path,
    *,
    files: Callable[[Path], list[str]],
    kind: str,
    dimension: int,
    embedder: str,
    last_claim_id: int,
    count: int,
    params: dict[str, Any],
) -> Manifest:
    """Write a new snapshot with ``files(folder)`` and make it the current one."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    folder = f"snap-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    target = directory / folder
    target.mkdir()
    try:
        names = files(target)
        sizes = {}
        for name in names:
            _fsync(target / name)
            sizes[name] = (target / name).stat().st_size
        _fsync_dir(target)
        manifest = Manifest(
            kind=kind,
            dimension=dimension,
            embedder=embedder,
            last_claim_id=int(last_claim_id),
            count=int(count),
            created=now.isoformat(timespec="seconds"),
            folder=folder,
            files=sizes,
            params=params,
            contra_version=_contra_version(),
            faiss_version=faiss.__version__,
        )
        temporary = directory / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _fsync(temporary)
        os.replace(temporary, directory / MANIFEST)
        _fsync_dir(directory)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    for old in directory.glob("snap-*"):
        if old.name != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def read_manifest(directory: Path) -> Manifest:
    """The current manifest, checked against the files it names; SnapshotError says what is wrong."""
    path = directory / MANIFEST
    if not path.is_file():
        raise SnapshotError(f"no snapshot manifest at {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise TypeError("not a JSON object")
        manifest = Manifest(**raw)
        if manifest.format_version != FORMAT_VERSION:
            raise ValueError(f"format version {manifest.format_version}, this contra reads {FORMAT_VERSION}")
        for name, value in (("dimension", manifest.dimension), ("count", manifest.count)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"bad {name} {value!r}")
        if not isinstance(manifest.files, dict) or not manifest.files:
            raise ValueError("no files listed")
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise SnapshotError(f"unreadable snapshot manifest {path}: {exc}") from exc
    folder = directory / manifest.folder
    if manifest.path.is_absolute() or folder.parent != directory:
        raise SnapshotError(f"snapshot manifest {path} names a folder outside {directory}: {manifest.folder!r}")
    for name, size in manifest.files.items():
        file = folder / name
        if not file.is_file():
            raise SnapshotError(f"snapshot file {file} is missing")
        if file.stat().st_size != size:
            raise SnapshotError(f"snapshot file {file} has {file.stat().st_size} bytes, the manifest says {size}")
    return manifest


def _contra_version() -> str:
    try:
        return metadata.version("contra")
    except metadata.PackageNotFoundError:
        return ""


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
