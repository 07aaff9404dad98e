"""Judge pairs of claims: exact figure checks, the same-event evidence, stance cues and NLI in both
directions, combined into one calibrated score.

Every part is a feature of one logistic model fitted on real outlets' news (``bench/fit_judge.py``,
``make fit-judge``): none of them decides alone. Rules that veto a pair before any score were measured on
real conflicts between outlets (``make eval-news``): naming different people or places, and lacking a
figure clash or a cue word, killed most of them (each outlet names its own officials, places and dates,
and denies in its own words), so they are features now. What remains a rule is that a line which only
attributes or hedges ("The reports could not be independently verified") is not a claim and is never
judged (``attribution.py``). Without a ``Calibration`` the older fixed rules apply, which is how
``make eval`` measures what each part earns alone.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from contra.domain import LABEL_ORDER, ConflictKind, Label, NumericFinding, Span, Verdict
from contra.service.judge.attribution import not_a_claim
from contra.service.judge.calibration import (
    FEATURES,
    NLI_FEATURES,
    NLI_RANGE,
    Calibration,
    log_odds,
    nli_ranges_given_forward,
)
from contra.service.judge.numbers import FigureEvidence
from contra.service.judge.polarity import Polarity, polarity
from contra.service.judge.same_event import SameEvent, content_overlap, same_event
from contra.service.judge.spans import denies_shared_predicate, stance_spans
from contra.service.models.embedder import Embedder
from contra.service.models.nli import NLIModel

#: ``compare_figures`` (a finding) or ``figure_evidence`` (a finding plus agreeing figure pairs).
FigureCheck = Callable[[str, str, "dt.date | None", "dt.date | None"], "NumericFinding | FigureEvidence | None"]

_ENT, _NEU, _CON = (LABEL_ORDER.index(label) for label in (Label.ENTAILMENT, Label.NEUTRAL, Label.CONTRADICTION))
_TOKEN = re.compile(r"\w+|[^\w\s]")
#: NLI models trained on SNLI-style data call two claims about different events "contradiction";
#: below this share of common content words a stance conflict is not believed (the same-event test).
STANCE_MIN_OVERLAP = 0.3


@dataclass(frozen=True, slots=True)
class PairInput:
    """Two claims to compare; B is judged against A."""

    a: str
    b: str
    a_date: dt.date | None = None
    b_date: dt.date | None = None
    #: Embedding cosine of A and B when the caller has it (a Check candidate's similarity).
    similarity: float | None = None


@dataclass(frozen=True, slots=True)
class PairEvidence:
    """Everything the judge knows about one pair before it decides; ``features`` feeds the calibration."""

    figures: FigureEvidence
    event: SameEvent
    cues: Polarity
    #: NLI probabilities in ``LABEL_ORDER`` for A->B and B->A; empty when NLI was not run (B->A alone is
    #: empty when A->B showed the pair cannot reach the threshold whatever B->A says).
    forward: tuple[float, ...]
    backward: tuple[float, ...]

    #: Why A or B is not a claim at all (an attribution, hedge, byline or dateline line), else "".
    not_a_claim: str = ""
    #: One claim negates a predicate the other asserts with the same word (``spans.denies_shared_predicate``).
    denies_shared: bool = False

    @property
    def reverse(self) -> tuple[float, ...]:
        """B->A, or A->B where B->A was not run: such a pair was decided below the threshold on A->B alone,
        and reading B->A as A->B's answer (one of the answers that bound covered) keeps it there."""
        return self.backward or self.forward

    @property
    def ruled_out(self) -> bool:
        """A rule, not the fitted score, decides: one side is not a claim."""
        return bool(self.not_a_claim)

    def vetoes(self) -> tuple[str, ...]:
        """The rules that decide this pair before any score (``make eval-news`` counts the real conflicts
        each of them kills; a rule stays only while that is under 2%)."""
        return ("not_a_claim",) if self.not_a_claim else ()

    def features(self) -> list[float]:
        values = self.feature_values()
        return [float(values[name]) for name in FEATURES]

    def feature_values(self) -> dict[str, float]:
        backward = self.reverse
        con = (self.forward[_CON], backward[_CON]) if self.forward else (np.nan, np.nan)
        ent = max(self.forward[_ENT], backward[_ENT]) if self.forward else np.nan
        finding = self.figures.finding
        event = self.event
        return {
            "nli_contradiction_logit": log_odds((con[0] + con[1]) / 2.0),
            "nli_entailment_logit": log_odds(ent),
            # A clash the figures check is unsure of (two dates of a timeline, figures matched by position
            # only) is no evidence: below SURE_FIGURE it is left out, as the check itself does not report it.
            "figure_conflict": finding.confidence if finding is not None and finding.confidence >= SURE_FIGURE else 0.0,
            # A weak clash counts where the two claims are parallel (word overlap): one sentence reworded
            # ("12 killed" / "30 killed"). Weakly matched dates only where most words are shared: a story dates
            # many events, and two of its sentences with different dates are a timeline, not a conflict.
            "figure_conflict_weak_parallel": finding.confidence * event.content_overlap
            if finding is not None
            and finding.confidence < SURE_FIGURE
            and (finding.kind is not ConflictKind.DATE or event.content_overlap >= PARALLEL)
            else 0.0,
            "figure_agreements": float(min(self.figures.agreements, 3)),
            "denial_flip": float(self.cues.denial_flip),
            "denies_shared_predicate": float(self.denies_shared),
            "debunk_flip": float(self.cues.debunk_flip),
            # Opposite news verbs weigh by how parallel the claims are: "sales rose" / "sales fell" is one
            # measure read two ways, "scrutiny increased" / "stocks fell" two facts of one story. Unweighted,
            # the cue fired on 92 real-news pairs of which 5 conflict (make fit-judge, session 7).
            "opposites_parallel": float(min(self.cues.opposites, 2)) * event.content_overlap,
        }


