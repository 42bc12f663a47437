"""Answering within Discord's deadline, and the pager: who may press, page turns, a clean timeout."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.app import paging
from bot.app.paging import OwnedView, Pager, pager_or_none, show, within_deadline


@dataclass
class FakeResponse:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def is_done(self) -> bool:
        return bool(self.calls)

    async def defer(self, **kwargs: Any) -> None:
        self.calls.append(("defer", kwargs))

    async def send_message(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("send_message", {"args": args, **kwargs}))

    async def edit_message(self, **kwargs: Any) -> None:
        self.calls.append(("edit_message", kwargs))


@dataclass
class FakeInteraction:
    user_id: int = 1
    type: discord.InteractionType = discord.InteractionType.application_command
    response: FakeResponse = field(default_factory=FakeResponse)
    edits: list[dict[str, Any]] = field(default_factory=list)
    fail_edits: bool = False

    @property
    def user(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.user_id)

    async def edit_original_response(self, **kwargs: Any) -> None:
        if self.fail_edits:
            raise discord.NotFound(SimpleNamespace(status=404, reason="Not Found"), "Unknown Message")  # type: ignore[arg-type]
        self.edits.append(kwargs)


def fake(**kw: Any) -> Any:
    return FakeInteraction(**kw)


async def test_a_quick_answer_is_not_deferred(monkeypatch: pytest.MonkeyPatch) -> None:
    interaction = fake()
    assert await within_deadline(interaction, asyncio.sleep(0, "done")) == "done"
    assert interaction.response.calls == []


async def test_a_slow_answer_is_deferred_first_publicly_or_as_an_update(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "DEFER_AFTER", 0.01)
    command = fake()
    assert await within_deadline(command, asyncio.sleep(0.1, "late")) == "late"
    assert command.response.calls == [("defer", {"thinking": True})]
    button = fake(type=discord.InteractionType.component)
    await within_deadline(button, asyncio.sleep(0.1))
    assert button.response.calls == [("defer", {})]


async def test_an_error_in_the_work_reaches_the_caller_undeferred() -> None:
    async def broken() -> None:
        raise LookupError("no such thing")

    interaction = fake()
    with pytest.raises(LookupError):
        await within_deadline(interaction, broken())
    assert interaction.response.calls == []


async def test_show_sends_edits_in_place_or_edits_the_deferral() -> None:
    embed = discord.Embed(title="t")
    command = fake()
    await show(command, embed=embed)
    assert command.response.calls[0][0] == "send_message"
    assert command.response.calls[0][1]["allowed_mentions"].to_dict() == {"parse": []}
    button = fake(type=discord.InteractionType.component)
    await show(button, embed=embed)
    assert button.response.calls[0][0] == "edit_message"
    deferred = fake()
    await deferred.response.defer(thinking=True)
    await show(deferred, embed=embed)
    assert deferred.edits[0]["embed"] is embed


async def test_only_the_owner_may_press_and_is_remembered() -> None:
    view = OwnedView(owner_id=1, command="/timeline")
    other = fake(user_id=2)
    assert await view.interaction_check(other) is False
    [(kind, kwargs)] = other.response.calls
    assert kind == "send_message" and kwargs["ephemeral"] is True
    assert "Only the member who ran /timeline" in kwargs["args"][0]
    owner = fake(user_id=1)
    assert await view.interaction_check(owner) is True
    assert view.last is owner


async def test_on_timeout_takes_the_buttons_away_and_a_gone_message_is_no_error() -> None:
    view = OwnedView(owner_id=1, command="/recap")
    await view.on_timeout()  # never shown: nothing to do
    shown = fake()
    view.attach(shown)
    await view.on_timeout()
    assert shown.edits == [{"view": None}]
    gone = fake(fail_edits=True)
    view.attach(gone)
    await view.on_timeout()


async def test_the_pager_turns_within_bounds_and_disables_the_ends() -> None:
    rendered: list[int] = []

    async def render(page: int) -> discord.Embed:
        rendered.append(page)
        return discord.Embed(title=f"page {page}")

    pager = Pager(1, "/recap", pages=3, page=2, render=render)
    assert (pager.next.disabled, pager.last_page.disabled, pager.first.disabled) == (True, True, False)
    button = fake(type=discord.InteractionType.component)
    await pager.turn(button, 5)
    await pager.turn(fake(type=discord.InteractionType.component), -1)
    assert rendered == [2, 0]
    assert (pager.first.disabled, pager.previous.disabled, pager.next.disabled) == (True, True, False)
    assert button.response.calls[0][1]["view"] is pager
    assert pager_or_none(1, "/recap", 1, 0, render) is None
