"""The HTML report: escaping, grouping and the chart as markup, and the filters in a real headless Chromium."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from contra.domain import ConflictKind, Span
from contra.service.batch.job import ClaimRef, ConflictRecord
from contra.service.batch.report import group_conflicts, render_report, write_report

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install -y chromium)"
)

SEVENTH = "As the war in Ukraine enters its seventh year, the events in Kursk Oblast matter."
FOURTH = "The war in Ukraine is now in its fourth year."
HOSTILE = 'Officials said <script>alert("x")</script> & "quotes" were <b>fine</b> on April 30.'


def ref(source: str, text: str, span: tuple[int, int] | None, *, url: str = "", document: str = "") -> ClaimRef:
    return ClaimRef(
        source=source,
        document=document or f"{source}-doc",
        text=text,
        span=None if span is None else Span(*span),
        position=Span(0, len(text)),
        url=url,
        date=dt.date(2025, 5, 2),
        outlet=source.title(),
    )


def _span(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


def records() -> list[ConflictRecord]:
    """The seventh-year claim disputed by two outlets (one group of two), and a hostile claim (one group)."""
    seventh = ref("seed-news", SEVENTH, _span(SEVENTH, "seventh year"), url="https://seed.example/kursk")
    return [
        ConflictRecord(
            seventh,
            ref("rival-wire", FOURTH, _span(FOURTH, "fourth year")),
            ConflictKind.DATE,
            0.96,
            0.81,
            "'seventh' vs 'fourth'",
        ),
        ConflictRecord(
            seventh,
            ref(
                "harbor-times",
                FOURTH.replace("now ", ""),
                _span(FOURTH.replace("now ", ""), "fourth year"),
                url="javascript:alert(1)",
            ),
            ConflictKind.NUMBER,
            0.9,
            0.8,
            "'seventh' vs 'fourth'",
        ),
        ConflictRecord(
            ref("rival-wire", HOSTILE, (HOSTILE.index("April"), len(HOSTILE) - 1), document="rival-2"),
            ref("seed-news", "Kadyrov reported on April 28 that the attack failed.", (20, 28)),
            ConflictKind.STANCE,
            0.61,
            0.55,
            "'<i>April 30</i>' vs 'April 28'",
        ),
    ]


class Rows(HTMLParser):
    """The conflict rows of a report (or of Chromium's DOM dump) with their attributes and visibility."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.groups: list[dict[str, str | None]] = []
        self.marks: list[str] = []
        self.hrefs: list[str] = []
        self.shown = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "article":
            self.rows.append(values)
        elif tag == "section" and values.get("class") == "group":
            self.groups.append(values)
        elif tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))
        elif tag == "mark" or (tag == "span" and values.get("id") == "shown"):
            self._in = tag
            if tag == "mark":
                self.marks.append("")

    def handle_data(self, data: str) -> None:
        if self._in == "mark":
            self.marks[-1] += data
        elif self._in == "span":
            self.shown += data

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def visible(self) -> list[dict[str, str | None]]:
        return [row for row in self.rows if "hidden" not in row]


def parse(html: str) -> Rows:
    parser = Rows()
    parser.feed(html)
    return parser


def test_conflicts_are_grouped_by_the_claim_they_dispute() -> None:
    groups = group_conflicts(records())
    assert [g.text for g in groups] == [SEVENTH, HOSTILE]
    assert [len(g.rows) for g in groups] == [2, 1]
    assert {row.other.source for row in groups[0].rows} == {"rival-wire", "harbor-times"}
    assert all(row.disputed.marked == "seventh year" for row in groups[0].rows)


def test_report_escapes_corpus_text_and_links_only_http() -> None:
    html = render_report(records())
    assert "<script>alert" not in html and "<b>fine</b>" not in html and "<i>April 30</i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    rows = parse(html)
    assert rows.hrefs == ["https://seed.example/kursk"] * 2  # javascript: URLs never become links
    assert rows.marks.count("seventh year") == 2 and "fourth year" in rows.marks
    assert "April 30" in rows.marks


def test_report_is_self_contained() -> None:
    html = render_report(records())
    assert html.count("<script>") == 1  # only the filter script; the corpus's <script> is escaped
    for pattern in (r"<link\b", r"\bsrc\s*=", r"@import", r"url\(", r"<iframe", r"<img"):
        assert not re.search(pattern, html), pattern
    assert "<style>" in html and "<svg" in html


def test_chart_has_one_bar_per_source_pair() -> None:
    html = render_report(records())
    bars = re.findall(r"<title>(.*?): (\d+)</title>", html)
    assert sorted(bars) == [("harbor-times ↔ seed-news", "1"), ("rival-wire ↔ seed-news", "2")]


def dump_dom(url: str) -> str:
    """The DOM after the page's scripts ran, from a real headless Chromium."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout


@needs_chromium
def test_report_in_chromium_shows_every_row_and_filters_by_kind_and_source(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_report(path, records())
    everything = parse(dump_dom(path.as_uri()))
    assert len(everything.visible()) == 3 and everything.shown == "3 of 3 conflicts"

    dates = parse(dump_dom(path.as_uri() + "#kind=date"))
    assert [row["data-kind"] for row in dates.visible()] == ["date"]
    assert dates.shown == "1 of 3 conflicts"
    assert [g for g in dates.groups if "hidden" not in g] == dates.groups[:1]  # the hostile claim's group hides

    harbor = parse(dump_dom(path.as_uri() + "#source=harbor-times"))
    assert [row["data-source-b"] for row in harbor.visible()] == ["harbor-times"]

    unknown = parse(dump_dom(path.as_uri() + "#kind=quantity"))  # no such option: the filter falls back to all
    assert len(unknown.visible()) == 3

    nothing = dump_dom(path.as_uri() + "#kind=stance&source=harbor-times")
    assert not parse(nothing).visible() and '<p id="empty">' in nothing