class Judge:
    """Turns the two parts' signals into one verdict per pair."""

    def __init__(
        self,
        nli: NLIModel | None,
        figures: FigureCheck | None,
        *,
        threshold: float = 0.5,
        calibration: Calibration | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        if nli is None and figures is None:
            raise ValueError("a judge needs at least one part: an NLI model or a figure check")
        self.nli = nli
        self.figures = figures
        self.threshold = threshold
        self.calibration = calibration
        #: Only used for pairs that come without a similarity (``contra judge``, JudgePair).
        self.embedder = embedder

    def judge(self, pairs: Sequence[PairInput], *, nli_for_all: bool = False) -> list[Verdict]:
        """One verdict per pair, in order. NLI runs as one batch over both directions.

        With a calibration the cheap checks run first, and NLI only on pairs that could still reach the
        threshold: a pair that is not a claim, or whose score stays below the threshold even if the model
        answered "contradiction" with certainty, is decided without it (exact, as the score is monotone
        in the model's probabilities). ``nli_for_all`` runs it on every pair anyway, for callers that show
        the model's probabilities (JudgePair).
        """
        if not pairs:
            return []
        skip = self.calibration is not None and not nli_for_all
        return self.decide(pairs, self.evidence(pairs, skip_ruled_out=skip))

    def scores(self, evidence: Sequence[PairEvidence]) -> np.ndarray:
        """The final score of each pair (what ``decide`` compares with the threshold), without verdicts."""
        if self.calibration is None:
            raise ValueError("scores() needs a calibration")
        fitted = self.calibration.score(np.array([e.features() for e in evidence], dtype=np.float64))
        return np.array([self._final(e, float(s)) for e, s in zip(evidence, fitted, strict=True)])

    def _final(self, evidence: PairEvidence, score: float) -> float:
        if evidence.ruled_out:
            return min(score, _CAP)
        return score

    def decide(self, pairs: Sequence[PairInput], evidence: Sequence[PairEvidence]) -> list[Verdict]:
        """Verdicts from evidence already gathered (the eval reuses one NLI run for every variant)."""
        if self.calibration is not None:
            scores = self.scores(evidence)
            return [self._calibrated(p, e, float(s)) for p, e, s in zip(pairs, evidence, scores, strict=True)]
        return [self._verdict(p, e) for p, e in zip(pairs, evidence, strict=True)]

    def evidence(self, pairs: Sequence[PairInput], *, skip_ruled_out: bool = False) -> list[PairEvidence]:
        """The parts' signals for each pair: figures, same-event test, stance cues, NLI both ways
        (left empty, when ``skip_ruled_out``, for pairs that are decided whatever the model says)."""
        cosines = self._cosines(pairs)
        found = [
            PairEvidence(
                figures=self._figures(p),
                event=same_event(p.a, p.b, p.a_date, p.b_date, cosine),
                cues=polarity(p.a, p.b),
                forward=(),
                backward=(),
                not_a_claim=_why_not_a_claim(p),
                denies_shared=denies_shared_predicate(p.a, p.b),
            )
            for p, cosine in zip(pairs, cosines, strict=True)
        ]
        decided = self._decided_without_nli(found) if skip_ruled_out else [False] * len(found)
        wanted = [i for i, d in enumerate(decided) if not d]
        if self.nli is None or not wanted:
            return found
        # A->B first; B->A only where the pair could still reach the threshold after it (when skipping).
        # Most candidate pairs of a Check are unrelated or agree, A->B says so, and B->A is not run for them.
        forward = self.nli.predict([(pairs[i].a, pairs[i].b) for i in wanted])
        for k, i in enumerate(wanted):
            found[i] = replace(found[i], forward=_probs(forward[k]))
        again = wanted
        if skip_ruled_out:
            done = self._decided_on_forward(found, wanted, forward)
            again = [i for i, d in zip(wanted, done, strict=True) if not d]
        if again:
            backward = self.nli.predict([(pairs[i].b, pairs[i].a) for i in again])
            for k, i in enumerate(again):
                found[i] = replace(found[i], backward=_probs(backward[k]))
        return found

    def _decided_without_nli(self, found: Sequence[PairEvidence]) -> list[bool]:
        """Pairs that are not claims, or whose highest reachable score is below the threshold."""
        if self.calibration is None:
            return [e.ruled_out for e in found]
        x = np.array([e.features() for e in found], dtype=np.float64)
        free = {f: NLI_RANGE for f in NLI_FEATURES if f in self.calibration.features}
        best = self.calibration.max_score(x, free)
        return [e.ruled_out or float(b) < self.threshold for e, b in zip(found, best, strict=True)]

    def _decided_on_forward(
        self, found: Sequence[PairEvidence], wanted: Sequence[int], forward: np.ndarray
    ) -> list[bool]:
        """For the pairs ``wanted`` (A->B known): whether the score stays below the threshold whatever B->A
        says (exact: the bound covers every answer; ``tests/test_judge.py``)."""
        assert self.calibration is not None
        x = np.array([found[i].features() for i in wanted], dtype=np.float64)
        ranges = {
            f: r
            for f, r in nli_ranges_given_forward(np.asarray(forward, dtype=np.float64), _CON, _ENT).items()
            if f in self.calibration.features
        }
        best = self.calibration.max_score(x, ranges)
        return [float(b) < self.threshold for b in best]

    def _figures(self, pair: PairInput) -> FigureEvidence:
        if self.figures is None:
            return FigureEvidence(None)
        found = self.figures(pair.a, pair.b, pair.a_date, pair.b_date)
        return found if isinstance(found, FigureEvidence) else FigureEvidence(found)

    def _cosines(self, pairs: Sequence[PairInput]) -> list[float | None]:
        missing = [i for i, p in enumerate(pairs) if p.similarity is None]
        out = [p.similarity for p in pairs]
        if missing and self.embedder is not None:
            vectors = self.embedder.embed([pairs[i].a for i in missing] + [pairs[i].b for i in missing])
            va, vb = vectors[: len(missing)], vectors[len(missing) :]
            for k, i in enumerate(missing):
                out[i] = float(np.dot(va[k], vb[k]))
        return out

    def _calibrated(self, pair: PairInput, evidence: PairEvidence, score: float) -> Verdict:
        """One score from the fitted model; the kind, spans and explanation come from the part that
        found the conflict: the figures check when it found one, else the stance signals."""
        nli = _combined(evidence)
        finding = evidence.figures.finding
        if score < self.threshold:
            label = Label.ENTAILMENT if nli and nli[_ENT] == max(nli) else Label.NEUTRAL
            explanation = f"not judged: {evidence.not_a_claim}" if evidence.ruled_out else _agreement_explanation(label)
            return Verdict(label=label, kind=None, score=score, explanation=explanation, nli=nli)
        if finding is not None:
            return _figure_verdict(finding, score, nli)
        return _stance_verdict(pair, score, nli, nli[_CON] if nli else None)

    def _verdict(self, pair: PairInput, evidence: PairEvidence) -> Verdict:
        """The fixed rules used without a calibration: noisy-OR of figures and NLI, and a stance gate."""
        finding = evidence.figures.finding
        nli = _combined(evidence)
        p_con = nli[_CON] if nli else 0.0
        if finding is not None:
            # Noisy-OR: either an exact figure conflict or the model's stance can make the conflict.
            score = 1.0 - (1.0 - finding.confidence) * (1.0 - p_con)
            if score >= self.threshold:
                return _figure_verdict(finding, score, nli)
        if (
            nli
            and p_con >= self.threshold
            and p_con == max(nli)
            and content_overlap(pair.a, pair.b) >= STANCE_MIN_OVERLAP
        ):
            return _stance_verdict(pair, p_con, nli, p_con)
        label = Label.ENTAILMENT if nli and nli[_ENT] == max(nli) else Label.NEUTRAL
        return Verdict(label=label, kind=None, score=p_con, explanation=_agreement_explanation(label), nli=nli)


def _figure_verdict(finding: NumericFinding, score: float, nli: tuple[float, ...]) -> Verdict:
    """A conflict found by the figures check: its kind, spans and explanation."""
    return Verdict(
        label=Label.CONTRADICTION,
        kind=finding.kind,
        score=score,
        explanation=finding.explanation,
        span_a=finding.span_a,
        span_b=finding.span_b,
        nli=nli,
    )


def _stance_verdict(pair: PairInput, score: float, nli: tuple[float, ...], p_con: float | None) -> Verdict:
    """A stance conflict: spans and explanation from the stance cues (``spans.py``)."""
    span_a, span_b, explanation = stance_explanation(pair.a, pair.b, p_con)
    return Verdict(
        label=Label.CONTRADICTION,
        kind=ConflictKind.STANCE,
        score=score,
        explanation=explanation,
        span_a=span_a,
        span_b=span_b,
        nli=nli,
    )


#: The least confidence of a figure clash that counts as evidence (``numbers.py``: a match by position
#: alone, e.g. each claim's only date, stays below it).
SURE_FIGURE = 0.5
#: Word overlap (share of the shorter claim's content words) above which two claims are one sentence reworded.
PARALLEL = 0.5
#: The score a pair may have at most when a rule rules it out (one side is not a claim).
_CAP = 0.05


def _why_not_a_claim(pair: PairInput) -> str:
    for side, text in (("A", pair.a), ("B", pair.b)):
        why = not_a_claim(text)
        if why is not None:
            return f"{side} is not a claim ({why})"
    return ""


def _probs(row: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in row)


def _combined(evidence: PairEvidence) -> tuple[float, ...]:
    """Entailment and neutral of A->B, contradiction averaged over both directions (it is symmetric,
    and the average is steadier than either direction), renormalised."""
    if not evidence.forward:
        return ()
    probs = list(evidence.forward)
    probs[_CON] = (evidence.forward[_CON] + evidence.reverse[_CON]) / 2.0
    total = sum(probs)
    return tuple(x / total for x in probs)


def diff_spans(a: str, b: str) -> tuple[Span | None, Span | None]:
    """The largest stretch where the two claims' wording differs, in each claim.

    Good enough to point a reader at "did not hold" against "held"; the figures check gives exact
    spans for numbers and dates.
    """
    ta = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(a)]
    tb = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(b)]
    matcher = difflib.SequenceMatcher(a=[t[2] for t in ta], b=[t[2] for t in tb], autojunk=False)
    best: tuple[int, int, int, int, int] | None = None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        size = (i2 - i1) + (j2 - j1)
        if best is None or size > best[0]:
            best = (size, i1, i2, j1, j2)
    if best is None:
        return None, None
    _, i1, i2, j1, j2 = best
    span_a = Span(ta[i1][0], ta[i2 - 1][1]) if i2 > i1 else None
    span_b = Span(tb[j1][0], tb[j2 - 1][1]) if j2 > j1 else None
    return span_a, span_b


