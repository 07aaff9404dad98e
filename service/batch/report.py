"""The HTML report of a compare job: one self-contained file a person can scan in a browser.

Conflicts are grouped by the claim they dispute (the claim that takes part in more of them), each shown
with the two claims side by side and the conflicting words marked, who published each (source, date,
link), the kind and the score. Filters by kind and by source are plain JavaScript and live in the URL
fragment (``report.html#kind=date&source=rival-wire``), so a filtered view can be bookmarked or linked.
A small inline SVG chart counts conflicts per source pair.

Everything (CSS, script, chart) is inline and nothing is fetched, so the file works offline and can be
mailed around. All text from the corpus goes through Jinja2's autoescaping, and only http(s) links
become ``href``s: a corpus is untrusted input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment

from contra.index.store import normalise_text
from contra.service.batch.job import ClaimRef, CompareSummary, ConflictRecord, write_atomic

#: Bars in the source-pair chart; the remaining pairs are summed into one "other pairs" bar.
CHART_BARS = 10


@dataclass(frozen=True, slots=True)
class ClaimView:
    """A claim cut into the parts before, inside and after its conflicting span."""

    before: str
    marked: str
    after: str
    source: str
    outlet: str
    date: str
    url: str
    document: str


@dataclass(frozen=True, slots=True)
class RowView:
    disputed: ClaimView
    other: ClaimView
    kind: str
    score: str
    similarity: str
    explanation: str
    source_a: str
    source_b: str


@dataclass(frozen=True, slots=True)
class GroupView:
    text: str
    sources: list[str]
    rows: list[RowView]
    top_score: str


@dataclass(frozen=True, slots=True)
class BarView:
    label: str
    count: int
    y: int
    width: int


def claim_view(ref: ClaimRef) -> ClaimView:
    text = ref.text
    if ref.span is not None and ref.span.end <= len(text) and ref.span.end > ref.span.start:
        before, marked, after = text[: ref.span.start], text[ref.span.start : ref.span.end], text[ref.span.end :]
    else:
        before, marked, after = text, "", ""
    return ClaimView(
        before=before,
        marked=marked,
        after=after,
        source=ref.source,
        outlet=ref.outlet,
        date=ref.date.isoformat() if ref.date else "undated",
        url=ref.url if ref.url.lower().startswith(("https://", "http://")) else "",
        document=ref.document,
    )


def group_conflicts(records: Sequence[ConflictRecord]) -> list[GroupView]:
    """Each conflict goes to the group of whichever of its claims is disputed more often (claim A on a
    tie). Groups are ordered by their strongest conflict, then by size. A claim is its normalised text,
    whoever carried it."""
    degree: Counter[str] = Counter()
    for r in records:
        degree[normalise_text(r.a.text)] += 1
        degree[normalise_text(r.b.text)] += 1
    groups: dict[str, list[tuple[ClaimRef, ClaimRef, ConflictRecord]]] = {}
    for r in records:
        key_a, key_b = normalise_text(r.a.text), normalise_text(r.b.text)
        if degree[key_b] > degree[key_a]:
            groups.setdefault(key_b, []).append((r.b, r.a, r))
        else:
            groups.setdefault(key_a, []).append((r.a, r.b, r))
    ordered = sorted(groups.items(), key=lambda item: (-max(r.score for _, _, r in item[1]), -len(item[1]), item[0]))
    views = []
    for _, members in ordered:
        members.sort(key=lambda m: m[2].sort_key())
        rows = [
            RowView(
                disputed=claim_view(disputed),
                other=claim_view(other),
                kind=r.kind.value,
                score=f"{r.score:.2f}",
                similarity=f"{r.similarity:.2f}",
                explanation=r.explanation,
                source_a=disputed.source,
                source_b=other.source,
            )
            for disputed, other, r in members
        ]
        views.append(
            GroupView(
                text=members[0][0].text,
                sources=sorted({d.source for d, _, _ in members}),
                rows=rows,
                top_score=rows[0].score,
            )
        )
    return views


def source_pair_bars(records: Sequence[ConflictRecord], width: int = 300) -> list[BarView]:
    counts: Counter[tuple[str, str]] = Counter()
    for r in records:
        pair = sorted((r.a.source, r.b.source))
        counts[(pair[0], pair[1])] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    bars = [(f"{a} ↔ {b}", n) for (a, b), n in ranked[:CHART_BARS]]
    rest = sum(n for _, n in ranked[CHART_BARS:])
    if rest:
        bars.append((f"{len(ranked) - CHART_BARS} other pairs", rest))
    top = max((n for _, n in bars), default=1)
    return [
        BarView(label=label, count=n, y=i * 24, width=max(2, round(width * n / top)))
        for i, (label, n) in enumerate(bars)
    ]


def render_report(
    records: Sequence[ConflictRecord], summary: CompareSummary | None = None, inputs: Sequence[str] = ()
) -> str:
    """The report as one HTML string."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(_TEMPLATE)
    kinds = Counter(r.kind.value for r in records)
    sources = sorted({r.a.source for r in records} | {r.b.source for r in records})
    bars = source_pair_bars(records)
    return template.render(
        records=records,
        groups=group_conflicts(records),
        kinds=sorted(kinds.items()),
        sources=sources,
        bars=bars,
        chart_height=max(24, 24 * len(bars)),
        summary=summary,
        inputs=list(inputs),
    )


