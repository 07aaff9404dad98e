"""The pairs contra's NLI model trains and is evaluated on, beyond the vendored ``data/nli/`` pool.

Shared by ``train_nli.py`` (what it may train on) and ``eval_nli.py`` (what is held out), so that the
two agree on every split. Nothing here copies text into the repository: the files are read at run
time from ``../shared/data`` (``contra.newsdata.nli_root()`` / ``news_root()``).

Sources and splits
------------------

* **General pool** (``data/nli/``: LingNLI, counterfactual SNLI, TaxiNLI, HANS-contradicting MultiNLI,
  SNLI dev, LingNLI dev; 72,881 pairs): the from-scratch recipe trains on all of it; the warm start
  replays a seeded sample so that general NLI skill is kept.
* **VitaminC** real and synthetic (``vitaminc_{real,synthetic}.jsonl.gz``; evidence -> claim, one
  changed fact flips the verdict). Split by ``case`` (a Wikipedia revision, 2-4 near-identical
  pairs each): a stable hash puts ``VITAMINC_HELDOUT`` of the cases in the held-out set that
  ``eval_nli.py`` reports, the rest may be trained on. Never split by row.
* **Emergent** (``contra.newsdata``): only claims whose ``role_of`` is ``"nli"``. Cross-outlet headline
  pairs: ``contradiction`` (one outlet for the claim, the other against) -> contradiction, ``agree``
  (same stance) -> entailment, each in both orders. Headline -> claim text: ``for`` -> entailment,
  ``against`` -> contradiction (both orders), ``observing`` -> neutral (the headline reports the
  claim without asserting it).
* **FNC-1** (``contra.newsdata``): only rows whose group (claim) has role ``"nli"``. The body is cut into
  sentences and the two sentences that share the most (IDF-weighted) words with the headline, in
  body order, are the premise, the headline the hypothesis: ``agree`` -> entailment, ``disagree`` ->
  contradiction (both orders), ``discuss`` -> neutral (a sample). ``unrelated`` rows are not used.
  Optionally (``--within-article N``) also two sentences of one role-"nli" body -> neutral: one outlet does
  not contradict itself, and an SNLI-trained model calls such same-story, different-fact pairs contradictions.

The judge-role claims of Emergent and FNC-1 are never trained on; ``eval_nli.py`` measures the news
figures on them. ANLI and FEVER-Symmetric are evaluation sets only (ANLI is CC BY-NC: never train on it).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from contra import newsdata

REPO = Path(__file__).resolve().parent.parent
GENERAL_DIR = REPO / "data" / "nli"
GENERAL_FILES = ("train.jsonl.gz", "dev_snli.jsonl.gz", "dev_lingnli.jsonl.gz")
LABELS = ("entailment", "neutral", "contradiction")
#: Share of VitaminC cases held out for evaluation (stable hash of the case id).
VITAMINC_HELDOUT = 0.1
VITAMINC_FILES = ("vitaminc_real.jsonl.gz", "vitaminc_synthetic.jsonl.gz")


@dataclass(frozen=True, slots=True)
class Pair:
    premise: str
    hypothesis: str
    label: str
    source: str


def _jsonl(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def general_pairs() -> list[Pair]:
    """The vendored pool of the from-scratch recipe, in file order."""
    return [
        Pair(r["premise"], r["hypothesis"], r["label"], "general")
        for name in GENERAL_FILES
        for r in _jsonl(GENERAL_DIR / name)
    ]


# --- VitaminC ---------------------------------------------------------------------------------


def vitaminc_heldout(case: str) -> bool:
    digest = hashlib.sha256(f"contra-vitaminc-split:{case}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < VITAMINC_HELDOUT


def vitaminc_pairs(heldout: bool, root: Path | None = None) -> list[Pair]:
    """VitaminC pairs of the held-out cases (``heldout=True``) or of the trainable ones."""
    root = root or newsdata.nli_root()
    out: list[Pair] = []
    for name in VITAMINC_FILES:
        kind = "vitaminc_real" if "real" in name else "vitaminc_synthetic"
        for r in _jsonl(root / name):
            if vitaminc_heldout(r["case"]) == heldout:
                out.append(Pair(r["premise"], r["hypothesis"], r["label"], kind))
    return out


# --- FNC-1: the body sentences that bear on a headline ------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = (
    "a an the and or but of to in on at for from by with as is are was were be been being it its this that "
    "these those he she they we you i his her their our your has have had do does did not no will would can "
    "could should may might says said say after before over into about than then there here who whom which what "
    "when where why how all any some more most other such only own same so too very just also up out new"
)
_STOP = frozenset(_STOP_WORDS.split())


def sentences(body: str) -> list[str]:
    parts = (s.strip() for s in _SENTENCE.split(body))
    return [s for s in parts if len(s) >= 20]


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


@cache
def _idf() -> dict[str, float]:
    docs = [_words(s) for body in newsdata.fnc_bodies().values() for s in sentences(body)]
    df = Counter(w for d in docs for w in d)
    return {w: math.log((1 + len(docs)) / (1 + n)) + 1.0 for w, n in df.items()}


def best_sentences(headline: str, body: str, k: int = 2) -> list[str]:
    """The ``k`` body sentences sharing the most IDF-weighted words with the headline, in body order.

    The score is divided by the fourth root of the sentence's word count, a mild penalty that keeps a
    long sentence from winning by size alone; ties go to the earlier sentence."""
    idf = _idf()
    head = _words(headline)
    parts = sentences(body) or [body.strip()]
    scores = []
    for i, sentence in enumerate(parts):
        words = _words(sentence)
        scores.append((sum(idf.get(w, 1.0) for w in head & words) / (1 + len(words)) ** 0.25, -i))
    top = sorted(scores, reverse=True)[:k]
    return [parts[i] for i in sorted(-neg for _, neg in top)]


# --- news pairs ---------------------------------------------------------------------------------

FNC_LABEL = {"agree": "entailment", "disagree": "contradiction", "discuss": "neutral"}


def emergent_train_pairs(agree_pairs: int, seed: int) -> list[Pair]:
    """Pairs from role-"nli" Emergent claims (see the module docstring): every contradiction pair and a
    seeded sample of ``agree_pairs`` agree pairs (there are 4.5 times as many), each in both orders."""
    out: list[Pair] = []
    pairs = [p for p in newsdata.emergent_pairs() if newsdata.role_of(p.claim_id) == "nli"]
    agree = [p for p in pairs if not p.conflict]
    keep = [p for p in pairs if p.conflict] + random.Random(seed).sample(agree, min(agree_pairs, len(agree)))
    for p in keep:
        label = "contradiction" if p.conflict else "entailment"
        out.append(Pair(p.a, p.b, label, f"emergent_pair_{p.label}"))
        out.append(Pair(p.b, p.a, label, f"emergent_pair_{p.label}"))
    for h in newsdata.emergent_headlines():
        if newsdata.role_of(h.claim_id) != "nli":
            continue
        if h.stance == "for":
            out.append(Pair(h.headline, h.claim, "entailment", "emergent_claim_for"))
        elif h.stance == "against":
            out.append(Pair(h.headline, h.claim, "contradiction", "emergent_claim_against"))
            out.append(Pair(h.claim, h.headline, "contradiction", "emergent_claim_against"))
        else:
            out.append(Pair(h.headline, h.claim, "neutral", "emergent_claim_observing"))
    return out


def fnc_pairs(role: str, k: int) -> list[tuple[Pair, str]]:
    """(premise = the ``k`` best body sentences, hypothesis = headline) for FNC-1 rows of one role that
    are not ``unrelated``, with the row's group (claim id or ``body:<id>``)."""
    bodies = newsdata.fnc_bodies()
    out: list[tuple[Pair, str]] = []
    for row in newsdata.fnc_stances():
        if row.stance == "unrelated" or newsdata.role_of(row.group) != role:
            continue
        premise = " ".join(best_sentences(row.headline, bodies[row.body_id], k))
        out.append((Pair(premise, row.headline, FNC_LABEL[row.stance], f"fnc_{row.stance}"), row.group))
    return out


