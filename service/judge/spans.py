"""Where a stance conflict sits: the words that carry the opposite assertion, not a word diff.

A word diff of "Officials said the ferry was overloaded" and "Officials said the ferry was not overloaded
and blamed a sudden storm" marks "and blamed a sudden storm", the longest stretch that differs, which is
not where the two disagree. Outlets phrase the same event differently, so the longest difference is
usually wording. The conflict sits where one side negates, denies or debunks a predicate the other side
asserts, or where the two use opposite verbs; these spans mark exactly that:

* a negation ("not", "never", "no", "failed to", "denied") and the predicate it governs ("not overloaded",
  "denied ... talks"), against that predicate in the other claim;
* a debunking word ("hoax", "fake", "false") against the other claim's main predicate when it shares one;
* a pair of opposite verbs ("rose" / "fell", "approved" / "blocked"), each in its claim.

When no such cue exists (the NLI model alone saw the conflict), the caller falls back to the word diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contra.domain import Span
from contra.service.judge.polarity import _DEBUNK, _NEGATION, _OPPOSITES, negation_before

_TOKEN = re.compile(r"[A-Za-z]+(?:[’'][a-z]+)?")
#: Words between a negation and the predicate it governs ("was not immediately available", "did not
#: have any", "denied that it had").
_FILLER = frozenset(
    """be been being was were is are am has have had do does did to the a an any that it its this these those
    there they he she we yet immediately ever actually really so all even also still just been said says
    of in on at by for with as whether""".split()  # noqa: SIM905
)
#: Verbs by which a claim asserts what the other denies, used when the denied predicate is not repeated.
_ASSERTING = ("confirm", "admit", "acknowledg", "announc", "said", "says", "claim", "report", "reveal", "show")


@dataclass(frozen=True, slots=True)
class _Tok:
    start: int
    end: int
    word: str  # lower-cased, apostrophe normalised
    #: Written with a capital: a name, never the predicate a negation governs ("No *North* Korean troops").
    cap: bool = False

    @property
    def stem(self) -> str:
        return self.word[:5]


def _tokens(text: str) -> list[_Tok]:
    return [
        _Tok(m.start(), m.end(), m.group().lower().replace("’", "'"), m.group()[0].isupper())
        for m in _TOKEN.finditer(text)
    ]


def _is_negation(tokens: list[_Tok], i: int) -> bool:
    w = tokens[i].word
    if w in ("failed", "fails", "fail", "declined", "declines") and i + 1 < len(tokens):
        return tokens[i + 1].word == "to"
    if w in ("no",) and i + 2 < len(tokens) and tokens[i + 1].word in ("less", "more", "fewer", "later", "earlier"):
        return False  # "no less than": a bound
    if i + 1 < len(tokens) and (w, tokens[i + 1].word) in (("not", "only"), ("no", "doubt")):
        return False  # "not only ... but also", "no doubt": assertions
    if w in _NEGATION and any(t.word in _DEBUNK for t in tokens[i + 1 : i + 3]):
        return False  # "is no hoax", "wasn't fake": the report is affirmed (as ``polarity`` reads it)
    return w in _NEGATION


#: Negations that govern a noun phrase or a clause, not a verb: what they negate is the clause's verb
#: ("*No* North Korean troops *took* part", "*denied* that the operation had been *completed*").
_CLAUSAL = frozenset("no none neither nor".split())  # noqa: SIM905
_DENIAL_VERB = ("deni", "deny", "reject", "refus", "dismiss", "disput")
_AUXILIARY = frozenset("be been being was were is are am has have had will would could should may might".split())  # noqa: SIM905
_IRREGULAR_PAST = frozenset(
    """took went came made held fought left gave got saw won lost sent struck hit shot paid found kept ran began
    built brought bought told sank fell rose grew met led spent sold flew""".split()  # noqa: SIM905
)


def _verb_like(tokens: list[_Tok], j: int) -> bool:
    w = tokens[j].word
    after_aux = j > 0 and tokens[j - 1].word in _AUXILIARY
    return not tokens[j].cap and (
        (w.endswith("ed") and len(w) > 4) or w in _IRREGULAR_PAST or (after_aux and w not in _FILLER)
    )


def _predicate(tokens: list[_Tok], i: int, window: int = 5) -> int | None:
    """What the negation at token ``i`` governs: the first content word after it within ``window``, or,
    for a negated noun phrase or a denial, the verb of the clause it negates (within 8 words)."""
    w = tokens[i].word
    if w in _CLAUSAL or w.startswith(_DENIAL_VERB):
        for j in range(i + 1, min(len(tokens), i + 9)):
            if _verb_like(tokens, j):
                return j
    for j in range(i + 1, min(len(tokens), i + 1 + window)):
        if tokens[j].word not in _FILLER and not _is_negation(tokens, j) and not tokens[j].cap:
            return j
    return None


def _same_word(x: str, y: str) -> bool:
    """One word in two forms: "arrest" / "arrested", "completion" / "completed" (not "complexity")."""
    if x[:7] == y[:7] and min(len(x), len(y)) >= 3:
        return True
    short, long = sorted((x, y), key=len)
    return len(short) >= 4 and long.startswith(short)


def _find(tokens: list[_Tok], word: str) -> int | None:
    for k, t in enumerate(tokens):
        if _same_word(t.word, word):
            return k
    return None


def _asserting(tokens: list[_Tok]) -> int | None:
    for k, t in enumerate(tokens):
        if t.word.startswith(_ASSERTING):
            return k
    return None


def _span(tokens: list[_Tok], i: int, j: int) -> Span:
    return Span(tokens[i].start, tokens[j].end)


def _negated(neg: list[_Tok], other: list[_Tok]) -> tuple[Span | None, Span | None] | None:
    """Spans for a claim ``neg`` that negates or denies what ``other`` asserts: the negation with its
    predicate, and that predicate in ``other`` (else the verb by which ``other`` asserts it)."""
    other_words = {t.word for t in other}
    best: tuple[int, Span, Span | None] | None = None
    for i in range(len(neg)):
        if not _is_negation(neg, i) or neg[i].word in other_words:
            continue
        j = _predicate(neg, i)
        if j is None:
            continue
        k = _find(other, neg[j].word)
        # A negation whose predicate the other claim repeats is the one in conflict; else the first one.
        rank = 0 if k is not None else 1
        span_other = Span(other[k].start, other[k].end) if k is not None else None
        if span_other is None and neg[i].word.startswith(("deni", "deny", "reject", "refus")):
            a = _asserting(other)
            span_other = Span(other[a].start, other[a].end) if a is not None else None
        if best is None or rank < best[0]:
            best = (rank, _span(neg, i, j), span_other)
        if rank == 0:
            break
    return (best[1], best[2]) if best is not None else None


def _debunked(deb: list[_Tok], other: list[_Tok]) -> tuple[Span | None, Span | None] | None:
    other_words = {t.word for t in other}
    words = [t.word for t in deb]
    for i, t in enumerate(deb):
        if t.word in _DEBUNK and t.word not in other_words and negation_before(words, i) is None:
            return Span(t.start, t.end), _affirmed(other)
    return None


def _affirmed(tokens: list[_Tok]) -> Span | None:
    """Where a claim says a report is true: a taken-back debunking word ("is *no hoax*"), else the verb by
    which it asserts ("*confirmed*", "*said*")."""
    words = [t.word for t in tokens]
    for i, t in enumerate(tokens):
        k = negation_before(words, i) if t.word in _DEBUNK else None
        if k is not None:
            return _span(tokens, k, i)
    a = _asserting(tokens)
    return Span(tokens[a].start, tokens[a].end) if a is not None else None


def _opposite(ta: list[_Tok], tb: list[_Tok]) -> tuple[Span, Span] | None:
    def first(tokens: list[_Tok], stems: tuple[str, ...]) -> _Tok | None:
        return next((t for t in tokens if t.word.startswith(stems)), None)

    for left, right in _OPPOSITES:
        for x, y in ((left, right), (right, left)):
            in_a, in_b = first(ta, x), first(tb, y)
            if in_a and in_b and first(ta, y) is None and first(tb, x) is None:
                return Span(in_a.start, in_a.end), Span(in_b.start, in_b.end)
    return None


def stance_spans(a: str, b: str) -> tuple[Span | None, Span | None] | None:
    """The spans in ``a`` and ``b`` that carry the opposite assertion, or None when no cue marks them."""
    ta, tb = _tokens(a), _tokens(b)
    # Opposite verbs first: "approved" / "rejected", "confirmed" / "denied" name both sides exactly.
    opposite = _opposite(ta, tb)
    if opposite is not None:
        return opposite
    neg_a = any(_is_negation(ta, i) for i in range(len(ta)))
    neg_b = any(_is_negation(tb, i) for i in range(len(tb)))
    if neg_b and not neg_a:
        found = _negated(tb, ta)
        if found is not None:
            return found[1], found[0]
    if neg_a and not neg_b:
        found = _negated(ta, tb)
        if found is not None:
            return found
    deb_b = _debunked(tb, ta)
    if deb_b is not None:
        return deb_b[1], deb_b[0]
    return _debunked(ta, tb)


def denies_shared_predicate(a: str, b: str) -> bool:
    """One claim negates or denies a predicate that the other asserts with the same word ("Banksy hasn't
    been arrested" / "Banksy arrested in London"); a negation elsewhere in a long sentence does not count."""
    ta, tb = _tokens(a), _tokens(b)
    neg_a = any(_is_negation(ta, i) for i in range(len(ta)))
    neg_b = any(_is_negation(tb, i) for i in range(len(tb)))
    if neg_a == neg_b:
        return False
    neg, other = (ta, tb) if neg_a else (tb, ta)
    other_words = {t.word for t in other}
    for i in range(len(neg)):
        if _is_negation(neg, i) and neg[i].word not in other_words:
            j = _predicate(neg, i)
            if j is not None and _find(other, neg[j].word) is not None:
                return True
    return False
