"""Reading documents and pairs from files: one set of rules and messages for ``ingest``, ``judge --pairs``
and ``compare``.

A bad line is an ``InvalidInput`` whose field is ``FILE:LINE`` (``FILE:LINE:COLUMN`` for JSON that does
not parse, with the parser's whole message), so every command names it the same way. A document without
an ``id`` is named ``FILE:LINE`` (a text file: its file name), which is what tables and reports show.

Light on purpose: the CLI's client commands import this, and must start in a fraction of a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contra.domain import DatePrecision, DocumentIn, Source
from contra.errors import InvalidInput
from contra.service import validate

#: The fields of a document line, for help texts.
DOCUMENT_FIELDS = '{"source": "...", "text": "...", "id"?: "...", "date"?: "...", "url"?: "...", "outlet"?: "..."}'

#: What the ``id`` field does, for help texts.
ID_HELP = (
    "id: the document's own id; sending the same id again with other text, URL or date updates the "
    "document (its earlier claims are replaced); without one a line is named FILE:LINE"
)


def read_jsonl(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSONL file with their numbers (parse each with ``parse_line``)."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield number, line


def parse_line(path: Path | str, number: int, line: str) -> dict[str, Any]:
    """One JSONL line as an object, or ``InvalidInput`` naming ``FILE:LINE:COLUMN`` and what the parser said."""
    try:
        row = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        # The parser's own message, with the line of the file instead of the line within the line.
        where = f"line {number} column {exc.colno} (char {exc.pos})"
        raise InvalidInput(f"{path}:{number}:{exc.colno}", f"not valid JSON: {exc.msg}: {where}") from None
    if not isinstance(row, dict):
        raise InvalidInput(f"{path}:{number}", f"each line must be a JSON object, not {type(row).__name__}")
    return row


def field_text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def row_document(row: dict[str, Any], where: str, default_id: str, max_text_chars: int) -> DocumentIn:
    """A document from a JSONL or CSV row; ``where`` (``FILE:LINE``) prefixes every message."""
    source = validate.source_id(f"{where}: source", field_text(row, "source"))
    text = validate.text(f"{where}: text", field_text(row, "text"), max_text_chars)
    external_id = field_text(row, "id") or field_text(row, "doc_id") or field_text(row, "document_id") or default_id
    if len(external_id) > 200:
        raise InvalidInput(f"{where}: id", "is longer than 200 characters")
    published = validate.publish_date(f"{where}: date", field_text(row, "date"))
    return DocumentIn(
        source=Source(source, outlet=field_text(row, "outlet")),
        text=text,
        url=field_text(row, "url"),
        published=None if published is None else published.first_day,
        external_id=external_id,
        published_precision=DatePrecision.DAY if published is None else published.precision,
    )


def jsonl_documents(path: Path, max_text_chars: int, skipped: list[InvalidInput] | None = None) -> Iterator[DocumentIn]:
    """The documents of a JSONL file. The first bad line raises, unless ``skipped`` is given: then each
    bad line's error is appended to it and reading goes on."""
    for number, line in read_jsonl(path):
        try:
            document = row_document(
                parse_line(path, number, line), f"{path}:{number}", f"{path.name}:{number}", max_text_chars
            )
        except InvalidInput as exc:
            if skipped is None:
                raise
            skipped.append(exc)
            continue
        yield document
