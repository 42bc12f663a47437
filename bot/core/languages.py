"""Function words of the languages Wirebrief reads best, and the one guess made about a text's language.

Similarity ignores function words ("der", "les", "los" as much as "the"); a capitalised one starting a
sentence ("Laut", "Selon", "Según") does not start a name. The lists are folded (see `folding.fold`),
so they are compared with folded words.

The only language guess is `capitalises_nouns`: German writes every noun with a capital, so a
capitalised word there says much less than in English, French or Spanish (see `entities`). It is
guessed per text from its function words, and only when German's clearly outnumber the others'.
For German texts, the nouns that name a role or a kind of thing before a name ("Chipkonzern",
"Sprecherin", "Modell") and the words that come before a noun ("der", "einem", "vier") are here too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from bot.core.folding import fold

GERMAN = frozenset(
    fold(w)
    for w in """
    der die das den dem des ein eine einen einem einer eines und oder aber auch nicht kein keine keinen
    keinem keiner ist sind war waren wird werden wurde wurden hat haben hatte hatten sein seine seinen
    seinem seiner ihr ihre ihren ihrem ihrer sich mit für auf aus bei von vom zu zum zur im am ins ans
    über unter nach vor seit bis durch gegen ohne um als wie wenn dass daß noch nur schon sehr mehr es
    er sie wir man dies diese dieser dieses diesen diesem jede jeder jedes jeden jedem alle allen einige
    viele mehrere beim laut sowie bereits damit dabei dazu jedoch nun hier dort heute gestern wo wer was
    welche welcher welches denn weil doch ab künftig zudem außerdem rund etwa
    """.split()
)
FRENCH = frozenset(
    fold(w)
    for w in """
    le la les l un une des du de d au aux et ou mais donc ni car ce cet cette ces son sa ses leur leurs
    il elle ils elles on nous vous est sont était a ont avait été être qui que qu dont où ne pas plus
    pour par sur dans avec sans sous chez vers entre selon depuis après avant pendant lors comme si
    tout tous toute toutes aussi déjà encore très y en se s lui eux cela ceci ça cependant ainsi
    désormais jusqu lundi mardi mercredi jeudi vendredi samedi dimanche
    """.split()
)
SPANISH = frozenset(
    fold(w)
    for w in """
    el la los las lo un una unos unas y o u e pero ni que de del al en con sin por para sobre entre
    hasta desde tras según durante ante bajo es son fue fueron era ha han había ser está están este
    esta estos estas ese esa eso su sus se le les nos como más muy ya también cuando donde quien cual
    porque aunque si no además así lunes martes miércoles jueves viernes sábado domingo
    """.split()
)
# French and Italian elisions before a word: "l’", "d’", "qu’", "dell’" ("l’Autorité", "dell’Unione").
ELISION = re.compile(
    r"(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu|quoiqu|presqu|dell|dall|nell|sull|all|quell)['’](?=\w)", re.IGNORECASE
)


def without_elision(word: str) -> str:
    """`word` without a French or Italian elision before it: "l’Autorité" is "Autorité"."""
    if "’" not in word[:7] and "'" not in word[:7]:  # no elision is longer than "quoiqu’"
        return word
    elision = ELISION.match(word)
    return word[elision.end() :] if elision is not None and len(word) > elision.end() else word


# Words that are function words elsewhere but words in English news ("car", "son", "die", "era"):
# similarity keeps them.
_ENGLISH_WORDS = frozenset("car son con sin era die war will fast man plus ante".split())
FUNCTION_WORDS = (GERMAN | FRENCH | SPANISH) - _ENGLISH_WORDS

# Words that only one of the languages uses, for telling them apart (never an English word).
_MARKERS = {
    "de": frozenset(
        fold(w)
        for w in """der die das und ist nicht mit für auf dem den ein eine einen einer eines wird wurde werden
        sich von im zu bei auch nach wie waren sind haben oder als aus über seit sein seine ihre dass noch nur
        sehr""".split()
    ),
    "fr": frozenset(
        fold(w)
        for w in """le les et est une des du dans pour avec sur qui ont été au aux ce cette sont pas mais ou leur
        ses être avait il elle nous selon après depuis lors chez très aussi""".split()
    ),
    "es": frozenset(
        fold(w)
        for w in """el los las y es una del al con por para según fue han está sus su como más pero también
        tras desde este esta""".split()
    ),
    "en": frozenset("the and is of to with for that on was has have from its are this by".split()),
}
_MIN_MARKERS = 3  # fewer function words say nothing (a headline, a name)


def language_of(words: Iterable[str]) -> str | None:
    """The language ("de", "fr", "es", "en") whose marker words outnumber the others' in the folded
    `words`, or None when no language clearly leads."""
    counts: Counter[str] = Counter()
    for word in words:
        for language, markers in _MARKERS.items():
            if word in markers:
                counts[language] += 1
    ranked = counts.most_common(2)
    if not ranked or ranked[0][1] < _MIN_MARKERS:
        return None
    if len(ranked) > 1 and ranked[1][1] * 2 > ranked[0][1]:
        return None
    return ranked[0][0]


def capitalises_nouns(words: Iterable[str]) -> bool:
    """Whether the folded `words` read as German, where every noun has a capital."""
    return language_of(words) == "de"


# German nouns for roles and kinds of things that stand before a name ("Chipkonzern Corvid",
# "Sprecherin Weber", "das Modell Orca-3", "im Test HarborEval"), by how they end; folded.
_GERMAN_ROLES = tuple(
    """
    konzern hersteller anbieter unternehmen firma start-up startup labor behorde regulierer investor
    investorin chef chefin sprecher sprecherin grunder grunderin mitgrunder mitgrunderin analyst analystin
    forscher forscherin professor professorin minister ministerin prasident prasidentin direktor direktorin
    leiter leiterin vorsitzende vorsitzender geschaftsfuhrer geschaftsfuhrerin entwickler entwicklerin
    experte expertin partner partnerin manager managerin berater beraterin vorstand vorstandin anwalt
    anwaltin richter richterin abgeordnete abgeordneter staatssekretar staatssekretarin kanzler kanzlerin
    beauftragte beauftragter modell chip beschleuniger prozessor tochter dienst plattform agentur aufsicht
    ministerium verband vorganger nachfolger test benchmark assistent produkt projekt marke geldgeber
    kapitalgeber
    """.split()
)
# Nouns before a place or a label, not a name: never part of one ("Region Frankfurt", "Serie B").
_GERMAN_KINDS = tuple("region stadt standort bundesland land serie runde".split())
# German words before a noun ("der", "einem", "zum", "vier"); folded. A capitalised word after one
# (and after the adjectives that follow it) is a noun.
GERMAN_DETERMINERS = frozenset(
    fold(w)
    for w in """
    der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner dieser diese
    dieses diesen diesem jeder jede jedes jeden jedem sein seine seinen seinem seiner seines ihr ihre
    ihren ihrem ihrer ihres unser unsere unseren unserem unserer im am zum zur vom beim ins ans aufs alle
    allen viele vielen mehrere mehreren einige einigen beide beiden wenige wenigen andere anderen weitere
    weiteren neue neuen erste ersten erstes zahlreiche
    """.split()
)
# Number words: what follows is a unit or a counted noun ("vier Wochen", "zwei Milliarden").
GERMAN_NUMBERS = frozenset(
    fold(w)
    for w in """
    zwei drei vier fünf sechs sieben acht neun zehn elf zwölf zwanzig dreißig hundert tausend knapp rund
    """.split()
)
_INFLECTIONS = ("", "s", "es", "n", "en", "e", "nen")  # genitive and plural endings of the roles


def is_german_role(word: str) -> bool:
    """Whether `word` (any case, any inflection: "Unternehmens", "Chefinnen") ends with a role noun."""
    return _ends_with(word, _GERMAN_ROLES)


def is_german_kind(word: str) -> bool:
    """Whether `word` ends with a noun that comes before a place or a label ("Cloud-Region", "Serie")."""
    return _ends_with(word, _GERMAN_KINDS)


def _ends_with(word: str, nouns: tuple[str, ...]) -> bool:
    folded = fold(word)
    return any(
        folded.endswith(ending) and folded.removesuffix(ending).endswith(nouns)
        for ending in _INFLECTIONS
        if len(folded) > len(ending)
    )