def stance_explanation(a: str, b: str, p_con: float | None) -> tuple[Span | None, Span | None, str]:
    """Spans and a sentence for a stance conflict: the words that carry the opposite assertion where a
    negation, denial, debunking word or opposite verb marks them (``spans.py``), else the word diff."""
    pct = f" ({round(100 * p_con)}% NLI)" if p_con is not None else ""
    found = stance_spans(a, b)
    if found is None:
        span_a, span_b = diff_spans(a, b)
        return span_a, span_b, _stance_explanation(PairInput(a, b), span_a, span_b, p_con or 0.0)
    span_a, span_b = found
    if span_a is not None and span_b is not None:
        text = f"'{span_a.of(a)}' vs '{span_b.of(b)}': the claims assert opposite things{pct}"
    elif span_b is not None:
        text = f"B says '{span_b.of(b)}' where A asserts it{pct}"
    elif span_a is not None:
        text = f"A says '{span_a.of(a)}' where B asserts it{pct}"
    else:
        text = f"the claims assert opposite things{pct}"
    return span_a, span_b, text


def _stance_explanation(pair: PairInput, span_a: Span | None, span_b: Span | None, p_con: float) -> str:
    pct = round(100 * p_con)
    if span_a is not None and span_b is not None:
        return f"'{span_a.of(pair.a)}' vs '{span_b.of(pair.b)}': the claims assert opposite things ({pct}% NLI)"
    if span_b is not None:
        return f"B adds '{span_b.of(pair.b)}', which contradicts A ({pct}% NLI)"
    if span_a is not None:
        return f"B drops '{span_a.of(pair.a)}', which reverses A ({pct}% NLI)"
    return f"the claims assert opposite things ({pct}% NLI)"


def _agreement_explanation(label: Label) -> str:
    if label is Label.ENTAILMENT:
        return "B follows from A"
    return "no conflict found"
