"""The 1,000-document corpus behind ``make bench-compare`` (the throughput figure in the README).

The 604 documents of ``tests/data/corpus`` plus re-reports of the first 396 by an "echo" outlet of each
source, with every number in the text raised by one, so the job has both real cross-source conflicts
and the volume of a day's wire copy.

    python bench/compare_corpus.py OUT.jsonl [--size 1000]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "corpus" / "documents.jsonl"


def build(size: int) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = [
        json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    out = list(rows[:size])
    for row in rows[: max(0, size - len(rows))]:
        text = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), row["text"])
        out.append(
            {
                **row,
                "doc_id": f"re-{row['doc_id']}",
                "source": f"{row['source']}-echo",
                "outlet": f"{row.get('outlet', row['source'])} Echo",
                "text": text,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    rows = build(args.size)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} documents, {len({r['source'] for r in rows})} sources -> {args.out}")


if __name__ == "__main__":
    main()
