"""Stance cues that a small NLI model misses: a denial on one side only, and opposite verbs.

"The ministry confirmed X" / "the ministry denied X" and "prices rose" / "prices fell" are the common
shapes of a stance conflict in news copy. These cues do not decide anything alone; they are features
of the judge's calibrated score, next to the NLI probabilities. Attribution is kept, not stripped: a
denial attributed to a body still reverses what the other claim attributes to it, and hedges ("may",
"reportedly") do not count as negation, so they do not turn a conflict into agreement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from contra.service.judge.same_event import roles_swapped

#: A contraction is one word ("wasn't", "can't"): the alternative comes first, as ``[a-z]+`` would stop at
#: "wasn" and leave the negation unread.
_WORD = re.compile(r"[a-z]+n't|[a-z]+(?:_to)?")
#: Words that reverse the proposition they govern.
_NEGATION = frozenset(
    """not no never none nothing neither nor without denied denies deny denying rejected rejects reject rejecting
    refused refuses refuse refusing ruled cannot failed_to fails_to fail_to declined_to declines_to can't won't
    didn't doesn't don't isn't wasn't aren't weren't hasn't haven't hadn't""".split()  # noqa: SIM905
)
#: Pairs of opposite word stems, as prefixes. News verbs of direction, outcome and decision.
_OPPOSITES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("rose", "rise", "risen", "rising", "increas", "grew", "grow", "gain", "climb", "expand", "higher"),
        ("fell", "fall", "fallen", "drop", "decreas", "declin", "shrank", "shrink", "contract", "lower", "slump"),
    ),
    (("open", "reopen"), ("close", "closed", "closing", "shut")),
    (("won", "win", "beat", "victor"), ("lost", "lose", "defeat")),
    (
        ("approv", "allow", "grant", "accept", "endors"),
        ("reject", "block", "ban", "veto", "refus", "oppos", "suspend", "halt"),
    ),
    (("confirm", "admit", "acknowledg"), ("deni", "deny")),
    (("positive",), ("negative",)),
    (("success", "succeed"), ("fail",)),
    (("agreed", "progress"), ("collaps", "stall")),
    (("resum", "continu", "began", "begin", "launch"), ("stopp", "ended", "ceas", "cancel", "scrap", "postpon")),
    (("fair", "legal", "safe", "valid"), ("unfair", "illegal", "unsafe", "invalid", "marred", "flaw")),
    (("improv", "better", "strengthen", "eased"), ("worse", "deteriorat", "weaken")),
    (("withdraw", "pull"), ("remain", "stay")),
    (("proceed", "ahead"), ("shelv", "scrap", "abandon")),
    (("cleared",), ("block", "reject")),
    (("guilty", "convict"), ("acquit", "innocent")),
    (("support", "favour", "favor"), ("oppos", "against")),
    (("captur", "recaptur", "seiz"), ("remain", "retain", "repel")),
)


#: Words by which news copy calls a report untrue without a grammatical negation ("Crab photo is a hoax",
#: "Fake report claims ..."). A feature of the judge, like the negations: it weighs, it decides nothing.
#: "dispute" and "disputes" are left out: in news copy they are mostly the noun ("a pay dispute", "border disputes").
_DEBUNK = frozenset(
    """hoax hoaxes fake faked fakes false falsely untrue debunk debunked debunks debunking myth myths satire
    satirical bogus baseless unfounded groundless doubt doubts doubted dismissed dismisses rubbish nonsense
    misleading fabricated disputed exaggerated dubious unverified unconfirmed lied liar liars scam
    prank staged phony spoof parody doctored photoshopped bullshit fabrication fabrications falsehood falsehoods
    misinformation disinformation""".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Polarity:
    """Stance cues between two claims."""

    #: One claim carries a negation or denial word and the other none (two denials agree).
    negation_flip: bool
    #: Pairs of opposite stems, one only in A and the other only in B.
    opposites: int
    #: Two names shared by both claims appear in opposite order (who beat, sued or ambushed whom).
    roles_swapped: bool = False
    #: One claim calls something a hoax, fake, false or baseless and the other does not.
    debunk_flip: bool = False
    #: One claim negates, denies or debunks and the other does none of these ("X isn't real" and "X is a
    #: hoax" both deny, so they agree): the shape of a claim against its denial in two outlets' copy.
    denial_flip: bool = False

    @property
    def any(self) -> bool:
        """A stance cue is present: a conflict without a figure clash needs one to be reported. Swapped
        names alone do not count: passive paraphrases swap them too ("X beat Y" / "Y lost to X")."""
        return self.negation_flip or self.opposites > 0 or self.debunk_flip or self.denial_flip


def polarity(a: str, b: str) -> Polarity:
    wa, wb = _words(a), _words(b)
    na = sum(w in _NEGATION for w in wa)
    nb = sum(w in _NEGATION for w in wb)
    sa, sb = set(wa), set(wb)
    found = 0
    for left, right in _OPPOSITES:
        la, ra, lb, rb = _has(sa, left), _has(sa, right), _has(sb, left), _has(sb, right)
        if (la and rb and not lb and not ra) or (ra and lb and not rb and not la):
            found += 1
    da, taken_back_a = _debunking(wa)
    db, taken_back_b = _debunking(wb)
    na -= taken_back_a
    nb -= taken_back_b
    return Polarity(
        negation_flip=(na > 0) != (nb > 0),
        opposites=found,
        roles_swapped=roles_swapped(a, b),
        debunk_flip=da != db,
        denial_flip=(na > 0 or da) != (nb > 0 or db),
    )


_NEGATING_VERB = re.compile(r"\b(fail(?:ed|s)?|declin(?:ed|es)) to\b")


#: "no less than 1.5 litres", "no later than Friday": bounds, not negations; "without a doubt", "not only":
#: assertions, not negations or doubts.
_BOUND = re.compile(
    r"\bno (?:less|more|fewer|later|earlier|sooner) than\b"
    r"|\b(?:without|beyond) (?:a|any|all|reasonable) (?:shadow of (?:a )?)?doubts?\b|\bno doubt\b|\bnot only\b"
)


def _words(text: str) -> list[str]:
    """Lower-case words; "failed to" and "declined to" become one negating token, bounds are dropped."""
    text = _BOUND.sub(" ", text.lower().replace("’", "'"))
    text = _NEGATING_VERB.sub(lambda m: m.group(1) + "_to", text)
    return _WORD.findall(text)


def _debunking(words: list[str]) -> tuple[bool, int]:
    """Whether the claim calls something untrue (a debunking word that no negation just before it takes
    back), and how many negations only take a debunking word back ("is no hoax", "wasn't fake": they assert)."""
    taken_back = [negation_before(words, i) is not None for i, w in enumerate(words) if w in _DEBUNK]
    return (not all(taken_back), sum(taken_back))


def negation_before(words: Sequence[str], i: int) -> int | None:
    """The position of a negation one or two words before word ``i`` ("*no* hoax", "*not* a hoax", "*isn't*
    fake"), if any: what takes a debunking word back. ``spans`` uses it to mark the affirming words."""
    return next((k for k in range(max(0, i - 2), i) if words[k] in _NEGATION), None)


def _has(words: set[str], stems: tuple[str, ...]) -> bool:
    return any(w.startswith(stems) for w in words)
