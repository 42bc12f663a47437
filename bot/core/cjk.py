"""Chinese, Japanese and Korean text: terms and names without spaces between words.

CJK runs (see `chars.CJK`) are read apart from spaced words:

- **Terms** for similarity are character bigrams of Han and Hangul runs (the usual way to index
  text without word breaks: "言語モデルを公開" gives "言語", "モデル", "公開"), and whole katakana
  words (loanwords and foreign names); hiragana (particles and endings) carries no term.
- **Names** are not guessed from case, which these scripts do not have. A name is taken only where
  Japanese marks one: a katakana or Latin name in corner brackets (「ミズナ3」), a katakana name
  before "社" (a company) or "株式会社", a name before an honorific or a title ("佐藤健一氏",
  "山田社長", "オカフォー最高経営責任者"; a few Chinese titles too), and a name ending the way
  organisations' names end ("東京先端計算研究所", "デジタル監督庁", "ミナト・ベンチャーズ"; a leading
  "米" or "英", which says where a company is from, is not part of it). Everything else (Han names
  without a title, Korean names) is found only through configured aliases, matched as substrings.
"""

from __future__ import annotations

import re

__all__ = ["SENTENCE_ENDS", "names", "terms"]

HAN = "\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HIRAGANA = "\u3041-\u3096\u3099-\u309f"
KATAKANA = "\u30a1-\u30ff\u3099\u309a\u31f0-\u31ff\uff65-\uff9f"  # with "・" and "ー"
HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
SENTENCE_ENDS = "。！？｡"  # ideographic full stop, fullwidth "!" and "?", halfwidth full stop
_DOT = "・"  # the katakana middle dot between the parts of a foreign name

_HAN = re.compile(f"[{HAN}]")
_PIECE = re.compile(f"(?P<han>[{HAN}]+)|(?P<kata>[{KATAKANA}]+)|(?P<hangul>[{HANGUL}]+)")
# Honorifics and titles that follow a person's name (Japanese, then Chinese); longest first.
_TITLES = (
    "最高経営責任者|最高技術責任者|最高財務責任者|代表取締役|主任研究員|パートナー|アナリスト|委員長|副社長|副会長|"
    "准教授|取締役|研究員|弁護士|社長|会長|教授|所長|局長|部長|大臣|長官|議長|議員|知事|市長|首相|"
    "氏|さん|CEO|CTO|CFO|先生|女士|总裁|董事长|首席执行官"
)
# How Japanese organisations' names end: "…研究所", "…大学", "…庁", "…ベンチャーズ", "…ホールディングス".
_ORGANISATIONS = (
    "研究所|大学|銀行|証券|製作所|機構|協会|委員会|財団|庁|省|"
    "ホールディングス|グループ|ラボ|キャピタル|ベンチャーズ|パートナーズ|テクノロジーズ|システムズ|ネットワークス"
)
# Where a Japanese text says where a foreign company is from: "米ヘリックス・ラボ" is Helix Labs.
_COUNTRY = "米英独仏中韓台欧露加豪印"
_BRACKETED = re.compile(r"[「『【《〈]([^「」『』【】《》〈〉]{2,20})[」』】》〉]")
_BRACKET_NAME = re.compile(rf"[{KATAKANA}A-Za-z0-9Ａ-Ｚａ-ｚ０-９\-.&＆ ]+")
_KATAKANA_NAME = re.compile(
    rf"株式会社(?P<after>[{KATAKANA}]{{2,}})"
    rf"|(?<![{KATAKANA}])(?P<before>[{KATAKANA}]{{2,}})(?=社(?![長員会内外債製])|株式会社|{_TITLES})"
)
_HAN_NAME = re.compile(rf"(?<![{HAN}])(?P<name>[{HAN}]{{2,5}}?)(?:{_TITLES})")
_ORGANISATION = re.compile(
    rf"(?<![{HAN}{KATAKANA}])(?P<name>[{HAN}{KATAKANA}]{{2,16}}?(?:{_ORGANISATIONS}))(?![{HAN}{KATAKANA}])"
)
# Words before a title that refer to someone already named ("the company's president").
_NOT_NAMES = frozenset(
    "同社 両社 当社 同氏 各社 本社 自社 他社 同省 同庁 政府 同大 同国 日本 米国 中国 韓国 ベンチャーキャピタル".split()
)
# Words before an organisation's kind that say which one, not its name: "同研究所" (the institute just
# named), "新会社", "大手銀行" (a big bank).
_NOT_STARTS = (*"同両各当本自他新旧前元現副", "大手", "地方", "国内", "海外", "外資", "民間", "主要")


def terms(run: str) -> list[str]:
    """Similarity terms of one CJK run (folded): Han and Hangul bigrams, whole katakana words."""
    out: list[str] = []
    for piece in _PIECE.finditer(run):
        text = piece.group(0)
        if piece.lastgroup == "kata":
            out.extend(word for word in text.split(_DOT) if len(word.strip("ー")) >= 2)
        else:
            out.extend(text[i : i + 2] for i in range(len(text) - 1))
    return out


def names(text: str) -> list[tuple[str, int]]:
    """Names Japanese text marks as names (see the module's docstring), with their offsets, in order."""
    found: list[tuple[str, int]] = []
    for m in _BRACKETED.finditer(text):
        inner = m.group(1).strip()
        if _BRACKET_NAME.fullmatch(inner) and any(c.isalpha() for c in inner):
            found.append((inner, m.start(1) + m.group(1).index(inner)))
    for m in _KATAKANA_NAME.finditer(text):
        group = "after" if m.group("after") else "before"
        run = m.group(group)
        name = run.strip(_DOT + "ー")
        if len(name) >= 2:
            found.append((name, m.start(group) + run.index(name)))
    for m in _HAN_NAME.finditer(text):
        if m.group("name") not in _NOT_NAMES:
            found.append((m.group("name"), m.start("name")))
    for m in _ORGANISATION.finditer(text):
        name, start = m.group("name"), m.start("name")
        if name[0] in _COUNTRY and name[1:2] and not _is_han(name[1]):
            name, start = name[1:], start + 1
        if not name.startswith(_NOT_STARTS) and name not in _NOT_NAMES:
            found.append((name, start))
    return sorted(found, key=lambda pair: pair[1])


def _is_han(char: str) -> bool:
    return _HAN.match(char) is not None