def fnc_train_pairs(discuss: int, seed: int) -> list[Pair]:
    """Role-"nli" FNC-1 rows: agree and disagree all (disagree in both orders), ``discuss`` of the discuss rows."""
    rows = [p for p, _ in fnc_pairs("nli", k=2)]
    rng = random.Random(seed)
    out: list[Pair] = []
    discussing = [p for p in rows if p.label == "neutral"]
    out += rng.sample(discussing, min(discuss, len(discussing)))
    for p in rows:
        if p.label == "entailment":
            out.append(p)
        elif p.label == "contradiction":
            out += [p, Pair(p.hypothesis, p.premise, p.label, p.source)]
    return out


def within_article_pairs(per_body: int, seed: int) -> list[Pair]:
    """Neutral pairs: two sentences of one role-"nli" FNC-1 body that share at least two content words.

    One outlet does not contradict itself, so two claims of one report are compatible, and most are
    about different facts of the same story ("the council approved the budget" / "the council also
    discussed a park"). Models trained on SNLI call such pairs contradictions (in SNLI two captions of
    one photo that describe different scenes are labelled so); on news that is the commonest false
    alarm. Bodies with any row of role "judge" are left out: the judge's within-article set is drawn
    from those."""
    judge_bodies: set[str] = set()
    nli_bodies: set[str] = set()
    for r in newsdata.fnc_stances():
        role = newsdata.role_of(r.group)
        if role == "judge":
            judge_bodies.add(r.body_id)
        elif r.stance != "unrelated":
            nli_bodies.add(r.body_id)
    bodies = newsdata.fnc_bodies()
    rng = random.Random(seed)
    out: list[Pair] = []
    for body in sorted(nli_bodies - judge_bodies):
        parts = sentences(bodies[body])
        words = [_words(p) for p in parts]
        close = [(a, b) for a in range(len(parts)) for b in range(a + 1, len(parts)) if len(words[a] & words[b]) >= 2]
        for a, b in rng.sample(close, min(per_body, len(close))):
            first, second = (parts[a], parts[b]) if rng.random() < 0.5 else (parts[b], parts[a])
            out.append(Pair(first, second, "neutral", "fnc_within_article"))
    return out


