"""Entity parts in name matching, pure: a part is offered as `Claude — Anthropic`, and typing a parent's
name offers its parts after the names that match."""

from __future__ import annotations

from bot.core.timeline import CHOICE_LIMIT, EntityEvent, NameIndex, NameRow, name_label


def index() -> NameIndex:
    return NameIndex(
        [
            NameRow(1, "Anthropic", 300, "anthropic"),
            NameRow(2, "Claude", 900, "claude", parent="Anthropic"),
            NameRow(2, "Claude", 900, "claude sonnet", parent="Anthropic"),
            NameRow(3, "Claude Code", 40, "claude code", parent="Claude"),
            NameRow(4, "Constitutional AI", 5, "constitutional ai", parent="Anthropic"),
            NameRow(5, "Anthropomorphic Robots", 10, "anthropomorphic robots"),
            NameRow(6, "OpenAI", 500, "openai"),
            NameRow(7, "ChatGPT", 800, "chatgpt", parent="OpenAI"),
        ]
    )


def offered(query: str) -> list[tuple[str, str]]:
    return [(m.canonical, m.label) for m in index().search(query)]


def test_a_part_is_offered_with_its_parent() -> None:
    assert offered("claude")[:2] == [("Claude", "Claude — Anthropic"), ("Claude Code", "Claude Code — Claude")]
    assert offered("chatg") == [("ChatGPT", "ChatGPT — OpenAI")]
    match = index().search("claude son")[0]
    assert (match.canonical, match.label, match.parent) == ("Claude", "claude sonnet → Claude — Anthropic", "Anthropic")
    assert offered("openai")[0] == ("OpenAI", "OpenAI"), "an entity that is part of none is shown plainly"


def test_typing_a_parents_name_offers_its_parts_after_the_names_that_match() -> None:
    # Anthropic and the other name it starts come first; then Anthropic's parts, most mentioned first
    assert offered("anthrop") == [
        ("Anthropic", "Anthropic"),
        ("Anthropomorphic Robots", "Anthropomorphic Robots"),
        ("Claude", "Claude — Anthropic"),
        ("Constitutional AI", "Constitutional AI — Anthropic"),
    ]
    assert [c for c, _ in offered("OpenAI")] == ["OpenAI", "ChatGPT"]
    assert [c for c, _ in offered("claude")] == ["Claude", "Claude Code"], "a part's own parts too, each once"


def test_a_parents_parts_are_not_offered_for_a_name_merely_containing_the_query() -> None:
    assert "Claude" not in [c for c, _ in offered("thropic")], "inside a word: no parts"
    assert [c for c, _ in offered("zzzz")] == []


def test_the_parts_fit_in_the_limit_and_come_before_fuzzy_matches() -> None:
    assert [m.canonical for m in index().search("anthrop", 3)] == ["Anthropic", "Anthropomorphic Robots", "Claude"]
    assert [c for c, _ in offered("anthropic")] == [
        "Anthropic",
        "Claude",
        "Constitutional AI",
        "Anthropomorphic Robots",
    ], "the exact match, its parts, a fuzzy one"
    found = [c for c, _ in offered("anthropik")]  # a typo: no name starts so, so no parts; fuzzy matches only
    assert found[:1] == ["Anthropic"] and "Claude" not in found


def test_did_you_mean_knows_the_parent() -> None:
    [match] = index().search("Claudee", 1)
    assert (match.canonical, match.parent) == ("Claude", "Anthropic")
    assert index().closest("Claudee", 1) == ["Claude"]


def test_labels_stay_within_a_choice() -> None:
    assert name_label("Claude", "Anthropic") == "Claude — Anthropic"
    assert name_label("Claude", "Anthropic", "claude") == "Claude — Anthropic", "the name itself is no alias"
    assert name_label("Claude", "", "sonnet") == "sonnet → Claude"
    long_parent = "P" * 95
    assert name_label("Claude", long_parent) == "Claude", "too long with its parent: the name alone"
    assert name_label("Claude", "Anthropic", "a" * 90) == "Claude — Anthropic", "the alias goes first"
    rows = [NameRow(1, "X" * 80, 1, "x" * 80, parent="Y" * 30)]
    assert all(len(m.label) <= CHOICE_LIMIT for m in NameIndex(rows).search("x"))


def test_an_event_is_about_the_entity_itself_unless_it_names_a_part() -> None:
    assert EntityEvent(1, 0.0, "text", 1, "").part == ""
    assert EntityEvent(1, 0.0, "text", 1, "", "Claude").part == "Claude"
