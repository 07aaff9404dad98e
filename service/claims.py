"""Cut a document into claims: one sentence each, with its character span in the document.

pysbd is a rule-based segmenter that knows abbreviations, initials, decimals and quotes, which a
regex on ". " gets wrong in news copy ("U.S. officials said 3.5 million ...").
"""

from __future__ import annotations

import re

import pysbd

from contra.service.domain import ClaimText

#: Fragments with fewer words than this (datelines, bylines, "Photo: AP") are not claims.
MIN_WORDS = 4

_WORD = re.compile(r"\w+")


def split_claims(text: str) -> list[ClaimText]:
    """The claims of ``text`` in order; each ``text[start:end] == claim.text``."""
    # A segmenter per call: pysbd keeps state while segmenting and is not thread-safe; the server
    # splits from several worker threads, and sharing one silently dropped claims. Building one costs ~2 us.
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    claims: list[ClaimText] = []
    for line_start, line in _lines(text):
        for piece in segmenter.segment(line):
            raw = piece.sent
            stripped = raw.strip()
            if len(_WORD.findall(stripped)) < MIN_WORDS:
                continue
            start = line_start + piece.start + (len(raw) - len(raw.lstrip()))
            claims.append(ClaimText(text=stripped, start=start, end=start + len(stripped)))
    return claims


def _lines(text: str) -> list[tuple[int, str]]:
    """Paragraphs are segmented separately: a line break always ends a sentence in news copy."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            out.append((offset, line))
        offset += len(line)
    return out
