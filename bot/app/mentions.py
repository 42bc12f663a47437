"""Every message the bot sends mentions nobody: feed text must never ping anyone. One default, used
by the Bot itself (`allowed_mentions`) and passed explicitly on every send, reply and edit.

The one exception is opt-in: a route set with a role (`/topics route … mention`) mentions exactly that
role in a new post's content, with allowed mentions that name that role alone (`only_roles`), so
nothing else in the message — feed text in the embed, another role, @everyone, @here — can ping."""

from __future__ import annotations

from collections.abc import Sequence

import discord

NOBODY = discord.AllowedMentions.none()


def only_roles(roles: Sequence[int]) -> discord.AllowedMentions:
    """Allowed mentions that ping these roles and nobody else (no role at all: `NOBODY`)."""
    if not roles:
        return NOBODY
    return discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(r) for r in roles], replied_user=False
    )


def role_pings(roles: Sequence[int]) -> str | None:
    """The content that mentions `roles` (None for none: a post without content)."""
    return " ".join(f"<@&{r}>" for r in roles) or None
