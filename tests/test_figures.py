"""Figure extraction on news wording: values, units, qualifiers, dates, and the digits that are not figures."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contra.service.judge.figures import Figure, FigureKind, Qualifier, extract_figures

WED = dt.date(2025, 3, 5)


def _one(text: str, published: dt.date | None = None) -> Figure:
    figures = extract_figures(text, published)
    assert len(figures) == 1, [(f.span.of(text), f.kind) for f in figures]
    return figures[0]


@pytest.mark.parametrize(
    ("text", "surface", "kind", "low", "high", "unit", "noun", "qualifier"),
    [
        ("At least 12 people were killed.", "At least 12", FigureKind.COUNT, 12, 12, "", "dead", Qualifier.AT_LEAST),
        ("The blast killed 30.", "30", FigureKind.COUNT, 30, 30, "", "dead", Qualifier.EXACT),
        ("Four or five people were injured.", "Four or five", FigureKind.COUNT, 4, 5, "", "injured", Qualifier.EXACT),
        ("between 4 and 5 soldiers", "4 and 5", FigureKind.COUNT, 4, 5, "", "soldier", Qualifier.EXACT),
        ("A dozen soldiers surrendered.", "A dozen", FigureKind.COUNT, 12, 12, "", "soldier", Qualifier.EXACT),
        ("1.2 million people fled.", "1.2 million", FigureKind.COUNT, 1.2e6, 1.2e6, "", "person", Qualifier.EXACT),
        ("5m people fled.", "5m", FigureKind.COUNT, 5e6, 5e6, "", "person", Qualifier.EXACT),
        ("a 5m wall", "5m", FigureKind.QUANTITY, 5, 5, "m", "wall", Qualifier.EXACT),
        ("inflation rose to 3.2%", "3.2%", FigureKind.PERCENT, 3.2, 3.2, "percent", "", Qualifier.EXACT),
        (
            "inflation rose to 3.2 per cent",
            "3.2 per cent",
            FigureKind.PERCENT,
            3.2,
            3.2,
            "percent",
            "",
            Qualifier.EXACT,
        ),
        ("The firm paid $1.2 million.", "$1.2 million", FigureKind.QUANTITY, 1.2e6, 1.2e6, "usd", "", Qualifier.EXACT),
        ("a £300m deal", "£300m", FigureKind.QUANTITY, 3e8, 3e8, "gbp", "deal", Qualifier.EXACT),
        ("2.5 billion euros", "2.5 billion euros", FigureKind.QUANTITY, 2.5e9, 2.5e9, "eur", "", Qualifier.EXACT),
        ("nearly six weeks", "nearly six weeks", FigureKind.QUANTITY, 6, 6, "week", "", Qualifier.NEARLY),
        (
            "about 2,000 tonnes of grain",
            "about 2,000 tonnes",
            FigureKind.QUANTITY,
            2000,
            2000,
            "tonne",
            "",
            Qualifier.ABOUT,
        ),
        ("a 12-year-old boy", "12-year-old", FigureKind.QUANTITY, 12, 12, "years old", "boy", Qualifier.EXACT),
        (
            "a magnitude 6.4 earthquake",
            "6.4",
            FigureKind.QUANTITY,
            6.4,
            6.4,
            "magnitude",
            "earthquake",
            Qualifier.EXACT,
        ),
        ("30-odd protesters", "30-odd", FigureKind.COUNT, 30, 30, "", "protester", Qualifier.ABOUT),
        ("12 or more people", "12 or more", FigureKind.COUNT, 12, 12, "", "person", Qualifier.AT_LEAST),
        ("another 12 people died", "12", FigureKind.COUNT, 12, 12, "", "dead", Qualifier.CHANGE),
    ],
)
def test_amounts(
    text: str,
    surface: str,
    kind: FigureKind,
    low: float,
    high: float,
    unit: str,
    noun: str,
    qualifier: Qualifier,
) -> None:
    f = _one(text)
    assert (f.span.of(text), f.kind, f.unit, f.noun, f.qualifier) == (surface, kind, unit, noun, qualifier)
    assert f.low == pytest.approx(low)
    assert f.high == pytest.approx(high)


@pytest.mark.parametrize(
    ("text", "surface", "date"),
    [
        ("The vote was on Tuesday.", "Tuesday", dt.date(2025, 3, 4)),
        ("The vote was on Wednesday.", "Wednesday", dt.date(2025, 3, 5)),  # a Wednesday story: today
        ("The vote was last Wednesday.", "last Wednesday", dt.date(2025, 2, 26)),
        ("The vote will be on Friday.", "Friday", dt.date(2025, 3, 7)),
        ("The vote was yesterday.", "yesterday", dt.date(2025, 3, 4)),
        ("On April 26, he spoke.", "April 26", dt.date(2024, 4, 26)),  # after publication: last year
        ("On 4 March he spoke.", "4 March", dt.date(2025, 3, 4)),
        ("On Tuesday, March 4, 2025 he spoke.", "Tuesday, March 4, 2025", dt.date(2025, 3, 4)),
        ("Filed 2024-04-26 in court.", "2024-04-26", dt.date(2024, 4, 26)),
    ],
)
def test_dates_resolve_against_publish_date(text: str, surface: str, date: dt.date) -> None:
    f = _one(text, WED)
    assert f.kind is FigureKind.DATE
    assert f.span.of(text) == surface
    assert f.date == date


def test_dates_without_publish_date_keep_their_parts() -> None:
    f = _one("The vote was on Tuesday.")
    assert f.when is not None and f.when.weekday == 1 and f.date is None
    g = _one("On April 26, he spoke.")
    assert g.when is not None and (g.when.month, g.when.day, g.when.year) == (4, 26, None)


@pytest.mark.parametrize(
    ("text", "surface", "year", "months", "days"),
    [
        ("It is set for the second week of March.", "second week of March", None, (3, 3), (8, 14)),
        ("It is set for the last week of February 2024.", "last week of February 2024", 2024, (2, 2), (23, 29)),
        ("Talks resume in the first half of June.", "first half of June", None, (6, 6), (1, 15)),
        ("Talks resume in the last half of March.", "last half of March", None, (3, 3), (16, 31)),
        ("Output rose in the last half of the year.", "last half of the year", 2025, (7, 12), None),
        ("It opens in the first quarter of next year.", "first quarter of next year", 2026, (1, 3), None),
        ("Sales fell in the final quarter of 2024.", "final quarter of 2024", 2024, (10, 12), None),
        ("Output rose in the second half of the year.", "second half of the year", 2025, (7, 12), None),
        ("Works run between July and September next year.", "between July and September next year", 2026, (7, 9), None),
        ("Works run from May to July 2024.", "from May to July 2024", 2024, (5, 7), None),
    ],
)
def test_parts_of_months_and_years_are_date_spans(
    text: str, surface: str, year: int | None, months: tuple[int, int], days: tuple[int, int] | None
) -> None:
    published = WED if "year" in surface and year is not None and str(year) not in surface else None
    f = _one(text, published)
    assert f.kind is FigureKind.DATE and f.span.of(text) == surface
    assert f.when is not None and f.when.year == year
    assert (f.when.month, f.when.month_last or f.when.month) == months and f.when.day_span == days


def test_a_bare_quarter_or_a_day_after_a_month_is_no_date_span() -> None:
    assert _one("Profits fell in the first quarter.").kind is FigureKind.PERIOD  # fiscal or calendar: unknown
    text = "from May 3 to July"
    assert extract_figures(text)[0].span.of(text) == "May 3"


@pytest.mark.parametrize(
    ("text", "nouns"),
    [
        ("The party won 64 of the 200 seats.", ["seat", "seat"]),
        ("With 40% of ballots counted, she had 29.5% of the vote.", ["ballot", "vote"]),
        ("Debt reached 3.2% of GDP.", ["gdp"]),
    ],
)
def test_a_share_of_something_counts_that_thing(text: str, nouns: list[str]) -> None:
    assert [f.noun for f in extract_figures(text)] == nouns


def test_compound_scale_words_multiply() -> None:
    assert _one("1.5 billion billion calculations a second").low == pytest.approx(1.5e18)
    assert _one("1.5 quintillion calculations a second").low == pytest.approx(1.5e18)
    assert _one("a thousand million people").low == pytest.approx(1e9)


@pytest.mark.parametrize(
    ("text", "surface", "value", "unit"),
    [
        ("Singer Turned Down $300 Million Tour Deal", "$300 Million", 3e8, "usd"),
        ("BRIDGE REPAIRS TO COST $2 BILLION", "$2 BILLION", 2e9, "usd"),
        ("Painting sold for $4M at auction", "$4M", 4e6, "usd"),
        ("Studio Shipped 12M Copies", "12M", 12e6, ""),
        ("Five Million Tickets Sold", "Five Million", 5e6, ""),
    ],
)
def test_scale_words_in_title_case_headlines(text: str, surface: str, value: float, unit: str) -> None:
    figure = _one(text)
    assert figure.span.of(text) == surface
    assert figure.low == pytest.approx(value)
    assert figure.unit == unit


def test_one_of_two_things_named_after_a_comma_is_no_count() -> None:
    text = "The club will split into two teams, one playing at home and the other away."
    assert [f.span.of(text) for f in extract_figures(text)] == ["two"]
    assert _one("One driver was hurt and another escaped.").low == 1


@pytest.mark.parametrize(
    ("text", "noun"),
    [
        ("A three-legged goat was born on the farm.", "leg"),
        ("The 2-Horned Lamb Is Real", "horn"),
        ("A five-judge bench heard the appeal.", "judge"),
        ("The nine-member board met.", "member"),
    ],
)
def test_a_number_joined_to_a_modifier_counts_the_modifier(text: str, noun: str) -> None:
    assert _one(text).noun == noun


@pytest.mark.parametrize(
    ("text", "surface"),
    [
        ("The poet died at the age of 81.", "81"),
        ("The average age of the volunteers was 34.", "34"),
        ("The median age of all the volunteers was 34.", "34"),
        ("Marta Lind, 19, won the sprint.", "19"),
        ("A driver, 58, was taken to hospital.", "58"),
    ],
)
def test_ages_by_their_wording_are_ages_not_counts(text: str, surface: str) -> None:
    figure = _one(text)
    assert (figure.span.of(text), figure.kind, figure.unit) == (surface, FigureKind.QUANTITY, "years old")


def test_numbers_beside_capitalised_words_still_count() -> None:
    """Only a number inside a run of names is a name: counts after a name, headline capitals and dates stay."""
    for text, surface in [
        ("Rebels freed 12 Norwegian hostages.", "12"),
        ("In Dunmore 40 homes lost power.", "40"),
        ("Storm Floods 300 Homes In Coastal Towns", "300"),
        ("The talks resumed on 3 May in Geneva.", "3 May"),
    ]:
        assert [f.span.of(text) for f in extract_figures(text)] == [surface], text


def test_a_number_between_commas_after_other_words_stays_a_count() -> None:
    figure = _one("In the end, 12 were rescued.")
    assert (figure.kind, figure.low) == (FigureKind.COUNT, 12)


def test_a_capital_m_after_a_bare_number_stays_metres() -> None:
    figure = _one("A 5M Wall Went Up Overnight")
    assert (figure.low, figure.unit) == (5.0, "m")


def test_month_name_as_verb_or_modal_is_no_date() -> None:
    assert extract_figures("Officials may march on the capital.") == []
    assert [f.span.of("In May, they left.") for f in extract_figures("In May, they left.")] == ["May"]


@pytest.mark.parametrize(
    ("text", "surface", "n", "unit", "event"),
    [
        ("As the war in Ukraine enters its seventh year, talks stall.", "seventh year", 7, "year", "war"),
        ("The strike, now in its fifth week, goes on.", "fifth week", 5, "week", "strike"),
        ("on the 100th day of the war", "100th day", 100, "day", "war"),
        ("protests for a third straight week", "third straight week", 3, "week", "protest"),
        ("in the twenty-first century", "twenty-first century", 21, "century", ""),
    ],
)
def test_ordinal_periods(text: str, surface: str, n: int, unit: str, event: str) -> None:
    f = _one(text)
    assert f.kind is FigureKind.PERIOD
    assert (f.span.of(text), f.low, f.unit, f.noun) == (surface, n, unit, event)


@pytest.mark.parametrize(
    "text",
    [
        "Call 555-123-4567 for details.",
        "Call +44 20 7946 0958 for details.",
        "Call (555) 123-4567 for details.",
        "He lives at 221 Baker Street.",
        "The office at 1600 Pennsylvania Avenue.",
        "Case 2023-CV-1234 was dismissed.",
        "Flight MH17 was downed.",
        "COVID-19 spread fast.",
        "G7 leaders met.",
        "NATO's Article 5 applies.",
        "UN Resolution 2334 was adopted.",
        "Ticket No. 45 won.",
        "The second largest city.",
        "One of the victims spoke.",
        "Agent 007 returned.",
        "The airline grounded its Skyline 400 Cruiser fleet.",
        "Regulators questioned the safety of the 510 Max 2 airliner.",
    ],
)
def test_digits_that_are_not_figures(text: str) -> None:
    assert extract_figures(text) == []


@pytest.mark.parametrize(
    ("text", "kind", "surface"),
    [
        ("The bridge opened in 2019.", FigureKind.YEAR, "2019"),
        ("since mid-2019, prices rose", FigureKind.YEAR, "2019"),
        ("the 2022 invasion", FigureKind.YEAR, "2022"),
        ("2000 people marched.", FigureKind.COUNT, "2000"),
        ("2,019 people marched.", FigureKind.COUNT, "2,019"),
    ],
)
def test_years_and_year_like_counts(text: str, kind: FigureKind, surface: str) -> None:
    f = _one(text)
    assert (f.kind, f.span.of(text)) == (kind, surface)


def test_year_markers_become_qualifiers() -> None:
    assert _one("since 2019").qualifier is Qualifier.SINCE
    assert _one("by 2030").qualifier is Qualifier.UNTIL
    assert _one("in 2019").qualifier is Qualifier.EXACT


def test_old_value_of_a_change_is_dropped_and_new_value_keeps_the_noun() -> None:
    text = "The death toll rose from 1,200 to 1,350."
    f = _one(text)
    assert (f.span.of(text), f.noun, f.running) == ("1,350", "dead", True)


def test_casualty_words_split_at_and() -> None:
    figures = extract_figures("12 people were killed and 30 injured.")
    assert [(f.low, f.noun) for f in figures] == [(12, "dead"), (30, "injured")]


def test_measure_is_a_retrieval_key() -> None:
    text = "As the war enters its seventh year, 12 people were killed and inflation hit 3.2%, a $5 million loss."
    assert [f.measure for f in extract_figures(text)] == ["year:war", "dead", "percent", "usd"]


def test_vague_quantities_are_wide_and_approximate() -> None:
    f = _one("Tens of thousands of people marched.")
    assert (f.low, f.high, f.approximate) == (20_000, 100_000, True)


_PIECES = [
    *"0123456789 ,.-$£€%/:()+#abkmst",
    "April ",
    "Tuesday ",
    "seventh year ",
    "a dozen ",
    "four or five ",
    "million ",
    "km ",
    " from ",
    " to ",
    "at least ",
    "in ",
    "2019",
    "mid-",
    "No. ",
    "tomorrow ",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=30).map("".join),
    st.one_of(st.none(), st.dates()),
)
def test_any_text_gives_well_formed_figures(text: str, published: dt.date | None) -> None:
    for f in extract_figures(text, published):
        assert 0 <= f.span.start < f.span.end <= len(text)
        assert f.kind is FigureKind.DATE or f.low <= f.high


@pytest.mark.parametrize(
    ("text", "minutes", "qualifier"),
    [
        ("The ferry left the port at 7 a.m. on Tuesday.", 7 * 60, Qualifier.EXACT),
        ("The meeting starts at 3 p.m.", 15 * 60, Qualifier.EXACT),
        ("The vessel departed at 9:30 a.m., the harbour master said.", 9 * 60 + 30, Qualifier.EXACT),
        ("Polls closed at 21:30 on Sunday.", 21 * 60 + 30, Qualifier.EXACT),
        ("The blast was heard at about 11pm.", 23 * 60, Qualifier.ABOUT),
        ("Firefighters arrived shortly after 6 a.m.", 6 * 60, Qualifier.ABOUT),
        ("The road was closed until 4 p.m.", 16 * 60, Qualifier.UNTIL),
        ("Midnight is 12 a.m. on the dot.", 0, Qualifier.EXACT),
    ],
)
def test_clock_times_are_minutes_after_midnight(text: str, minutes: int, qualifier: Qualifier) -> None:
    (figure,) = [f for f in extract_figures(text) if f.kind is FigureKind.TIME]
    assert figure.low == figure.high == minutes and figure.qualifier is qualifier


def test_clock_times_in_a_named_zone_are_left_out() -> None:
    """Outlets give one moment in different zones ("14:00 GMT" / "10 a.m. EDT"): not comparable as said."""
    assert not [f for f in extract_figures("The launch is set for 14:00 GMT.") if f.kind is FigureKind.TIME]
