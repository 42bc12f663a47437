"""Entity extraction: the configured watchlist (with aliases) matched exactly, plus candidate
names found in the text — multi-word proper names, acronyms ("BAAI"), names with digits
("GPT-5"). Candidates become entities people see once they appear in several stories.

Any language: aliases match without regard to accents ("Elysee" finds "Élysée"; case counts only
for an alias written with capitals, as before), and a CJK alias matches inside a run of text that
has no spaces. Names keep the spelling of their first mention; spellings that fold alike are one name.
Capitalised names work for every script with case, with French and Italian elisions cut off
("l’Autorité", "d’Helix"), and a capitalised function word starting a sentence ("Laut", "Selon",
"Según") is no part of a name. German capitalises every noun, so in a German text (guessed from
its function words) a single capitalised word is a name only when it follows a role noun
("Chipkonzern Corvid", "Sprecherin Weber") or repeats a word of a longer name of the same text
("Okafor" after "Mara Okafor"); runs of capitalised words, acronyms and names with digits are names
as elsewhere. Chinese, Japanese and Korean have no case: their names come from the watchlist, from
Latin-script names in the text, and from the few places Japanese marks a name (`cjk.names`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate, pairwise

from bot.core import cjk
from bot.core.chars import (
    ALNUM,
    CJK,
    JOINERS,
    LETTER,
    MARK,
    WORD_CHAR,
    is_capital,
    is_cjk,
    whole_words,
)
from bot.core.folding import fold, folded, strip_marks, stripped
from bot.core.languages import (
    FUNCTION_WORDS,
    GERMAN_DETERMINERS,
    GERMAN_NUMBERS,
    capitalises_nouns,
    is_german_kind,
    is_german_role,
    without_elision,
)
from bot.core.nlp import STOPWORDS, split_sentences, words

# A candidate seen in this many distinct stories is promoted to a visible entity.
PROMOTE_AFTER_STORIES = 2

# Capitalised words that start sentences or name generic things, never entities on their own.
_NOT_NAMES = frozenset(
    """
    AI ML LLM LLMs GPU GPUs CPU CPUs TPU CEO CTO CFO COO API APIs SDK UI UX IPO VC PC OS IT HR PR
    US USA UK EU UN Q1 Q2 Q3 Q4 AM PM GMT UTC ET PT EST PST FAQ PDF TV RSS URL HTTP HTTPS OK
    January February March April May June July August September October November December
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    The A An In On At For From With By After Before During Under Over Its It This That These Those
    Their They He She We I Our His Her But And Or Yet So If When While Although Meanwhile However
    Also Still Now Then Today Yesterday Tomorrow Earlier Later According Last Next New Some Many Most
    Several Both Each Every Other Another Such Why How What Who Where Which Until Since As Not No
    Inc Ltd Corp Co LLC PLC Group Mr Mrs Ms Dr Prof Sen Rep Gov Minister President Chief
    KI IA UE PDG EE UU GmbH AG SA SL SAS Januar Februar März Mai Juni Juli Oktober Dezember
    Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag Prozent Euro Dollar Million Millionen
    Milliarde Milliarden Uhr
    """.split()
)
_OPENERS = ':–—"“„«»'  # after these a capital may only mean that a clause begins
_ADJECTIVE_ENDINGS = ("e", "en", "er", "es", "em")
# Short forms of at most this many words fold into longer names; a longer "name" is a run of
# capitalised words in a Title Case text, and indexing all its parts would be quadratic.
_FOLD_WORDS = 12
# Names found in the text are looked for again in this much of the title: a headline is shorter,
# and a search per name through a huge "title" would be quadratic.
_HEADLINE_CHARS = 1000
_CONNECTORS = frozenset(
    {"of", "for", "and", "&", "de", "der", "van", "von", "la", "le", "du", "on", "the", "del", "des", "di", "da"}
)
# In German "der", "von" and "für" join nouns far more often than names ("Angaben von Corvid").
_GERMAN_CONNECTORS = frozenset({"&", "de", "van", "da", "di"})
# A word of any script ("Señorío", "Dubœuf", "GPT-5", "AT&T", "O’Brien"), a lone "&", or a CJK run
# (never capitalised: it ends a name, as a lower-case word does).
_TOKEN = re.compile(rf"{ALNUM}(?:(?:{WORD_CHAR}|[&'’.\-{JOINERS}])*{WORD_CHAR})?|&|{CJK}+")
_LETTERS = f"(?:{LETTER}|{MARK})"
# Letters, then letters and digits, with each part after a "-" or "." holding a digit: "GPT-5",
# "Orca-3", "Tern-70B", "GPT-4.5". Where each part starts is plain from its characters, so a word
# that fails is rejected in one pass; the nested form this replaces backtracked exponentially
# (a 64-character title "A1a1…a1&b" took 10 s, and each two more characters doubled that).
_DIGIT_SHAPE = re.compile(rf"{_LETTERS}{WORD_CHAR}*(?:[-.]{_LETTERS}*\d{WORD_CHAR}*)*")
_HYPHENATED = re.compile(rf"{_LETTERS}+-{WORD_CHAR}+")


@dataclass(frozen=True, slots=True)
class WatchEntity:
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mention:
    name: str  # canonical
    count: int
    first_at: int  # character offset of the first mention in title + text
    in_title: bool
    watchlist: bool


def _strip_possessive(word: str) -> str:
    for suffix in ("'s", "’s", "'", "’"):
        if word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _is_capitalised(word: str) -> bool:
    return is_capital(word[:1]) or (word[:1].isdigit() and any(is_capital(c) for c in word))


def _is_acronym(word: str) -> bool:
    """ "BAAI", "AT&T", "LLMs": two to eight capitals, digits or "&" (a capital first), maybe a plural "s"."""
    core = word.removesuffix("s")
    return 2 <= len(core) <= 8 and is_capital(core[0]) and all(is_capital(c) or c.isdecimal() or c == "&" for c in core)


def _is_digit_name(word: str) -> bool:
    """A capitalised name with digits ("GPT-5", "Orca-3", "Tern-70B"), or hyphenated with a capital
    or a digit after the hyphen ("Llama-Guard", "Qwen-vl2") — but not "AI-generated"."""
    if not is_capital(word[:1]):
        return False
    if _DIGIT_SHAPE.fullmatch(word) and any(c.isdecimal() for c in word):
        return True
    if not _HYPHENATED.fullmatch(word):
        return False
    tail = word.partition("-")[2]
    before_digit = next((tail[:i] for i, c in enumerate(tail) if c.isdecimal()), None)
    return is_capital(tail[0]) or (before_digit is not None and not any(is_capital(c) for c in before_digit))


def _alternatives(aliases: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for all `aliases`, longest first ("Open AI Labs" before "Open AI"). It looks at
    the first character before anything else: the boundaries are checked only where an alias may start."""
    names = sorted(aliases, key=len, reverse=True)
    if not names:
        return None
    firsts = "".join(sorted({re.escape(a[0]) for a in names}))
    return re.compile(f"(?=[{firsts}])(?:" + "|".join(whole_words(a) for a in names) + ")")


