"""A harder variant of the detection corpus: each conflicting pair's B sentence is fused with another
sentence of its own document, so that the partner is no longer a near neighbour of A in embedding space.

In ``tests/data/corpus`` every labelled pair is written as two parallel sentences, which dense retrieval
finds trivially. Real conflicts hide a figure inside a sentence about something else; this variant
imitates that without hand-editing any pair:

* the filler is the first sentence of B's document (rotated by a hash of the pair id) that is not itself
  labelled, has at least four words, and was not used as a filler already;
* the pair id's hash also picks the form: ``"B, while y."`` or ``"Y; meanwhile, b."`` (the second part's
  first letter is lowered only when it starts with a function word, so names keep their capitals);
* the filler is removed from the document, and the link's ``b_sentence`` becomes the fused sentence.

Pairs whose document has no usable filler are left as they are and counted.

    python bench/hard_corpus.py [--corpus tests/data/corpus] --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contra.index.lexical import STOP_WORDS
from contra.service.claims import MIN_WORDS, split_claims

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class HardCorpus:
    documents: list[dict[str, Any]]
    links: list[dict[str, Any]]
    fused: int
    unchanged: int


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _lower_first(sentence: str) -> str:
    first = sentence.split(" ", 1)[0]
    if first.lower() in STOP_WORDS:
        return sentence[0].lower() + sentence[1:]
    return sentence


def _body(sentence: str) -> str:
    return sentence.rstrip().rstrip(".")


def fuse(b: str, filler: str, form: int) -> str:
    if form == 0:
        return f"{_body(b)}, while {_lower_first(_body(filler))}."
    return f"{_body(filler)}; meanwhile, {_lower_first(_body(b))}."


def harden(
    documents: list[dict[str, Any]], links: list[dict[str, Any]], fillers: int = 1, sides: tuple[str, ...] = ("b",)
) -> HardCorpus:
    """The variant of ``documents`` and ``links``; inputs are not modified. With ``fillers=2`` a second
    filler is appended (``"..., and y2."``), burying the sentence deeper; ``sides=("a", "b")`` buries
    both halves of each pair. ``fused`` and ``unchanged`` count sentences."""
    docs = {d["doc_id"]: dict(d) for d in documents}
    labelled = {s for link in links for s in (link["a_sentence"], link["b_sentence"])}
    used: set[str] = set()
    out_links: list[dict[str, Any]] = []
    fused = unchanged = 0
    for link in links:
        out = dict(link)
        for side in sides:
            doc = docs[link[f"{side}_doc"]]
            target = link[f"{side}_sentence"]
            sentences = [c.text for c in split_claims(doc["text"])]
            usable = [
                s
                for s in sentences
                if s != target and s not in labelled and s not in used and len(re.findall(r"\w+", s)) >= MIN_WORDS
            ]
            if target not in doc["text"] or len(usable) < fillers:
                unchanged += 1
                continue
            h = _hash(f"{link['pair_id']}/{side}")
            chosen = [usable[(h + i) % len(usable)] for i in range(fillers)]
            used.update(chosen)
            sentence = fuse(target, chosen[0], (h >> 8) % 2)
            for extra in chosen[1:]:
                sentence = f"{_body(sentence)}, and {_lower_first(_body(extra))}."
            text = doc["text"]
            for filler in chosen:
                text = text.replace(filler, "", 1)
            doc["text"] = re.sub(r"[ \t]{2,}", " ", text.replace(target, sentence, 1)).strip()
            out[f"{side}_sentence"] = sentence
            fused += 1
        out_links.append(out)
    return HardCorpus([docs[d["doc_id"]] for d in documents], out_links, fused, unchanged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "tests" / "data" / "corpus")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    def read(name: str) -> list[dict[str, Any]]:
        lines = (args.corpus / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    hard = harden(read("documents.jsonl"), read("links.jsonl"))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("documents.jsonl", hard.documents), ("links.jsonl", hard.links)):
        (args.out / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{hard.fused} B sentences fused, {hard.unchanged} left unchanged (no usable filler)")


if __name__ == "__main__":
    main()
