"""Claims are sentences with exact character spans in their document."""

from __future__ import annotations

import random

import pytest

from contra.service.claims import split_claims


def test_spans_point_into_the_document() -> None:
    text = (
        "  U.S. officials said 3.5 million people left the city.\n\nDr. Smith disagreed with Mr. Jones on Tuesday. Ok."
    )
    claims = split_claims(text)
    assert [c.text for c in claims] == [
        "U.S. officials said 3.5 million people left the city.",
        "Dr. Smith disagreed with Mr. Jones on Tuesday.",
    ]
    for claim in claims:
        assert text[claim.start : claim.end] == claim.text


def test_line_breaks_end_sentences() -> None:
    claims = split_claims("Heavy rain closed the coastal road overnight\nThe council said repairs will take a week")
    assert len(claims) == 2


@pytest.mark.parametrize("text", ["", "   ", "By Staff.", "Photo: AP"])
def test_fragments_are_not_claims(text: str) -> None:
    assert split_claims(text) == []


def test_seed_article_sentences(seed_text: str) -> None:
    claims = split_claims(seed_text)
    assert len(claims) == 21
    assert claims[0].text.startswith("On April 26, Chief of the General Staff")
    assert any("seventh year" in c.text for c in claims)
    assert all(seed_text[c.start : c.end] == c.text for c in claims)


def test_splitting_is_thread_safe() -> None:
    """Worker threads split documents concurrently; a shared segmenter once lost claims that way."""
    from concurrent.futures import ThreadPoolExecutor

    line = "Report {} says the harbour reopened on Monday. Officials counted {} ships in port."
    texts = [line.format(i, i) for i in range(300)]
    expected = [split_claims(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(split_claims, texts))
    assert got == expected
    assert all(len(claims) == 2 for claims in got)


@pytest.mark.parametrize(
    "line",
    [
        "  U.S. officials said 3.5 million people left the city.  Dr. Smith disagreed on Tuesday. Ok.",
        '"We held Kursk," he said. "We still do."  The ministry denied it on April 28.',
        "Prices rose 3.2% (up from 2.9%)! Was it the energy bill? Economists said so.",
        "Prices rose. Prices rose. Prices rose again.",
    ],
)
def test_sentence_search_finds_what_pysbd_spans_find(line: str) -> None:
    """Sentences are located by searching the line; pysbd's own (slower) spans are the fallback, and
    the two must agree, repeated sentences included."""
    import pysbd

    from contra.service.claims import _sentences, _sentences_by_pysbd_spans

    located = _sentences(pysbd.Segmenter(language="en", clean=False), line)
    assert located == _sentences_by_pysbd_spans(line)
    assert all(line[start : start + len(sentence)] == sentence for start, sentence in located)


def _run_on_line(words: int, seed: int = 3) -> str:
    """A line without sentence ends, as a flattened table or a run-on feed item gives: words with a comma
    or a semicolon now and then."""
    vocabulary = [
        "the",
        "council",
        "said",
        "that",
        "repairs",
        "to",
        "the",
        "old",
        "harbour",
        "bridge",
        "would",
        "cost",
        "more",
        "than",
        "planned",
    ]
    rng = random.Random(seed)
    out = []
    for _ in range(words):
        word = rng.choice(vocabulary)
        roll = rng.random()
        out.append(word + ("," if roll < 0.12 else ";" if roll < 0.15 else ""))
    return " ".join(out)


@pytest.mark.parametrize("limit", [2_000, 300])
def test_run_on_text_is_cut_at_clause_boundaries_under_the_limit(limit: int) -> None:
    text = "Dateline. " + _run_on_line(9_000)  # about 50,000 characters in one line
    claims = split_claims(text, limit)
    assert len(claims) >= len(text) // limit
    assert all(len(c.text) <= limit for c in claims)
    assert all(text[c.start : c.end] == c.text for c in claims)
    # Cut after a clause (",", ";") wherever the allowed length held one, so pieces end with punctuation.
    assert sum(c.text[-1] in ",;" for c in claims[:-1]) >= 0.9 * (len(claims) - 1)
    # Nothing is lost between the pieces but white space and the dateline fragment.
    covered = sum(len(c.text) for c in claims)
    assert covered >= len(text) - len("Dateline. ") - len(claims) - 1


def test_text_without_any_boundary_is_cut_hard() -> None:
    text = " ".join(["word"] * 10) + " " + "x" * 5_000 + " and then four more words"
    claims = split_claims(text, 1_000)
    assert all(len(c.text) <= 1_000 for c in claims)
    assert all(text[c.start : c.end] == c.text for c in claims)


def test_ordinary_sentences_are_not_cut() -> None:
    text = "The bridge reopened on Monday, officials said; traffic was light. Repairs cost 4 million dollars."
    assert [c.text for c in split_claims(text, 2_000)] == [
        "The bridge reopened on Monday, officials said; traffic was light.",
        "Repairs cost 4 million dollars.",
    ]
