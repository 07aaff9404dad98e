"""Cut a document into claims: one sentence each, with its character span in the document.

pysbd is a rule-based segmenter that knows abbreviations, initials, decimals and quotes, which a
regex on ". " gets wrong in news copy ("U.S. officials said 3.5 million ...").

A "sentence" longer than the claim limit (a run-on line without sentence ends, a table flattened into
one line) is cut further at clause boundaries (semicolons, colons, dashes, commas, then white space),
so that no claim is longer than what Check and JudgePair accept.
"""

from __future__ import annotations

import re

import pysbd

from contra.domain import ClaimText

#: Fragments with fewer words than this (datelines, bylines, "Photo: AP") are not claims.
MIN_WORDS = 4

#: The longest claim, as ``Limits.max_claim_chars`` (CONTRA_MAX_CLAIM_CHARS) sets it by default.
MAX_CLAIM_CHARS = 2_000

_WORD = re.compile(r"\w+")

#: pysbd's time grows with the square of a line's length (3 s for a 50,000-character line): longer lines
#: are first cut into blocks of at most this many characters, at a sentence end where there is one.
_BLOCK_CHARS = 8_000

#: Where a long sentence may be cut, strongest first: after these, a clause ends.
_CLAUSE_ENDS = (
    re.compile(r"[;:]\s+"),
    re.compile(r"\s+[\u2013\u2014-]{1,2}\s+|[\u2013\u2014]"),
    re.compile(r",\s+"),
    re.compile(r"\s+"),
)
_SENTENCE_ENDS = (re.compile(r"[.!?][\"'\u201d\u2019)]?\s+"), *_CLAUSE_ENDS)


def split_claims(text: str, max_chars: int = MAX_CLAIM_CHARS) -> list[ClaimText]:
    """The claims of ``text`` in order, none longer than ``max_chars``; each ``text[start:end] == claim.text``."""
    # A segmenter per call: pysbd keeps state while segmenting and is not thread-safe; the server
    # splits from several worker threads, and sharing one silently dropped claims. Building one costs ~2 us.
    segmenter = pysbd.Segmenter(language="en", clean=False)
    claims: list[ClaimText] = []
    for line_start, line in _lines(text):
        for block_start, block in _bounded(0, line, _BLOCK_CHARS, _SENTENCE_ENDS):
            for sentence_start, sentence in _sentences(segmenter, block):
                for start, piece in _bounded(block_start + sentence_start, sentence, max_chars):
                    if len(_WORD.findall(piece)) < MIN_WORDS:
                        continue
                    at = line_start + start
                    claims.append(ClaimText(text=piece, start=at, end=at + len(piece)))
    return claims


def _bounded(
    offset: int, sentence: str, max_chars: int, boundaries: tuple[re.Pattern[str], ...] = _CLAUSE_ENDS
) -> list[tuple[int, str]]:
    """``sentence`` (at ``offset``) cut into stripped pieces of at most ``max_chars``, each as long as it
    can be: cut after the last clause boundary of the strongest kind that the allowed length holds."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while len(sentence) - start > max_chars:
        window = sentence[start : start + max_chars + 1]
        cut = _last_boundary(window, boundaries)
        piece = sentence[start : start + cut]
        stripped = piece.strip()
        if stripped:
            pieces.append((offset + start + piece.index(stripped), stripped))
        start += cut
        while start < len(sentence) and sentence[start].isspace():
            start += 1
    rest = sentence[start:].strip()
    if rest:
        pieces.append((offset + start + sentence[start:].index(rest), rest))
    return pieces


def _last_boundary(window: str, boundaries: tuple[re.Pattern[str], ...]) -> int:
    """Where to cut ``window`` (one longer than allowed): after its last clause end of the strongest kind
    found in the later half, so that pieces stay long; a hard cut when it has no white space at all."""
    limit = len(window) - 1
    for pattern in boundaries:
        ends = [m.end() for m in pattern.finditer(window) if limit // 2 <= m.end() <= limit]
        if ends:
            return max(ends)
    return limit


def _sentences(segmenter: pysbd.Segmenter, line: str) -> list[tuple[int, str]]:
    """The sentences of ``line``, stripped, each with its offset in the line.

    pysbd's own spans compile every sentence into a regular expression to find it again: that was 40%
    of the splitting time, and the one-off patterns pushed pysbd's rule patterns out of Python's regex
    cache. Without cleaning, each sentence is a piece of the line, so a plain search from the end of
    the previous one finds it; pysbd's spans remain the fallback should one ever not be found."""
    out: list[tuple[int, str]] = []
    cursor = 0
    for raw in segmenter.processor(line).process():
        sentence = raw.strip()
        if not sentence:
            continue
        start = line.find(sentence, cursor)
        if start < 0:
            return _sentences_by_pysbd_spans(line)
        out.append((start, sentence))
        cursor = start + len(sentence)
    return out


def _sentences_by_pysbd_spans(line: str) -> list[tuple[int, str]]:
    pieces = pysbd.Segmenter(language="en", clean=False, char_span=True).segment(line)
    return [(p.start + len(p.sent) - len(p.sent.lstrip()), p.sent.strip()) for p in pieces if p.sent.strip()]


def _lines(text: str) -> list[tuple[int, str]]:
    """Paragraphs are segmented separately: a line break always ends a sentence in news copy."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            out.append((offset, line))
        offset += len(line)
    return out
