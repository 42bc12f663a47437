"""Properties of the core's text functions for any Unicode string: they return, and what they return
keeps its promises (text.py, nlp.py, limits.py, identity.py, dedup.py, timeline.py, and what feed
text meets on its way to a model and to a channel: prompt.py, llm_parse.py, routing.py, recap.py).

The entity, topic, clustering, story and card properties are in test_properties_*.py; the
strategies, which mix scripts on purpose, in text_strategies.py.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st
from text_strategies import examples, mixed_text, short_text, text

from bot.core.cards import SourceText, StoryInput
from bot.core.dedup import KnownIndex, decide
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.limits import cut, escape_markdown, inert_mentions, safe
from bot.core.llm_parse import AnswerError, parse_answer
from bot.core.nlp import content_terms, join_sentences, normalize_number, numbers, split_sentences, stem, words
from bot.core.prompt import MAX_SOURCES, build_messages, build_reask
from bot.core.recap import parse_time
from bot.core.routing import Route, destinations
from bot.core.text import clean_title, html_to_text, normalize_text
from bot.core.timeline import NameIndex, NameRow, first_line, trigrams
from bot.core.types import ParsedEntry

_SPECIAL = set("\\*_`~|>#[]()-")


# --- text.py ------------------------------------------------------------------------------------


@settings(max_examples=examples(300))
@given(text)
def test_html_to_text_is_clean_text(html: str) -> None:
    out = html_to_text(html)
    assert "\x00" not in out and "\x01" not in out  # no break sentinel leaks
    assert "\n\n\n" not in out, "at most one blank line"
    assert all(line == " ".join(line.split()) for line in out.split("\n")), "spaces collapsed on every line"


@settings(max_examples=examples(300))
@given(text)
def test_clean_title_is_one_clean_line(title: str) -> None:
    out = clean_title(title)
    assert out == " ".join(out.split())
    assert "\u200b" not in out and "\x00" not in out


@settings(max_examples=examples(300))
@given(text)
def test_normalize_text_is_idempotent(raw: str) -> None:
    once = normalize_text(raw)
    assert normalize_text(once) == once
    assert once == once.strip() and "\n\n\n" not in once


# --- nlp.py -------------------------------------------------------------------------------------


@settings(max_examples=examples(500))
@given(text)
def test_sentences_are_the_text_cut_in_order(raw: str) -> None:
    """Non-empty, trimmed, in order, nothing lost: cut at spaces, or right after a CJK sentence end
    ("。"), so joined again they give back the collapsed text but for the spaces between them."""
    collapsed = " ".join(raw.split())
    sentences = split_sentences(raw)
    assert all(s and s == s.strip() for s in sentences)
    assert "".join(sentences).replace(" ", "") == collapsed.replace(" ", "")
    position = 0
    for sentence in sentences:
        position = collapsed.index(sentence, position) + len(sentence)
    joined = join_sentences(sentences)
    assert joined.replace(" ", "") == collapsed.replace(" ", "") and joined == " ".join(joined.split())


@settings(max_examples=examples(300))
@given(text)
def test_words_and_terms(raw: str) -> None:
    collapsed = " ".join(raw.split())
    for word in words(raw):
        assert word and word in collapsed and not any(c.isspace() for c in word)
    for term in content_terms(raw):
        assert term and term == term.lower() and not any(c.isspace() for c in term)
        assert stem(term) == stem(term)  # cached and pure


@settings(max_examples=examples(300))
@given(text)
def test_numbers_are_normalised_ascii(raw: str) -> None:
    for number in numbers(raw):
        assert re.fullmatch(r"[0-9.]+", number), number  # digits of any script come out as ASCII
        assert normalize_number(number) == number


@given(st.text(max_size=30))
def test_normalize_number_takes_any_string(raw: str) -> None:
    assert isinstance(normalize_number(raw), str)


def test_digits_of_any_script_are_the_same_number() -> None:
    assert numbers("٣٤ مليون") == numbers("34 million") == {"34"}
    assert numbers("१,२०० रुपये") == {"1200"}


def test_sentences_in_other_languages() -> None:
    assert split_sentences("Hola. ¿Qué tal? Ça va. Écoute.") == ["Hola.", "¿Qué tal?", "Ça va.", "Écoute."]
    assert split_sentences("Привет. Как дела? Хорошо.") == ["Привет.", "Как дела?", "Хорошо."]
    assert split_sentences("ذهب. هل عاد؟ نعم.") == ["ذهب.", "هل عاد؟", "نعم."]  # no case: any letter starts one
    assert split_sentences("Le nº 5. il continue.") == ["Le nº 5. il continue."]  # lower case: no new sentence


def test_words_of_any_script_are_whole() -> None:
    assert words("La panadería Señorío de Ávila, Dubœuf, हिन्दी, A\u0301vila") == [
        "La", "panadería", "Señorío", "de", "Ávila", "Dubœuf", "हिन्दी", "A\u0301vila",
    ]  # fmt: skip


# --- limits.py ----------------------------------------------------------------------------------


_FLAGS = "".join(chr(c) for c in range(0x1F1E6, 0x1F200))  # regional indicators: a flag is two


def _splits_a_character(kept: str, whole: str) -> bool:
    """Whether cutting `whole` after `kept` parts a letter from its accents, ends on a joiner or halves a flag."""
    after = whole[len(kept) : len(kept) + 1]
    if not kept or not after:
        return False
    if kept.endswith("\u200d") or unicodedata.category(after)[0] == "M":
        return True
    flags = len(kept) - len(kept.rstrip(_FLAGS))
    return flags % 2 == 1 and after in _FLAGS


@settings(max_examples=examples(500))
@given(text, st.integers(min_value=-3, max_value=120))
def test_cut_respects_its_limit(raw: str, limit: int) -> None:
    out = cut(raw, limit)
    stripped = raw.strip()
    assert len(out) <= max(limit, 0)
    if len(stripped) <= limit:
        assert out == stripped
    elif limit >= 1:
        kept = out.removesuffix("…")
        assert out.endswith("…") and stripped.startswith(kept)
        assert not _splits_a_character(kept, stripped)


def test_cut_keeps_accents_and_emoji_whole() -> None:
    assert cut("Cafe\u0301 au lait", 5) == "Caf…"
    assert cut("ab👨\u200d👩\u200d👧 cd", 5) == "ab…"
    assert cut("🇫🇷🇩🇪🇪🇸", 4) == "🇫🇷…"


def _unescaped_specials(out: str) -> list[str]:
    found = []
    escaped = False
    for char in out:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _SPECIAL:
            found.append(char)
    return found


@settings(max_examples=examples(500))
@given(text, st.integers(min_value=-3, max_value=120))
def test_safe_text_is_inert_escaped_and_within_its_limit(raw: str, limit: int) -> None:
    out = safe(raw, limit)
    assert len(out) <= max(limit, 0)
    assert "@everyone" not in out and "@here" not in out and not re.search(r"<@[!&]?\d+>|<#\d+>", out)
    assert _unescaped_specials(out) == [], "every Markdown character is escaped, even after the cut"


@settings(max_examples=examples(300))
@given(text)
def test_escape_markdown_round_trips(raw: str) -> None:
    assert re.sub(r"\\(.)", r"\1", escape_markdown(raw), flags=re.DOTALL) == raw
    assert "@everyone" not in inert_mentions(raw)


# --- identity.py, dedup.py ----------------------------------------------------------------------

_hosts = st.one_of(
    st.from_regex(r"(www\.)?[a-z0-9]{1,10}\.(com|org|example)", fullmatch=True),
    st.sampled_from(["bücher.de", "пример.рф", "例子.中国", "WWW.Example.COM", "[::1]", "a.b:8080", "x.y:443"]),
)
_keys = st.one_of(st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "id", "q", "ref_src"]), short_text)
_params = st.lists(st.tuples(_keys, text), max_size=4)


@settings(max_examples=examples(300))
@given(st.sampled_from(["http", "https", "HTTP", "ftp", ""]), _hosts, short_text, _params, short_text)
def test_normalize_link_takes_any_url(
    scheme: str, host: str, path: str, params: list[tuple[str, str]], frag: str
) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"{scheme}://{host}/{path}?{query}#{frag}"
    link = normalize_link(url)
    if link is None:
        return
    assert link.startswith("https://")
    keys = [k.lower() for k, _ in parse_qsl(urlsplit(link).query, keep_blank_values=True)]
    assert not any(k.startswith("utm_") or k in {"fbclid", "ref_src"} for k in keys), "tracking parameters are dropped"
    if scheme.lower() == "http" and ":" not in host:  # an explicit port is the default of one scheme only
        assert normalize_link("https" + url[len(scheme) :]) == link, "http and https fold together"


@settings(max_examples=examples(300))
@given(text, text, st.one_of(st.none(), text), st.one_of(st.none(), text), st.one_of(st.none(), st.floats()))
def test_identity_takes_any_entry(
    title: str, summary: str, guid: str | None, link: str | None, when: float | None
) -> None:
    entry = ParsedEntry(guid, link, title, summary, summary, published=when)
    key = entry_key(entry)
    assert key.split(":", 1)[0] in {"id", "link", "hash"} and key == entry_key(entry)
    assert re.fullmatch(r"[0-9a-f]{32}", content_hash(entry))
    decision = decide([entry, entry], KnownIndex.of([]), now=1e9, subscribed=True, max_age_seconds=3600.0)
    assert len(decision.new) == 1 and not decision.changed, "the same item twice in a document is new once"


def test_lone_surrogates_do_not_break_identity() -> None:
    entry = ParsedEntry(None, None, "broken \udce9 title", published=1.0)
    assert entry_key(entry).startswith("hash:")
    assert normalize_link("https://a.example/?q=\ud800") == "https://a.example?q=%ED%A0%80"


# --- timeline.py --------------------------------------------------------------------------------


@settings(max_examples=examples(200))
@given(st.lists(st.tuples(short_text, short_text), max_size=6), text)
def test_name_search_takes_any_query(names: list[tuple[str, str]], query: str) -> None:
    index = NameIndex(NameRow(i, f"{canonical}{i}", i, alias) for i, (canonical, alias) in enumerate(names, 1))
    found = index.search(query)
    assert len({m.canonical for m in found}) == len(found) <= 25, "each entity once"
    assert isinstance(first_line(query), str) and isinstance(trigrams(query), frozenset)


@given(mixed_text)
def test_first_line_is_one_line(raw: str) -> None:
    assert "\n" not in first_line(raw)


# --- prompt.py, llm_parse.py, routing.py, recap.py ----------------------------------------------


@settings(max_examples=examples(300))
@given(st.lists(st.tuples(short_text, text, text), min_size=1, max_size=7), st.lists(short_text, max_size=3), text)
def test_feed_text_reaches_the_model_only_inside_its_source_blocks(
    sources: list[tuple[str, str, str]], topics: list[str], answer: str
) -> None:
    """Whatever a feed writes ("</source>", "<|im_start|>"), the message has one block per source."""
    story = StoryInput(1, tuple(SourceText(n, t, b, "https://a.example", 1.0) for n, t, b in sources), tuple(topics))
    _, user = build_messages(story)
    shown = min(len(sources), MAX_SOURCES)
    assert user.count("<source ") == user.count("</source>") == shown
    reask = build_reask(user, answer, ["it was not JSON"])
    assert reask.count("<previous_answer>") == reask.count("</previous_answer>") == 1


@settings(max_examples=examples(300))
@given(st.one_of(text, st.builds(lambda a, b: f'{a}{{"hook": "{b}", "takeaways": [{a!r}', text, text)))
def test_any_model_answer_is_a_draft_or_an_answer_error(raw: str) -> None:
    try:
        draft = parse_answer(raw, ["ai", "señal"])
    except AnswerError as exc:
        assert exc.problems
    else:
        assert draft.hook and set(draft.topics) <= {"ai", "señal"}


@settings(max_examples=examples(200))
@given(st.lists(st.tuples(st.lists(short_text, max_size=2), st.lists(short_text, max_size=2)), max_size=3), text)
def test_routes_take_any_keywords_and_text(keywords: list[tuple[list[str], list[str]]], story: str) -> None:
    routes = [Route(1, "*", channel, tuple(inc), tuple(exc)) for channel, (inc, exc) in enumerate(keywords, 10)]
    found = destinations(routes, ("ai",), story)
    assert len(found) == len({channel for _, channel in found}) <= len(routes)


@given(st.one_of(text, st.from_regex(r"\s*[0-9٠-٩]{1,2}:[0-9]{2}\s*", fullmatch=True)))
def test_parse_time_reads_hh_mm_and_refuses_the_rest_with_a_value_error(raw: str) -> None:
    try:
        parsed = parse_time(raw)
    except ValueError:
        return
    assert raw.strip() in {f"{parsed.hour:02d}:{parsed.minute:02d}", f"{parsed.hour}:{parsed.minute:02d}"}
