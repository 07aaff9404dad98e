"""The same-event test: names, publish dates and wording decide whether two claims can conflict at all."""

from __future__ import annotations

import datetime as dt

import pytest

from contra.service.judge.same_event import entities, roles_swapped, same_event


def test_names_keep_multi_word_spans_and_skip_sentence_openers() -> None:
    found = entities("Twelve banks failed the test set by the Banking Authority of Vellmark, officials said.")
    assert {"banki", "autho", "vellm"} <= found
    assert "twelv" not in found


def test_possessive_at_sentence_start_is_a_name() -> None:
    assert "ostra" in entities("Ostrava's central bank raised its key rate on Thursday.")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "A fire at a hospital in Kellby forced staff to move 80 patients on Saturday.",
            "A fire at a hospital in Rostvik forced staff to move 80 patients on Saturday.",
        ),
        (
            "Voters in Amberlea chose a new mayor on Sunday, giving Ola Strand 55% of the vote.",
            "Voters in Birchmoor chose a new mayor on Sunday, with Kari Lunde taking 61% of the vote.",
        ),
    ],
    ids=["same-words-two-towns", "two-elections"],
)
def test_same_words_about_different_events_name_nothing_in_common_both_ways(a: str, b: str) -> None:
    assert same_event(a, b).entity_mismatch
    assert same_event(b, a).entity_mismatch


def test_shared_name_is_the_same_event_both_ways() -> None:
    a = "The Kellby hospital fire forced staff to move 80 patients on Saturday."
    b = "Staff at Kellby hospital moved 120 patients after Saturday's fire."
    assert not same_event(a, b).entity_mismatch
    assert not same_event(b, a).entity_mismatch
    assert same_event(a, b).entity_overlap == 1.0


def test_publish_gap_is_the_days_between_the_two_stories_either_way() -> None:
    a = "A roadside bomb killed three soldiers on the coast road on Tuesday, the army said."
    b = "A roadside bomb killed three soldiers near the northern highway on Tuesday, officials said."
    early, late = dt.date(2025, 9, 16), dt.date(2026, 1, 20)
    assert same_event(a, b, early, late).publish_gap == 126
    assert same_event(b, a, late, early).publish_gap == 126
    assert same_event(a, b).publish_gap is None


def test_cosine_is_carried_when_given() -> None:
    assert same_event("x", "y", cosine=0.7).cosine == 0.7
    assert same_event("x", "y").cosine is None


def test_roles_swapped_both_ways_but_not_for_the_same_order() -> None:
    a = "Dunholm beat Arrow Vale in the final."
    b = "Arrow Vale held off Dunholm in the final."
    assert roles_swapped(a, b) and roles_swapped(b, a)
    assert not roles_swapped(a, "Dunholm lost to Arrow Vale in the final.")


def test_a_nationality_is_no_mismatch_with_a_place() -> None:
    a = "The ceasefire in the Orvel valley took effect at noon on Monday, mediators said."
    b = "A ceasefire between Kastovian forces and the rebels took effect at noon on March 10."
    assert not same_event(a, b).entity_mismatch and not same_event(b, a).entity_mismatch
    assert same_event(a, "A ceasefire in the Tarn valley took effect at noon on Monday.").entity_mismatch
