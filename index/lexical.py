"""Key terms of a claim, and the FTS5 query that finds other claims sharing them.

Dense similarity misses the conflicting partner when a figure or a name sits inside a sentence about
something else. Lexical retrieval keys on what two reports of one fact must share: names, numbers and
the rarer content words. The store's FTS5 table (``unicode61`` tokenizer, diacritics removed) holds
the claim texts; this module only decides which terms to ask for and quotes them so that no input,
however hostile, can be read as FTS5 query syntax.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from contra.index.filters import ANY, SearchFilter

#: Function words and the verbs of attribution that every news sentence carries; they add nothing to a
#: lexical match and would make the OR-query touch most of the table.
_STOP_TEXT = """
    a about above after again against all almost also although am among an and another any are as at be
    because been before being below between both but by can could did do does doing done down during each
    either else ever every few for from further had has have having he her here hers herself him himself
    his how however i if in into is it its itself just last least less like made make many may me might
    more most much must my myself near neither new next no nor not now of off on once one only or other
    our ours out over own per rather said same say says saying she should since so some still such than
    that the their theirs them themselves then there these they this those though through thus to told too
    under until up upon us very via was we were what when where whether which while who whom whose why
    will with within without would yet you your week weeks year years day days month months time times
    according reported reports report announced added stated statement told tell monday tuesday wednesday
    thursday friday saturday sunday today yesterday tomorrow mr mrs ms dr
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_WORD = re.compile(r"[^\W_]+")
#: A number as written: digits with thousands separators or a decimal part ("1,200", "3.5", "2025").
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MIN_WORD = 3


class TermKind(IntEnum):
    """Why a term was chosen; lower sorts first when terms must be cut."""

    NUMBER = 0
    NAME = 1
    WORD = 2


@dataclass(frozen=True, slots=True)
class Term:
    """One query term: ``text`` is a single token or, for a written number, a phrase of digit groups."""

    text: str
    kind: TermKind

    @property
    def is_phrase(self) -> bool:
        return " " in self.text


def fold(token: str) -> str:
    """The form the ``unicode61 remove_diacritics 2`` tokenizer stores: lower case, no diacritics."""
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def key_terms(text: str) -> list[Term]:
    """Numbers (as written and without thousands separators), capitalised names, then content words."""
    terms: dict[str, Term] = {}

    def keep(token: str, kind: TermKind) -> None:
        folded = fold(token)
        if folded and (folded not in terms or terms[folded].kind > kind):
            terms[folded] = Term(folded, kind)

    for match in _NUMBER.finditer(text):
        written = match.group()
        groups = re.findall(r"\d+", written)
        keep(" ".join(groups), TermKind.NUMBER)
        if "," in written and "." not in written:
            keep("".join(groups), TermKind.NUMBER)  # "1,200" is also stored as "1200"
    for match in _WORD.finditer(text):
        word = match.group()
        if word.isdigit() or fold(word) in STOP_WORDS:
            continue
        if word[0].isupper() and len(word) >= 2:
            keep(word, TermKind.NAME)
        elif len(word) >= _MIN_WORD and not any(ch.isdigit() for ch in word):
            keep(word, TermKind.WORD)
    return list(terms.values())


def quote(term: str) -> str:
    """An FTS5 string literal: double quotes, inner quotes doubled. Inside one, every character is text."""
    return '"' + term.replace('"', '""') + '"'


def match_expression(terms: list[Term]) -> str:
    """An FTS5 OR-query over ``terms``; empty when there is nothing to ask for."""
    return " OR ".join(quote(t.text) for t in terms)


#: Content words found in more than this share of claims are left out of a lexical query (names and
#: numbers are always kept); BM25 would weigh them near zero anyway, but each one widens the scan.
LEXICAL_MAX_DF = 0.05
#: ... but a word is never too common while it is in fewer claims than this (a young store has few).
LEXICAL_MIN_DF_CUT = 20
#: At most this many terms per lexical query, rarest first.
LEXICAL_MAX_TERMS = 16


