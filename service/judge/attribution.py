"""Lines that only attribute or hedge are not claims: the judge never weighs them.

News copy carries lines that say where a report came from or how sure it is, but assert nothing about
the event: "The reports could not be independently verified.", "Source: Reuters", "Reporting by ...",
"By Jane Doe, Staff Writer", a dateline "KYIV, Ukraine (AP) —" on its own. Two outlets' versions of such
lines differ all the time ("could not be verified" / "has been confirmed by three officials") and an NLI
model reads that as a contradiction. A line is dropped only when *all* of it is attribution or hedge:
"The ministry said 12 people died, a claim that could not be verified" still asserts a toll.
"""

from __future__ import annotations

import re

_END = r"\s*[.!:;—–-]*\s*$"


def _line(pattern: str) -> re.Pattern[str]:
    return re.compile(r"^\s*(?:" + pattern + ")" + _END, re.IGNORECASE)


#: Each kind of line, with the reason it is not a claim. A pattern must cover the whole line.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # "The reports could not be independently verified.", "X's claims could not be confirmed by AFP."
    (
        "a hedge: it says only whether the report was verified",
        _line(
            r"(?:[\w'’,\- ]{0,80}?\b)?(?:could|can|cannot|can't|has|have|had|was|were|is|are)\s+(?:not\s+)?"
            r"(?:yet\s+)?(?:be(?:en)?\s+)?(?:independently\s+)?(?:verif(?:y|ied)|confirm(?:ed)?|corroborat(?:e|ed))"
            r"(?:\s+(?:independently|immediately|by\s+[\w'’ .-]{1,60}))?"
        ),
    ),
    (
        "an attribution: a request for comment",
        _line(
            r"(?:[\w'’ ]{0,40}\b)?(?:(?:was|were)\s+not\s+immediately\s+available\s+(?:for|to)\s+comment"
            r"|did\s+not\s+(?:immediately\s+)?(?:respond|reply)\s+to\s+(?:a\s+)?requests?\s+for\s+comment"
            r"|declined\s+to\s+comment)"
        ),
    ),
    ("an attribution: a source or credit line", _line(r"(?:sources?|photo|image|video|file\s+photo|credit)s?\s*:.*")),
    ("an attribution: a credit line", _line(r"(?:additional\s+)?(?:reporting|writing|editing)\s+by\b.*")),
    (
        "an attribution: a credit line",
        _line(r"[\w'’ .,-]{0,80}\bcontributed\s+(?:to\s+)?(?:this|the)\s+(?:report|story|article)"),
    ),
    ("a byline", _line(r"by\s+[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}(?:\s*(?:,|and|\|)\s*[\w'’ .,/-]{0,60})?")),
    ("boilerplate", _line(r"(?:all\s+rights\s+reserved|copyright\b).*")),
    ("boilerplate", _line(r"follow\s+(?:us|[\w'’ ]{1,40})\s+on\s+(?:twitter|x|facebook|instagram|telegram)\b.*")),
    (
        "an editor's note",
        _line(r"(?:this|the)\s+(?:story|article|report)\s+(?:has\s+been|was|is\s+being)\s+(?:updated|corrected)\b.*"),
    ),
)
#: A dateline alone: "KYIV, Ukraine (AP) —", "LONDON (Reuters) -", "Moscow, April 30 --": short, and
#: marked by an outlet in brackets or a closing dash (an all-capitals headline is a claim).
_DATELINE = re.compile(
    r"^\s*[A-Z][A-Za-z'’ .-]{1,40}(?:,\s*[A-Z][A-Za-z'’ .-]{1,40})?(?:,?\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"\s*(?:\([A-Z][\w .&'’-]{0,30}\)\s*(?:—|–|--|-)?|(?:—|–|--))\s*$"
)
#: A credit line names who or where, it asserts nothing: "Source: Reuters", "Photo: Ilse Brandt / AP".
#: "Source: Three soldiers located at the border" is a headline that cites a source, and a claim.
_VERBISH = re.compile(
    r"\b(?:is|are|was|were|be|been|has|have|had|may|might|will|would|can|could|did|does|do|says?|said|took|"
    r"wants?|found|dies|died|\w+ed)\b",
    re.IGNORECASE,
)
_CREDIT_WORDS = 8
#: Lower-case words a credit may hold besides names: "North Wire reporting from Brussels and Warsaw".
_CREDIT_OK = frozenset("reporting from in and via of the staff wire agencies agency data based on for with by".split())  # noqa: SIM905
_WORD = re.compile(r"[A-Za-z]+")
#: Script and markup that scraped pages leave in the text: "var x = {...};", "<div>", "function(".
_CODE = re.compile(r"\bvar\s+\w+\s*=|\bfunction\s*\(|</?[a-z]+[^>]*>|\w+\.\w+\(\s*['\"{]|[{}]\s*['\"]?\w+['\"]?\s*:")


def not_a_claim(text: str) -> str | None:
    """Why ``text`` is not a claim (an attribution, hedge, byline or dateline line), or None when it is one."""
    line = text.strip()
    if not line:
        return "an empty line"
    words = _WORD.findall(line)
    if not words:
        return "no words"
    if _CODE.search(line) and sum(line.count(c) for c in "{}=;<>()") >= 3:
        return "page code, not prose"
    lower = line.lower()
    for why, pattern in _KINDS:
        if pattern.match(line) is None:
            continue
        if why == "a byline":
            # "By Jane Doe and Ravi Patel, Staff Writers"; "By noon the river had risen" is a claim.
            return why if len(words) <= 10 and _VERBISH.search(line) is None else None
        if why.startswith("a hedge"):
            return why if _only_hedge(lower) else None
        if why == "an attribution: a source or credit line":
            return why if _credit(line.split(":", 1)[1]) else None
        return why
    if len(words) <= 8 and _DATELINE.match(line):
        return "a dateline"
    return None


def _credit(rest: str) -> bool:
    """What follows "Source:" or "Photo:" names who or where: a few words, or names and credit words only."""
    words = _WORD.findall(rest)
    if len(words) > _CREDIT_WORDS or _VERBISH.search(rest) is not None:
        return False
    return len(words) <= 3 or all(w[0].isupper() or w.lower() in _CREDIT_OK for w in words)


#: Words a hedge line may carry besides the hedge itself: what is unverified, and by whom.
_HEDGE_OK = frozenset(
    """the a an these those this that such reports report claims claim claimed accounts account figures figure
    details detail information statements statement videos video images footage photos it they its their them
    could can cannot not be been was were is are has have had yet independently immediately verified verify
    confirmed confirm corroborated corroborate by news agency agencies reuters ap afp outlet outlets we our
    of and or either none neither any his her there so far""".split()  # noqa: SIM905
)


def _only_hedge(lower: str) -> bool:
    """A hedge line names at most a few things besides the hedge (the reports, who could not verify)."""
    extra = [w for w in _WORD.findall(lower) if w not in _HEDGE_OK]
    return len(extra) <= 3