def _name_words(name: str) -> tuple[str, ...]:
    """The folded words of a name, the parts of a katakana name ("ヘリックス・ラボ") too."""
    return tuple(fold(name).replace("・", " ").split())


class EntityExtractor:
    """Finds entities in a story's title and text; `known` folds discovered aliases too."""

    def __init__(self, watchlist: Iterable[WatchEntity], known: Mapping[str, str] | None = None) -> None:
        # every comparison of names is folded (`known` comes from the store, case-folded: it folds alike)
        self._canonical: dict[str, str] = {fold(k): v for k, v in (known or {}).items()}
        self._watch: set[str] = set()
        self._exact: dict[str, str] = {}  # an alias with capitals, marks stripped -> its entity
        self._folded: dict[str, str] = {}  # any other alias, folded -> its entity
        for entity in watchlist:
            self._watch.add(entity.name)
            for alias in (entity.name, *entity.aliases):
                alias = " ".join(alias.split())  # as the text is matched: white space collapsed
                if not fold(alias).strip():  # an empty alias would match everywhere (marks alone fold to nothing)
                    continue
                self._canonical[fold(alias)] = entity.name
                if any(c.isupper() for c in alias):
                    self._exact[strip_marks(alias)] = entity.name
                else:
                    self._folded[fold(alias)] = entity.name
        self._exact_pattern = _alternatives(a for a in self._exact if a)
        self._folded_pattern = _alternatives(a for a in self._folded if a)

    def canonical(self, name: str) -> str:
        """The canonical form of a name or alias (the name itself when unknown)."""
        return self._canonical.get(fold(name), name)

    def _watched(self, doc: str) -> Iterable[tuple[str, int, int]]:
        """Watchlist names in `doc`: (entity, start, end), offsets in `doc` as written."""
        for pattern, view, names in (
            (self._exact_pattern, stripped, self._exact),
            (self._folded_pattern, folded, self._folded),
        ):
            if pattern is None:
                continue
            text = view(doc)
            for m in pattern.finditer(text.text):
                yield names[m.group(0)], text.start(m.start()), text.end(m.end())

    def extract(self, title: str, text: str) -> list[Mention]:
        """Entities of a story, main entity first (see `rank`)."""
        title = " ".join(title.split())
        text = " ".join(text.split())
        doc = f"{title}\n{text}"
        title_end = len(title)
        german = capitalises_nouns(words(fold(doc)))
        found: dict[str, list[int]] = {}
        spelling: dict[str, str] = {}  # a folded name -> the spelling of its first mention

        def add(name: str, offset: int) -> str:
            name = spelling.setdefault(fold(name), name)
            found.setdefault(name, []).append(offset)
            return name

        spans: list[tuple[int, int]] = []  # where watchlist names matched: no candidate starts inside
        for name, start, end in self._watched(doc):
            add(name, start)
            spans.append((start, end))

        spans.sort()
        starts = [s for s, _ in spans]
        reach = list(accumulate((e for _, e in spans), max))  # the furthest end of the spans so far

        def free(offset: int) -> bool:
            i = bisect_right(starts, offset)  # spans[:i] start at or before `offset`
            return i == 0 or reach[i - 1] <= offset

        base = title_end + 1
        weak: set[str] = set()  # names kept only if they fold into a longer one (see `_fold_short_forms`)
        strong: set[str] = set(found)  # names that stand on their own somewhere
        for name, offset, alone in self._text_candidates(text, german=german):
            if free(base + offset):
                (strong if alone else weak).add(add(self.canonical(name), base + offset))
        headline = title[:_HEADLINE_CHARS]
        for name in [n for n in found if n not in self._watch and n in headline]:
            for m in re.finditer(whole_words(name), headline):
                if free(m.start()):
                    found[name].append(m.start())
        for name, offset in self._title_tokens(title, german=german):
            if free(offset):
                strong.add(add(self.canonical(name), offset))
        found = self._fold_short_forms(found, weak - strong - self._watch)
        mentions = [
            Mention(name, len(set(offs)), min(offs), min(offs) < title_end, name in self._watch)
            for name, offs in found.items()
        ]
        return rank(mentions)

    def _text_candidates(self, text: str, *, german: bool) -> Iterable[tuple[str, int, bool]]:
        """Candidate names in the text, with their offsets, and whether they stand on their own."""
        position = 0
        for sentence in split_sentences(text):
            start = text.find(sentence, position)
            start = position if start < 0 else start
            for name, offset, strong in self._scan(sentence, german=german):
                yield name, start + offset, strong
            for name, offset in cjk.names(sentence):
                yield name, start + offset, True
            position = start + len(sentence)

    def _title_tokens(self, title: str, *, german: bool) -> Iterable[tuple[str, int]]:
        """Acronyms and names with digits in the title (Title Case hides other names), and the names
        Japanese marks."""
        for token in _tokens(title, german=german):
            word = _strip_possessive(token.word)
            named = _is_acronym(word) or _is_digit_name(word) or (token.noun is not None and _is_camel(word))
            if named and word.rstrip("s") not in _NOT_NAMES:
                yield word, token.start
        yield from cjk.names(title)

    def _scan(self, sentence: str, *, german: bool) -> Iterable[tuple[str, int, bool]]:
        tokens = _tokens(sentence, german=german)
        connectors = _GERMAN_CONNECTORS if german else _CONNECTORS
        after_role = False  # the word before is a German role noun: a single name after it is one
        i = 0
        while i < len(tokens):
            word, start = _strip_possessive(tokens[i].word), tokens[i].start
            if tokens[i].noun is not None:  # a German role or kind; "HarborEval-Test" names HarborEval
                if _is_camel(word) and word not in _NOT_NAMES:
                    yield word, start, True
                after_role = tokens[i].noun == "role" and _is_capitalised(word)
                i += 1
                continue
            # "Laut …", "Selon …", "Según …", "Die …", "Erste …" start sentences, not names
            opener = tokens[i].opens and _opens_sentence(word, german)
            if not _is_capitalised(word) or opener or word in _NOT_NAMES:
                after_role = False
                i += 1
                continue
            context = _after_determiner(tokens, i) if german else None
            if context == "number":  # "12 Millionen Euro", "vier Wochen Zeit": a unit, a counted noun
                i += 1
                continue
            run = [word]
            ends = [start + len(word)]  # where each word of the run ends: the name is shown as written
            j = i + 1
            # a possessive ends the name: "Helix's Orca" is no "Helix Orca"
            while j < len(tokens) and tokens[j].spaced and tokens[i].word == word:
                nxt = _strip_possessive(tokens[j].word)
                joins = (
                    nxt.lower() in connectors
                    and j + 1 < len(tokens)
                    and tokens[j + 1].spaced
                    and _is_capitalised(tokens[j + 1].word)
                )
                if not joins and (not _is_capitalised(nxt) or nxt in _NOT_NAMES or tokens[j].noun is not None):
                    break
                run.append(nxt)
                ends.append(tokens[j].start + len(nxt))
                if tokens[j].word != nxt:  # a possessive ends the name
                    j += 1
                    break
                j += 1
            while run and run[-1].lower() in connectors:
                run.pop()
                ends.pop()
            # a capitalised connector alone ("La cadena…", "Le robot’s…") leaves nothing
            if run:
                first = i == 0 or (tokens[i].opens and german)
                strength = _strength(run, first=first, after_role=after_role, german=german, context=context)
                if strength is not None:
                    yield sentence[start : ends[-1]], start, strength
            after_role = False
            i = max(j, i + 1)

    def _fold_short_forms(self, found: dict[str, list[int]], weak: set[str]) -> dict[str, list[int]]:
        """ "Ruiz" after "Ana Ruiz", "Helix" after "Helix Labs", "監督庁" after "デジタル監督庁": the short
        form joins the long one. A `weak` name that joins none is dropped."""
        out: dict[str, list[int]] = {}
        # the first kept name that each shorter run of words begins or ends: one look-up per
        # name, not a scan of every longer name (a huge text has thousands of them)
        part_of: dict[tuple[str, ...], str] = {}
        for name in sorted(found, key=len, reverse=True):
            words = _name_words(name)
            longer = None if name in self._watch else part_of.get(words)
            if longer is None:
                if name in weak:
                    continue
                longer = name
                out[name] = []
                for part in _short_forms(words):
                    part_of.setdefault(part, name)
            out[longer].extend(found[name])
        return out


