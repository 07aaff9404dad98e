"""Lines that only attribute or hedge are not claims; lines that assert something still are."""

from __future__ import annotations

import pytest

from contra.service.judge.attribution import not_a_claim


@pytest.mark.parametrize(
    "line",
    [
        "The reports could not be independently verified.",
        "Rebel claims of the attack could not be verified.",
        "These figures have not been independently confirmed by North Wire.",
        "Source: Varna Courier",
        "Sources: regional police, coastguard",
        "Reporting by Mara Olsen; Editing by Teodor Lind",
        "Additional reporting by Lena Ortiz in Vienna.",
        "By Mara Olsen and Ravi Patel, Staff Writers",
        "KYIV, Ukraine (North Wire) —",
        "LONDON (Reuters) -",
        "Photo: Ilse Brandt / North Wire",
        "The harbour authority did not immediately respond to a request for comment.",
        "A spokesman for the ministry declined to comment.",
        "This story has been updated with the operator's statement.",
        "var shareTitle = 'Ferry sinks'; share.init({ 'id': '12' });",
    ],
)
def test_attribution_and_hedge_lines_are_not_claims(line: str) -> None:
    assert not_a_claim(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "The ministry said 12 people died, a claim that could not be verified.",
        "Moscow said its forces had taken the village, which could not be independently verified.",
        "By noon the river had risen two metres above its usual level.",
        "Police said the ferry was overloaded when it left Kellis.",
        "The coastguard confirmed that 23 bodies had been recovered from the lake.",
        "Kellis (Varna Courier) reported that the ferry had sunk.",
        "FERRY SINKS ON LAKE VARNA, POLICE SAY",
        "Source: Ferry operator ignored two storm warnings",
        "Video: Survivors describe the last minutes on board",
        "Ferry operator blocks inspections updated",
    ],
)
def test_lines_that_assert_something_are_claims(line: str) -> None:
    assert not_a_claim(line) is None
