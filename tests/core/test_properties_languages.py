"""Properties of the pure functions that read text in any language (issue 16): folding, CJK terms
and names, language guesses, whole-word patterns, and what the entity extractor, the topic
matcher and the grounding check promise for accented and CJK text. Examples are in
test_languages.py; the strategies in text_strategies.py."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from text_strategies import examples, mixed_text, text

from bot.core import cjk
from bot.core.chars import whole_words
from bot.core.cluster import compound_parts
from bot.core.entities import EntityExtractor, WatchEntity
from bot.core.folding import fold, folded, strip_marks, stripped
from bot.core.grounding import SourceFacts
from bot.core.languages import language_of, without_elision
from bot.core.nlp import content_terms, join_sentences, split_sentences, text_language, words
from bot.core.topics import TopicMatcher, TopicRule

ACCENTED = ("Élysée", "Łódź", "Müller", "Ärzte", "Señorío", "Ibáñez", "Sørensen", "Straße", "Çağrı", "Dvořák")
KANA_HAN = "ソラリスミズナ半導体規制東京研究所監督庁日本語한국어"
# Every character of the blocks folding works on, and the ones around them.
_BLOCKS = [*range(0x20, 0x250), *range(0x370, 0x530), *range(0x1E00, 0x2000), *range(0x3000, 0x3100),
           *range(0xFF00, 0xFFF0), 0x0130, 0x0345, 0x1E9E, 0x2126, 0x212A, 0x212B]  # fmt: skip


# --- folding ------------------------------------------------------------------------------------


@settings(max_examples=examples(500))
@given(text)
def test_folding_twice_is_folding_once(raw: str) -> None:
    once = fold(raw)
    assert fold(once) == once and strip_marks(strip_marks(raw)) == strip_marks(raw)
    assert fold(raw.casefold()) == once, "aliases the store keeps case-folded fold alike"
    assert fold(raw.upper()) == once or not raw.isascii()
    if raw.isascii():
        assert once == raw.lower() and strip_marks(raw) == raw


def test_folding_each_character_is_settled() -> None:
    """Folding is done character by character, so each character's fold being settled makes any text's."""
    for point in _BLOCKS:
        char = chr(point)
        assert fold(fold(char)) == fold(char), hex(point)
        assert fold(char.casefold()) == fold(char), hex(point)
        assert strip_marks(strip_marks(char)) == strip_marks(char), hex(point)
        assert not any(unicodedata.category(c) == "Mn" and 0x300 <= ord(c) <= 0x36F for c in fold(char)), hex(point)


@settings(max_examples=examples(300))
@given(text)
def test_folded_offsets_lead_back_to_the_original(raw: str) -> None:
    for view, one in ((folded(raw), fold), (stripped(raw), strip_marks)):
        assert view.original == raw and view.text == one(raw)
        for i, char in enumerate(view.text):
            origin = raw[view.start(i) : view.end(i + 1)]
            assert origin and char in one(origin)


@given(st.sampled_from(ACCENTED), mixed_text, mixed_text)
def test_an_accented_word_is_found_unaccented_and_in_capitals(word: str, before: str, after: str) -> None:
    plain = strip_marks(word)
    for written in (plain, plain.upper(), word.upper()):
        text = f"{before} {written} {after}"
        assert re.search(whole_words(fold(word)), fold(text)), written


# --- sentences and terms ------------------------------------------------------------------------


@settings(max_examples=examples(300))
@given(
    st.lists(st.text(KANA_HAN, min_size=1, max_size=12), min_size=1, max_size=6), st.sampled_from(["。", "！", "？"])
)
def test_japanese_text_is_split_at_its_sentence_ends(parts: list[str], end: str) -> None:
    sentences = [part + end for part in parts]
    text = "".join(sentences)
    assert split_sentences(text) == sentences
    assert join_sentences(sentences) == text


@settings(max_examples=examples(300))
@given(text)
def test_terms_are_folded_and_cjk_terms_come_from_the_text(raw: str) -> None:
    folded_text = fold(raw)
    for term in content_terms(raw):
        assert term and fold(term) == term and not any(c.isspace() for c in term)
    for run in re.findall(f"[{cjk.HAN}{cjk.KATAKANA}{cjk.HANGUL}{cjk.HIRAGANA}]+", folded_text):
        for term in cjk.terms(run):
            assert term in run and len(term) >= 2
    assert text_language(raw) in {None, "de", "fr", "es", "en"}
    assert language_of(words(folded_text)) == text_language(raw)


@settings(max_examples=examples(300))
@given(text)
def test_cjk_names_are_written_where_they_are_said_to_be(raw: str) -> None:
    for name, offset in cjk.names(raw):
        assert name and raw[offset : offset + len(name)] == name


@given(st.text(min_size=1, max_size=30))
def test_an_elision_leaves_a_word(word: str) -> None:
    rest = without_elision(word)
    assert rest and word.endswith(rest)


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüß", min_size=1, max_size=20),
    st.sets(st.text("abcdeäöü", min_size=1)),
)
def test_compound_parts_are_its_beginnings_and_ends(term: str, vocabulary: set[str]) -> None:
    for part in compound_parts(term, vocabulary):
        assert part in vocabulary and (term.startswith(part) or term.endswith(part)) and len(term) - len(part) >= 3


# --- entities, topics, grounding ----------------------------------------------------------------


@settings(max_examples=examples(500))
@given(text, text)
def test_names_found_in_the_text_are_shown_as_written(title: str, body: str) -> None:
    doc = f"{' '.join(title.split())}\n{' '.join(body.split())}"
    for mention in EntityExtractor([]).extract(title, body):
        assert mention.name in doc, "a name is never shown folded"


@settings(max_examples=examples(300))
@given(st.sampled_from(ACCENTED), st.text(KANA_HAN, min_size=1, max_size=6), mixed_text, mixed_text)
def test_watched_names_are_found_unaccented_and_cjk_ones_inside_runs(
    accented: str, cjk_name: str, before: str, after: str
) -> None:
    extractor = EntityExtractor([WatchEntity(accented), WatchEntity(cjk_name)])
    names = {m.name for m in extractor.extract("", f"{before} {strip_marks(accented)} の{cjk_name}が{after}")}
    assert {accented, cjk_name} <= names


@settings(max_examples=examples(300))
@given(
    st.text(KANA_HAN, min_size=1, max_size=5),
    st.text(KANA_HAN + "のがをは", max_size=20),
    st.text(KANA_HAN, max_size=20),
)
def test_a_cjk_keyword_is_found_inside_a_run(keyword: str, before: str, after: str) -> None:
    matcher = TopicMatcher([TopicRule("t", (keyword,))])
    assert matcher.hits(before + keyword + after).get("t", 0) >= 1


@settings(max_examples=examples(300))
@given(mixed_text)
def test_a_text_grounds_itself_written_without_accents(source: str) -> None:
    facts = SourceFacts([source])
    for sentence in split_sentences(strip_marks(source)):
        assert facts.unsupported(sentence) == [] or strip_marks(source) != source
    assert all(facts.unsupported(s) == [] for s in split_sentences(source))