def _short_forms(words: tuple[str, ...]) -> Iterable[tuple[str, ...]]:
    """The shorter runs of words a name begins or ends with; for a CJK name (no spaces), the shorter
    runs of characters it begins or ends with."""
    for k in range(min(len(words), _FOLD_WORDS + 1)):
        yield words[:k]
        yield words[len(words) - k :]
    if len(words) == 1 and any(is_cjk(c) for c in words[0]):
        word = words[0]
        for k in range(2, min(len(word), _FOLD_WORDS + 1)):
            yield (word[:k],)
            yield (word[len(word) - k :],)


def _opens_sentence(word: str, german: bool) -> bool:
    """A capitalised function word starting a sentence ("Laut", "Selon", "Die"), or in German a
    determiner ("Viele", "Erste"): what follows it is read as if the sentence began after it."""
    folded = fold(word)
    return folded in FUNCTION_WORDS or (german and folded in GERMAN_DETERMINERS)


def _strength(run: list[str], *, first: bool, after_role: bool, german: bool, context: str | None) -> bool | None:
    """Whether `run` is a name on its own (True), only as a short form of a longer one (False), or
    none (None). `context`: in German, what comes before the run (see `_after_determiner`)."""
    if len(run) >= 2:
        return True
    word = run[0]
    if len(word) < 2:
        return None  # "Plan B", "Serie B"
    if _is_acronym(word) or _is_digit_name(word) or _is_camel(word):
        return True if word.rstrip("s") not in _NOT_NAMES else None
    if first or fold(word) in STOPWORDS:
        return None  # a lone capitalised word starting a sentence, or a common word
    if not german or after_role:
        return True  # in German, after a role noun: "der Chipkonzern Corvid"
    # in German "die Ärzte" is a noun; "Okafor" is a name if "Mara Okafor" is one
    return None if context == "determiner" else False


