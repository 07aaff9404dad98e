"""Are two claims about the same event? Named entities, dates and wording, as features for the judge.

NLI models trained on SNLI-style data call two sentences about different events "contradiction"
("a bomb killed four soldiers near Tesh" / "... near Dunmore"), and so does a naive figure check. Before
a pair is flagged, the judge asks what the claims share: the people, places and organisations they
name, the time they report on, and their wording. Each part is a number the calibrated score weighs
(``judge.py``); none of them vetoes a pair: real outlets name their own officials and places, and
``make eval-news`` counts what such a rule would kill (docs/judge.md).

Names come from capitalised spans (no NER model: contra downloads no model, and a heuristic that
keeps multi-word names together and drops sentence-initial words does well on wire copy).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

#: A run of capitalised words, allowing lower-case joiners inside names ("University of Halden").
_NAME = re.compile(r"[A-Z][\w'’&-]*(?:\s+(?:of|de|van|von|al|and|&)?\s*[A-Z][\w'’&-]*)*")
_WORD = re.compile(r"[^\W\d_]{3,}")
_NOT_NAMES = frozenset(
    """january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday the a an in on at as it he she they we i this that these those but and
    or if when while after before under over its their his her our some many most more about around according
    officials police doctors researchers scientists analysts engineers voters experts celsius fahrenheit""".split()  # noqa: SIM905
)
#: Words that open news sentences with a capital only because they come first.
_OPENERS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundreds thousands
    dozens several few all both each every no none nearly almost about around more less most some many
    annual consumer prices inflation unemployment growth economists shares investors markets sales exports
    government ministers parliament lawmakers opposition police troops soldiers rebels residents workers
    scientists researchers doctors patients hospitals officials authorities voters turnout support
    temperatures rain flooding fire firefighters rescuers engineers astronomers volunteers adults children
    a an the this that these those there it its he she they we his her their our after before during
    under with without while when where if although despite following since until by from for in on at
    as of to over last next new local regional national international state federal public private
    fuel petrol housing food energy health education""".split()  # noqa: SIM905
)


def _is_opener(word: str) -> bool:
    key = word.lower().strip("'’").removesuffix("'s").removesuffix("’s")
    return key in _OPENERS or key in _NOT_NAMES or (key.endswith("s") and key[:-1] in _OPENERS)


#: Function words that say nothing about which event a claim is about.
_STOP = frozenset(
    """the and for are was were has have had its his her their our this that these those with from into onto over
    under after before about said says say told would could should will shall may might must not but yet also than
    then there here when where which who whom whose what while been being does did done just more most less least
    very much many some any all each every other such only own same both few nor can now new one two three""".split()  # noqa: SIM905
)
_DEMONYM = ("ian", "ean", "ese", "ish")


@dataclass(frozen=True, slots=True)
class SameEvent:
    """What two claims share. ``content_overlap`` weighs the weak figure clash and the opposite-verb cue;
    the rest is kept for the eval and for callers (``entity_mismatch`` was a feature of the calibrated score
    until real news showed it lowered real conflicts as much as unrelated pairs: ``calibration.FEATURE_GROUPS``)."""

    #: Share of the smaller claim's named entities (stemmed words of capitalised spans) the other names too.
    entity_overlap: float
    #: Both claims name people, places or organisations and share none of them.
    entity_mismatch: bool
    #: Share of the shorter claim's content words (5-letter stems) the other also uses.
    content_overlap: float
    #: Days between the two publish dates, None when either is unknown.
    publish_gap: int | None
    #: Embedding cosine of the two claims, None when no embedder was at hand.
    cosine: float | None


def same_event(
    a: str,
    b: str,
    a_date: dt.date | None = None,
    b_date: dt.date | None = None,
    cosine: float | None = None,
) -> SameEvent:
    """The same-event evidence for claims ``a`` and ``b``; ``cosine`` is their embedding similarity if known."""
    ea, eb = entities(a), entities(b)
    overlap = len(ea & eb) / min(len(ea), len(eb)) if ea and eb else 0.0
    # A mismatch needs names that are surely names on both sides, and none of them used by the other claim.
    sure_a, sure_b = frozenset(entity_order(a, sure=True)), frozenset(entity_order(b, sure=True))
    gap = abs((b_date - a_date).days) if a_date is not None and b_date is not None else None
    return SameEvent(
        entity_overlap=overlap,
        entity_mismatch=bool(sure_a) and bool(sure_b) and not (ea & eb),
        content_overlap=content_overlap(a, b),
        publish_gap=gap,
        cosine=cosine,
    )


def entities(text: str) -> frozenset[str]:
    """Stemmed words of the names in ``text`` ("Serevian army" and "Serevia" meet as "serev").

    A capitalised word at the start of a sentence is a name only when it continues into another
    capitalised word or is a possessive ("Aldmark's")."""
    return frozenset(entity_order(text))


def roles_swapped(a: str, b: str) -> bool:
    """Two names that both claims use appear in opposite order: "Lind beat Runge" / "Runge held off Lind",
    the shape of a who-did-what conflict (also of a passive paraphrase, so it is a feature, not a rule)."""
    oa, ob = entity_order(a), entity_order(b)
    shared = [e for e in oa if e in ob]
    pos_b = {e: ob.index(e) for e in shared}
    return any(pos_b[x] > pos_b[y] for i, x in enumerate(shared) for y in shared[i + 1 :])


def entity_order(text: str, *, sure: bool = False) -> list[str]:
    """Stemmed name words in order of first appearance; ``sure`` leaves out a lone capitalised word at
    the start of a sentence, which may be a name ("Lind beat Runge") or not ("Manufacturing fell")."""
    found: list[str] = []
    for m in _NAME.finditer(text):
        words = [w for w in re.split(r"\s+", m.group()) if w and w[0].isupper()]
        before = text[: m.start()].rstrip(" \t\"'“‘(")
        sentence_start = not before or before[-1] in ".!?\n"
        if sentence_start and len(words) == 1 and (sure or _is_opener(words[0])):
            continue  # "Twelve banks failed", "Officials said": a capital because of position only
        for word in words:
            key = word.lower().strip("'’").removesuffix("'s").removesuffix("’s")
            if sure and key.endswith(_DEMONYM):
                continue  # "Serevian forces": an actor's nationality fits any place, it names no event
            if key not in _NOT_NAMES and len(key) > 1 and key[:5] not in found:
                found.append(key[:5])
    return found


def content_overlap(a: str, b: str) -> float:
    """Share of the shorter claim's content words (truncated to 5 letters, a cheap stem that maps
    "Ukraine"/"Ukrainian" together) that the other claim also uses."""
    sa = {w[:5] for w in _WORD.findall(a.lower()) if w not in _STOP}
    sb = {w[:5] for w in _WORD.findall(b.lower()) if w not in _STOP}
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))
