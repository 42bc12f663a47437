"""Clean text from feed HTML: what survives, what breaks where, and that nothing breaks it."""

from __future__ import annotations

import random
import time

import pytest

from bot.core.text import clean_title, html_to_text, normalize_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ("plain words", "plain words"),
        ("<p>Hello <b>world</b></p><p>Second&nbsp;para</p>", "Hello world\n\nSecond para"),
        ("<div>one</div><div>two</div>", "one\n\ntwo"),
        ("<h2>Head</h2>body", "Head\n\nbody"),
        ("a<br>b<BR/>c", "a\nb\nc"),
        ("para one<br><br>para two", "para one\n\npara two"),
        ("<ul>\n <li>one</li>\n <li>two</li>\n</ul>after", "one\ntwo\n\nafter"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("<blockquote>quoted</blockquote>reply", "quoted\n\nreply"),
        ("<p>\n  spread\n\n  over\tlines  </p>", "spread over lines"),
        ("  <p></p><p> </p><div><br></div>  ", ""),
    ],
)
def test_blocks_become_paragraphs_and_whitespace_collapses(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("AT&amp;T &copy; 2025 &#8212; &#x1F916; it&rsquo;s", "AT&T © 2025 — 🤖 it’s"),
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),  # decoded once, never twice
        ("&lt;b&gt;escaped tags stay text&lt;/b&gt;", "<b>escaped tags stay text</b>"),
        ("R&D &amp Q&A &unknown; &", "R&D & Q&A &unknown; &"),
        ("soft&shy;hyphen, zero&#8203;width", "softhyphen, zerowidth"),
        ("emoji \U0001f469\u200d\U0001f4bb stays", "emoji \U0001f469\u200d\U0001f4bb stays"),
    ],
)
def test_entities_are_decoded(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<script>var x = '<p>hi</p>';</script>shown", "shown"),
        ("<STYLE type='text/css'>p { color: red }</STYLE>shown", "shown"),
        ("<html><head><title>T</title><meta charset=utf-8></head><body><p>Body</p></body></html>", "Body"),
        ("<head><title>no end tag</title><body>Body", "Body"),
        ("<template><p>hidden</p></template>shown", "shown"),
        ("<script src='x.js'/>kept", "kept"),  # self-closed: nothing to hide
        ("before<script>never closed", "before"),
        ("<!-- a comment -->shown<!-- unterminated", "shown"),
        ("<!DOCTYPE html><?php echo 1 ?>shown", "shown"),
        ("<![CDATA[<b>literal</b>]]> tail", "<b>literal</b> tail"),
    ],
)
def test_hidden_content_and_markup_are_dropped(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("x < y and y > z", "x < y and y > z"),
        ("I <3 robots", "I <3 robots"),
        ("<a title=\"a > b\" href='q'>link</a> text", "link text"),
        ("broken <b unterminated", "broken <b unterminated"),
        ('<a title="unterminated>rest of text', "rest of text"),
        ("<p>unclosed <i>tags <b>everywhere", "unclosed tags everywhere"),
        ("</p></div>stray end tags", "stray end tags"),
        ("<img src=x.png alt='a chart'>Chart above", "Chart above"),
        ("\x00nul\x01and\x07bell", "nulandbell"),
    ],
)
def test_broken_html_is_read_like_a_browser_would(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("Plain title", "Plain title"),
        ("  Spaced\n  out\ttitle  ", "Spaced out title"),
        ("<b>Nova</b> &amp; <i>Orbit</i> merge", "Nova & Orbit merge"),
        ("<p>Two</p><p>paragraphs</p>", "Two paragraphs"),
        ("Chip A &lt; chip B", "Chip A < chip B"),
        ("a < b", "a < b"),
        ("zero\u200bwidth", "zerowidth"),
        ("", ""),
    ],
)
def test_clean_title_gives_one_clean_line(title: str, clean: str) -> None:
    assert clean_title(title) == clean


def test_normalize_text_keeps_paragraphs_of_plain_text() -> None:
    text = "  First   line \r\nsecond line\r\n\r\n\r\n\n  Next <b>paragraph</b> &amp; more  \n"
    assert normalize_text(text) == "First line\nsecond line\n\nNext <b>paragraph</b> &amp; more"
    assert normalize_text("") == ""


def test_random_markup_never_raises_and_never_leaks_markers_or_scripts() -> None:
    pieces = [
        "<p>",
        "</p>",
        "<br>",
        "<li>",
        "<a href='",
        '"',
        "'",
        ">",
        "<",
        "&",
        "&amp;",
        "&#",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<![CDATA[",
        "]]>",
        "<head>",
        "<body>",
        "text",
        " ",
        "\n",
        "\x00",
        "é",
        "🤖",
    ]
    rng = random.Random(20250305)
    for _ in range(2000):
        html = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        text = html_to_text(html)
        assert "\x00" not in text and "\x01" not in text
        assert text == text.strip() and "\n\n\n" not in text and "  " not in text
        assert clean_title(html).count("\n") == 0


@pytest.mark.parametrize(
    "html",
    [
        "<a " * 300_000,
        '<a ">' * 200_000,
        '<a x="' + "y>" * 500_000,
        "<!--" * 200_000,
        "<script>" * 100_000,
        "<p>" * 300_000,
        "<a '\">x" * 150_000,
        "<" + "a" * 1_000_000,
        "<head>" + "<p>x</p>" * 100_000,
    ],
    ids=[
        "open-tags",
        "open-quotes",
        "one-long-quote",
        "comments",
        "scripts",
        "paragraphs",
        "mixed-quotes",
        "endless-tag",
        "head",
    ],
)
def test_hostile_markup_stays_linear(html: str) -> None:
    started = time.monotonic()
    html_to_text(html)
    assert time.monotonic() - started < 10  # "did not hang": about 1 MB each; quadratic would take minutes
