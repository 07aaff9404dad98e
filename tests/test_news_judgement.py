"""The judge on the phrasings real outlets use, with the shipped models and calibration (own sentences).

Outlets word one event their own way: each names its own officials, places and dates, gives tolls as
"the death toll stands at N", times as "departed at 9:30 a.m.", and denies without a fixed cue word.
These tests pin down that such pairs are judged on what they say, not vetoed by who or where they name,
and that lines which only attribute or hedge are never judged. ``make eval-news`` measures the same on
published news from real outlets; these are regressions of single cases.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contra.domain import ConflictKind
from contra.service.cli import app as cli_app
from contra.service.config import Settings
from contra.service.judge.judge import Judge, PairInput
from contra.service.wiring import build_judge

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(__file__).resolve().parent / "data"
SEED = Path(__file__).resolve().parents[2] / "shared" / "examples" / "seed.txt"
SEED_WAR_YEAR = (
    "As the war in Ukraine enters its seventh year, the events in Kursk Oblast underscore the evolving dynamics "
    "of the conflict."
)
FRI, SAT = dt.date(2025, 5, 2), dt.date(2025, 5, 3)


@pytest.fixture(scope="module")
def judge() -> Judge:
    return build_judge(Settings())


@pytest.mark.parametrize(
    "wire",
    [
        "The war, which Russia began with its full-scale invasion in February 2022, is now in its fourth year, "
        "Ukrainian officials in Kyiv said on Friday.",
        "Ukraine's army chief, visiting troops near Sumy on Thursday, said the war had entered its fourth year "
        "with no end in sight.",
        "A NATO spokesman in Brussels said on Tuesday that allies would keep sending air-defence systems as the "
        "war, now in its fourth year, drags on.",
        "Three years after Moscow's tanks rolled across the border on February 24, 2022, the fighting in the "
        "fourth year of the war has shifted to the Kursk and Donetsk regions.",
    ],
    ids=["who-began-it", "army-chief-near-sumy", "nato-in-brussels", "date-of-the-invasion"],
)
def test_the_seed_war_year_is_found_against_wire_copy_naming_other_actors_places_and_dates(
    judge: Judge, wire: str
) -> None:
    for a, b, da, db in ((SEED_WAR_YEAR, wire, FRI, SAT), (wire, SEED_WAR_YEAR, SAT, FRI)):
        verdict = judge.judge([PairInput(a, b, da, db)])[0]
        assert verdict.is_conflict and verdict.kind is ConflictKind.DATE, verdict.explanation
        assert "seventh year" in verdict.explanation and "fourth year" in verdict.explanation
        assert verdict.span_a is not None and verdict.span_a.of(a) in ("seventh year", "fourth year")


@pytest.mark.parametrize("days", [9, 30])
def test_stories_weeks_apart_are_still_judged_on_what_they_say(judge: Judge, days: int) -> None:
    """A publish gap is no evidence of two events: the seed's war year clashes with wire copy a month later,
    and a denial weeks after the claim is still a denial (the caller narrows the window with since/until)."""
    later = FRI + dt.timedelta(days=days)
    wire = "The war, which Russia began with its full-scale invasion in February 2022, is now in its fourth year."
    year = judge.judge([PairInput(SEED_WAR_YEAR, wire, FRI, later)])[0]
    assert year.is_conflict and year.kind is ConflictKind.DATE, year.explanation
    denial = judge.judge(
        [
            PairInput(
                "Foreign fighters took part in the assault on the border town, the intelligence agency said.",
                "The ministry denied that any foreign fighters were involved in the assault on the border town.",
                FRI,
                later,
            )
        ]
    )[0]
    assert denial.is_conflict and denial.kind is ConflictKind.STANCE, denial.explanation


@pytest.mark.parametrize(
    ("a", "b", "kind", "marked"),
    [
        (
            "Twenty-three people were killed when the ferry capsized on Lake Varna, police said.",
            "The death toll from the ferry disaster stands at 31, the regional governor told reporters in Kellis.",
            ConflictKind.NUMBER,
            ("Twenty-three", "31"),
        ),
        (
            "The ferry left the port of Kellis at 7 a.m. with a full load of cars.",
            "The vessel departed at 9:30 a.m., according to the harbour master, Ilse Brandt.",
            ConflictKind.DATE,
            ("7 a.m.", "9:30 a.m."),
        ),
        (
            "The boat, which had about 120 passengers on board, went down in heavy winds.",
            "Survivors said the ferry, carrying more than 200 passengers, sank within minutes.",
            ConflictKind.NUMBER,
            ("about 120", "more than 200"),
        ),
        (
            "The ferry sank on Tuesday, March 4, near the port of Kellis, the coastguard said.",
            "The ferry went down on Lake Varna on Monday, March 3, witnesses told the Varna Courier.",
            ConflictKind.DATE,
            ("Tuesday, March 4", "Monday, March 3"),
        ),
        (
            "Rescuers pulled survivors from the water for hours after the ferry, which regional officials said had "
            "been inspected only last month and was licensed to carry 150 people, capsized with 212 passengers "
            "aboard, making it the worst disaster on the lake in decades.",
            "The ferry had 96 passengers aboard when it capsized, the operator said.",
            ConflictKind.NUMBER,
            ("212", "96"),
        ),
    ],
    ids=["toll", "clock-time", "about-vs-more-than", "weekday-date-other-place", "deep-in-a-long-sentence"],
)
def test_figure_conflicts_in_the_words_outlets_use(
    judge: Judge, a: str, b: str, kind: ConflictKind, marked: tuple[str, str]
) -> None:
    for x, y, (mx, my) in ((a, b, marked), (b, a, marked[::-1])):
        verdict = judge.judge([PairInput(x, y)])[0]
        assert verdict.is_conflict and verdict.kind is kind, verdict.explanation
        assert verdict.span_a is not None and verdict.span_b is not None
        assert mx in verdict.span_a.of(x) and my in verdict.span_b.of(y)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Russia claims full control of the region.",
            "Russia's military says it has regained full control of the region.",
        ),
        (
            "Twenty-three people were killed when the ferry capsized, police said.",
            "Police in Kellis said 23 people died when the ferry overturned on Tuesday.",
        ),
        (
            "The ferry left the port at 7 a.m., the harbour master said.",
            "The vessel, with 80 people aboard, departed shortly after 7 a.m. on Tuesday.",
        ),
    ],
    ids=["claims-vs-says", "same-toll-other-words", "same-time-other-words"],
)
def test_agreements_in_other_words_are_not_conflicts(judge: Judge, a: str, b: str) -> None:
    for x, y in ((a, b), (b, a)):
        verdict = judge.judge([PairInput(x, y)])[0]
        assert not verdict.is_conflict, verdict.explanation


def test_hedge_byline_and_dateline_lines_are_never_judged(judge: Judge) -> None:
    claim = "Ukrainian officials said their forces still held three villages in Kursk Oblast."
    for line in (
        "The reports could not be independently verified.",
        "By Mara Olsen and Teodor Lind, North Wire",
        "KYIV, Ukraine (North Wire) —",
        "Source: North Wire reporting from Brussels and Warsaw.",
    ):
        verdict = judge.judge([PairInput(claim, line)], nli_for_all=True)[0]
        assert not verdict.is_conflict and "not a claim" in verdict.explanation


def test_compare_reports_the_seed_war_year_against_a_wire_story(tmp_path: Path) -> None:
    """``contra compare`` of the seed article against a wire story of our own (tests/data/batch/wire_kursk.jsonl)
    that words the war's age differently and names other people, places and dates."""
    if not SEED.exists():
        pytest.skip(f"{SEED} is not present (it lives in ../shared/)")
    out = tmp_path / "conflicts.jsonl"
    wire = DATA / "batch" / "wire_kursk.jsonl"
    result = CliRunner().invoke(cli_app, ["compare", str(SEED), str(wire), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    years = [x for x in lines if "seventh year" in x["a"]["text"] and "fourth year" in x["b"]["text"]]
    assert len(years) == 2, [(x["a"]["text"], x["b"]["text"]) for x in lines]  # both wire sentences
    assert all(x["kind"] == "date" for x in years)
    hedges = ("could not be independently verified", "By Mara Olsen", "Source: North Wire")
    assert not [x for x in lines if any(h in x["b"]["text"] for h in hedges)]