def warm_pool(
    seed: int,
    general: int = 15000,
    vitaminc: int = 16000,
    news_copies: int = 2,
    emergent_agree: int = 600,
    fnc_discuss: int = 400,
    within_article: int = 0,
) -> list[Pair]:
    """The warm-start mix: ``general`` replayed pool pairs, ``vitaminc`` trainable VitaminC pairs (real
    and synthetic in their file proportions), and the news pairs ``news_copies`` times (each copy with its
    own sample of Emergent agree pairs and FNC-1 discuss rows), with up to ``within_article`` neutral sentence
    pairs per role-"nli" FNC-1 body in each copy."""
    rng = random.Random(seed)
    pool: list[Pair] = []
    base = general_pairs()
    pool += rng.sample(base, min(general, len(base)))
    vit = vitaminc_pairs(heldout=False)
    pool += rng.sample(vit, min(vitaminc, len(vit)))
    for copy in range(news_copies):
        pool += emergent_train_pairs(emergent_agree, seed + copy) + fnc_train_pairs(fnc_discuss, seed + copy)
        if within_article:
            pool += within_article_pairs(within_article, seed + copy)
    return pool


def composition(pairs: list[Pair]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for p in pairs:
        table.setdefault(p.source, Counter())[p.label] += 1
    return {source: dict(counts) for source, counts in sorted(table.items())}