def _after_determiner(tokens: list[_Token], i: int) -> str | None:
    """What a German word tokens[i] follows: "number" (a digit or a number word), "determiner" (maybe
    with adjectives between), or None."""
    j = i - 1
    while j >= 0 and j >= i - 3:
        word = fold(tokens[j].word)
        if word[:1].isdecimal() or word in GERMAN_NUMBERS:
            return "number"
        if word in GERMAN_DETERMINERS:
            return "determiner"
        if not (tokens[j].word.islower() and word.endswith(_ADJECTIVE_ENDINGS)):
            return None
        j -= 1
    return None


def _is_camel(word: str) -> bool:
    """ "HarborEval", "BfD", "iPhone": a capital after a lower-case letter marks a name in any language."""
    return any(a.islower() and is_capital(b) for a, b in pairwise(word))


@dataclass(frozen=True, slots=True)
class _Token:
    word: str
    start: int
    spaced: bool  # only white space since the token before: a name may go on across it
    opens: bool  # the first of its sentence, or of a part of it after a colon, a dash or a quote
    noun: str | None = None  # in German: "role" ("Chipkonzern") or "kind" ("Region"), see `languages`


def _tokens(sentence: str, *, german: bool) -> list[_Token]:
    """The words of a sentence with their offsets, elisions cut off ("l’Autorité" is "Autorité").
    In German, a compound with a hyphen is read as its first part ("Helix-Modell" is "Helix", a role
    noun as a whole): German joins names to nouns that way, and "Software-Update" is no name."""
    out: list[_Token] = []
    end = 0
    for index, m in enumerate(_TOKEN.finditer(sentence)):
        word, start = m.group(0), m.start()
        rest = without_elision(word)  # a capital one only starting a sentence: "L’Oréal" is a name
        if len(rest) < len(word) and (word[0].islower() or index == 0):
            word, start = rest, start + len(word) - len(rest)
        noun = None
        if german:
            noun = "role" if is_german_role(word) else "kind" if is_german_kind(word) else None
            if "-" in word.strip("-") and not any(c.isdecimal() for c in word):
                word = word.partition("-")[0]
        gap = sentence[end:start]
        out.append(_Token(word, start, not gap.strip(), index == 0 or any(c in _OPENERS for c in gap), noun))
        end = m.end()
    return out


def rank(mentions: list[Mention]) -> list[Mention]:
    """Main entity first: named in the title (watchlist before others), else the most mentioned."""
    return sorted(mentions, key=lambda m: (not m.in_title, not m.watchlist, -m.count, m.first_at))
