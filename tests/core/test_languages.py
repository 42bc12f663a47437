"""News in any language (issue 16): folding, sentences and terms, entities, topics, routes and the
grounding check on German, French, Spanish and Japanese text. The measured quality on whole stories
is in test_gold.py; the properties for any text in test_properties_languages.py."""

from __future__ import annotations

from bot.core.cjk import names, terms
from bot.core.cluster import Clusterer, ClusterParams, Features, compound_parts, features_of, refolded
from bot.core.entities import EntityExtractor, WatchEntity
from bot.core.folding import fold, folded, strip_marks
from bot.core.grounding import SourceFacts, ground_text
from bot.core.languages import capitalises_nouns, language_of
from bot.core.nlp import content_terms, join_sentences, numbers, split_sentences, words
from bot.core.routing import Route, route_matches
from bot.core.topics import TopicMatcher, TopicRule

PLAIN = EntityExtractor([])


def found(title: str, text: str, extractor: EntityExtractor = PLAIN) -> list[str]:
    return [m.name for m in extractor.extract(title, text)]


# --- folding ------------------------------------------------------------------------------------


def test_folding_ignores_case_and_accents_but_keeps_letters_that_differ() -> None:
    assert fold("Łódź") == fold("ŁÓDŹ") == fold("Lodz") == "lodz"
    assert fold("Müller") == "muller" and fold("Straße") == "strasse" and fold("Élysée") == "elysee"
    assert fold("ＧＰＴ－５") == "gpt-5"  # fullwidth forms
    assert fold("Anika Sørensen") == fold("Anika Sorensen")
    assert fold("ガ") == "ガ" != fold("カ")  # a voicing mark makes another kana, not an accent
    assert fold("ｶﾞ") == "カ\u3099"  # halfwidth forms are the fullwidth ones (decomposed)
    assert fold("한국어") == "한국어" and fold("हिन्दी") == "हिन्दी"  # Hangul whole, Indic vowel signs kept
    assert strip_marks("Élysée") == "Elysee" and strip_marks("ŁÓDŹ") == "LODZ"  # case kept


def test_a_match_in_folded_text_is_a_span_of_the_original() -> None:
    text = "Die Straße nach Łódź"
    view = folded(text)
    start = view.text.index("lodz")
    assert text[view.start(start) : view.end(start + 4)] == "Łódź"
    start = view.text.index("strasse")
    assert text[view.start(start) : view.end(start + len("strasse"))] == "Straße"  # "ß" folds to two letters


# --- sentences, words, terms --------------------------------------------------------------------


def test_cjk_sentences_end_at_their_marks_without_a_space() -> None:
    text = "ソラリスは5日、新モデルを発表した。価格は月額1000円。佐藤社長は「日本語に強い！」と述べた。次は？"
    assert split_sentences(text) == [
        "ソラリスは5日、新モデルを発表した。", "価格は月額1000円。", "佐藤社長は「日本語に強い！」と述べた。", "次は？",
    ]  # fmt: skip
    assert join_sentences(split_sentences(text)) == text
    assert join_sentences(["Hola.", "ソラリス。", "Fin."]) == "Hola. ソラリス。Fin."


def test_numbers_next_to_cjk_characters_are_numbers() -> None:
    assert numbers("月額1000円、価格は１５億円") == {"1000", "15"}
    assert numbers("0,80 Euro, 0.5 %") == {"0.8", "0.5"}  # a number below one keeps its zero


def test_cjk_terms_are_bigrams_and_katakana_words() -> None:
    assert terms("東京の新興企業ソラリスが新モデルを発表した") == [
        "東京",
        "新興",
        "興企",
        "企業",
        "ソラリス",
        "モデル",
        "発表",
    ]
    assert terms("マラ・オカフォー") == ["マラ", "オカフォー"]
    assert content_terms("Helix社が「ミズナ3」を公開") == ["helix", "ミズナ", "3", "公開"]  # "社" alone is no term


def test_terms_fold_accents_and_cut_elisions() -> None:
    assert content_terms("Régulation de l’Élysée") == content_terms("REGULATION DE L’ELYSEE") == ["regulation", "elyse"]
    assert words("l’Autorité") == ["l’Autorité"]  # a word as written; its term has no elision


def test_german_words_lose_their_endings_in_a_german_text() -> None:
    assert content_terms("Störungen Modelle Kunden", "de") == content_terms("Störung Modell Kunde", "de")
    assert content_terms("models released", "de") != content_terms("models released")  # English is stemmed as English


def test_the_language_of_a_text_is_guessed_from_its_function_words() -> None:
    assert (
        language_of(words(fold("Der Konzern hat am Montag ein neues Werk in Dresden eröffnet und will wachsen")))
        == "de"
    )
    assert language_of(words(fold("La empresa presentó el lunes su modelo y los clientes lo probaron"))) == "es"
    assert language_of(words(fold("Helix Labs"))) is None  # a name says nothing
    assert capitalises_nouns(words(fold("Die Behörde prüft, ob das Modell gegen das Recht verstößt und wie."))) is True


# --- entities -----------------------------------------------------------------------------------


def test_accented_names_are_whole_and_shown_as_written() -> None:
    text = "Le ministre Étienne Lefèvre a reçu les dirigeants de Sémaphore Électronique à Łódź."
    assert found("", text)[:2] == ["Étienne Lefèvre", "Sémaphore Électronique"]


