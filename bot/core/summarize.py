"""The offline summarizer: an extractive card from the sources, no network.

What changed = the lead source's first sentences (lead-2, or lead-3 when they are short: the
strongest extractive baseline for news). Key takeaways = the most informative other sentences
of all sources, never repeating the lead or each other. Why it matters / What to do next / Who
should care come from the configured text of the story's topic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.cards import MAX_TAKEAWAYS, Draft, SourceText, StoryInput
from bot.core.chars import CJK
from bot.core.limits import cut
from bot.core.nlp import content_terms, join_sentences, numbers, split_sentences

_CJK = re.compile(CJK)
HOOK_LIMIT = 200
SHORT_LEAD = 160  # two lead sentences shorter than this leave room for a third
DUPLICATE_OVERLAP = 0.5


@dataclass(frozen=True, slots=True)
class TopicTexts:
    why_it_matters: str = ""
    what_to_do_next: str = ""
    who_should_care: str = ""


DEFAULT_TEXTS = TopicTexts(
    why_it_matters="Several outlets are covering this; it may affect work in this area.",
    what_to_do_next="Read the original report and check whether it touches what you build or use.",
    who_should_care="Anyone following this area",
)

SINGLE_SOURCE_WHY = "One outlet has reported this so far; it may affect work in this area once others confirm it."


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _length(sentence: str) -> int:
    """How long a sentence reads: a CJK character says about as much as two Latin letters."""
    return len(sentence) + len(_CJK.findall(sentence))


def _lead(sentences: Sequence[str]) -> list[str]:
    if len(sentences) >= 3 and _length(sentences[0]) + _length(sentences[1]) < SHORT_LEAD:
        return list(sentences[:3])
    return list(sentences[:2])


def _texts_for(story: StoryInput, topic_texts: Mapping[str, TopicTexts]) -> TopicTexts:
    """Each section from the first of the story's topics that has text for it."""
    chosen = [topic_texts[t] for t in story.topics if t in topic_texts]

    def pick(attr: str) -> str:
        found: str = next((getattr(t, attr) for t in chosen if getattr(t, attr)), getattr(DEFAULT_TEXTS, attr))
        return found

    why = pick("why_it_matters")
    if why == DEFAULT_TEXTS.why_it_matters and len({source.source for source in story.sources}) < 2:
        why = SINGLE_SOURCE_WHY  # "several outlets" would not be true
    return TopicTexts(why, pick("what_to_do_next"), pick("who_should_care"))


def rank_sentences(candidates: Sequence[str], story_terms: Counter[str]) -> list[str]:
    """Most informative first: terms the sources share, plus numbers and names; no near-repeats."""

    def score(sentence: str) -> float:
        terms = set(content_terms(sentence))
        if not terms:
            return 0.0
        shared = sum(min(story_terms[t], 3) for t in terms)
        return shared / math.sqrt(len(terms)) + 1.5 * len(numbers(sentence))

    return sorted(candidates, key=score, reverse=True)


def offline_draft(story: StoryInput, topic_texts: Mapping[str, TopicTexts]) -> Draft:
    """An extractive Draft of `story`; every sentence in it is a sentence of a source (a story with no
    source left gets only its topic's texts)."""
    lead = story.sources[0] if story.sources else SourceText("", "", "", "", 0.0)
    lead_sentences = split_sentences(lead.text) or [lead.title]
    changed = _lead(lead_sentences)
    seen = [set(content_terms(s)) for s in changed]
    story_terms: Counter[str] = Counter()
    for source in story.sources:
        story_terms.update(set(content_terms(f"{source.title} {source.text}")))
    others = list(lead_sentences[len(changed) :])
    for source in story.sources[1:]:
        others += split_sentences(source.text)
    picked: list[str] = []
    for sentence in rank_sentences(others, story_terms):
        terms = set(content_terms(sentence))
        if _length(sentence) < 25 or any(_overlap(terms, s) > DUPLICATE_OVERLAP for s in seen):
            continue
        picked.append(sentence)
        seen.append(terms)
        if len(picked) > MAX_TAKEAWAYS:
            break
    hook = cut(picked[0], HOOK_LIMIT) if picked else ""
    texts = _texts_for(story, topic_texts)
    return Draft(
        hook=hook,
        what_changed=join_sentences(changed),
        why_it_matters=texts.why_it_matters,
        what_to_do_next=texts.what_to_do_next,
        who_should_care=texts.who_should_care,
        takeaways=tuple(picked[1 : 1 + MAX_TAKEAWAYS]),
        topics=story.topics,
    )
