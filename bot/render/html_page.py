"""An HTML page that shows cards the way Discord shows their embeds, plus a recap and a timeline.

Dark theme, the colour bar on the left, author, linked title, description, fields, footer with
the timestamp, and the buttons under the card. A card's picture is a link in the thumbnail's
place, never an `<img>`: the page loads nothing from the hosts feeds name. Every text is
HTML-escaped (control characters and direction overrides removed) and every link is an http(s)
URL checked by `web_url` (others are dropped), because feed text is untrusted. The page's
Content-Security-Policy allows no script but its own self-test (by hash), which runs only when the
page is opened with `?selftest`: it counts the cards and checks that nothing overflows its box,
and writes the result into `#selftest` for a headless browser to read.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.render.card_layout import TLDR_HEADING, CardLayout, Field, Line, Span, TimelinePoint, web_url
from bot.render.console import printable, utc_text

SELFTEST_SCRIPT = """
window.addEventListener("load", function () {
  if (!/[?&]selftest\\b/.test(location.search)) { return; }
  var problems = [];
  var root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push("page: " + root.scrollWidth + "px wide in a " + root.clientWidth + "px window");
  }
  document.querySelectorAll(".embed, .buttons, .where, .panel").forEach(function (box) {
    var outer = box.getBoundingClientRect();
    var name = box.className + " of " + (box.closest("[data-story]") || box).getAttribute("data-story");
    if (box.scrollWidth > box.clientWidth + 1) { problems.push(name + ": content wider than the box"); }
    box.querySelectorAll("*").forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width && (r.right > outer.right + 1 || r.left < outer.left - 1)) {
        problems.push(name + ": <" + el.tagName.toLowerCase() + " class=" + el.className + "> sticks out");
      }
    });
  });
  var result = {cards: document.querySelectorAll("article.card").length, problems: problems.slice(0, 20),
                width: root.clientWidth};
  document.getElementById("selftest").textContent = JSON.stringify(result);
});
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SELFTEST_SCRIPT.encode()).digest()).decode()
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'"
)

STYLE = """
:root { color-scheme: dark; }
* { box-sizing: border-box; }
body { margin: 0; background: #313338; color: #dbdee1; line-height: 1.375;
  font: 16px/1.375 "gg sans", "Noto Sans", "Helvetica Neue", Helvetica, Arial, sans-serif; }
main { max-width: 940px; margin: 0 auto; padding: 24px 16px 48px; }
h1 { color: #f2f3f5; font-size: 24px; margin: 0 0 8px; }
h2 { color: #f2f3f5; font-size: 18px; margin: 32px 0 12px; border-bottom: 1px solid #3f4147; padding-bottom: 6px; }
p.intro { color: #b5bac1; font-size: 14px; margin: 4px 0; max-width: 75ch; }
a { color: #00a8fc; text-decoration: none; }
a:hover { text-decoration: underline; }
.card { display: flex; gap: 16px; padding: 8px 0 12px; }
.avatar { flex: 0 0 40px; height: 40px; border-radius: 50%; background: #5865f2; color: #fff;
  display: flex; align-items: center; justify-content: center; font-weight: 700; }
.message { min-width: 0; flex: 1 1 auto; }
.message header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 8px; }
.bot-name { color: #f2f3f5; font-weight: 600; }
.bot-tag { background: #5865f2; color: #fff; font-size: 10px; font-weight: 600; border-radius: 3px; padding: 1px 4px; }
.message time, .edited { color: #949ba4; font-size: 12px; }
.where { color: #949ba4; font-size: 12px; margin: 2px 0 4px; overflow-wrap: anywhere; }
.where span { background: #3f4147; color: #c9cdfb; border-radius: 3px; padding: 0 4px; margin-right: 4px;
  display: inline-block; max-width: 100%; }
.embed, .panel { max-width: 520px; background: #2b2d31; border-left: 4px solid var(--bar, #5865f2);
  border-radius: 4px; padding: 8px 16px 16px 12px; margin-top: 4px; overflow-wrap: anywhere; }
.panel { max-width: 640px; }
.embed-thumbnail { float: right; margin: 8px 0 4px 12px; padding: 20px 8px; width: 80px; text-align: center;
  background: #1e1f22; border-radius: 3px; font-size: 12px; }
.embed-author { color: #f2f3f5; font-size: 14px; font-weight: 600; margin-top: 8px; }
.embed-title { display: block; color: #00a8fc; font-weight: 600; font-size: 16px; margin-top: 8px; }
span.embed-title { color: #f2f3f5; }
.embed-description { font-size: 14px; margin-top: 8px; }
.embed-description p { margin: 0 0 8px; }
.embed-field { margin-top: 8px; font-size: 14px; }
.embed-field-name { color: #f2f3f5; font-weight: 600; margin-bottom: 2px; }
.embed-field-value div { margin: 0; }
.embed-footer { color: #b5bac1; font-size: 12px; margin-top: 8px; }
.buttons { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; max-width: 520px; }
.button { display: inline-flex; align-items: center; gap: 6px; min-height: 32px; padding: 2px 16px;
  background: #4e5058; color: #fff; border-radius: 3px; font-size: 14px; font-weight: 500;
  max-width: 100%; overflow-wrap: anywhere; }
a.button:hover { background: #6d6f78; text-decoration: none; }
.panel ol, .panel ul { margin: 8px 0 0; padding-left: 22px; font-size: 14px; }
.panel li { margin-bottom: 8px; }
.meta { color: #949ba4; font-size: 12px; }
#selftest { display: none; }
"""


