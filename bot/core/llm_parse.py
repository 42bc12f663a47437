"""Reading what model servers really return, and checking it against the answer's schema.

The ladder: drop reasoning (`<think>…</think>`, also unterminated), prefer a fenced block, find
the first balanced JSON object amid any prose, forgive trailing commas, repair an answer cut off
by the token limit (close the open string, arrays and objects; drop a dangling key), then
validate into a Draft. Anything that cannot be read raises AnswerError listing what was wrong,
which is what the one re-ask tells the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from bot.core.cards import Draft
from bot.core.prompt import LIST_LIMITS, TEXT_FIELDS

MAX_TEXT_CHARS = 1000  # a longer field is rambling or not a briefing at all
MAX_CANDIDATES = 50  # `{` positions tried; with MAX_DEPTH, bounds the work on pathological text
MAX_DEPTH = 16  # an answer nests two deep; deeper is not an answer
MAX_ANSWER_CHARS = 40_000  # far beyond the max_tokens we ask for
ANSWER_KEYS = frozenset((*TEXT_FIELDS, *LIST_LIMITS, "topics"))

_REASONING = "think|thinking|reasoning"
_REASONING_BLOCK = re.compile(rf"<({_REASONING})>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_REASONING_CLOSE = re.compile(rf"</(?:{_REASONING})\s*>", re.IGNORECASE)
_REASONING_OPEN = re.compile(rf"\s*<(?:{_REASONING})>", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_PARTIAL_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?$")


class AnswerError(ValueError):
    """A model's answer could not be read or does not fit the schema; `problems` says why."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


# --- from text to a JSON object ---------------------------------------------------------------


def strip_reasoning(text: str) -> tuple[str, bool]:
    """`text` without reasoning blocks, and whether an unterminated one was cut off the front."""
    text = _REASONING_BLOCK.sub("", text)
    closes = list(_REASONING_CLOSE.finditer(text))
    if closes:  # a chat template opened the block in the prompt: all before its close is reasoning
        return text[closes[-1].end() :], False
    opened = _REASONING_OPEN.match(text)
    if opened:  # never closed (out of tokens, or the server ate the tag): the answer, if any, is last
        return text[opened.end() :], True
    return text, False


def _closers(stack: Sequence[str]) -> str:
    return "".join("}" if c == "{" else "]" for c in reversed(stack))


class _Scan:
    """One pass over a JSON object starting at `start`: where it ends, or how to close it if cut off."""

    def __init__(self, text: str, start: int) -> None:
        self.text, self.start = text, start
        self.stack: list[str] = []
        self.expect: list[str] = []  # per open container: key | colon | value | comma
        self.end: int | None = None  # index just past the closing brace, when balanced
        self.too_deep = False
        self.safe = (start, "")  # last cut that leaves a valid prefix, and what then closes it
        self.in_string = self.string_is_key = self.escaped = False
        self.string_start = start
        self.scalar = False

    def run(self) -> _Scan:
        for i in range(self.start, len(self.text)):
            if self._step(i, self.text[i]):
                self.end = i + 1
                break
            if len(self.stack) > MAX_DEPTH:
                self.too_deep = True
                break
        return self

    def _value_done(self, cut: int) -> None:
        self.expect[-1] = "comma"
        self.safe = (cut, _closers(self.stack))

    def _step(self, i: int, ch: str) -> bool:
        if self.in_string:
            self._string_char(i, ch)
            return False
        if self.scalar and ch in " \t\r\n,]}:":
            self.scalar = False
            self._value_done(i)
        if ch == '"':
            self.in_string, self.escaped, self.string_start = True, False, i
            self.string_is_key = self.stack[-1] == "{" and self.expect[-1] == "key"
        elif ch in "{[":
            self.stack.append(ch)
            self.expect.append("key" if ch == "{" else "value")
            self.safe = (i + 1, _closers(self.stack))
        elif ch in "}]":
            self.stack.pop()
            self.expect.pop()
            if not self.stack:
                return True
            self._value_done(i + 1)
        elif ch == ":":
            self.expect[-1] = "value"
        elif ch == ",":
            self.expect[-1] = "key" if self.stack[-1] == "{" else "value"
        elif not ch.isspace():
            self.scalar = True
        return False

    def _string_char(self, i: int, ch: str) -> None:
        if self.escaped:
            self.escaped = False
        elif ch == "\\":
            self.escaped = True
        elif ch == '"':
            self.in_string = False
            if self.string_is_key:
                self.expect[-1] = "colon"
            else:
                self._value_done(i + 1)

    def repairs(self) -> Iterator[str]:
        """Closings of a cut-off object, the most complete first."""
        if self.in_string and not self.string_is_key:
            head = self.text[self.start : self.string_start + 1]
            tail = _PARTIAL_ESCAPE.sub("", self.text[self.string_start + 1 :])
            if " " in tail.strip():  # end on a whole word, marked as cut, rather than on half a word
                tail = tail.rstrip().rsplit(" ", 1)[0] + "…"
            yield f'{head}{tail}"{_closers(self.stack)}'
        cut, closing = self.safe
        yield self.text[self.start : cut] + closing


