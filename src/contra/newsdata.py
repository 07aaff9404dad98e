"""Real-news data sets (Emergent, FNC-1, ClaimDiff) read from ``../shared/data/news``, with fixed splits.

Training, evaluation and retrieval all read these through this module so that they agree on one
split: every Emergent claim (and every FNC-1 body, through the claim its headlines belong to) sits in
exactly one *role*:

* ``nli``: the NLI model may train on it (``models/train_nli.py``);
* ``judge``: held out from the model; the judge's calibration is fitted and cross-validated on it
  (folds grouped by claim), and the model's news figures are measured on it.

Assignment is a hash of the claim id, so it is stable across runs, machines and data orderings, and a
row never crosses the line. Nothing here copies text into the repository: callers read it at run time.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

Role = Literal["nli", "judge"]

#: Share of claims the NLI model may train on; the rest are held out for the judge.
NLI_SHARE = 0.4
#: Folds of the judge's grouped cross-validation.
JUDGE_FOLDS = 5

_REPO = Path(__file__).resolve().parents[2]


def news_root() -> Path:
    """``$CONTRA_NEWS_DATA``, else ``../shared/data/news`` beside the repository."""
    env = os.environ.get("CONTRA_NEWS_DATA")
    return Path(env) if env else _REPO.parent / "shared" / "data" / "news"


def nli_root() -> Path:
    """``$CONTRA_NLI_DATA``, else ``../shared/data/nli`` beside the repository."""
    env = os.environ.get("CONTRA_NLI_DATA")
    return Path(env) if env else _REPO.parent / "shared" / "data" / "nli"


def available() -> bool:
    root = news_root()
    return (root / "emergent" / "pairs.jsonl.gz").exists() and (root / "fnc1" / "test_stances.csv.gz").exists()


def _unit(key: str) -> float:
    """A stable number in [0, 1) for a group key."""
    digest = hashlib.sha256(f"contra-news-split:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def role_of(group: str) -> Role:
    """The role of a claim (or of a group without a claim, e.g. an FNC-1 body of no known claim)."""
    return "nli" if _unit(group) < NLI_SHARE else "judge"


def fold_of(group: str, folds: int = JUDGE_FOLDS) -> int:
    """The cross-validation fold of a group, independent of its role's draw."""
    digest = hashlib.sha256(f"contra-news-fold:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


# --- Emergent -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Headline:
    claim_id: str
    claim: str
    headline: str
    stance: str  # for | against | observing
    outlet: str
    url: str


@dataclass(frozen=True, slots=True)
class HeadlinePair:
    """Two outlets' headlines on one claim; label ``contradiction`` (for vs against) or ``agree``."""

    claim_id: str
    claim: str
    a: str
    b: str
    outlet_a: str
    outlet_b: str
    label: str

    @property
    def conflict(self) -> bool:
        return self.label == "contradiction"


def _jsonl_gz(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@cache
def emergent_headlines() -> tuple[Headline, ...]:
    return tuple(
        Headline(r["claim_id"], r["claim"], r["headline"], r["stance"], r["outlet"], r["url"])
        for r in _jsonl_gz(news_root() / "emergent" / "headlines.jsonl.gz")
    )


@cache
def emergent_pairs() -> tuple[HeadlinePair, ...]:
    return tuple(
        HeadlinePair(
            r["claim_id"], r["claim"], r["headline_a"], r["headline_b"], r["source_a"], r["source_b"], r["label"]
        )
        for r in _jsonl_gz(news_root() / "emergent" / "pairs.jsonl.gz")
    )


# --- FNC-1 ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StanceRow:
    """An FNC-1 headline against one article body; ``group`` is the claim id where the headline is an
    Emergent headline, else ``body:<id>``."""

    headline: str
    body_id: str
    stance: str  # agree | disagree | discuss | unrelated
    part: str  # test | train
    group: str


def _csv_gz(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rb") as handle:
        return list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", newline="")))


_SPACE = re.compile(r"\s+")


def _key(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


@cache
def fnc_bodies() -> dict[str, str]:
    """Body id -> article text (the two parts' ids are disjoint, prefixed by part)."""
    bodies: dict[str, str] = {}
    for part in ("test", "train"):
        for row in _csv_gz(news_root() / "fnc1" / f"{part}_bodies.csv.gz"):
            bodies[f"{part}:{row['Body ID']}"] = row["articleBody"]
    return bodies


@cache
def fnc_stances() -> tuple[StanceRow, ...]:
    """All FNC-1 rows. A body takes the claim of the first of its related headlines found in Emergent,
    so that one article never sits on both sides of the split."""
    claim_of_headline = {_key(h.headline): h.claim_id for h in emergent_headlines()}
    raw: list[tuple[str, str, str, str]] = []
    for part, name in (("test", "test_stances.csv.gz"), ("train", "train_stances_subset.csv.gz")):
        for row in _csv_gz(news_root() / "fnc1" / name):
            raw.append((row["Headline"], f"{part}:{row['Body ID']}", row["Stance"], part))
    body_group: dict[str, str] = {}
    for headline, body, stance, _ in raw:
        claim = claim_of_headline.get(_key(headline))
        if stance != "unrelated" and claim and body not in body_group:
            body_group[body] = claim
    return tuple(
        StanceRow(headline, body, stance, part, body_group.get(body, f"body:{body}"))
        for headline, body, stance, part in raw
    )


# --- ClaimDiff --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimDiffPair:
    """Two outlets' claims on one topic. Not contradiction labels: realistic compatible pairs."""

    topic: str
    pair_id: str
    a: str
    b: str
    relation: int
    date: str


@cache
def claimdiff_pairs() -> tuple[ClaimDiffPair, ...]:
    """Every pair of the ``*-full`` and train files, without the ``_rev`` (swapped) duplicates."""
    seen: set[str] = set()
    out: list[ClaimDiffPair] = []
    root = news_root() / "claimdiff"
    for path in sorted(root.glob("*/*.json")):
        if path.stem.endswith("-test"):  # a subset of the -test-full file
            continue
        for row in json.loads(path.read_text(encoding="utf-8"))["data"]:
            base = row["pair_id"].removesuffix("_rev")
            if base in seen:
                continue
            seen.add(base)
            out.append(
                ClaimDiffPair(row["topic"], base, row["claim_a"], row["claim_b"], int(row["relation"]), row["date"])
            )
    return tuple(out)
