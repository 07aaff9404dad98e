"""Stance cues: denial on one side only, opposite verbs; hedges and agreement give no cue."""

from __future__ import annotations

import pytest

from contra.service.judge.polarity import polarity


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "The ministry confirmed on Monday that it had opened talks with the union.",
            "The ministry denied on Monday that it had opened talks with the union.",
        ),
        (
            "The trial showed the drug cut the risk of a stroke.",
            "The trial showed the drug failed to cut the risk of a stroke.",
        ),
    ],
    ids=["confirm-deny", "failed-to"],
)
def test_denial_on_one_side_is_a_cue_both_ways(a: str, b: str) -> None:
    assert polarity(a, b).any and polarity(b, a).any


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Retail sales rose in May, the statistics office said.",
            "Retail sales fell in May, the statistics office said.",
        ),
        ("The regulator approved the merger on Friday.", "The regulator blocked the merger on Friday."),
        ("The mission said it would withdraw its troops.", "The mission said its troops would remain."),
    ],
    ids=["rose-fell", "approved-blocked", "withdraw-remain"],
)
def test_opposite_verbs_are_a_cue_both_ways(a: str, b: str) -> None:
    assert polarity(a, b).opposites == 1
    assert polarity(b, a).opposites == 1


@pytest.mark.parametrize(
    "debunking",
    [
        "The photo of the flooded stadium was staged, the club said.",
        "Reports of a record harvest were exaggerated, farmers say.",
        "The viral clip of the talking parrot was a prank.",
        "The picture of the snowy pyramid was photoshopped, an agency said.",
        "Officials called the flood warning disinformation.",
    ],
)
def test_calling_a_report_staged_exaggerated_or_a_prank_debunks_it(debunking: str) -> None:
    cues = polarity("A viral report made the rounds this week.", debunking)
    assert cues.debunk_flip and cues.denial_flip


def test_hedges_and_reported_speech_are_not_negation() -> None:
    a = "The union said the strike would end on Friday."
    b = "The strike may reportedly end on Friday, according to union sources."
    cues = polarity(a, b)
    assert not cues.negation_flip and cues.opposites == 0


def test_both_sides_denying_is_agreement() -> None:
    a = "The club denied it had agreed a fee for the striker."
    b = "No fee has been agreed for the striker, the club insisted, denying the reports."
    assert not polarity(a, b).negation_flip


def test_opposites_present_on_both_sides_do_not_count() -> None:
    a = "Exports rose in March after they fell in February."
    b = "Exports fell in February and rose in March."
    assert polarity(a, b).opposites == 0


def test_bounds_are_not_negations() -> None:
    a = "Adults should drink at least 1.5 litres of water a day."
    b = "Adults should drink no less than 1,500 millilitres of water a day."
    assert not polarity(a, b).negation_flip and not polarity(b, a).negation_flip


def test_swapped_names_alone_are_not_a_cue() -> None:
    cues = polarity("Dunholm beat Arrow Vale in the final.", "Arrow Vale were beaten by Dunholm in the final.")
    assert cues.roles_swapped and not cues.any


@pytest.mark.parametrize(
    "negated",
    [
        "The lighthouse keeper wasn't rescued on Sunday.",
        "The lighthouse keeper hasn’t been rescued yet.",
        "Coast guards say they can't reach the lighthouse keeper.",
    ],
)
def test_contracted_negations_are_read(negated: str) -> None:
    cues = polarity("The lighthouse keeper was rescued on Sunday.", negated)
    assert cues.negation_flip and cues.denial_flip


def test_two_contracted_denials_agree() -> None:
    a = "The orchestra didn't cancel the tour."
    b = "The tour wasn't cancelled, the orchestra said."
    assert not polarity(a, b).denial_flip


@pytest.mark.parametrize("affirming", ["The frozen waterfall photo is no hoax.", "The waterfall photo isn't fake."])
def test_a_negated_debunking_word_affirms(affirming: str) -> None:
    """ "is no hoax" says the report is true: it neither denies nor debunks, so it agrees with the report."""
    cues = polarity("A photo shows the waterfall frozen solid.", affirming)
    assert not cues.debunk_flip and not cues.denial_flip and not cues.negation_flip
    against = polarity("The photo of the frozen waterfall is a hoax.", affirming)
    assert against.debunk_flip and against.denial_flip


def test_dispute_as_a_quarrel_is_no_debunking() -> None:
    cues = polarity("The ferry crews walked out on Monday.", "The ferry crews walked out on Monday in a pay dispute.")
    assert not cues.debunk_flip and not cues.denial_flip