def test_elisions_and_function_words_starting_a_sentence_are_no_part_of_names() -> None:
    assert found("", "Selon Cévenole Labs, la commission a entendu d’Hélène Marchetti.") == [
        "Cévenole Labs", "Hélène Marchetti",
    ]  # fmt: skip
    assert found("", "Según Banco Meridional, la multa es injusta.") == ["Banco Meridional"]
    assert "L’Oréal" in found("", "Le groupe a vendu ses parts à L’Oréal mardi.")  # a capital elision inside a sentence


def test_german_nouns_are_not_names_but_names_are() -> None:
    text = (
        "Der Chipkonzern Elbsilizium investiert zwei Milliarden Euro in eine neue Fabrik. Die Ärzte der "
        "Klinik begrüßten das Werk. Konzernchefin Mara Okafor sagte, Okafor werde 12 Millionen Euro "
        "für Kunden in Europa bereitstellen. Ein Software-Update folgt."
    )
    assert found("", text) == ["Mara Okafor", "Elbsilizium"]  # "Okafor" is a short form of "Mara Okafor"
    watched = EntityExtractor([WatchEntity("Helix Labs", ("Helix",))])
    assert found("Bundesamt prüft Helix-Modell", "Das Amt prüft das Modell von Helix Labs.", watched) == ["Helix Labs"]


def test_watched_aliases_match_without_regard_to_accents() -> None:
    extractor = EntityExtractor([WatchEntity("Élysée", ("elysee",)), WatchEntity("Łódź Robotics", ())])
    assert found("", "Reçu à l’ELYSEE, puis chez Lodz Robotics et à l’Élysée.", extractor) == [
        "Élysée",
        "Łódź Robotics",
    ]


def test_stored_aliases_folded_by_case_alone_still_name_their_entity() -> None:
    """The store keeps aliases case-folded ("müller ag"); they are folded again when compared."""
    extractor = EntityExtractor([], known={"müller ag": "Müller AG", "straße labs": "Straße Labs"})
    assert extractor.canonical("MULLER AG") == "Müller AG" and extractor.canonical("Strasse Labs") == "Straße Labs"


def test_japanese_names_come_from_aliases_and_from_where_the_text_marks_them() -> None:
    extractor = EntityExtractor(
        [WatchEntity("Helix Labs", ("ヘリックス・ラボ",)), WatchEntity("北斗半導体", ("北斗",))]
    )
    text = (
        "米ヘリックス・ラボは13日、言語モデル「ミズナ3」を評価した東京先端計算研究所と提携した。北斗の中村浩二社長と"
        "クロノチップ社の鈴木一郎氏も出席した。同社社長は新しいモデルについて話した。"
    )
    assert set(found("", text, extractor)) == {
        "Helix Labs", "ミズナ3", "東京先端計算研究所", "北斗半導体", "中村浩二", "クロノチップ", "鈴木一郎",
    }  # fmt: skip
    assert names("「安全」を重視する") == []  # a quoted Han word is no name
    assert [n for n, _ in names("デジタル監督庁と同庁の担当者")] == ["デジタル監督庁"]


# --- topics and routes --------------------------------------------------------------------------


def test_topic_keywords_match_accented_and_cjk_text() -> None:
    matcher = TopicMatcher([TopicRule("policy", ("régulation", "規制", "Łódź")), TopicRule("chips", ("半導体",))])
    assert matcher.hits("REGULATION et Régulation, Lodz") == {"policy": 3}
    assert matcher.hits("政府が規制を強化、北斗半導体は新工場") == {"policy": 1, "chips": 1}


def test_route_keywords_match_accented_and_cjk_text() -> None:
    route = Route(1, "*", 2, include_keywords=("Łódź", "半導体"), exclude_keywords=("régulation",))
    assert route_matches(route, ["compute"], "A plant near Lodz")
    assert route_matches(route, ["compute"], "北斗半導体が新工場")
    assert not route_matches(route, ["compute"], "Lodz: la REGULATION change")


# --- grounding ----------------------------------------------------------------------------------


def test_grounding_reads_names_without_accents_and_japanese_names() -> None:
    facts = SourceFacts(["Hélène Marchetti a présenté Garrigue-4 à l’Élysée.", "ソラリスは「ミズナ3」を発表した。"])
    assert facts.unsupported("Helene Marchetti est à l’Elysee.") == []
    assert facts.unsupported("Marchetti a vu Bastien Roux.") == ["Bastien", "Roux"]
    grounded = ground_text("ソラリスの「ミズナ3」は好評だ。クロノチップ社も「ミズナ4」を出す。", facts)
    assert grounded.text == "ソラリスの「ミズナ3」は好評だ。" and grounded.removed_claims == 2


# --- clustering ---------------------------------------------------------------------------------


def test_german_compounds_count_as_their_parts() -> None:
    # "schutz" is inside, neither at the beginning nor at the end
    parts = compound_parts("datenschutzrecht", {"datenschutz", "recht", "daten", "schutz"})
    assert sorted(parts) == ["daten", "datenschutz", "recht"]
    params = ClusterParams()
    law = features_of("Datenschutzrecht verletzt", "Die Behörde prüft das Datenschutzrecht.", [], 0, 1, params)
    short = features_of("Datenschutz verletzt", "Die Behörde prüft den Datenschutz.", [], 0, 2, params)
    clusterer = Clusterer([], [law, short], params)
    assert "datenschutz" in clusterer.decompounded(law).terms


def test_stored_features_from_before_folding_still_match() -> None:
    old = Features({"régul": 1.0, "model": 2.0}, frozenset({"łódź robotics"}), frozenset({".5"}), 0.0)
    new = refolded(old)
    assert new.terms == {"regul": 1.0, "model": 2.0} and new.entities == {"lodz robotics"} and new.numbers == {"0.5"}
    assert refolded(new) == new
