"""Every message the bot sends mentions nobody: feed text must never ping anyone. One default, used
by the Bot itself (`allowed_mentions`) and passed explicitly on every send, reply and edit."""

from __future__ import annotations

import discord

NOBODY = discord.AllowedMentions.none()
