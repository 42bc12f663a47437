"""Deterministic generator of realistic RSS 2.0 and Atom feeds, and a local server for them.

Everything is derived from `(count, seed)`: the same pair always gives the same bytes, so the
benchmark server can regenerate the feeds in its own process instead of reading them from disk.

Shape of the generated set (see `plan`):

- sizes follow a log-normal law (median ~45 KB), taken at evenly spaced quantiles so that even
  a small set covers the whole range: most feeds are small, a few weigh ~2 MB; nothing is
  below ~10 KB or above 2 MB;
- 20 to 200 entries per feed; bigger feeds carry more entries and fuller content;
- a mix of RSS 2.0 (content:encoded, dc:creator, categories, enclosures, <ttl>) and Atom 1.0
  (html, text and xhtml content, relative links under xml:base), all UTF-8;
- entries have titles, permalinks, guids or tag: ids, dates in several time zones, authors,
  HTML summaries and HTML bodies with paragraphs, links, emphasis, lists, quotes and images.

The text is built from word lists in this file, not taken from anywhere.

Commands:

    python bench/feedgen.py write DIR [--feeds N] [--seed S]    # files + manifest.json
    python bench/feedgen.py serve [--feeds N] [--seed S] [--port P] [--gzip]

`serve` prints one JSON line (`{"ready": true, "port": ...}`) on stdout when it listens, and
runs until SIGTERM/SIGINT (with --until-stdin-closes, also until its stdin closes: the
benchmark's way to make sure the server never outlives it). Its routes:

    GET  /feeds/{i}.xml         the feed; ETag + Last-Modified, 304 on a matching validator
    GET  /_manifest             [{"path", "kind", "entries", "bytes"}, ...]
    POST /_control/validators   ?on=1|0 -- with 0, never send validators nor answer 304
    GET  /_control/stats        counts of 200 and 304 answers since the last reset
    POST /_control/reset        zero the counts
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import json
import math
import random
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path
from statistics import NormalDist

MIN_BYTES = 10 * 1024
MAX_BYTES = 2 * 1024 * 1024
MEDIAN_BYTES = 45 * 1024
SIGMA = 1.25  # log-normal spread: the 0.1 % quantile of 500 feeds lands at the 2 MB cap
MIN_ENTRIES = 20
MAX_ENTRIES = 200
BYTES_PER_SMALL_ENTRY = 650  # a headline-only item: title, link, guid, date, one-line summary
ATOM_SHARE = 0.35
EPOCH = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # "now" for the generated dates; fixed

# ------------------------------------------------------------------------------------------
# Vocabulary (written for this generator)

_NOUNS = (
    "council budget harbour railway bridge election ministry court ruling reservoir wildfire "
    "satellite vaccine trial merger startup refinery tariff pension strike festival museum "
    "library stadium treaty summit census drought flood heatwave glacier orchard vineyard "
    "fishery shipyard airport runway tunnel pipeline grid turbine battery reactor telescope "
    "spacecraft rover probe chip foundry datacenter network outage breach patch release "
    "protocol standard framework compiler kernel browser database cluster scheduler router "
    "firmware sensor drone tractor harvest market index bond currency inflation mortgage "
    "landlord tenant school campus scholarship curriculum hospital clinic ward nurse surgeon "
    "regulator watchdog inquiry audit report survey poll referendum coalition mayor governor "
    "senator minister spokesperson union employer supplier retailer warehouse courier ferry"
).split()
_VERBS = (
    "approves delays rejects unveils expands trims doubles halves reopens closes launches "
    "retires upgrades audits probes sues settles acquires sells restructures funds pauses "
    "resumes restores warns confirms denies questions backs blocks clears overhauls extends "
    "shortens publishes revises forecasts measures tracks maps tests ships recalls patches"
).split()
_ADJECTIVES = (
    "regional national coastal northern southern urban rural early late record modest sharp "
    "steady sudden quiet public private independent joint emergency temporary permanent open "
    "secure faster cheaper larger smaller annual quarterly weekly overnight long-awaited "
    "controversial unexpected routine historic experimental revised draft final interim"
).split()
_PLACES = (
    "Valmont|Ostrava|Kirrin Bay|Lowmere|Tessaly|Brennock|Marisol|Eastvale|Quarry Hill|Dunmore|"
    "Halvik|Port Aster|Sunder Falls|Greywater|Linden Cross|Orrin Valley|Castellan|Redfield|"
    "Nordby|São Teodoro|Münstedt|Żelazno|Åsvik|Córdela|Île-Brune|Fjærland"
).split("|")
_PEOPLE = (
    "Ada Mensah|Tomasz Wójcik|Priya Raman|Lucas Ferreira|Hana Kobayashi|Oisín Byrne|"
    "Amara Okafor|Jonas Lindqvist|Sofía Aguilar|Mei Chen|Ravi Iyer|Zoë Hartmann|"
    "Kwame Asante|Elena Petrova|Noah Brennan|Fatima Zahra|Ines Moreau|Dmitri Volkov"
).split("|")
_ORGS = (
    "Northwind Labs|Harbor Transit Authority|Castellan Energy|Orrin Valley Water|Brightloom|"
    "the Federal Statistics Office|Redfield University|Asterion Systems|the Port Council|"
    "Greywater Health Trust|Kestrel Aerospace|Lumen Grid|the Coastal Guard|Tessaly Bank"
).split("|")
_CONNECTORS = (
    "according to|after|before|despite|while|as|because|although|following|ahead of|amid|"
    "in response to|on top of|without|alongside|instead of"
).split("|")
_FILLER = (
    "officials said|the report found|figures released on Monday show|residents say|"
    "critics argue|analysts expect|the company said in a statement|documents seen by reporters show|"
    "a spokesperson declined to comment|the plan still needs a final vote|"
    "it is the first such move in a decade|the decision can be appealed|"
    "details are expected later this week|the numbers were revised twice"
).split("|")
_SECTIONS = "world business science technology politics climate health culture sport local".split()
_SITE_WORDS = "ledger gazette courier herald dispatch signal wire bulletin chronicle review post".split()
_GENERATORS = ("Hugo 0.139", "WordPress 6.7", "Ghost 5.101", "Jekyll 4.3", "Newsroom CMS 12", "Drupal 10")


# ------------------------------------------------------------------------------------------
# The plan: what each feed looks like, before any bytes exist


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """The shape of one generated feed."""

    index: int
    kind: str  # "rss" or "atom"
    entries: int
    target_bytes: int
    full_content: bool  # entries carry a full HTML body besides the summary
    relative_links: bool  # Atom only: links relative to xml:base
    seed: int

    @property
    def path(self) -> str:
        return f"/feeds/{self.index}.xml"

    @property
    def content_type(self) -> str:
        kind = "atom" if self.kind == "atom" else "rss"
        return f"application/{kind}+xml; charset=utf-8"


def plan(count: int, seed: int) -> list[FeedSpec]:
    """The shape of `count` feeds for `seed`: sizes at evenly spaced log-normal quantiles."""
    rng = random.Random(seed)
    normal = NormalDist()
    sizes = []
    for i in range(count):
        z = normal.inv_cdf((i + 0.5) / count)
        size = MEDIAN_BYTES * math.exp(SIGMA * z)
        if size < MIN_BYTES:  # the floor is a band, not a spike: tiny feeds differ too
            size = MIN_BYTES * rng.uniform(1.0, 1.5)
        sizes.append(int(min(size, MAX_BYTES)))
    rng.shuffle(sizes)
    specs = []
    for index, size in enumerate(sizes):
        most = max(MIN_ENTRIES, min(MAX_ENTRIES, size // BYTES_PER_SMALL_ENTRY))
        entries = rng.randint(MIN_ENTRIES, most)
        kind = "atom" if rng.random() < ATOM_SHARE else "rss"
        specs.append(
            FeedSpec(
                index=index,
                kind=kind,
                entries=entries,
                target_bytes=size,
                full_content=size / entries > 1500,
                relative_links=kind == "atom" and rng.random() < 0.3,
                seed=rng.getrandbits(48),
            )
        )
    return specs


# ------------------------------------------------------------------------------------------
# Text


class Prose:
    """Sentences and HTML paragraphs from a seeded pool (cheap to draw from, varied enough)."""

    def __init__(self, seed: int, pool_size: int = 3000) -> None:
        rng = random.Random(seed)
        self.sentences = [self._sentence(rng) for _ in range(pool_size)]

    @staticmethod
    def _sentence(rng: random.Random) -> str:
        noun, noun2 = rng.choice(_NOUNS), rng.choice(_NOUNS)
        shapes = (
            lambda: (
                f"{rng.choice(_ORGS)} {rng.choice(_VERBS)} the {rng.choice(_ADJECTIVES)} {noun} "
                f"{rng.choice(_CONNECTORS)} the {noun2} in {rng.choice(_PLACES)}"
            ),
            lambda: (
                f"The {rng.choice(_ADJECTIVES)} {noun} {rng.choice(_VERBS)} {rng.randint(2, 97)} "
                f"{_plural(noun2)}, {rng.choice(_FILLER)}"
            ),
            lambda: (
                f"“We {rng.choice(_VERBS).removesuffix('s')} the {noun} when the {noun2} is ready,” "
                f"said {rng.choice(_PEOPLE)}"
            ),
            lambda: (
                f"In {rng.choice(_PLACES)}, {rng.choice(_FILLER)}: the {noun} is {rng.randint(3, 60)} % "
                f"{rng.choice(('above', 'below', 'short of', 'ahead of'))} last year's {noun2}"
            ),
            lambda: f"{rng.choice(_PEOPLE)} — who {rng.choice(_VERBS)} the {noun} — {rng.choice(_FILLER)}",
        )
        text = rng.choice(shapes)()
        return text[0].upper() + text[1:] + rng.choice((".", ".", ".", ".", "?", "!"))

    def text(self, rng: random.Random, sentences: int) -> str:
        return " ".join(rng.choice(self.sentences) for _ in range(sentences))

    def title(self, rng: random.Random) -> str:
        noun = rng.choice(_NOUNS)
        verb = rng.choice(_VERBS)
        shapes = (
            f"{rng.choice(_ORGS)} {verb} {rng.choice(_ADJECTIVES)} {noun} plan",
            f"{rng.choice(_PLACES)} {noun} {verb} {rng.choice(_NOUNS)} after {rng.randint(2, 40)} years",
            f"Why the {rng.choice(_ADJECTIVES)} {noun} matters for {rng.choice(_PLACES)}",
            f"{rng.choice(_PEOPLE)}: the {noun} {verb} & what comes next",
            f"{rng.choice(_ADJECTIVES).capitalize()} {noun} {verb} <{rng.choice(_NOUNS)}> limits",
        )
        text = rng.choice(shapes)
        return text[0].upper() + text[1:]

    def html(self, rng: random.Random, budget: int, site: str, relative: bool) -> str:
        """An article body of about `budget` characters of HTML."""
        parts: list[str] = []
        size = 0
        while size < budget:
            block = self._block(rng, site, relative)
            parts.append(block)
            size += len(block)
        return "\n".join(parts)

    def _block(self, rng: random.Random, site: str, relative: bool) -> str:
        roll = rng.random()
        if roll < 0.07:
            items = "".join(f"<li>{self.text(rng, 1)}</li>" for _ in range(rng.randint(2, 5)))
            return f"<ul>{items}</ul>"
        if roll < 0.12:
            return f"<blockquote><p>{self.text(rng, rng.randint(1, 2))}</p></blockquote>"
        if roll < 0.17:
            return f"<h2>{escape(self.title(rng), quote=False)}</h2>"
        if roll < 0.22:
            host = "" if relative else f"https://cdn.{site}"
            image = f"{host}/img/{rng.getrandbits(40):010x}.jpg"
            return (
                f'<figure><img src="{image}" alt="{rng.choice(_NOUNS)} in {rng.choice(_PLACES)}" '
                f'width="1200" height="675" loading="lazy"><figcaption>{self.text(rng, 1)}</figcaption></figure>'
            )
        sentences = [rng.choice(self.sentences) for _ in range(rng.randint(2, 7))]
        if rng.random() < 0.6:  # a link inside one sentence
            i = rng.randrange(len(sentences))
            base = "" if relative else f"https://www.{site}"
            href = f"{base}/{rng.choice(_SECTIONS)}/{rng.getrandbits(32):08x}?utm_source=feed&amp;ref=rss"
            words = sentences[i].split(" ")
            cut = rng.randrange(len(words))
            words[cut] = f'<a href="{href}">{words[cut]}</a>'
            sentences[i] = " ".join(words)
        if rng.random() < 0.3:
            i = rng.randrange(len(sentences))
            sentences[i] = f"<strong>{sentences[i]}</strong>" if rng.random() < 0.5 else f"<em>{sentences[i]}</em>"
        return f"<p>{' '.join(sentences)}</p>"


# ------------------------------------------------------------------------------------------
# Rendering

_ZONES = (UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=1)), timezone(timedelta(hours=5, minutes=30)))


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "ch", "sh", "x")) else "s")


def _slug(title: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in title.lower()).split()
    return "-".join(words[:8])


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _rfc3339(moment: datetime, rng: random.Random) -> str:
    if moment.tzinfo is UTC or moment.utcoffset() == timedelta(0):
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
        return stamp + (f".{rng.randint(0, 999):03d}Z" if rng.random() < 0.3 else "Z")
    return moment.isoformat()


@dataclass(frozen=True, slots=True)
class _Entry:
    title: str
    link: str
    guid: str
    guid_is_link: bool
    author: str
    categories: tuple[str, ...]
    published: datetime
    updated: datetime
    summary: str  # HTML
    content: str  # HTML, may be empty


class _Site:
    def __init__(self, spec: FeedSpec, rng: random.Random) -> None:
        self.name = f"{rng.choice(_PLACES)} {rng.choice(_SITE_WORDS).capitalize()}"
        self.host = f"{_slug(self.name)}-{spec.index}.example"
        self.home = f"https://www.{self.host}/"
        self.zone = rng.choice(_ZONES)
        self.generator = rng.choice(_GENERATORS)
        self.authors = rng.sample(_PEOPLE, rng.randint(1, 6))


def _entry(
    spec: FeedSpec, site: _Site, prose: Prose, rng: random.Random, n: int, when: datetime, budget: float
) -> _Entry:
    """Entry `n`, published at `when`, with about `budget` characters of HTML text."""
    title = prose.title(rng)
    published = when.astimezone(site.zone)
    section = rng.choice(_SECTIONS)
    path = f"/{published:%Y/%m/%d}/{section}/{_slug(title)}-{n}"
    link = path if spec.kind == "atom" and spec.relative_links else f"https://www.{site.host}{path}"
    guid_is_link = rng.random() < 0.6
    guid = f"https://www.{site.host}{path}" if guid_is_link else f"tag:{site.host},{published:%Y}:{spec.index}-{n}"
    summary = f"<p>{prose.text(rng, max(1, min(3, int(budget // 400))))}</p>"
    content = ""
    if spec.full_content:
        content = prose.html(rng, int(budget - len(summary)), site.host, spec.relative_links)
    elif budget > len(summary) + 200:  # headline feeds: a longer teaser instead
        summary = prose.html(rng, int(budget), site.host, False)
    updated = published + timedelta(minutes=rng.randint(0, 90)) if rng.random() < 0.3 else published
    return _Entry(
        title=title,
        link=link,
        guid=guid,
        guid_is_link=guid_is_link,
        author=rng.choice(site.authors),
        categories=tuple(rng.sample(_SECTIONS, rng.randint(0, 3))),
        published=published,
        updated=updated,
        summary=summary,
        content=content,
    )


def _rss_head(site: _Site, rng: random.Random) -> str:
    ttl = f"<ttl>{rng.choice((15, 30, 60))}</ttl>\n" if rng.random() < 0.4 else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{escape(site.name)}</title>\n<link>{site.home}</link>\n"
        f"<description>{escape(prose_line(rng))}</description>\n<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(EPOCH.astimezone(site.zone))}</lastBuildDate>\n"
        f"<generator>{site.generator}</generator>\n"
        f'<atom:link href="{site.home}feed/" rel="self" type="application/rss+xml"/>\n{ttl}'
    )


def _rss_item(site: _Site, e: _Entry, rng: random.Random) -> str:
    out = [f"<item>\n<title>{escape(e.title)}</title>\n<link>{e.link}</link>\n"]
    permalink = "true" if e.guid_is_link else "false"
    out.append(f'<guid isPermaLink="{permalink}">{escape(e.guid)}</guid>\n')
    out.append(f"<pubDate>{format_datetime(e.published)}</pubDate>\n")
    out.append(f"<dc:creator>{_cdata(e.author)}</dc:creator>\n")
    out.extend(f"<category>{c}</category>\n" for c in e.categories)
    summary = _cdata(e.summary) if rng.random() < 0.5 else escape(e.summary)
    out.append(f"<description>{summary}</description>\n")
    if e.content:
        out.append(f"<content:encoded>{_cdata(e.content)}</content:encoded>\n")
    if rng.random() < 0.05:
        out.append(
            f'<enclosure url="https://media.{site.host}/audio/{rng.getrandbits(32):08x}.mp3"'
            f' length="{rng.randint(10**6, 9 * 10**7)}" type="audio/mpeg"/>\n'
        )
    out.append(f"<comments>{e.link}#comments</comments>\n</item>\n")
    return "".join(out)


def _atom_head(spec: FeedSpec, site: _Site, rng: random.Random) -> str:
    base = f' xml:base="{site.home}"' if spec.relative_links else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"{base}>\n'
        f"<title>{escape(site.name)}</title>\n<subtitle>{escape(prose_line(rng))}</subtitle>\n"
        f"<id>tag:{site.host},2019:feed</id>\n<updated>{_rfc3339(EPOCH, rng)}</updated>\n"
        f'<link rel="alternate" type="text/html" href="{site.home}"/>\n'
        f'<link rel="self" type="application/atom+xml" href="{site.home}feed.atom"/>\n'
        f"<author><name>{escape(site.name)} newsroom</name></author>\n"
        f'<generator version="1">{site.generator}</generator>\n'
    )


def _atom_entry(e: _Entry, rng: random.Random) -> str:
    out = [f'<entry>\n<title type="html">{escape(escape(e.title))}</title>\n']
    out.append(f'<link rel="alternate" type="text/html" href="{e.link}"/>\n<id>{escape(e.guid)}</id>\n')
    out.append(f"<published>{_rfc3339(e.published, rng)}</published>\n")
    out.append(f"<updated>{_rfc3339(e.updated, rng)}</updated>\n")
    out.append(f"<author><name>{escape(e.author)}</name></author>\n")
    out.extend(f'<category term="{c}"/>\n' for c in e.categories)
    out.append(f'<summary type="html">{escape(e.summary)}</summary>\n')
    if e.content:
        if rng.random() < 0.15:  # inline XHTML: the body is part of the XML tree
            xhtml = e.content.replace('loading="lazy">', 'loading="lazy"/>')  # void elements close
            out.append(f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{xhtml}</div></content>\n')
        else:
            out.append(f'<content type="html">{escape(e.content)}</content>\n')
    out.append("</entry>\n")
    return "".join(out)


def prose_line(rng: random.Random) -> str:
    """A one-line description for a feed."""
    first, second = _plural(rng.choice(_NOUNS)), _plural(rng.choice(_NOUNS))
    return f"{rng.choice(_ADJECTIVES).capitalize()} news on {first} and {second}"


def render(spec: FeedSpec, prose: Prose) -> bytes:
    """The document for `spec` (UTF-8 bytes), about `spec.target_bytes` long.

    Entries are rendered one by one; each gets an equal share of what is left of the target,
    less the markup the previous entries needed, so small and large feeds both land close.
    """
    rng = random.Random(spec.seed)
    site = _Site(spec, rng)
    atom = spec.kind == "atom"
    head = _atom_head(spec, site, rng) if atom else _rss_head(site, rng)
    tail = "</feed>\n" if atom else "</channel>\n</rss>\n"
    parts = [head]
    used = len(head.encode()) + len(tail)
    markup = 600.0  # running estimate of an entry's bytes beyond its text budget
    when = EPOCH - timedelta(minutes=rng.randint(5, 600))
    for n in range(spec.entries):
        share = (spec.target_bytes - used) / (spec.entries - n)
        budget = max(0.0, share - markup) * rng.uniform(0.5, 1.5)
        entry = _entry(spec, site, prose, rng, n, when, budget)
        text = _atom_entry(entry, rng) if atom else _rss_item(site, entry, rng)
        size = len(text.encode())
        parts.append(text)
        used += size
        markup += ((size - budget) - markup) / (n + 1)  # escaping grows with the text: learn it
        when -= timedelta(minutes=rng.randint(20, 60 * 30))
    parts.append(tail)
    return "".join(parts).encode("utf-8")


@dataclass(frozen=True, slots=True)
class GeneratedFeed:
    """One feed, ready to serve."""

    path: str
    kind: str
    entries: int
    content_type: str
    body: bytes
    etag: str
    last_modified: str


def generate(count: int, seed: int) -> list[GeneratedFeed]:
    """Every feed of the set for `(count, seed)`."""
    prose = Prose(seed)
    feeds = []
    for spec in plan(count, seed):
        body = render(spec, prose)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        modified = format_datetime(EPOCH - timedelta(minutes=spec.index % 997), usegmt=True)
        feeds.append(GeneratedFeed(spec.path, spec.kind, spec.entries, spec.content_type, body, etag, modified))
    return feeds


def manifest(feeds: list[GeneratedFeed]) -> list[dict[str, object]]:
    """What each feed is, without its body."""
    return [{"path": f.path, "kind": f.kind, "entries": f.entries, "bytes": len(f.body)} for f in feeds]


# ------------------------------------------------------------------------------------------
# The server


@dataclass(slots=True)
class _State:
    feeds: dict[str, GeneratedFeed]
    gzipped: dict[str, bytes]
    validators: bool = True
    ok: int = 0
    not_modified: int = 0


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return etag in (tag.strip().removeprefix("W/") for tag in header.split(","))


def make_app(feeds: list[GeneratedFeed], *, compress: bool = False) -> object:
    """The aiohttp application serving `feeds` (imported lazily: the generator needs no aiohttp)."""
    from aiohttp import web

    state = _State(
        feeds={f.path: f for f in feeds},
        gzipped={f.path: gzip.compress(f.body, 6, mtime=0) for f in feeds} if compress else {},
    )
    listing = json.dumps(manifest(feeds)).encode()

    async def feed(request: web.Request) -> web.StreamResponse:
        found = state.feeds.get(request.path)
        if found is None:
            raise web.HTTPNotFound
        headers = {"Content-Type": found.content_type, "Cache-Control": "no-cache"}
        if state.validators:
            headers["ETag"] = found.etag
            headers["Last-Modified"] = found.last_modified
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            if _matches(inm, found.etag) or (inm is None and ims == found.last_modified):
                state.not_modified += 1
                del headers["Content-Type"]
                return web.Response(status=304, headers=headers)
        state.ok += 1
        body = found.body
        if compress and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = state.gzipped[request.path]
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        return web.Response(body=body, headers=headers)

    async def show_manifest(_: web.Request) -> web.Response:
        return web.Response(body=listing, content_type="application/json")

    async def validators(request: web.Request) -> web.Response:
        state.validators = request.query.get("on", "1") not in ("0", "false", "off")
        return web.json_response({"validators": state.validators})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"200": state.ok, "304": state.not_modified, "validators": state.validators})

    async def reset(_: web.Request) -> web.Response:
        state.ok = state.not_modified = 0
        return web.json_response({"reset": True})

    app = web.Application()
    app.router.add_get("/feeds/{name}", feed)
    app.router.add_get("/_manifest", show_manifest)
    app.router.add_post("/_control/validators", validators)
    app.router.add_get("/_control/stats", stats)
    app.router.add_post("/_control/reset", reset)
    return app


async def serve(count: int, seed: int, host: str, port: int, compress: bool, watch_stdin_eof: bool = False) -> None:
    """Generate the feeds, listen, announce the port on stdout; run until a signal (or stdin closes)."""
    from aiohttp import web

    feeds = generate(count, seed)
    runner = web.AppRunner(make_app(feeds, compress=compress), access_log=None)  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = runner.addresses[0][1]
    total = sum(len(f.body) for f in feeds)
    print(json.dumps({"ready": True, "port": bound, "feeds": len(feeds), "bytes": total}), flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def watch_stdin() -> None:  # read() returns when the parent closes our stdin or goes away
        with contextlib.suppress(Exception):
            sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    if watch_stdin_eof:
        threading.Thread(target=watch_stdin, daemon=True).start()  # a daemon: never holds up the exit
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def write(directory: Path, count: int, seed: int) -> None:
    """Write every feed and a manifest.json into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    feeds = generate(count, seed)
    for f in feeds:
        (directory / Path(f.path).name).write_bytes(f.body)
    (directory / "manifest.json").write_text(json.dumps(manifest(feeds), indent=1))
    sizes = sorted(len(f.body) for f in feeds)
    print(
        f"{len(feeds)} feeds, {sum(sizes) / 2**20:.1f} MB, {sum(f.entries for f in feeds)} entries; "
        f"sizes min {sizes[0] / 1024:.0f} KB, median {sizes[len(sizes) // 2] / 1024:.0f} KB, "
        f"max {sizes[-1] / 1024:.0f} KB -> {directory}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("write", "serve"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--feeds", type=int, default=500)
        cmd.add_argument("--seed", type=int, default=1)
    sub.choices["write"].add_argument("directory", type=Path)
    sub.choices["serve"].add_argument("--host", default="127.0.0.1")
    sub.choices["serve"].add_argument("--port", type=int, default=0)
    sub.choices["serve"].add_argument("--gzip", action="store_true", help="gzip bodies for clients that accept it")
    sub.choices["serve"].add_argument(
        "--until-stdin-closes", action="store_true", help="also stop when stdin closes (how bench/ingest.py runs it)"
    )
    args = parser.parse_args(argv)
    if args.command == "write":
        write(args.directory, args.feeds, args.seed)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.feeds, args.seed, args.host, args.port, args.gzip, args.until_stdin_closes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
