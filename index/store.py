"""The claim store: SQLite, the source of truth for sources, documents, claims and their vectors.

The vector index is derived from this store and can always be rebuilt from it, so every write here is
one transaction that is durable (WAL, ``synchronous=FULL``) before the call returns.

Claims are deduplicated by their normalised text (Unicode NFKC, runs of white space collapsed):

* the same text from the same source is stored once; later occurrences get the existing id;
* the same text from another source (syndicated copy, wire story) gets its own row, linked to its own
  source, document and span, with ``copy_of`` pointing at the first claim. Copies carry no vector and
  are never indexed, so a story is not reported as conflicting with its own reprint and is counted
  once in ``counts()``.

So for every normalised text there is exactly one *indexed* claim (``copy_of IS NULL``) and any number
of copies. When the source of an indexed claim is deleted, its earliest copy is promoted: it is
re-inserted under a fresh claim id (ids only grow and are never reused), takes over the vector, and
the remaining copies are re-pointed at it. ``DeletedSource.promoted_ids`` lists these fresh ids; the
caller adds them to the index (they are the newest ids, so ``iter_vectors(after_id=...)`` or
``vectors_for(ids)`` yields them).

A document is identified by its source and id. Sending an id again with the same text, URL and date
(its *version*, ``version_key``) stores nothing new; sending it with another version replaces the
document's claims in the same transaction that stores the new ones (copies promoted as for a deleted
source), so no reader ever sees a mix of the two versions, and after a crash either the old or the new
version is stored. The index drops the superseded ids as it does a deleted source's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from contra.domain import ClaimText, DatePrecision, DocumentIn, StoredClaim
from contra.errors import NotFound, StoreError
from contra.index import lexical
from contra.index.filters import ANY, SearchFilter

LOG = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: SQLite's default limit on host parameters is 32766; stay well below it per statement.
_CHUNK = 900

_SPACE = re.compile(r"\s+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS sources (
    source_id TEXT PRIMARY KEY,
    outlet    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE IF NOT EXISTS documents (
    source_id   TEXT NOT NULL REFERENCES sources (source_id),
    document_id TEXT NOT NULL,
    url         TEXT NOT NULL DEFAULT '',
    published   TEXT,
    ingested_at TEXT NOT NULL,
    published_precision TEXT,
    version_key BLOB,
    PRIMARY KEY (source_id, document_id)
) STRICT;
CREATE TABLE IF NOT EXISTS claims (
    claim_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id   TEXT NOT NULL REFERENCES sources (source_id),
    document_id TEXT NOT NULL,
    span_start  INTEGER NOT NULL,
    span_end    INTEGER NOT NULL,
    text        TEXT NOT NULL,
    text_key    BLOB NOT NULL,
    copy_of     INTEGER,
    published   TEXT,
    UNIQUE (source_id, text_key),
    FOREIGN KEY (source_id, document_id) REFERENCES documents (source_id, document_id)
) STRICT;
CREATE TABLE IF NOT EXISTS vectors (
    claim_id INTEGER PRIMARY KEY REFERENCES claims (claim_id),
    vector   BLOB NOT NULL
) STRICT;
"""
#: Indexes, created after ``_ensure_document_key`` has brought an older store's tables to this shape.
_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS claims_indexed_by_text ON claims (text_key) WHERE copy_of IS NULL",
    "CREATE INDEX IF NOT EXISTS claims_by_original ON claims (copy_of) WHERE copy_of IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS claims_by_document ON claims (source_id, document_id)",
)
# Vectors live in their own table so that scans of claim metadata (index start-up) do not read them.
# ``published`` is the document's date, copied onto each claim for the same reason.