def _drop_trailing_commas(candidate: str) -> str:
    """`candidate` without commas right before a closing bracket (outside strings)."""
    out: list[str] = []
    in_string = escaped = False
    for ch in candidate:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "}]":
            while out and (out[-1].isspace() or out[-1] == ","):
                if out.pop() == ",":
                    break
        out.append(ch)
    return "".join(out)


def _load(candidate: str) -> dict[str, Any] | None:
    for attempt in (candidate, _drop_trailing_commas(candidate)):
        try:
            value = json.loads(attempt)
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None


def _objects(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object found in `text`, in order; a cut-off one is repaired."""
    position, tried = text.find("{"), 0
    while position != -1 and tried < MAX_CANDIDATES:
        tried += 1
        scan = _Scan(text, position).run()
        if scan.end is not None and not scan.too_deep:
            value = _load(text[position : scan.end])
            if value is not None:
                yield value
                position = text.find("{", scan.end)
                continue
        elif not scan.too_deep:
            for repaired in scan.repairs():
                value = _load(repaired)
                if value is not None:
                    yield value
                    break
        position = text.find("{", position + 1)


def _looks_like_answer(value: Mapping[str, Any]) -> bool:
    return bool(ANSWER_KEYS & value.keys())


def extract_json(text: str) -> dict[str, Any]:
    """The answer object in a model's raw text. Raises AnswerError when there is none."""
    body, reasoning_cut = strip_reasoning(text[:MAX_ANSWER_CHARS])
    fenced = [m.group(1) for m in _FENCE.finditer(body)]
    first_found: dict[str, Any] | None = None
    for region in [*fenced, body]:
        found: Iterable[dict[str, Any]] = _objects(region)
        if reasoning_cut:  # drafts come first in reasoning, the final answer last
            found = reversed(list(found))
        for value in found:
            if _looks_like_answer(value):
                return value
            if first_found is None:
                first_found = value
    if first_found is not None:
        return first_found
    raise AnswerError(["the answer holds no JSON object"])


# --- from a JSON object to a Draft ------------------------------------------------------------


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _text(data: Mapping[str, Any], name: str, problems: list[str]) -> str:
    value = data.get(name)
    if value is None:
        problems.append(f'"{name}" is missing')
        return ""
    if not isinstance(value, str):
        problems.append(f'"{name}" must be a string (got {_kind(value)})')
        return ""
    value = value.strip()
    if not value:
        problems.append(f'"{name}" is empty')
    elif len(value) > MAX_TEXT_CHARS:
        problems.append(f'"{name}" is too long ({len(value)} characters; at most {MAX_TEXT_CHARS})')
    return value


def _texts(data: Mapping[str, Any], name: str, limit: int, problems: list[str]) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()  # optional: a briefing without deep dive is still a briefing
    if isinstance(value, str):  # a single point given without its list
        value = [value]
    if not isinstance(value, list):
        problems.append(f'"{name}" must be a list of strings (got {_kind(value)})')
        return ()
    items: list[str] = []
    for item in value:
        if not isinstance(item, str):
            problems.append(f'"{name}" must hold only strings (got {_kind(item)})')
            return ()
        if len(item.strip()) > MAX_TEXT_CHARS:
            problems.append(f'an item of "{name}" is too long ({len(item.strip())} characters)')
            return ()
        if item.strip():
            items.append(item.strip())
    return tuple(items[:limit])  # extra points are dropped, not worth a second paid call


def _topics(data: Mapping[str, Any], allowed: Sequence[str]) -> tuple[str, ...]:
    value = data.get("topics")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    by_folded = {a.casefold(): a for a in allowed}
    chosen = (by_folded.get(v.strip().casefold()) for v in value if isinstance(v, str))
    return tuple(dict.fromkeys(t for t in chosen if t is not None))  # unknown topics are dropped


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """Some models wrap the answer (`{"briefing": {…}}`); take the one inner object then."""
    if not _looks_like_answer(data) and len(data) == 1:
        inner = next(iter(data.values()))
        if isinstance(inner, dict) and _looks_like_answer(inner):
            return inner
    return data


def validate_answer(data: dict[str, Any], allowed_topics: Sequence[str]) -> Draft:
    """A Draft from an answer object. Raises AnswerError listing every problem found."""
    data = _unwrap(data)
    problems: list[str] = []
    texts = {name: _text(data, name, problems) for name in TEXT_FIELDS}
    lists = {name: _texts(data, name, limit, problems) for name, limit in LIST_LIMITS.items()}
    if problems:
        raise AnswerError(problems)
    return Draft(
        hook=texts["hook"],
        what_changed=texts["what_changed"],
        why_it_matters=texts["why_it_matters"],
        what_to_do_next=texts["what_to_do_next"],
        who_should_care=texts["who_should_care"],
        takeaways=lists["takeaways"],
        deep_dive=lists["deep_dive"],
        implications=lists["implications"],
        topics=_topics(data, allowed_topics),
    )


def parse_answer(text: str, allowed_topics: Sequence[str]) -> Draft:
    """The whole ladder: raw model text to a validated Draft. Raises AnswerError."""
    return validate_answer(extract_json(text), allowed_topics)


def answer_json(draft: Draft) -> str:
    """The canonical JSON of a validated answer (what the cache keeps)."""
    fields = asdict(draft)
    return json.dumps({k: fields[k] for k in sorted(ANSWER_KEYS)}, ensure_ascii=False)