def rarest(terms: Sequence[Term], doc_freq: Mapping[str, int], total: int) -> list[Term]:
    """The terms worth asking for: stored at all, content words only when rare; rarest first."""
    kept: list[tuple[int, int, Term]] = []
    for term in terms:
        if term.is_phrase:
            kept.append((0, term.kind, term))  # a written number's digit groups: cheap, and rarely common
            continue
        count = doc_freq.get(term.text, 0)
        common = count > max(LEXICAL_MAX_DF * total, LEXICAL_MIN_DF_CUT)
        if count == 0 or (term.kind == TermKind.WORD and common):
            continue
        kept.append((count, term.kind, term))
    kept.sort(key=lambda item: (item[0], item[1]))
    return [term for _, _, term in kept[:LEXICAL_MAX_TERMS]]


#: SQLite's default limit on host parameters is 32766; stay well below it per statement.
_CHUNK = 900


def search(conn: sqlite3.Connection, text: str, k: int, flt: SearchFilter = ANY) -> list[tuple[int, float]]:
    """Up to ``k`` claims sharing key terms with ``text``, as (claim_id, BM25 score), best first.

    Reads the tables both the claim store and ``LexicalTable`` have: ``claims_fts`` (rowid = claim_id),
    its ``claims_fts_terms`` vocabulary, and ``claims`` with ``source_id``, ``published`` and ``copy_of``.
    ``flt`` is applied inside the query, so the own source's claims never take places among the k.
    """
    terms = key_terms(text)
    if k <= 0 or not terms:
        return []
    singles = [t.text for t in terms if not t.is_phrase]
    doc_freq: dict[str, int] = {}
    for start in range(0, len(singles), _CHUNK):
        chunk = singles[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        doc_freq.update(conn.execute(f"SELECT term, doc FROM claims_fts_terms WHERE term IN ({marks})", chunk))
    total = int(conn.execute("SELECT COUNT(*) FROM claims WHERE copy_of IS NULL").fetchone()[0])
    chosen = rarest(terms, doc_freq, total)
    if not chosen:
        return []
    where = ["claims_fts MATCH ?"]
    params: list[object] = [match_expression(chosen)]
    if flt.exclude_source is not None:
        where.append("c.source_id != ?")
        params.append(flt.exclude_source)
    if flt.only_sources:
        where.append(f"c.source_id IN ({','.join('?' * len(flt.only_sources))})")
        params.extend(sorted(flt.only_sources))
    undated = " OR c.published IS NULL" if flt.include_undated else ""
    if flt.since is not None:
        where.append(f"(c.published >= ?{undated})")
        params.append(flt.since.isoformat())
    if flt.until is not None:
        where.append(f"(c.published <= ?{undated})")
        params.append(flt.until.isoformat())
    sql = (
        "SELECT claims_fts.rowid, bm25(claims_fts) AS score FROM claims_fts "
        f"JOIN claims c ON c.claim_id = claims_fts.rowid WHERE {' AND '.join(where)} ORDER BY score LIMIT ?"
    )
    # FTS5's bm25() is negative, lower is better; flip it so that a higher score is a better match.
    return [(int(cid), -float(score)) for cid, score in conn.execute(sql, [*params, k])]


class LexicalTable:
    """An in-memory FTS5 table of (id, group, text) with the store's tokenizer, term choice and query.

    The batch job searches a corpus that is never stored; this gives it the same BM25 retrieval as
    ``ClaimStore.lexical_search`` (both run ``search``), with the group standing for the source. Rows carry
    no dates and no copies.
    """

    def __init__(self, ids: Sequence[int], groups: Sequence[str], texts: Sequence[str]) -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.executescript(
            "CREATE TABLE claims (claim_id INTEGER PRIMARY KEY, source_id TEXT NOT NULL, published TEXT, "
            "copy_of INTEGER);"
            "CREATE VIRTUAL TABLE claims_fts USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');"
            "CREATE VIRTUAL TABLE claims_fts_terms USING fts5vocab (claims_fts, row);"
        )
        rows = list(zip(ids, groups, texts, strict=True))
        self._conn.executemany(
            "INSERT INTO claims (claim_id, source_id) VALUES (?, ?)", [(int(i), g) for i, g, _ in rows]
        )
        self._conn.executemany("INSERT INTO claims_fts (rowid, text) VALUES (?, ?)", [(int(i), x) for i, _, x in rows])

    def lexical_search(self, text: str, k: int, flt: SearchFilter = ANY) -> list[tuple[int, float]]:
        """Up to ``k`` rows sharing key terms with ``text``, as (id, BM25 score), best first (``search``)."""
        return search(self._conn, text, k, flt)

    def close(self) -> None:
        self._conn.close()