def esc(text: str) -> str:
    """Text for HTML content or a quoted attribute: escaped, without control characters or direction
    overrides (which could make a title read differently from what it is)."""
    return html.escape(printable(text), quote=True)


def link(text: str, url: str | None, cls: str = "") -> str:
    """`<a>` to an http(s) URL, or the plain (escaped) text when the URL is missing or unsafe."""
    safe = web_url(url or "")
    klass = f' class="{cls}"' if cls else ""
    if safe is None:
        return f"<span{klass}>{esc(text)}</span>"
    return f'<a{klass} href="{esc(safe)}" rel="noopener noreferrer nofollow" target="_blank">{esc(text)}</a>'


def date_html(when: float, text: str) -> str:
    """`<time>` with the machine-readable UTC instant."""
    return f'<time datetime="{esc(_iso(when))}">{esc(text)}</time>'


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat().replace("+00:00", "Z")


def _day(when: float) -> str:
    return _iso(when)[:10]


def _span(span: Span) -> str:
    if span.date is not None:
        return date_html(span.date, _day(span.date))
    return link(span.text, span.url) if span.url else esc(span.text)


def _line(line: Line) -> str:
    return "".join(_span(s) for s in line)


def _field(field: Field) -> str:
    value = "".join(f"<div>{_line(line)}</div>" for line in field.lines)
    return (f'<div class="embed-field"><div class="embed-field-name">{esc(field.name)}</div>'
            f'<div class="embed-field-value">{value}</div></div>')  # fmt: skip


def _color(rgb: int) -> str:
    return f"#{rgb & 0xFFFFFF:06x}"


def embed_html(layout: CardLayout) -> str:
    """The embed of a card, as Discord draws it."""
    footer = esc(layout.footer)
    if layout.timestamp is not None:
        stamp = date_html(layout.timestamp, utc_text(layout.timestamp))
        footer = f"{footer} • {stamp}" if footer else stamp
    hook = f"<p>{esc(layout.description)}</p>" if layout.description else ""
    parts = [
        link("🖼 picture", layout.thumbnail, "embed-thumbnail") if layout.thumbnail else "",
        f'<div class="embed-author">{esc(layout.author)}</div>' if layout.author else "",
        link(layout.title, layout.url, "embed-title"),
        f'<div class="embed-description">{hook}<p><strong>{esc(TLDR_HEADING)}</strong></p></div>',
        "".join(_field(f) for f in layout.fields),
        f'<div class="embed-footer">{footer}</div>',
    ]
    return f'<div class="embed" style="--bar:{_color(layout.color)}">{"".join(parts)}</div>'


def buttons_html(layout: CardLayout) -> str:
    """The buttons under a card: link buttons open the page; the others are drawn only."""
    out = []
    for button in layout.buttons:
        label = f"{button.emoji} {button.label}"
        if button.url:
            out.append(link(f"{label} ↗", button.url, "button"))
        else:
            out.append(f'<span class="button" role="button" title="answers in Discord">{esc(label)}</span>')
    return f'<div class="buttons">{"".join(out)}</div>'


