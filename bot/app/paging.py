"""Answering within Discord's 3-second deadline, and page buttons only the asker may press.

`within_deadline` runs a query and, when it is not done within a second, acknowledges the
interaction first (a public "thinking…" for a command, a silent update for a button), so Discord's
3-second limit for the first response is never missed. `show` then sends or edits the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import discord

from bot.app.mentions import NOBODY

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFER_AFTER = 1.0  # seconds a query may take before the interaction is deferred
PAGER_TIMEOUT = 600.0  # idle seconds before the buttons go (an interaction token lives 15 minutes)
FAILED = "Sorry, something went wrong on my side. The error is logged."


@dataclass(frozen=True, slots=True)
class Shown:
    """A page with files to show beside its embed (a chart): `files` replace the message's own."""

    embed: discord.Embed
    files: Sequence[discord.File] = ()


RenderPage = Callable[[int], Awaitable[discord.Embed | Shown]]


async def within_deadline(interaction: discord.Interaction[Any], work: Awaitable[T]) -> T:
    """The result of `work`; the interaction is deferred first if `work` takes over DEFER_AFTER."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.wait_for(asyncio.shield(task), DEFER_AFTER)
    except TimeoutError:
        if not interaction.response.is_done():
            if interaction.type is discord.InteractionType.component:
                await interaction.response.defer()  # "deferred update": the message stays as it is
            else:
                await interaction.response.defer(thinking=True)  # public, like the answer
        return await task
    finally:
        if not task.done():
            task.cancel()


async def show(
    interaction: discord.Interaction[Any],
    *,
    embed: discord.Embed,
    view: discord.ui.View | None = None,
    files: Sequence[discord.File] | None = None,
) -> None:
    """A public answer mentioning nobody: a command's response (or the edit of its deferral), or a
    button's new page in place of the old one. `files` (None: the message's stay as they are) are
    sent with it, in place of the files an edited message had."""
    kwargs: dict[str, Any] = {"embed": embed, "view": view, "allowed_mentions": NOBODY}
    editing = interaction.response.is_done() or interaction.type is discord.InteractionType.component
    if files is not None and (files or editing):
        kwargs["attachments" if editing else "files"] = list(files)
    if interaction.response.is_done():
        await interaction.edit_original_response(**kwargs)
    elif editing:
        await interaction.response.edit_message(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


class OwnedView(discord.ui.View):
    """Buttons only the member who ran `command` may press; on timeout they are taken away."""

    def __init__(self, owner_id: int, command: str, *, timeout: float = PAGER_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.command = command
        self.last: discord.Interaction[Any] | None = None  # its token edits the message later

    def attach(self, interaction: discord.Interaction[Any]) -> None:
        """The interaction whose message carries these buttons."""
        self.last = interaction

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction.user.id == self.owner_id:
            self.last = interaction
            return True
        await interaction.response.send_message(
            f"Only the member who ran {self.command} can use these buttons; run it yourself for your own.",
            ephemeral=True,
            allowed_mentions=NOBODY,
        )
        return False

    async def on_timeout(self) -> None:
        """Take the buttons away; a message deleted by then is no error."""
        if self.last is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.last.edit_original_response(view=None)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        log.error("a %s button failed", self.command, exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(FAILED, ephemeral=True, allowed_mentions=NOBODY)
            else:
                await interaction.response.send_message(FAILED, ephemeral=True, allowed_mentions=NOBODY)


class Pager(OwnedView):
    """First / previous / next / last over `pages` pages, each rendered when it is turned to."""

    def __init__(self, owner_id: int, command: str, pages: int, page: int, render: RenderPage) -> None:
        super().__init__(owner_id, command)
        self.pages = pages
        self.page = max(0, min(page, pages - 1))
        self.render = render
        self._update()

    @discord.ui.button(emoji="⏮️", style=discord.ButtonStyle.secondary)
    async def first(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Pager]) -> None:
        await self.turn(interaction, 0)

    @discord.ui.button(emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Pager]) -> None:
        await self.turn(interaction, self.page - 1)

    @discord.ui.button(emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Pager]) -> None:
        await self.turn(interaction, self.page + 1)

    @discord.ui.button(emoji="⏭️", style=discord.ButtonStyle.secondary)
    async def last_page(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Pager]) -> None:
        await self.turn(interaction, self.pages - 1)

    async def turn(self, interaction: discord.Interaction[Any], page: int) -> None:
        """Show page `page` (clamped) in place of the current one."""
        self.page = max(0, min(page, self.pages - 1))
        self._update()
        rendered = await within_deadline(interaction, self.render(self.page))
        if isinstance(rendered, Shown):
            await show(interaction, embed=rendered.embed, view=self, files=rendered.files)
        else:
            await show(interaction, embed=rendered, view=self)

    def _update(self) -> None:
        self.first.disabled = self.previous.disabled = self.page == 0
        self.next.disabled = self.last_page.disabled = self.page >= self.pages - 1


def pager_or_none(owner_id: int, command: str, pages: int, page: int, render: RenderPage) -> Pager | None:
    """A pager when there is more than one page."""
    return Pager(owner_id, command, pages, page, render) if pages > 1 else None
