"""Compare the figures of two similar claims and report the clearest disagreement, if any.

Two figures are compared only when they measure the same thing: the same kind, a unit of the same
dimension, and the same counted noun or event (or, failing a noun, shared context words). Each
figure stands for the set of values its wording allows ("at least 12" is 12 or more, "nearly six
weeks" a little under six, "1.2 million" what rounds to it), and two figures conflict only when
those sets do not meet. A figure in A is contradicted only when B has figures of the same measure
and none of them fits, so "12 killed ... later 30 killed" in B does not contradict "12 killed" in A.

Figures that move with time are not conflicts when the claims are dated: a running count (a toll,
cases, arrests) may grow between two publish dates, an ordinal period ("third week") advances with
the calendar, and two claims whose own dates differ ("on Monday" / "on Thursday") report different
moments, so differing counts in them are updates.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from contra.domain import ConflictKind, NumericFinding, Span
from contra.service.judge.figures import (
    UNITS,
    CalendarDate,
    Figure,
    FigureKind,
    Qualifier,
    extract_figures,
    is_title_case,
    period_days,
)

#: "about 2,000" allows this much either way; "nearly 6" allows down to (1 - _NEARLY) * 6.
_ABOUT = 0.15
_NEARLY = 0.2
#: Converting between units ("5 km" / "3.1 miles") loses this much to rounding.
_CONVERSION_SLACK = 0.05
#: Rounding slack is shrunk a little so that "3.2%" and "3.3%" do not meet at 3.25.
_PRECISION_SHRINK = 0.98

_POINT_QUALIFIERS = frozenset(
    {
        Qualifier.EXACT,
        Qualifier.ABOUT,
        Qualifier.NEARLY,
        Qualifier.AT_LEAST,
        Qualifier.AT_MOST,
        Qualifier.BEFORE,
        Qualifier.AFTER,
    }
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z]+")
_NOT_NAMES = _words(
    "January February March April May June July August September October November December Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday The A An In On At As It He She They We I This That But And"
)
_NOT_TOPICS = _words("rose rise rises fell fall falls hit hits grew grow grows said old new added gained lost")
#: "with 40% of ballots counted", "preliminary results", "early returns": the figures are not final.
_PROVISIONAL = re.compile(
    r"(?i:\bwith\s+(?!all\b|every\b)(?:\S+\s+){1,3}?(?:of\s+)?(?:the\s+)?(?:ballots|votes|precincts|polling\s+stations|districts)"
    r"\s+(?:counted|tallied|reporting|in)\b"
    r"|\b(?:preliminary|provisional|partial|early|initial|interim)\s+(?:results?|counts?|returns|tall(?:y|ies)|estimates?|figures?)\b)"
)
_TIME_KINDS = frozenset({FigureKind.DATE, FigureKind.YEAR, FigureKind.PERIOD, FigureKind.TIME})
#: "about 7 a.m." allows half an hour either way; "after 7 a.m." up to three hours after it.
_ABOUT_MINUTES = 30.0
_AFTER_MINUTES = 180.0
_CURRENCIES = frozenset(u.dimension for u in UNITS.values() if u.name == u.dimension and len(u.name) == 3)
_KIND_ORDER = {ConflictKind.DATE: 0, ConflictKind.NUMBER: 1, ConflictKind.QUANTITY: 2, ConflictKind.STANCE: 3}


def compare_figures(
    a: str, b: str, a_date: dt.date | None = None, b_date: dt.date | None = None
) -> NumericFinding | None:
    """The most certain figure conflict between claims ``a`` and ``b``, or None when their figures agree,
    measure different things, or differ only as dated updates. ``a_date``/``b_date`` are publish dates:
    they resolve "on Tuesday" and allow running counts and periods to move between the two reports."""
    return figure_evidence(a, b, a_date, b_date).finding


@dataclass(frozen=True, slots=True)
class FigureEvidence:
    """What the figures of two claims say about the pair, for the judge's calibrated score.

    Figures of the same measure that agree ("1.2 billion" / "1,200 million") are evidence of a paraphrase,
    which the NLI model often misreads as a contradiction; ``agreements`` lets the judge use that."""

    finding: NumericFinding | None
    #: Pairs of figures that clearly measure the same thing (match >= 0.5) and are compatible.
    agreements: int = 0
    #: Pairs of figures that measure the same thing and are not compatible, before the dated-series rule.
    clashes: int = 0
    #: Both claims name people or places and share none. Outlets name their own officials and places, so
    #: this does not lower the finding's confidence; the judge weighs it as a feature of its own.
    other_names: bool = False


def figure_evidence(a: str, b: str, a_date: dt.date | None = None, b_date: dt.date | None = None) -> FigureEvidence:
    """The finding of ``compare_figures`` together with how many figure pairs agree and clash."""
    fa = _figures(a, a_date)
    fb = _figures(b, b_date)
    if not fa or not fb:
        return FigureEvidence(None)
    return _Pair(a, b, fa, fb, a_date, b_date).evidence()


@lru_cache(maxsize=4096)
def _figures(text: str, published: dt.date | None) -> tuple[Figure, ...]:
    """A claim is compared with many candidates; extraction is the costly half, so it is cached."""
    return tuple(extract_figures(text, published))


@dataclass(frozen=True, slots=True)
class _Candidate:
    i: int
    j: int
    confidence: float


class _Pair:
    """All figure-to-figure comparisons of one pair of claims."""

    def __init__(
        self,
        a: str,
        b: str,
        fa: tuple[Figure, ...],
        fb: tuple[Figure, ...],
        a_date: dt.date | None,
        b_date: dt.date | None,
    ) -> None:
        self.a, self.b, self.fa, self.fb = a, b, fa, fb
        self.a_date, self.b_date = a_date, b_date
        self.elapsed = (b_date - a_date).days if a_date is not None and b_date is not None else None
        #: A claim that gives a partial or preliminary figure, which a later report may revise either way.
        self.provisional_a = _PROVISIONAL.search(a) is not None
        self.provisional_b = _PROVISIONAL.search(b) is not None
        #: Figures that count a further group ("another 30", "200 other refugees"): not the measure that
        #: a figure of the other claim gives, whatever the numbers.
        self.further_a = {f.span for f in fa if _further(a, f)}
        self.further_b = {f.span for f in fb if _further(b, f)}
        #: The named places each figure's own clause puts it in ("five killed in a strike on Kharkiv"), not
        #: where someone spoke ("..., the governor told reporters in Kellis").
        self.places_a = dict(zip((f.span for f in fa), _figure_places(a, tuple(f.span for f in fa)), strict=True))
        self.places_b = dict(zip((f.span for f in fb), _figure_places(b, tuple(f.span for f in fb)), strict=True))
        names_a, names_b = _names(a), _names(b)
        #: Both claims name people or places and share none: likely two different events.
        self.other_event = bool(names_a) and bool(names_b) and not (names_a & names_b)

    def evidence(self) -> FigureEvidence:
        """A figure is contradicted only if the other claim has figures of its measure and none fits it;
        a conflict needs both of its figures contradicted, which also makes the answer symmetric."""
        clashes: dict[tuple[int, int], float] = {}
        fits_a = [False] * len(self.fa)
        fits_b = [False] * len(self.fb)
        agreements = 0
        for i, x in enumerate(self.fa):
            for j, y in enumerate(self.fb):
                strength = self._match(x, y)
                if strength <= 0:
                    continue
                if self._compatible(x, y):
                    fits_a[i] = fits_b[j] = True
                    agreements += strength >= 0.5
                else:
                    clashes[i, j] = strength
        conflicts = [(i, j, s) for (i, j), s in clashes.items() if not fits_a[i] and not fits_b[j]]
        strong = sum(s >= 0.5 for _, _, s in conflicts)
        if conflicts and self._dated_series(conflicts, clashes):
            return FigureEvidence(None, agreements, strong, self.other_event)
        return FigureEvidence(self._finding(conflicts) if conflicts else None, agreements, strong, self.other_event)

    def _dated_series(self, conflicts: list[tuple[int, int, float]], clashes: dict[tuple[int, int], float]) -> bool:
        """Two readings of one measure on two different days ("1.74 euros on Monday", "1.81 by Friday";
        a toll of 17 "as of Sunday" and 29 "on Thursday"): the claims date different moments and a
        figure of the same measure differs between them. An update, not a conflict."""
        days_a = {f.date for f in self.fa if f.kind is FigureKind.DATE and f.date is not None}
        days_b = {f.date for f in self.fb if f.kind is FigureKind.DATE and f.date is not None}
        times_a = {f.low for f in self.fa if f.kind is FigureKind.TIME}
        times_b = {f.low for f in self.fb if f.kind is FigureKind.TIME}
        dates_clash = any(self.fa[i].kind in (FigureKind.DATE, FigureKind.TIME) for i, _, _ in conflicts)
        apart = (days_a and days_b and not days_a & days_b) or (times_a and times_b and not times_a & times_b)
        if not (dates_clash or apart):
            return False
        for i, x in enumerate(self.fa):
            for j, y in enumerate(self.fb):
                if {x.kind, y.kind} & _TIME_KINDS or self._match(x, y) <= 0:
                    continue
                if (i, j) in clashes or _midpoint(x) != _midpoint(y):
                    return True
        return False

    def _finding(self, conflicts: list[tuple[int, int, float]]) -> NumericFinding | None:
        kinds = {self.fa[i].kind for i, _, _ in conflicts} | {self.fb[j].kind for _, j, _ in conflicts}
        if kinds & {FigureKind.DATE, FigureKind.TIME} and kinds & {
            FigureKind.COUNT,
            FigureKind.PERCENT,
            FigureKind.QUANTITY,
        }:
            return None  # two dated observations ("1,200 on Monday" / "1,350 on Thursday"): a time series
        scored = [_Candidate(i, j, self._confidence(self.fa[i], self.fb[j], s)) for i, j, s in conflicts]
        best = min(
            scored,
            key=lambda c: (
                -c.confidence,
                _KIND_ORDER[self.fa[c.i].kind.conflict_kind],
                min(self.fa[c.i].span.start, self.fb[c.j].span.start),
                self.fa[c.i].span.start + self.fb[c.j].span.start,
            ),
        )
        x, y = self.fa[best.i], self.fb[best.j]
        kind = x.kind.conflict_kind if x.kind is not FigureKind.QUANTITY else y.kind.conflict_kind
        if kind is ConflictKind.QUANTITY and UNITS[x.unit].dimension in _CURRENCIES:
            kind = ConflictKind.NUMBER  # sums of money are numbers, as in the labelled set; units are measures
        return NumericFinding(
            kind=kind,
            span_a=x.span,
            span_b=y.span,
            explanation=self._explain(x, y),
            confidence=round(best.confidence, 3),
        )

    # ---------------------------------------------------------------------------------------------
    # Do two figures measure the same thing? 0 = no, up to 1 = clearly.

    def _match(self, x: Figure, y: Figure) -> float:
        """Without a shared noun, shared context words carry the match, scaled by how much is shared;
        a figure that is the only one of its kind on both sides matches weakly, below what the judge
        reports on its own."""
        if not _same_scale(x, y) or (x.span in self.further_a) != (y.span in self.further_b):
            return 0.0  # x is a figure of A, y of B
        if x.baseline != y.baseline:
            return 0.5 * self._match(replace(x, baseline=y.baseline), y)  # what one claim compares against
        union = x.context | y.context
        overlap = len(x.context & y.context) / len(union) if union else 0.0
        shared = 0.6 + 0.4 * overlap if overlap else 0.0
        sole = 0.5 if self._sole(x, y) else 0.0
        kinds = {x.kind, y.kind}
        if kinds == {FigureKind.DATE}:
            # A story dates many events ("On April 26 the general reported ...", "Putin said on April 30 ..."):
            # two dates are one event's only when the words around them share something, or their verbs
            # name one event in other words ("sank on Tuesday" / "went down on Monday"). Being each side's
            # only date is weak evidence: a timeline gives every sentence its own.
            if _same_dated_event(x, y):
                return max(0.9 * shared, 0.75)
            return 0.4 if sole else 0.3
        if kinds == {FigureKind.TIME}:
            # "left at 7 a.m." / "departed at 9:30 a.m.": one clock time on each side of one event's story
            if _same_dated_event(x, y):
                return max(0.9 * shared, 0.75)
            return 0.4 if sole else 0.0
        if kinds == {FigureKind.YEAR} or kinds == {FigureKind.YEAR, FigureKind.DATE}:
            # Years date a life or a story's past ("in 2009 the singer broke her leg" / "in March 2016 she married"):
            # as with dates, one shared name does not make two years one event's.
            strength = _noun_match(x, y, 0.8 * shared or sole)
            return strength if _same_dated_event(x, y) else min(strength, 0.4 if sole else 0.3)
        if kinds == {FigureKind.PERIOD}:
            if x.noun and x.noun == y.noun:
                return 1.0
            if x.noun and y.noun and not shared:
                return 0.0
            return 0.9 * shared or sole
        if FigureKind.PERIOD in kinds:  # an ordinal period against a duration: "third week" / "six weeks"
            return 0.8 * shared or sole
        pa, pb = self.places_a[x.span], self.places_b[y.span]
        if pa and pb and not pa & pb and not kinds & _TIME_KINDS:
            # "five killed in a strike on Kharkiv" / "three killed in a drone attack on Odesa": a wire story
            # lists the tolls of many places side by side; they are different measures
            return 0.0
        return self._match_measure(x, y, kinds, shared, sole)

    def _match_measure(self, x: Figure, y: Figure, kinds: set[FigureKind], shared: float, sole: float) -> float:
        """How surely two figures that are not dates or times measure one thing, by their nouns and context."""
        if kinds == {FigureKind.COUNT}:
            if x.noun and y.noun:
                return 1.0 if x.noun == y.noun else 0.0
            if x.noun or y.noun:
                return 0.75 * shared * _lead_factor(x, y)
            return (0.7 * shared or 0.45 * (sole > 0)) * _lead_factor(x, y)
        return _noun_match(x, y, 0.9 * shared or sole)

    def _sole(self, x: Figure, y: Figure) -> bool:
        """Each claim states exactly one figure of this kind and dimension: in two claims on one topic,
        they are the same figure."""
        return sum(_same_scale(x, f) for f in self.fa) == 1 and sum(_same_scale(y, f) for f in self.fb) == 1

    # ---------------------------------------------------------------------------------------------
    # Can both be true?

    def _compatible(self, x: Figure, y: Figure) -> bool:
        kinds = {x.kind, y.kind}
        if kinds == {FigureKind.TIME}:
            return _overlap(_clock_interval(x), _clock_interval(y))
        if FigureKind.DATE in kinds:
            return _dates_agree(x, y)
        if kinds == {FigureKind.YEAR}:
            return _overlap(_year_interval(x), _year_interval(y))
        if kinds == {FigureKind.PERIOD}:
            return self._periods_agree(x, y)
        if FigureKind.PERIOD in kinds:
            return self._period_fits_duration(x, y)
        lo_x, hi_x = _interval(x)
        lo_y, hi_y = _interval(y)
        if x.unit != y.unit:
            lo_x, hi_x = _widen(lo_x, hi_x, _CONVERSION_SLACK / 2)
            lo_y, hi_y = _widen(lo_y, hi_y, _CONVERSION_SLACK / 2)
        if self.elapsed:
            earlier_is_provisional = self.provisional_a if self.elapsed > 0 else self.provisional_b
            if earlier_is_provisional:
                return True  # election-night shares, preliminary estimates: superseded, not contradicted
            if x.running or y.running:
                # A running count ("so far", "the toll") may only have grown between the earlier and the
                # later report, which may give the final figure without saying it is one.
                earlier_lo, later_hi = (lo_x, hi_y) if self.elapsed > 0 else (lo_y, hi_x)
                return later_hi >= earlier_lo
            if x.unit and UNITS[x.unit].dimension == "time":
                grow = abs(self.elapsed)
                if self.elapsed > 0:
                    hi_x += grow
                else:
                    hi_y += grow
        return _overlap((lo_x, hi_x), (lo_y, hi_y))

    def _periods_agree(self, x: Figure, y: Figure) -> bool:
        diff = y.low - x.low
        days = period_days(x.unit)
        if not self.elapsed or days is None:
            return diff == 0
        shift = self.elapsed / days
        return math.floor(min(0.0, shift)) <= diff <= math.ceil(max(0.0, shift))

    def _period_fits_duration(self, x: Figure, y: Figure) -> bool:
        period, duration = (x, y) if x.kind is FigureKind.PERIOD else (y, x)
        days = period_days(period.unit)
        if days is None:
            return True
        lo_d, hi_d = _interval(duration)
        lo_p, hi_p = (period.low - 1) * days, period.low * days  # "third week": after 2 weeks, up to 3
        slack = abs(self.elapsed or 0)
        return _overlap((lo_p - slack, hi_p + slack), (lo_d, hi_d))

    # ---------------------------------------------------------------------------------------------
    # How sure, and how to say it

    def _confidence(self, x: Figure, y: Figure, strength: float) -> float:
        conf = 0.95 * strength
        if x.qualifier is not Qualifier.EXACT or y.qualifier is not Qualifier.EXACT:
            conf *= 0.85
        if x.kind in (FigureKind.COUNT, FigureKind.PERCENT, FigureKind.QUANTITY):
            mx, my = _midpoint(x), _midpoint(y)
            if abs(mx - my) < 0.1 * max(abs(mx), abs(my)):
                conf *= 0.8  # close figures: rounding or a small revision is likely
        if x.kind is FigureKind.PERIOD and y.kind is FigureKind.PERIOD and abs(x.low - y.low) == 1:
            conf *= 0.85  # "third" / "fourth" year: one report may predate the anniversary
        if x.running and y.running:
            conf *= 0.5 if self.elapsed else 0.8  # undated reports of a growing count may be updates
        if self.elapsed and (x.relative or y.relative):
            conf *= 0.6  # "on Tuesday" in stories published on different days may be two different Tuesdays
        return max(0.0, min(1.0, conf))

    def _explain(self, x: Figure, y: Figure) -> str:
        sa, sb = x.span.of(self.a), y.span.of(self.b)
        if x.kind is FigureKind.PERIOD or y.kind is FigureKind.PERIOD:
            event = x.noun or y.noun
            return f"'{sa}' vs '{sb}'" + (f" of the {event}" if event else "")
        if x.kind is FigureKind.DATE or y.kind is FigureKind.DATE:
            return f"'{sa}'{_resolved_note(x, sa)} vs '{sb}'{_resolved_note(y, sb)}"
        if x.kind is FigureKind.COUNT and x.noun and x.noun == y.noun:
            return f"'{sa} {_noun_for(x.noun, x.high)}' vs '{sb} {_noun_for(y.noun, y.high)}'"
        topic = x.noun if x.noun and x.noun == y.noun else self._shared_topic(x, y)
        return f"'{sa}' vs '{sb}'" + (f" ({topic})" if topic else "")

    def _shared_topic(self, x: Figure, y: Figure) -> str:
        """A shared context word to name what the figures measure, preferring ones that read as nouns."""
        shared = [w for w in x.context & y.context if not w.endswith(("ed", "ing")) and w not in _NOT_TOPICS]
        if not shared:
            return ""
        lower = self.a.lower()
        return min(shared, key=lambda w: (lower.find(w) if w in lower else len(lower), w))


_FURTHER_AFTER = re.compile(r"\s+(?:other|more|additional|further|extra)\b", re.IGNORECASE)
_FURTHER_BEFORE = re.compile(r"\b(?:another|other|additional|further|extra)\s+$", re.IGNORECASE)


def _further(text: str, f: Figure) -> bool:
    """ "another 30 were hurt", "200 other refugees": the figure counts a group beside the one counted before."""
    if f.kind in _TIME_KINDS:
        return False
    before = _FURTHER_BEFORE.search(text, max(0, f.span.start - 12), f.span.start)
    return before is not None or _FURTHER_AFTER.match(text, f.span.end) is not None


def _same_scale(x: Figure, y: Figure) -> bool:
    """Same kind of figure in the same dimension, stated in the same way (a level, a change, a start...)."""
    kinds = {x.kind, y.kind}
    if _qualifier_class(x.qualifier) != _qualifier_class(y.qualifier) and not _start_day_vs_day(x, y):
        return False
    if len(kinds) == 1:
        (kind,) = kinds
        if kind in (FigureKind.QUANTITY, FigureKind.PERCENT):
            return UNITS[x.unit].dimension == UNITS[y.unit].dimension
        if kind is FigureKind.PERIOD:
            return x.unit == y.unit
        return True
    if kinds == {FigureKind.YEAR, FigureKind.DATE}:
        date = x if x.kind is FigureKind.DATE else y
        return date.when is not None and date.when.year is not None and not date.relative
    if FigureKind.PERIOD in kinds and FigureKind.QUANTITY in kinds:
        period, other = (x, y) if x.kind is FigureKind.PERIOD else (y, x)
        return period_days(period.unit) is not None and UNITS[other.unit].dimension == "time"
    return False


def _start_day_vs_day(x: Figure, y: Figure) -> bool:
    """ "takes effect from July 1" and "on January 1" both name the day something starts: comparable."""
    if x.kind is not FigureKind.DATE or y.kind is not FigureKind.DATE or x.date is None or y.date is None:
        return False
    return {_qualifier_class(x.qualifier), _qualifier_class(y.qualifier)} == {"point", Qualifier.SINCE.value}


def _qualifier_class(q: Qualifier) -> str:
    return "point" if q in _POINT_QUALIFIERS else q.value


def _noun_match(x: Figure, y: Figure, without_noun: float) -> float:
    """Same counted noun: certain; different nouns: not the same thing; otherwise what the context says."""
    if x.noun and y.noun:
        return 1.0 if x.noun == y.noun else 0.0
    return without_noun * _lead_factor(x, y)


#: Verbs that news copy uses for one event ("left" / "departed", "sank" / "capsized"): a lead word of one
#: group does not make two clock times different measures.
_SYNONYM_LEADS: tuple[frozenset[str], ...] = (
    frozenset({"left", "departed", "set", "sailed", "took", "departure", "leave", "depart", "off"}),
    frozenset({"arrived", "landed", "reached", "docked", "arrival", "arrive"}),
    frozenset({"sank", "capsized", "overturned", "sinking", "capsizing", "sink", "capsize", "foundered", "went"}),
    frozenset({"began", "started", "opened", "start", "begin", "open", "kicked"}),
    frozenset({"ended", "closed", "finished", "end", "close", "finish"}),
    frozenset({"struck", "hit", "happened", "occurred", "took", "place", "exploded", "erupted"}),
)


def _lead_factor(x: Figure, y: Figure, synonyms: tuple[frozenset[str], ...] = ()) -> float:
    """ "paid $1.2 million" and "earned $3 million" are less surely one measure than two figures both "paid"."""
    if x.lead and y.lead and x.lead != y.lead and x.lead not in y.context and y.lead not in x.context:
        if any(group & (x.context | {x.lead}) and group & (y.context | {y.lead}) for group in synonyms):
            return 1.0
        return 0.6
    return 1.0


def _same_dated_event(x: Figure, y: Figure) -> bool:
    """Two dates or times belong to one event when the words around them share two or more words ("Kadyrov
    reported on April 30 that Ukrainian forces ..." / "... reported on May 2 that Ukrainian forces ..."), or
    their verbs name one event ("sank on Tuesday" / "went down on Monday"). One shared word is not enough in
    a story that dates many events ("the chief of the general staff on April 26" / "the army chief on Thursday")."""
    return len(x.context & y.context) >= 2 or _same_event_verbs(x, y)


def _same_event_verbs(x: Figure, y: Figure) -> bool:
    """The words around two figures include verbs that news copy uses for one event ("left" / "departed")."""
    wx, wy = x.context | {x.lead}, y.context | {y.lead}
    return any(group & wx and group & wy for group in _SYNONYM_LEADS)


def _clock_interval(f: Figure) -> tuple[float, float]:
    """The minutes after midnight that a clock time's wording allows."""
    if f.qualifier is Qualifier.ABOUT:
        return f.low - _ABOUT_MINUTES, f.high + _ABOUT_MINUTES
    if f.qualifier is Qualifier.AFTER:
        return f.low, f.high + _AFTER_MINUTES
    if f.qualifier in (Qualifier.BEFORE, Qualifier.UNTIL):
        return f.low - _AFTER_MINUTES, f.high
    if f.qualifier is Qualifier.SINCE:
        return f.low, math.inf
    return f.low, f.high


def _interval(f: Figure) -> tuple[float, float]:
    """The values ``f``'s wording allows, in the base unit of its dimension."""
    unit = UNITS.get(f.unit)
    lo = f.low - f.precision * _PRECISION_SHRINK
    hi = f.high + f.precision * _PRECISION_SHRINK
    q = f.qualifier
    if q is Qualifier.ABOUT:
        lo, hi = min(lo, f.low - abs(f.low) * _ABOUT), max(hi, f.high + abs(f.high) * _ABOUT)
    elif q is Qualifier.NEARLY:
        lo = min(lo, f.low - abs(f.low) * _NEARLY)
    elif q is Qualifier.AT_LEAST:
        hi = math.inf
    elif q is Qualifier.AT_MOST:
        lo = -math.inf if unit is not None and unit.dimension == "temperature" else min(lo, 0.0)
    if unit is not None:
        lo, hi = unit.to_base(lo), unit.to_base(hi)
    return lo, hi


def _midpoint(f: Figure) -> float:
    unit = UNITS.get(f.unit)
    mid = (f.low + f.high) / 2
    return unit.to_base(mid) if unit is not None else mid


def _widen(lo: float, hi: float, rel: float) -> tuple[float, float]:
    return lo - abs(lo) * rel, hi + abs(hi) * rel


def _overlap(x: tuple[float, float], y: tuple[float, float]) -> bool:
    return max(x[0], y[0]) <= min(x[1], y[1])


def _year_interval(f: Figure) -> tuple[float, float]:
    if f.qualifier is Qualifier.BEFORE:
        return -math.inf, f.low - 1
    if f.qualifier is Qualifier.AFTER:
        return f.high + 1, math.inf
    if f.qualifier is Qualifier.ABOUT:
        return f.low - 1, f.high + 1
    return f.low, f.high


def _dates_agree(x: Figure, y: Figure) -> bool:
    if x.kind is FigureKind.YEAR or y.kind is FigureKind.YEAR:
        year_fig, date_fig = (x, y) if x.kind is FigureKind.YEAR else (y, x)
        year = date_fig.when.year if date_fig.when is not None else None
        return year is None or _overlap(_year_interval(year_fig), (year, year))
    if x.when is None or y.when is None:
        return True
    if {x.qualifier, y.qualifier} & {Qualifier.BEFORE, Qualifier.AFTER}:
        dx, dy = x.date, y.date
        if dx is None or dy is None:
            return True
        return _overlap(_day_interval(dx.toordinal(), x.qualifier), _day_interval(dy.toordinal(), y.qualifier))
    return _calendar_agree(x.when, y.when)


def _day_interval(day: int, qualifier: Qualifier) -> tuple[float, float]:
    if qualifier is Qualifier.BEFORE:
        return -math.inf, day - 1
    if qualifier is Qualifier.AFTER:
        return day + 1, math.inf
    return day, day


def _calendar_agree(p: CalendarDate, q: CalendarDate) -> bool:
    """Compare the parts both dates fix; a bare weekday is checked against a full date's weekday."""
    rp, rq = p.resolved, q.resolved
    if rp is not None and rq is not None:
        return rp == rq
    for a, b in ((p.year, q.year), (p.weekday, q.weekday)):
        if a is not None and b is not None and a != b:
            return False
    one_month = True
    if p.month is not None and q.month is not None:
        # spans of months ("the first quarter", "between July and September") meet or they do not
        if not _overlap((p.month, p.month_last or p.month), (q.month, q.month_last or q.month)):
            return False
        one_month = p.month_last is None and q.month_last is None
    days_p, days_q = p.day_span, q.day_span
    if one_month and days_p is not None and days_q is not None and not _overlap(days_p, days_q):
        return False
    for date, other in ((rp, q), (rq, p)):
        if date is not None and other.weekday is not None and date.weekday() != other.weekday:
            return False
    return True


def _resolved_note(f: Figure, surface: str) -> str:
    """Show the resolved day when the text said it only relatively ("Tuesday" -> 2025-03-04)."""
    date = f.date
    if date is None or (str(date.year) in surface and str(date.day) in surface):
        return ""
    return f" ({date.isoformat()})"


def _noun_for(noun: str, value: float) -> str:
    if value == 1 or noun in ("dead", "injured", "missing", "arrested", "displaced", "evacuated", "score", "species"):
        return noun
    irregular = {"person": "people", "child": "children", "woman": "women", "man": "men", "life": "lives"}
    if noun in irregular:
        return irregular[noun]
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


#: A named place after a locative preposition: "in Kherson", "a strike on Kharkiv", "near Tesh", "over Lviv".
_PLACE = re.compile(r"\b(?i:in|on|at|near|over|outside|across|into)\s+(?:the\s+)?(?P<place>[A-Z][a-zA-Z'’-]+)")


_CLAUSE_BREAK = re.compile(r"[,;:()—–]|\.\s|\bsaid\b|\btold\b|\baccording to\b")
#: A sentence that opens with where it happened: "In Zaporizhzhia, shelling wounded four people".
_OPENING_PLACE = re.compile(r"^\s*(?i:in|on|at|near|over|across)\s+(?:the\s+)?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?\s*,")


@lru_cache(maxsize=4096)
def _figure_places(text: str, spans: tuple[Span, ...]) -> tuple[frozenset[str], ...]:
    """For each figure, the named places in the clause around it (first word of each name, lower case; not
    months or days), and where the sentence opens with one ("In Kherson, ..."). None in a title-case headline,
    where every word is capitalised ("Storm Floods 300 Homes In Coastal Towns"). Cached, as ``_figures`` is:
    a claim is compared with many candidates."""
    if is_title_case(text):
        return tuple(frozenset() for _ in spans)
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(text)]
    opening = _OPENING_PLACE.match(text)
    out = []
    for span in spans:
        start = max((b for b in breaks if b < span.start), default=0)
        end = min((b for b in breaks if b >= span.end), default=len(text))
        clause = text[start:end] + (" " + opening.group() if opening is not None else "")
        found = (m["place"].removesuffix("'s").removesuffix("’s") for m in _PLACE.finditer(clause))
        out.append(frozenset(p.lower() for p in found if p not in _NOT_NAMES))
    return tuple(out)


def _names(text: str) -> frozenset[str]:
    """Capitalised words inside a sentence: a cheap stand-in for the people and places named."""
    names = set()
    for m in _CAPITALISED.finditer(text):
        before = text[: m.start()].rstrip(" \t\"'“‘(")
        if before and before[-1] not in ".!?\n" and m.group() not in _NOT_NAMES:
            names.add(m.group().lower())
    return frozenset(names)
