"""The parse ladder: reasoning, fences, prose, truncation, schema validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.cards import Draft
from bot.core.llm_parse import (
    MAX_TEXT_CHARS,
    AnswerError,
    answer_json,
    extract_json,
    parse_answer,
    strip_reasoning,
    validate_answer,
)

TOPICS = ("ai", "security", "policy")
ANSWER: dict[str, Any] = {
    "hook": "Regulators approved the merger.",
    "what_changed": "The deal closed on Monday.",
    "why_it_matters": "It creates the largest chip maker.",
    "what_to_do_next": "Watch for price changes.",
    "who_should_care": "Hardware buyers",
    "takeaways": ["One", "Two"],
    "deep_dive": ["Background."],
    "implications": ["Prices may rise."],
    "topics": ["ai"],
}
TEXT = json.dumps(ANSWER)
EXPECTED = Draft(
    hook="Regulators approved the merger.",
    what_changed="The deal closed on Monday.",
    why_it_matters="It creates the largest chip maker.",
    what_to_do_next="Watch for price changes.",
    who_should_care="Hardware buyers",
    takeaways=("One", "Two"),
    deep_dive=("Background.",),
    implications=("Prices may rise.",),
    topics=("ai",),
)


def answer(**changes: Any) -> dict[str, Any]:
    out = dict(ANSWER)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# --- the ladder -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        TEXT,
        f"  \n{TEXT}\n",
        f'<think>The user wants JSON. {{"hook": "draft"}} fine.</think>\n{TEXT}',
        f"<THINKING>\nsteps\n</THINKING>{TEXT}",
        f'reasoning the template opened for me {{"hook": "x"}}\n</think>\n\n{TEXT}',  # opening tag in the prompt
        f'<think>never closed, a draft {{"hook": "draft", "what_changed": "d"}} and finally\n{TEXT}',
        f"```json\n{TEXT}\n```",
        f"```\n{TEXT}\n```",
        f"Sure! Here is the briefing:\n```json\n{TEXT}\n```\nHope this helps {{not json}}.",
        f"Here you go: {TEXT} -- anything else?",
        f"I considered {{this}} first.\n{TEXT}",
        TEXT.replace('"Two"]', '"Two",]').replace('"ai"]}', '"ai"],}'),  # trailing commas
        f"{{{TEXT}}}",  # a doubled brace from a prefill
        json.dumps({"briefing": ANSWER}),  # wrapped
    ],
)
def test_the_ladder_finds_the_answer(raw: str) -> None:
    assert parse_answer(raw, TOPICS) == EXPECTED


def test_strip_reasoning_reports_an_unterminated_block() -> None:
    assert strip_reasoning("<think>a</think>b") == ("b", False)
    assert strip_reasoning("a</think>b</think>c") == ("c", False)
    assert strip_reasoning("  <think>still thinking") == ("still thinking", True)
    assert strip_reasoning("no reasoning") == ("no reasoning", False)


def test_a_fence_cut_off_by_the_token_limit() -> None:
    raw = f"```json\n{TEXT[: TEXT.index('Prices may') + 8]}"
    draft = parse_answer(raw, TOPICS)
    assert draft.implications == ("Prices…",) and draft.topics == ()


@pytest.mark.parametrize(
    ("cut_after", "expected"),
    [
        ('"takeaways": ["One", "Tw', {"takeaways": ["One", "Tw"]}),  # an open string is closed
        ('"takeaways": ["One", ', {"takeaways": ["One"]}),  # a trailing comma is dropped
        ('"takeaways": ["One"', {"takeaways": ["One"]}),
        ('"takeaways": [', {"takeaways": []}),
        ('"takeaways"', {}),  # a dangling key is dropped
        ('"takeaways":', {}),
        ('"takea', {}),  # half a key too
        ('"why_it_matters": "It creates the lar', {"why_it_matters": "It creates the…"}),  # whole words
    ],
)
def test_truncated_json_is_repaired(cut_after: str, expected: dict[str, Any]) -> None:
    head = {"hook": "H", "what_changed": "W"}
    text = json.dumps(head)[:-1] + ", " + cut_after
    assert extract_json(text) == {**head, **expected}


def test_a_cut_inside_an_escape_is_repaired() -> None:
    assert extract_json('{"hook": "caf\\u00') == {"hook": "caf"}
    assert extract_json('{"hook": "a\\') == {"hook": "a"}
    assert extract_json('{"hook": "x", "n": tru') == {"hook": "x"}


def test_a_truncated_answer_missing_required_fields_is_invalid() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_answer(TEXT[:40], TOPICS)
    assert '"why_it_matters" is missing' in caught.value.problems


@pytest.mark.parametrize("raw", ["", "I cannot help with that.", "<think>only thoughts", "[1, 2, 3]"])
def test_no_json_object_is_an_answer_error(raw: str) -> None:
    with pytest.raises(AnswerError, match="no JSON object"):
        parse_answer(raw, TOPICS)


def test_a_json_object_of_another_shape_is_returned_for_validation() -> None:
    assert extract_json('{"title": "x"}') == {"title": "x"}


def test_the_work_is_bounded_on_pathological_text() -> None:
    with pytest.raises(AnswerError):
        parse_answer("{" * 20_000, TOPICS)


# --- validation -------------------------------------------------------------------------------


def test_every_problem_is_listed() -> None:
    with pytest.raises(AnswerError) as caught:
        validate_answer(answer(hook=None, what_changed=3, why_it_matters="  ", takeaways={"a": 1}), TOPICS)
    assert caught.value.problems == (
        '"hook" is missing',
        '"what_changed" must be a string (got a number)',
        '"why_it_matters" is empty',
        '"takeaways" must be a list of strings (got an object)',
    )
    assert str(caught.value).startswith('"hook" is missing; ')


def test_non_string_items_and_overlong_text_are_invalid() -> None:
    with pytest.raises(AnswerError, match=r'"deep_dive" must hold only strings \(got null\)'):
        validate_answer(answer(deep_dive=["a", None]), TOPICS)
    with pytest.raises(AnswerError, match="too long"):
        validate_answer(answer(hook="x" * (MAX_TEXT_CHARS + 1)), TOPICS)
    with pytest.raises(AnswerError, match='an item of "takeaways" is too long'):
        validate_answer(answer(takeaways=["x" * (MAX_TEXT_CHARS + 1)]), TOPICS)


def test_lists_are_optional_trimmed_and_capped() -> None:
    draft = validate_answer(
        answer(takeaways=[" a ", "", "b", "c", "d", "e", "f", "g"], deep_dive=None, implications="only one"), TOPICS
    )
    assert draft.takeaways == ("a", "b", "c", "d", "e")
    assert draft.deep_dive == () and draft.implications == ("only one",)


def test_unknown_topics_are_dropped_not_fatal() -> None:
    draft = validate_answer(answer(topics=["AI", "sports", "policy", "ai", 7]), TOPICS)
    assert draft.topics == ("ai", "policy")
    assert validate_answer(answer(topics="Security"), TOPICS).topics == ("security",)
    assert validate_answer(answer(topics=None), TOPICS).topics == ()
    assert validate_answer(answer(topics=["ai"]), ()).topics == ()


def test_extra_keys_are_ignored_and_text_is_stripped() -> None:
    draft = validate_answer(answer(hook="  Spaced.  ", sources=["x"]), TOPICS)
    assert draft.hook == "Spaced." and draft.written_by == "offline" and not draft.by_model


def test_answer_json_round_trips() -> None:
    assert parse_answer(answer_json(EXPECTED), TOPICS) == EXPECTED
    assert json.loads(answer_json(EXPECTED)).keys() == ANSWER.keys()


def test_the_work_is_bounded_on_long_unbalanced_text() -> None:
    with pytest.raises(AnswerError):
        parse_answer('{"a": "' + "{ x " * 30_000, TOPICS)
