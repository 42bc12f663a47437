"""/feeds add, test, list, remove, pause, resume, mute, unmute, import and export: the feeds a server
follows."""

from __future__ import annotations

from bot.app.bot import WirebriefBot
from cogs.feeds._commands import Feeds


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Feeds(bot))
