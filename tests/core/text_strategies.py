"""Hypothesis strategies for news text in any script, shared by the core's property tests.

Random `st.text()` is mostly unassigned planes and rarely looks like a sentence, so most of the
text here is built from words: letters of one script at a time (capitalised or not), connectors
that names are made of ("de", "la", "of"), tricky names and numbers, joined by sentence
punctuation — and sprinkled with what feeds really carry: combining marks, zero-width and bidi
characters, emoji, control characters and lone surrogates. `st.text()` at large is mixed in too.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

SCRIPTS = {
    "latin": "abcdefghijklmnopqrstuvwxyz",
    "accented": "áéíóúñçàèìòùâêîôûäëïöüÿœæøåßłżźśćńąęőű",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюяёіїє",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώς",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "cjk": "中文字新闻公司市场发布日本語漢字東京한국어서울",
    "kana": "あいうえおかがきぎのはをにでとしたアイウエオカガキギソラリスミズナーヴ・ｶﾞｿﾗ",
    "devanagari": "अआइईउऊकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह" + "ािीुूेैोौंः्",
    "thai": "กขคงจฉชซญดตถทนบปผพฟภมยรลวศษสหอฮ" + "ัิีึืุู่้๊๋",
}
MARKS = "".join(chr(c) for c in range(0x300, 0x370))  # combining diacritical marks
ZERO_WIDTH = "\u200b\u200c\u200d"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ODDITIES = (
    *MARKS[::7], *ZERO_WIDTH, *BIDI, "😀", "👍🏽", "🇫🇷", "🇩🇪", "👨\u200d👩\u200d👧", "❤️", "\x00", "\x01", "\x07",
    "\x1b", "\x7f", "\x85", "\u00ad", "\ufeff", "\ufffd", "\ud800", "\udfff", "\u2028", "\u00a0", "\u3000", "_", "\\",
    "*", "@everyone", "<@123>", "<p>", "&amp;", "{", "}",
)  # fmt: skip
# Lower-case words that join names ("Señorío de Ávila", "Bureau of Exports"), also capitalised:
# a capitalised connector alone once crashed the entity extractor.
CONNECTORS = (
    "de", "la", "of", "the", "du", "le", "von", "van", "der", "and", "for", "on", "&",
    "De", "La", "Of", "The", "Du", "Le", "Von", "Van", "Der", "And",
)  # fmt: skip
NAMES = (
    "Señorío", "Ávila", "Hélène", "Dubœuf", "Pâtisseries", "Léon", "Cataluña", "İstanbul", "ǅemal", "Zoë",
    "Москва", "Ωμέγα", "GPT-5", "Orca-3", "Tern-70B", "Llama-Guard", "AI-generated", "AT&T", "BAAI", "LLMs",
    "O’Brien's", "Ruiz's", "Mr.", "U.S.", "Ж.", "x86-64", "A1a1a1a1a1a1&b", "São", "Île-Brune", "Å",
    "Łódź", "Ärzte", "Straße", "ŁÓDŹ", "l’Élysée", "d’Helix", "L’Oréal", "Chipkonzern", "Helix-Modell", "Der", "Laut",
    "Según", "ＧＰＴ－５", "「ミズナ3」", "ソラリス社", "佐藤健一氏", "東京先端計算研究所", "米ヘリックス・ラボ",
    "HarborEval",
)  # fmt: skip
NUMBERS = ("12", "3.5", "1,200", "$40M", "€5", "12%", "2024", "0.50", "٣٤", "१२", "７")
SEPARATORS = (
    " ", " ", " ", " ", ". ", ". ", "! ", "? ", "… ", ", ", "; ", ": ", "\n", "\n\n", "", "-", " – ",
    " «", "» ", " (", ") ", " “", "” ", "'", " ¿", "؟ ", "। ", "\t", ".\u00a0",
    "。", "！", "？", "、", "「", "」", "」と", "。 ", "｡",
)  # fmt: skip


def examples(count: int) -> int:
    """`count` examples under the "ci" profile (100 by default), ten times as many under "dev"."""
    return count * settings.default.max_examples // 100


def _capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


script_words = st.sampled_from(sorted(SCRIPTS)).flatmap(
    lambda script: st.text(alphabet=SCRIPTS[script], min_size=1, max_size=9)
)
words = st.one_of(
    script_words,
    script_words.map(_capitalised),
    st.sampled_from(CONNECTORS),
    st.sampled_from(NAMES),
    st.sampled_from(NUMBERS),
    st.sampled_from(ODDITIES),
    st.text(MARKS + ZERO_WIDTH + BIDI, min_size=1, max_size=3),
)
mixed_text = st.lists(st.tuples(words, st.sampled_from(SEPARATORS)), max_size=40).map(
    lambda pairs: "".join(word + separator for word, separator in pairs)
)
# Any code point at all, lone surrogates (broken feed text decoded with surrogateescape) included.
raw_text = st.text(st.characters(exclude_categories=()), max_size=60)
text = st.one_of(mixed_text, mixed_text, mixed_text, st.text(max_size=80), raw_text)
short_text = st.one_of(st.lists(words, min_size=1, max_size=4).map(" ".join), st.text(max_size=12))