@dataclass(frozen=True, slots=True)
class CardEntry:
    """A card as posted: its layout, where it went, when, and whether it was edited since."""

    layout: CardLayout
    story_id: int
    places: tuple[str, ...]
    posted_at: float
    edited: bool = False


@dataclass(frozen=True, slots=True)
class RecapEntry:
    """A line of the recap: the story's headline and link, its number of sources, topics and TL;DR."""

    title: str
    url: str | None
    sources: int
    topics: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class Page:
    """What the page shows: an introduction, the recap, an entity's timeline and the cards."""

    title: str
    intro: tuple[str, ...]
    cards: tuple[CardEntry, ...]
    recap_title: str = ""
    recap: tuple[RecapEntry, ...] = ()
    timeline_entity: str = ""
    timeline: tuple[TimelinePoint, ...] = ()  # oldest first
    timeline_sources: tuple[int, ...] = ()  # sources per timeline point, when known (0: unknown)


def card_html(entry: CardEntry) -> str:
    """One bot message: the header, where it was posted, the embed and its buttons."""
    edited = ' <span class="edited">(edited)</span>' if entry.edited else ""
    places = "".join(f"<span>{esc(p)}</span>" for p in entry.places) or "<span>no route: not posted</span>"
    return (
        f'<article class="card" data-story="{entry.story_id}"><div class="avatar" aria-hidden="true">W</div>'
        f'<div class="message"><header><span class="bot-name">Wirebrief</span><span class="bot-tag">APP</span>'
        f"{date_html(entry.posted_at, utc_text(entry.posted_at))}{edited}</header>"
        f'<div class="where">posted to {places}</div>{embed_html(entry.layout)}{buttons_html(entry.layout)}'
        "</div></article>"
    )


def recap_html(title: str, entries: Sequence[RecapEntry]) -> str:
    """The week's top stories, numbered, as a panel."""
    items = "".join(
        f'<li>{link(e.title, e.url)}<div class="meta">{e.sources} source{"s" if e.sources != 1 else ""}'
        f"{' · ' + esc(', '.join(e.topics)) if e.topics else ''}</div><div>{esc(e.summary)}</div></li>"
        for e in entries
    )
    body = f"<ol>{items}</ol>" if items else "<p>No stories this week.</p>"
    return f'<div class="panel" data-story="recap"><div class="embed-title">{esc(title)}</div>{body}</div>'


def _sources_note(count: int) -> str:
    return f' <span class="meta">({count} sources)</span>' if count > 1 else ""


def timeline_html(entity: str, points: Sequence[TimelinePoint], sources: Sequence[int]) -> str:
    """An entity's stories, oldest first, each with its date, the part of the entity it is about (if it
    is about one), link and number of sources."""
    counts = list(sources) + [0] * (len(points) - len(sources))
    items = "".join(
        f"<li>{date_html(p.date, _day(p.date))} — {esc(p.part + ': ') if p.part else ''}{link(p.text, p.url)}"
        f"{_sources_note(n)}</li>"
        for p, n in zip(points, counts, strict=True)
    )
    body = f"<ul>{items}</ul>" if items else "<p>No dated stories yet.</p>"
    return (f'<div class="panel" data-story="timeline" style="--bar:#faa61a"><div class="embed-title">'
            f"{esc(f'⏳ Timeline: {entity}')}</div>{body}</div>")  # fmt: skip


def _sections(page: Page) -> Iterable[str]:
    if page.recap_title:
        yield f"<h2>Recap of the week</h2>{recap_html(page.recap_title, page.recap)}"
    if page.timeline_entity:
        timeline = timeline_html(page.timeline_entity, page.timeline, page.timeline_sources)
        yield f"<h2>One entity over time</h2>{timeline}"
    yield f"<h2>Cards as posted ({len(page.cards)})</h2>"
    yield from (card_html(c) for c in page.cards)


def render_page(page: Page) -> str:
    """The whole page, self-contained (no external resource)."""
    intro = "".join(f'<p class="intro">{esc(p)}</p>' for p in page.intro)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(page.title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main><h1>{esc(page.title)}</h1>{intro}\n"
        + "\n".join(_sections(page))
        + f'\n<pre id="selftest"></pre></main><script>{SELFTEST_SCRIPT}</script></body></html>\n'
    )