#: Full-text index over the texts of indexed claims (rowid = claim_id), for lexical candidate retrieval.
#: Triggers keep it inside every transaction that inserts, promotes or deletes claims, so it cannot fall
#: out of step with ``claims``; copies are left out as they are from the vector index. Statements are
#: listed one by one because trigger bodies contain semicolons.
_LEXICAL_SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS claims_fts USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS claims_fts_terms USING fts5vocab (claims_fts, row)",
    "CREATE TRIGGER IF NOT EXISTS claims_fts_insert AFTER INSERT ON claims WHEN NEW.copy_of IS NULL BEGIN "
    "INSERT INTO claims_fts (rowid, text) VALUES (NEW.claim_id, NEW.text); END",
    "CREATE TRIGGER IF NOT EXISTS claims_fts_delete AFTER DELETE ON claims WHEN OLD.copy_of IS NULL BEGIN "
    "DELETE FROM claims_fts WHERE rowid = OLD.claim_id; END",
    "CREATE TRIGGER IF NOT EXISTS claims_fts_update AFTER UPDATE OF text, copy_of ON claims BEGIN "
    "DELETE FROM claims_fts WHERE rowid = OLD.claim_id; "
    "INSERT INTO claims_fts (rowid, text) SELECT NEW.claim_id, NEW.text WHERE NEW.copy_of IS NULL; END",
)


@dataclass(frozen=True, slots=True)
class IngestedDocument:
    """What one ``add_documents`` input became."""

    document_id: str
    #: One per input claim, in order: the new id, or the existing (indexed) id for a duplicate or copy.
    claim_ids: list[int]
    #: The claims that must be added to the vector index.
    new_claim_ids: list[int]
    #: Input claims that were already stored (same text, same source) or that are copies of another source's.
    duplicates: int
    #: True when the document id was stored with another version (text, URL or date): that version's claims
    #: were removed in the same transaction, and ``claim_ids`` are the new version's.
    updated: bool = False
    #: Claim rows of the earlier version that were removed (copies of other sources' claims included).
    superseded: int = 0
    #: Indexed claims of the earlier version: remove them from the vector index.
    removed_claim_ids: list[int] = field(default_factory=list)
    #: Fresh ids of other sources' copies promoted when their original was superseded: add them to the index.
    promoted_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Replaced:
    """What removing a document's earlier version did."""

    claims: int
    claim_ids: list[int]
    promoted_ids: list[int]


@dataclass(frozen=True, slots=True)
class SourceStats:
    source_id: str
    outlet: str
    documents: int
    #: Claims this source published, copies of other sources' claims included.
    claims: int


@dataclass(frozen=True, slots=True)
class DeletedSource:
    """What ``delete_source`` removed, and what the index must do about it."""

    documents: int
    #: Claim rows of the source that were removed (copies included), as ``SourceStats.claims`` counted them.
    claims: int
    #: Ids to remove from the index (the source's indexed claims).
    claim_ids: list[int]
    #: Fresh ids of copies promoted to indexed claims; add them to the index (``ClaimStore.vectors_for``).
    promoted_ids: list[int]


@dataclass(frozen=True, slots=True)
class VectorBatch:
    """Indexed claims with what the index needs to know about them."""

    ids: np.ndarray  # int64 (n,)
    vectors: np.ndarray  # float32 (n, d), L2-normalised
    source_ids: list[str]
    published: list[dt.date | None]


@dataclass(frozen=True, slots=True)
class MetadataBatch:
    """Like ``VectorBatch`` without the vectors: what the index's filters need, cheap to scan."""

    ids: np.ndarray  # int64 (n,)
    source_ids: list[str]
    published: list[dt.date | None]