def write_report(
    path: Path, records: Sequence[ConflictRecord], summary: CompareSummary | None = None, inputs: Sequence[str] = ()
) -> None:
    write_atomic(path, render_report(records, summary, inputs))


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>contra: {{ records|length }} conflicts</title>
<style>
:root { --fg: #1d2330; --muted: #5d6678; --line: #dde2ea; --bg: #f6f7f9; --card: #fff; --mark: #ffe08a;
  --stance: #7b4fd6; --number: #d2561c; --date: #1f7fb8; --quantity: #2e8b57; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
header, nav, main, .overview { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 22px; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: var(--muted); margin: 0 0 14px; }
.overview { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; margin-bottom: 14px; }
.stats { display: grid; grid-template-columns: auto auto; gap: 2px 14px; margin: 0; }
.stats dt { color: var(--muted); } .stats dd { margin: 0; font-weight: 600; text-align: right; }
.chart h2, .kinds h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  margin: 0 0 6px; }
.chart svg text { font-size: 12px; fill: var(--fg); }
.chart rect { fill: #8aa4c8; }
nav { position: sticky; top: 0; background: var(--bg); padding-top: 8px; padding-bottom: 8px;
  border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: center; z-index: 1; }
nav label { color: var(--muted); font-size: 13px; }
nav select { font: inherit; padding: 3px 6px; margin-left: 4px; }
#shown { margin-left: auto; color: var(--muted); font-size: 13px; }
main { padding-top: 12px; padding-bottom: 40px; }
.group { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin: 0 0 16px;
  padding: 12px 14px; }
.group > h2 { font-size: 15px; margin: 0 0 8px; font-weight: 600; }
.group > h2 .count { color: var(--muted); font-weight: 400; }
.conflict { border-top: 1px solid var(--line); padding: 10px 0 6px; }
.verdict { display: flex; gap: 10px; align-items: baseline; font-size: 13px; margin-bottom: 6px; }
.kind { color: #fff; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; }
.kind-stance { background: var(--stance); } .kind-number { background: var(--number); }
.kind-date { background: var(--date); } .kind-quantity { background: var(--quantity); }
.score { font-weight: 700; } .explanation { color: var(--muted); }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.claim { background: var(--bg); border-radius: 6px; padding: 8px 10px; }
.claim p { margin: 0; }
.claim .where { margin-top: 6px; font-size: 12px; color: var(--muted); }
.claim .src { font-weight: 600; color: var(--fg); }
mark { background: var(--mark); border-radius: 2px; padding: 0 1px; }
#empty { text-align: center; color: var(--muted); }
</style>
</head>
<body>
<header>
<h1>contra: conflicting claims across sources</h1>
<p class="meta">{{ records|length }} conflicts{% if summary %} among {{ summary.candidate_pairs }} candidate pairs
 from {{ summary.documents }} documents of {{ summary.sources }} sources{% endif %}
{% if inputs %} &middot; {{ inputs|join(" vs ") }}{% endif %}</p>
</header>
<section class="overview">
{% if summary %}
<dl class="stats">
<dt>documents</dt><dd>{{ summary.documents }}</dd>
<dt>sources</dt><dd>{{ summary.sources }}</dd>
<dt>claims</dt><dd>{{ summary.claims }}</dd>
<dt>candidate pairs</dt><dd>{{ summary.candidate_pairs }}</dd>
<dt>conflicts</dt><dd>{{ summary.conflicts }}</dd>
</dl>
{% endif %}
<div class="kinds">
<h2>by kind</h2>
{% for kind, n in kinds %}<div><span class="kind kind-{{ kind }}">{{ kind }}</span> {{ n }}</div>{% endfor %}
</div>
<figure class="chart" style="margin:0">
<h2>conflicts by source pair</h2>
<svg width="600" height="{{ chart_height }}" role="img"
 aria-label="conflicts by source pair">
{% for bar in bars %}
<g class="bar" transform="translate(0,{{ bar.y }})">
<title>{{ bar.label }}: {{ bar.count }}</title>
<text x="250" y="15" text-anchor="end">{{ bar.label }}</text>
<rect x="258" y="3" height="16" width="{{ bar.width }}" rx="2"></rect>
<text x="{{ 264 + bar.width }}" y="15">{{ bar.count }}</text>
</g>
{% endfor %}
</svg>
</figure>
</section>
<nav>
<label>Kind<select id="kind-filter">
<option value="">all kinds</option>
{% for kind, n in kinds %}<option value="{{ kind }}">{{ kind }} ({{ n }})</option>{% endfor %}
</select></label>
<label>Source<select id="source-filter">
<option value="">all sources</option>
{% for source in sources %}<option value="{{ source }}">{{ source }}</option>{% endfor %}
</select></label>
<span id="shown">{{ records|length }} of {{ records|length }} conflicts</span>
</nav>
<main id="groups">
{% for group in groups %}
<section class="group">
<h2>&ldquo;{{ group.text }}&rdquo; <span class="count">&middot; {{ group.rows|length }}
 conflict{{ "s" if group.rows|length != 1 }} &middot; {{ group.sources|join(", ") }}</span></h2>
{% for row in group.rows %}
<article class="conflict" data-kind="{{ row.kind }}"
 data-source-a="{{ row.source_a }}" data-source-b="{{ row.source_b }}">
<div class="verdict"><span class="kind kind-{{ row.kind }}">{{ row.kind }}</span>
<span class="score" title="similarity {{ row.similarity }}">{{ row.score }}</span>
<span class="explanation">{{ row.explanation }}</span></div>
<div class="pair">
{% for claim in (row.disputed, row.other) %}
<div class="claim">
<p class="text">{{ claim.before }}{% if claim.marked %}<mark>{{ claim.marked }}</mark>{% endif %}{{ claim.after }}</p>
<p class="where"><span class="src">{{ claim.source }}</span>{% if claim.outlet %} ({{ claim.outlet }}){% endif %}
 &middot; {{ claim.date }}{% if claim.url %}
 &middot; <a href="{{ claim.url }}" rel="noopener noreferrer">link</a>{% endif %}
 &middot; <span class="doc">{{ claim.document }}</span></p>
</div>
{% endfor %}
</div>
</article>
{% endfor %}
</section>
{% endfor %}
</main>
<p id="empty"{% if records %} hidden{% endif %}>No conflicts match.</p>
<script>
(function () {
  "use strict";
  var kind = document.getElementById("kind-filter");
  var source = document.getElementById("source-filter");
  var total = document.querySelectorAll("article.conflict").length;
  function choose(select, value) {
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    select.value = known ? value : "";
  }
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    choose(kind, params.get("kind") || "");
    choose(source, params.get("source") || "");
  }
  function apply() {
    var shown = 0;
    document.querySelectorAll("article.conflict").forEach(function (row) {
      var ok = (!kind.value || row.dataset.kind === kind.value) &&
        (!source.value || row.dataset.sourceA === source.value || row.dataset.sourceB === source.value);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.querySelectorAll("section.group").forEach(function (group) {
      group.hidden = !group.querySelector("article.conflict:not([hidden])");
    });
    document.getElementById("shown").textContent = shown + " of " + total + " conflicts";
    document.getElementById("empty").hidden = shown > 0;
    document.body.setAttribute("data-shown", String(shown));
  }
  function onChange() {
    var params = new URLSearchParams();
    if (kind.value) { params.set("kind", kind.value); }
    if (source.value) { params.set("source", source.value); }
    location.hash = params.toString();
  }
  kind.addEventListener("change", onChange);
  source.addEventListener("change", onChange);
  window.addEventListener("hashchange", function () { readHash(); apply(); });
  readHash();
  apply();
})();
</script>
</body>
</html>
"""
