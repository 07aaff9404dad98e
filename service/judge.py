"""Judge pairs of claims: exact figure checks first, then the NLI model in both directions.

The figures check is cheap and exact, and NLI models are weak on numbers and dates, so a figure
conflict found by code is trusted more than the model. The NLI model decides stance. Either part
can be switched off, which is how ``make eval`` measures what each one earns.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from contra.service.domain import LABEL_ORDER, ConflictKind, Label, NumericFinding, Span, Verdict
from contra.service.nli import NLIModel

FigureCheck = Callable[[str, str, "dt.date | None", "dt.date | None"], "NumericFinding | None"]

_ENT, _NEU, _CON = (LABEL_ORDER.index(label) for label in (Label.ENTAILMENT, Label.NEUTRAL, Label.CONTRADICTION))
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"[^\W\d_]{3,}")
#: Function words that say nothing about which event a claim is about.
_STOP = frozenset(
    """the and for are was were has have had its his her their our this that these those with from into onto over
    under after before about said says say told would could should will shall may might must not but yet also than
    then there here when where which who whom whose what while been being does did done just more most less least
    very much many some any all each every other such only own same both few nor can now new one two three""".split()  # noqa: SIM905
)
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


class Judge:
    """Turns the two parts' signals into one verdict per pair."""

    def __init__(
        self,
        nli: NLIModel | None,
        figures: FigureCheck | None,
        *,
        threshold: float = 0.5,
    ) -> None:
        if nli is None and figures is None:
            raise ValueError("a judge needs at least one part: an NLI model or a figure check")
        self.nli = nli
        self.figures = figures
        self.threshold = threshold

    def judge(self, pairs: Sequence[PairInput]) -> list[Verdict]:
        """One verdict per pair, in order. NLI runs as one batch over both directions."""
        if not pairs:
            return []
        findings = [self.figures(p.a, p.b, p.a_date, p.b_date) if self.figures else None for p in pairs]
        probs = self._nli_both_ways(pairs)
        return [
            self._verdict(p, f, None if probs is None else probs[i])
            for i, (p, f) in enumerate(zip(pairs, findings, strict=True))
        ]

    def _nli_both_ways(self, pairs: Sequence[PairInput]) -> np.ndarray | None:
        """(n, 3) probabilities: entailment and neutral of A->B, contradiction averaged over both
        directions (it is symmetric, and the average is steadier than either direction)."""
        if self.nli is None:
            return None
        n = len(pairs)
        both = self.nli.predict([(p.a, p.b) for p in pairs] + [(p.b, p.a) for p in pairs])
        forward, backward = both[:n], both[n:]
        combined = forward.copy()
        combined[:, _CON] = (forward[:, _CON] + backward[:, _CON]) / 2.0
        combined /= combined.sum(axis=1, keepdims=True)
        return combined

    def _verdict(self, pair: PairInput, finding: NumericFinding | None, probs: np.ndarray | None) -> Verdict:
        nli = tuple(float(x) for x in probs) if probs is not None else ()
        p_con = nli[_CON] if nli else 0.0
        if finding is not None:
            # Noisy-OR: either an exact figure conflict or the model's stance can make the conflict.
            score = 1.0 - (1.0 - finding.confidence) * (1.0 - p_con)
            if score >= self.threshold:
                return Verdict(
                    label=Label.CONTRADICTION,
                    kind=finding.kind,
                    score=score,
                    explanation=finding.explanation,
                    span_a=finding.span_a,
                    span_b=finding.span_b,
                    nli=nli,
                )
        if (
            nli
            and p_con >= self.threshold
            and p_con == max(nli)
            and content_overlap(pair.a, pair.b) >= STANCE_MIN_OVERLAP
        ):
            span_a, span_b = diff_spans(pair.a, pair.b)
            return Verdict(
                label=Label.CONTRADICTION,
                kind=ConflictKind.STANCE,
                score=p_con,
                explanation=_stance_explanation(pair, span_a, span_b, p_con),
                span_a=span_a,
                span_b=span_b,
                nli=nli,
            )
        label = Label.ENTAILMENT if nli and nli[_ENT] == max(nli) else Label.NEUTRAL
        return Verdict(label=label, kind=None, score=p_con, explanation=_agreement_explanation(label), nli=nli)


def content_overlap(a: str, b: str) -> float:
    """Share of the shorter claim's content words (truncated to 5 letters, a cheap stem that maps
    "Ukraine"/"Ukrainian" together) that the other claim also uses."""
    sa = {w[:5] for w in _WORD.findall(a.lower()) if w not in _STOP}
    sb = {w[:5] for w in _WORD.findall(b.lower()) if w not in _STOP}
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


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