def normalise_text(text: str) -> str:
    """The form in which two claims count as the same text."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def text_key(text: str) -> bytes:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).digest()


def document_id_for(document: DocumentIn) -> str:
    """The caller's id, or a stable hash of (source, text) so that re-sending a document is a no-op."""
    if document.external_id:
        return document.external_id
    digest = hashlib.sha256(f"{document.source.source_id}\x00{document.text}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def version_key(document: DocumentIn) -> bytes:
    """What makes two sendings of one document id the same version: its text, URL and publish date."""
    date = f"{document.published.isoformat()}/{document.published_precision.value}" if document.published else ""
    return hashlib.sha256(f"{document.text}\x00{document.url}\x00{date}".encode()).digest()


class ClaimStore:
    """Sources, documents, claims and claim vectors in one SQLite file.

    Thread-safe: one connection writes, another reads (WAL lets readers run beside a writer), each
    behind its own lock.
    """

    def __init__(self, path: Path, dimension: int) -> None:
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, got {dimension}")
        self.path = Path(path)
        self.dimension = dimension
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        try:
            self._writer = self._connect()
            self._create_schema()
            self._ensure_versions()
            self._ensure_document_key()
            self._ensure_lexical()
            self._reader = self._connect()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open claim store {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every write opens BEGIN IMMEDIATE itself.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the writer connection: committed when the block ends, rolled back when it
        raises, so a failed write leaves nothing behind."""
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _create_schema(self) -> None:
        with self._transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not rows:
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("dimension", str(self.dimension))],
                )
        stored = int(rows.get("dimension", self.dimension))
        if stored != self.dimension:
            self._writer.close()
            raise ValueError(
                f"claim store {self.path} holds {stored}-dimensional vectors but {self.dimension} were asked for; "
                "use the embedder it was built with, or a new data directory"
            )

    def _ensure_versions(self) -> None:
        """Add the columns that document versions need to a store made before them (NULL = not recorded)."""
        with self._transaction() as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
            if "published_precision" not in columns:
                conn.execute("ALTER TABLE documents ADD COLUMN published_precision TEXT")
            if "version_key" not in columns:
                conn.execute("ALTER TABLE documents ADD COLUMN version_key BLOB")

    def _ensure_document_key(self) -> None:
        """A document is (source, id): stores made when an id was unique across sources get their two
        tables rebuilt with that key, in one transaction (claim ids, and so vectors and the index, stay)."""
        pk = {row[1]: row[5] for row in self._writer.execute("PRAGMA table_info(documents)")}
        if pk.get("source_id", 0) == 0:
            self._writer.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction; back on below
            try:
                with self._transaction() as conn:
                    self._rebuild_with_document_key(conn)
                    problems = conn.execute("PRAGMA foreign_key_check").fetchall()
                    if problems:
                        raise StoreError(f"rebuilding the document key left broken references: {problems[:5]}")
            finally:
                self._writer.execute("PRAGMA foreign_keys=ON")
            LOG.info("claim store %s: documents are now keyed by (source, id)", self.path)
        with self._transaction() as conn:
            for statement in _INDEXES:
                conn.execute(statement)

    @staticmethod
    def _rebuild_with_document_key(conn: sqlite3.Connection) -> None:
        sequence = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'claims'").fetchone()
        tables = [
            s.strip()
            for s in _SCHEMA.split(";")
            if "CREATE TABLE IF NOT EXISTS documents" in s or "CREATE TABLE IF NOT EXISTS claims" in s
        ]
        for statement in tables:
            conn.execute(
                statement.replace("IF NOT EXISTS documents", "documents_keyed").replace(
                    "IF NOT EXISTS claims", "claims_keyed"
                )
            )
        doc_columns = "source_id, document_id, url, published, ingested_at, published_precision, version_key"
        claim_columns = "claim_id, source_id, document_id, span_start, span_end, text, text_key, copy_of, published"
        conn.execute(f"INSERT INTO documents_keyed ({doc_columns}) SELECT {doc_columns} FROM documents")
        conn.execute(f"INSERT INTO claims_keyed ({claim_columns}) SELECT {claim_columns} FROM claims")
        conn.execute("DROP TABLE claims")  # its full-text triggers go with it; _ensure_lexical makes them again
        conn.execute("DROP TABLE documents")
        conn.execute("ALTER TABLE documents_keyed RENAME TO documents")
        conn.execute("ALTER TABLE claims_keyed RENAME TO claims")
        if sequence is not None:  # AUTOINCREMENT never hands out an id again, also after the rebuild
            conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'claims'", (int(sequence[0]),))

    def _ensure_lexical(self) -> None:
        """Create the full-text index if missing and back-fill it from the claims, in one transaction."""
        with self._transaction() as conn:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'claims_fts'").fetchone()
            for statement in _LEXICAL_SCHEMA:
                conn.execute(statement)
            if exists is None:
                filled = conn.execute(
                    "INSERT INTO claims_fts (rowid, text) SELECT claim_id, text FROM claims WHERE copy_of IS NULL"
                ).rowcount
                if filled:
                    LOG.info("claim store %s: built the full-text index over %d existing claims", self.path, filled)

    # -- writes -----------------------------------------------------------------------------------

    def add_documents(
        self,
        documents: Sequence[DocumentIn],
        claims: Sequence[Sequence[ClaimText]],
        vectors: Sequence[np.ndarray],
    ) -> list[IngestedDocument]:
        """Store documents with their claims and claim vectors in one durable transaction.

        ``claims[i]`` are the claims of ``documents[i]`` and ``vectors[i]`` their (len(claims[i]), d)
        embeddings. Nothing is stored if anything fails.
        """
        if not len(documents) == len(claims) == len(vectors):
            raise ValueError(
                f"documents, claims and vectors must have one entry per document, got "
                f"{len(documents)}, {len(claims)} and {len(vectors)}"
            )
        prepared = [
            self._check_vectors(i, doc_claims, vecs)
            for i, (doc_claims, vecs) in enumerate(zip(claims, vectors, strict=True))
        ]
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._write_lock:
            try:
                with self._transaction() as conn:
                    results = [
                        self._add_document(conn, doc, doc_claims, vecs, now)
                        for doc, doc_claims, vecs in zip(documents, claims, prepared, strict=True)
                    ]
            except sqlite3.Error as exc:
                raise StoreError(f"storing {len(documents)} documents failed, nothing was stored: {exc}") from exc
        return results

    def _check_vectors(self, position: int, doc_claims: Sequence[ClaimText], vecs: np.ndarray) -> np.ndarray:
        array = np.asarray(vecs)
        expected = (len(doc_claims), self.dimension)
        if not doc_claims and array.size == 0:
            return np.zeros(expected, dtype=np.float32)
        if array.ndim != 2 or array.shape != expected:
            raise ValueError(f"vectors[{position}] has shape {array.shape}, expected {expected} (claims x dimension)")
        array = np.ascontiguousarray(array, dtype=np.float32)
        if not np.isfinite(array).all():
            raise ValueError(f"vectors[{position}] contains NaN or infinite values")
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ValueError(f"vectors[{position}] contains an all-zero vector")
        return np.ascontiguousarray(array / norms, dtype=np.float32)

    def _add_document(
        self,
        conn: sqlite3.Connection,
        doc: DocumentIn,
        doc_claims: Sequence[ClaimText],
        vecs: np.ndarray,
        now: str,
    ) -> IngestedDocument:
        source_id = doc.source.source_id
        document_id = document_id_for(doc)
        published = doc.published.isoformat() if doc.published else None
        precision = doc.published_precision.value if doc.published else None
        version = version_key(doc)
        conn.execute(
            "INSERT INTO sources (source_id, outlet) VALUES (?, ?) "
            "ON CONFLICT (source_id) DO UPDATE SET outlet = excluded.outlet WHERE excluded.outlet != ''",
            (source_id, doc.source.outlet),
        )
        stored = conn.execute(
            "SELECT source_id, version_key FROM documents WHERE source_id = ? AND document_id = ?",
            (source_id, document_id),
        ).fetchone()
        replaced: _Replaced | None = None
        if stored is None:
            conn.execute(
                "INSERT INTO documents (document_id, source_id, url, published, ingested_at, published_precision, "
                "version_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (document_id, source_id, doc.url, published, now, precision, version),
            )
        elif stored[1] != version and not (stored[1] is None and self._all_stored(conn, source_id, doc_claims)):
            # Another version of the document: its claims go, in this transaction, before the new ones come.
            replaced = self._remove_document_claims(conn, source_id, document_id)
            conn.execute(
                "UPDATE documents SET url = ?, published = ?, published_precision = ?, ingested_at = ?, "
                "version_key = ? WHERE source_id = ? AND document_id = ?",
                (doc.url, published, precision, now, version, source_id, document_id),
            )
        elif stored[1] is None:
            # Stored before versions were recorded, with these very claims: record this version.
            conn.execute(
                "UPDATE documents SET version_key = ? WHERE source_id = ? AND document_id = ?",
                (version, source_id, document_id),
            )

        claim_ids: list[int] = []
        new_ids: list[int] = []
        duplicates = 0
        for claim, vector in zip(doc_claims, vecs, strict=True):
            key = text_key(claim.text)
            own = conn.execute(
                "SELECT claim_id, copy_of FROM claims WHERE source_id = ? AND text_key = ?", (source_id, key)
            ).fetchone()
            if own is not None:
                claim_ids.append(int(own[1] if own[1] is not None else own[0]))
                duplicates += 1
                continue
            original = conn.execute(
                "SELECT claim_id FROM claims WHERE text_key = ? AND copy_of IS NULL", (key,)
            ).fetchone()
            cursor = conn.execute(
                "INSERT INTO claims (source_id, document_id, span_start, span_end, text, text_key, copy_of, published)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    source_id,
                    document_id,
                    claim.start,
                    claim.end,
                    claim.text,
                    key,
                    original[0] if original else None,
                    published,
                ),
            )
            if original is not None:
                claim_ids.append(int(original[0]))
                duplicates += 1
                continue
            claim_id = int(cursor.lastrowid or 0)
            conn.execute("INSERT INTO vectors (claim_id, vector) VALUES (?, ?)", (claim_id, vector.tobytes()))
            claim_ids.append(claim_id)
            new_ids.append(claim_id)
        if replaced is None:
            return IngestedDocument(document_id, claim_ids, new_ids, duplicates)
        return IngestedDocument(
            document_id,
            claim_ids,
            new_ids,
            duplicates,
            updated=True,
            superseded=replaced.claims,
            removed_claim_ids=replaced.claim_ids,
            promoted_ids=replaced.promoted_ids,
        )

    @staticmethod
    def _all_stored(conn: sqlite3.Connection, source_id: str, doc_claims: Sequence[ClaimText]) -> bool:
        """Whether every claim is already stored for the source (a document stored before versions were kept)."""
        return all(
            conn.execute(
                "SELECT 1 FROM claims WHERE source_id = ? AND text_key = ?", (source_id, text_key(claim.text))
            ).fetchone()
            is not None
            for claim in doc_claims
        )

    def _remove_document_claims(self, conn: sqlite3.Connection, source_id: str, document_id: str) -> _Replaced:
        """Delete one document's claims (its earlier version), promoting other sources' copies of them."""
        key = (source_id, document_id)
        indexed = [
            int(row[0])
            for row in conn.execute(
                "SELECT claim_id FROM claims WHERE source_id = ? AND document_id = ? AND copy_of IS NULL "
                "ORDER BY claim_id",
                key,
            )
        ]
        count = int(
            conn.execute("SELECT COUNT(*) FROM claims WHERE source_id = ? AND document_id = ?", key).fetchone()[0]
        )
        with_copies = conn.execute(
            "SELECT c.claim_id, MIN(k.claim_id) FROM claims c JOIN claims k ON k.copy_of = c.claim_id "
            "WHERE c.source_id = ? AND c.document_id = ? AND c.copy_of IS NULL GROUP BY c.claim_id ORDER BY c.claim_id",
            key,
        ).fetchall()
        promoted = [self._promote(conn, int(original_id), int(copy_id)) for original_id, copy_id in with_copies]
        conn.execute(
            "DELETE FROM vectors WHERE claim_id IN "
            "(SELECT claim_id FROM claims WHERE source_id = ? AND document_id = ?)",
            key,
        )
        conn.execute("DELETE FROM claims WHERE source_id = ? AND document_id = ?", key)
        LOG.info("document %r replaced: %d claims superseded, %d copies promoted", document_id, count, len(promoted))
        return _Replaced(claims=count, claim_ids=indexed, promoted_ids=promoted)

    def delete_source(self, source_id: str) -> DeletedSource:
        """Remove a source with its documents and claims, atomically; promote copies of its claims.

        Raises ``NotFound`` for a source that is not stored.
        """
        with self._write_lock:
            try:
                with self._transaction() as conn:
                    result = self._delete_source(conn, source_id)
            except sqlite3.Error as exc:
                raise StoreError(f"deleting source {source_id!r} failed, nothing was deleted: {exc}") from exc
        return result

    def _delete_source(self, conn: sqlite3.Connection, source_id: str) -> DeletedSource:
        if conn.execute("SELECT 1 FROM sources WHERE source_id = ?", (source_id,)).fetchone() is None:
            raise NotFound(f"source {source_id!r} is not stored")
        indexed = [
            int(row[0])
            for row in conn.execute(
                "SELECT claim_id FROM claims WHERE source_id = ? AND copy_of IS NULL ORDER BY claim_id", (source_id,)
            )
        ]
        claims_removed = int(
            conn.execute("SELECT COUNT(*) FROM claims WHERE source_id = ?", (source_id,)).fetchone()[0]
        )
        # Indexed claims of this source that other sources copied: the earliest copy takes over.
        with_copies = conn.execute(
            "SELECT c.claim_id, MIN(k.claim_id) FROM claims c JOIN claims k ON k.copy_of = c.claim_id "
            "WHERE c.source_id = ? AND c.copy_of IS NULL GROUP BY c.claim_id ORDER BY c.claim_id",
            (source_id,),
        ).fetchall()
        promoted = [self._promote(conn, int(original_id), int(copy_id)) for original_id, copy_id in with_copies]
        conn.execute(
            "DELETE FROM vectors WHERE claim_id IN (SELECT claim_id FROM claims WHERE source_id = ?)", (source_id,)
        )
        conn.execute("DELETE FROM claims WHERE source_id = ?", (source_id,))
        documents = conn.execute("DELETE FROM documents WHERE source_id = ?", (source_id,)).rowcount
        conn.execute("DELETE FROM sources WHERE source_id = ?", (source_id,))
        LOG.info(
            "deleted source %r: %d documents, %d claims, %d copies promoted",
            source_id,
            documents,
            claims_removed,
            len(promoted),
        )
        return DeletedSource(
            documents=int(documents),
            claims=claims_removed,
            claim_ids=indexed,
            promoted_ids=promoted,
        )

    def _promote(self, conn: sqlite3.Connection, original_id: int, copy_id: int) -> int:
        """Re-insert copy ``copy_id`` as the indexed claim under a fresh id; return that id."""
        vector = conn.execute("SELECT vector FROM vectors WHERE claim_id = ?", (original_id,)).fetchone()[0]
        row = conn.execute(
            "SELECT source_id, document_id, span_start, span_end, text, text_key, published FROM claims "
            "WHERE claim_id = ?",
            (copy_id,),
        ).fetchone()
        # Both rows go first: one indexed claim per text, and one row per (source, text), at any time.
        conn.execute("DELETE FROM vectors WHERE claim_id = ?", (original_id,))
        conn.execute("DELETE FROM claims WHERE claim_id IN (?, ?)", (original_id, copy_id))
        cursor = conn.execute(
            "INSERT INTO claims (source_id, document_id, span_start, span_end, text, text_key, copy_of, published) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            row,
        )
        new_id = int(cursor.lastrowid or 0)
        conn.execute("INSERT INTO vectors (claim_id, vector) VALUES (?, ?)", (new_id, vector))
        conn.execute("UPDATE claims SET copy_of = ? WHERE copy_of = ?", (new_id, original_id))
        return new_id

    # -- reads ------------------------------------------------------------------------------------

    def get_claims(self, ids: Iterable[int]) -> dict[int, StoredClaim]:
        """The stored claims among ``ids``; ids that are not stored (e.g. just deleted) are left out."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, StoredClaim] = {}
        with self._read_lock:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._reader.execute(
                    "SELECT c.claim_id, c.text, c.source_id, c.document_id, c.span_start, c.span_end, s.outlet, "
                    "d.url, c.published, d.published_precision FROM claims c "
                    "JOIN sources s ON s.source_id = c.source_id "
                    "JOIN documents d ON d.source_id = c.source_id AND d.document_id = c.document_id "
                    f"WHERE c.claim_id IN ({marks})",
                    chunk,
                ).fetchall()
                for cid, text, source_id, document_id, start_, end, outlet, url, published, precision in rows:
                    out[int(cid)] = StoredClaim(
                        claim_id=int(cid),
                        text=text,
                        source_id=source_id,
                        document_id=document_id,
                        start=int(start_),
                        end=int(end),
                        outlet=outlet,
                        url=url,
                        published=_date(published),
                        published_precision=DatePrecision(precision or DatePrecision.DAY),
                    )
        return out

    def lexical_search(self, text: str, k: int, flt: SearchFilter = ANY) -> list[tuple[int, float]]:
        """Up to ``k`` indexed claims sharing key terms with ``text``, as (claim_id, BM25 score), best first
        (``contra.index.lexical.search`` over the store's full-text table)."""
        try:
            with self._read_lock:
                return lexical.search(self._reader, text, k, flt)
        except sqlite3.Error as exc:
            raise StoreError(f"lexical search failed: {exc}") from exc

    def iter_vectors(self, after_id: int = 0, batch_size: int = 10_000) -> Iterator[VectorBatch]:
        """Indexed claims with id > ``after_id``, in ascending id order, ``batch_size`` at a time.

        Each batch is its own read, so a long scan does not hold the store; claims written during the
        scan may or may not appear.
        """
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        last = after_id
        while True:
            with self._read_lock:
                rows = self._reader.execute(
                    "SELECT c.claim_id, v.vector, c.source_id, c.published FROM claims c "
                    "JOIN vectors v ON v.claim_id = c.claim_id "
                    "WHERE c.claim_id > ? AND c.copy_of IS NULL ORDER BY c.claim_id LIMIT ?",
                    (last, batch_size),
                ).fetchall()
            if not rows:
                return
            yield self._vector_batch(rows)
            last = int(rows[-1][0])

    def vectors_for(self, ids: Iterable[int]) -> VectorBatch:
        """The indexed claims among ``ids`` (ascending), e.g. ``DeletedSource.promoted_ids``."""
        wanted = sorted({int(i) for i in ids})
        rows: list[tuple[int, bytes, str, str | None]] = []
        with self._read_lock:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows.extend(
                    self._reader.execute(
                        "SELECT c.claim_id, v.vector, c.source_id, c.published FROM claims c "
                        f"JOIN vectors v ON v.claim_id = c.claim_id WHERE c.claim_id IN ({marks}) "
                        "AND c.copy_of IS NULL ORDER BY c.claim_id",
                        chunk,
                    ).fetchall()
                )
        return self._vector_batch(rows)

    def vectors_by_id(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), d) float32 vectors in the order of ``ids``; a zero row for an id that is not stored.

        The hot path of IVF-PQ's exact re-ranking (a few hundred ids per query), so it does no more than
        one indexed read per id.
        """
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.zeros((len(wanted), self.dimension), dtype=np.float32)
        unique = np.unique(wanted[wanted >= 0]).tolist()
        rows: list[tuple[int, bytes]] = []
        with self._read_lock:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows.extend(
                    self._reader.execute(f"SELECT claim_id, vector FROM vectors WHERE claim_id IN ({marks})", chunk)
                )
        if not rows:
            return out
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        block = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dimension)
        order = np.argsort(found)
        where = np.minimum(np.searchsorted(found, wanted, sorter=order), len(found) - 1)
        hit = found[order[where]] == wanted
        out[hit] = block[order[where[hit]]]
        return out

    def _vector_batch(self, rows: Sequence[tuple[int, bytes, str, str | None]]) -> VectorBatch:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if rows:
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dimension)
        else:
            vectors = np.zeros((0, self.dimension), dtype=np.float32)
        return VectorBatch(
            ids=ids,
            vectors=vectors.copy(),
            source_ids=[r[2] for r in rows],
            published=[_date(r[3]) for r in rows],
        )

    def iter_metadata(self, after_id: int = 0, batch_size: int = 100_000) -> Iterator[MetadataBatch]:
        """Ids, sources and dates of indexed claims, ascending: what the index's filters are built from."""
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        last = after_id
        while True:
            with self._read_lock:
                rows = self._reader.execute(
                    "SELECT claim_id, source_id, published FROM claims "
                    "WHERE claim_id > ? AND copy_of IS NULL ORDER BY claim_id LIMIT ?",
                    (last, batch_size),
                ).fetchall()
            if not rows:
                return
            yield MetadataBatch(
                ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                source_ids=[r[1] for r in rows],
                published=[_date(r[2]) for r in rows],
            )
            last = int(rows[-1][0])

    def sample_vectors(self, n: int, seed: int = 0) -> np.ndarray:
        """Up to ``n`` vectors of indexed claims drawn uniformly at random (for training IVF-PQ)."""
        with self._read_lock:
            ids = np.fromiter(
                (r[0] for r in self._reader.execute("SELECT claim_id FROM claims WHERE copy_of IS NULL")),
                dtype=np.int64,
            )
        if len(ids) > n:
            ids = np.random.default_rng(seed).choice(ids, size=n, replace=False)
        return self.vectors_for(ids.tolist()).vectors

    def source_stats(self) -> list[SourceStats]:
        """Per source, sorted by source id; a source's claims include its copies of others' claims."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT s.source_id, s.outlet, "
                "(SELECT COUNT(*) FROM documents d WHERE d.source_id = s.source_id), "
                "(SELECT COUNT(*) FROM claims c WHERE c.source_id = s.source_id) "
                "FROM sources s ORDER BY s.source_id"
            ).fetchall()
        return [SourceStats(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    def counts(self) -> tuple[int, int, int]:
        """(sources, documents, claims); claims are distinct texts, i.e. the indexed claims."""
        with self._read_lock:
            row = self._reader.execute(
                "SELECT (SELECT COUNT(*) FROM sources), (SELECT COUNT(*) FROM documents), "
                "(SELECT COUNT(*) FROM claims WHERE copy_of IS NULL)"
            ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def vector_reference(self) -> tuple[str, np.ndarray] | None:
        """The embedder name and probe vectors recorded with this store's vectors, if any were."""
        with self._read_lock:
            rows = dict(
                self._reader.execute(
                    "SELECT key, value FROM meta WHERE key IN ('reference_embedder', 'reference_vectors')"
                ).fetchall()
            )
        if len(rows) < 2:
            return None
        vectors = np.frombuffer(bytes.fromhex(rows["reference_vectors"]), dtype=np.float32)
        return rows["reference_embedder"], vectors.reshape(-1, self.dimension)

    def set_vector_reference(self, embedder: str, vectors: np.ndarray) -> None:
        """Record which vector space this store's vectors live in: probe sentences' vectors, made by ``embedder``."""
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        if data.ndim != 2 or data.shape[1] != self.dimension:
            raise ValueError(f"reference vectors must be (n, {self.dimension}); got {data.shape}")
        with self._write_lock, self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("reference_embedder", embedder), ("reference_vectors", data.tobytes().hex())],
            )

    def max_claim_id(self) -> int:
        """The highest claim id stored (0 when empty)."""
        with self._read_lock:
            row = self._reader.execute("SELECT COALESCE(MAX(claim_id), 0) FROM claims").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._writer.close()


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
