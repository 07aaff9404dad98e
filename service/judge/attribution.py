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

_PATTERNS = (
    # "The reports could not be independently verified.", "X's claims could not be confirmed by AFP."
    r"(?:[\w'’,\- ]{0,80}?\b)?(?:could|can|cannot|can't|has|have|had|was|were|is|are)\s+(?:not\s+)?(?:yet\s+)?"
    r"(?:be(?:en)?\s+)?(?:independently\s+)?(?:verif(?:y|ied)|confirm(?:ed)?|corroborat(?:e|ed))"
    r"(?:\s+(?:independently|immediately|by\s+[\w'’ .-]{1,60}))?",
    r"(?:[\w'’ ]{0,40}\b)?(?:was|were)\s+not\s+immediately\s+available\s+(?:for|to)\s+comment",
    r"(?:[\w'’ ]{0,40}\b)?did\s+not\s+(?:immediately\s+)?(?:respond|reply)\s+to\s+(?:a\s+)?requests?\s+for\s+comment",
    r"(?:[\w'’ ]{0,40}\b)?declined\s+to\s+comment",
    r"sources?\s*:.*",
    r"(?:additional\s+)?(?:reporting|writing|editing)\s+by\b.*",
    r"[\w'’ .,-]{0,80}\bcontributed\s+(?:to\s+)?(?:this|the)\s+(?:report|story|article)",
    r"by\s+[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}(?:\s*(?:,|and|\|)\s*[\w'’ .-]{0,60})?",
    r"(?:photo|image|video|file\s+photo|credit)s?\s*:.*",
    r"(?:all\s+rights\s+reserved|copyright\b).*",
    r"follow\s+(?:us|[\w'’ ]{1,40})\s+on\s+(?:twitter|x|facebook|instagram|telegram)\b.*",
    r"(?:this|the)\s+(?:story|article|report)\s+(?:has\s+been|was|is\s+being)\s+(?:updated|corrected)\b.*",
    # A dateline alone: "KYIV, Ukraine (AP) —", "LONDON (Reuters) -", "Moscow, April 30 --"
    r"[A-Z][A-Za-z'’ .-]{1,40}(?:,\s*[A-Z][A-Za-z'’ .-]{1,40})?(?:,?\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"\s*(?:\([A-Z][\w .&'’-]{0,30}\))?\s*(?:—|–|--|-)?",
)
_LINE = re.compile(r"^\s*(?:" + "|".join(f"(?:{p})" for p in _PATTERNS) + r")\s*[.!:;—–-]*\s*$", re.IGNORECASE)
#: A dateline must be short and mostly capitalised; the generic pattern above would also take a real
#: sentence of capitalised words, so it only counts with one of these markers or in capitals.
_DATELINE_MARK = re.compile(
    r"\((?:AP|AFP|Reuters|UPI|dpa|CNN|TASS|Xinhua|Bloomberg)\)|\s(?:—|–|--)\s*$|^[A-Z .,'’-]{3,}$"
)
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
    match = _LINE.match(line)
    if match is None:
        return None
    lower = line.lower()
    if lower.startswith("by "):
        # A byline is short: "By Jane Doe and Ravi Patel, Staff Writers"; "By noon the river had risen" is a claim.
        return (
            "a byline" if len(words) <= 10 and not re.search(r"\b(?:had|has|was|were|is|are|will)\b", lower) else None
        )
    if "verif" in lower or "confirm" in lower or "corroborat" in lower:
        return "a hedge: it says only whether the report was verified" if _only_hedge(lower) else None
    if "comment" in lower:
        return "an attribution: a request for comment"
    if re.match(r"\s*(?:sources?|photo|image|video|file photo|credit)s?\s*:", lower):
        return "an attribution: a source or credit line"
    if re.match(r"\s*(?:additional\s+)?(?:reporting|writing|editing)\s+by", lower) or "contributed" in lower:
        return "an attribution: a credit line"
    if "rights reserved" in lower or lower.startswith("copyright") or lower.startswith("follow "):
        return "boilerplate"
    if re.search(r"\b(?:updated|corrected)\b", lower):
        return "an editor's note"
    if len(words) <= 8 and _DATELINE_MARK.search(line):
        return "a dateline"
    return None


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
