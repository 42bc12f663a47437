"""/feeds import and export: the attached file checked and read, the summary embed, the file sent back.

The file is refused by its size as Discord states it (`Attachment.size`) before a byte is read, and
read only from the attachment's own URL, through discord.py's session (`Attachment.read()`); its
length is checked again once read. The summary names every feed followed and every feed left out,
grouped by reason, within Discord's embed limits.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import aiohttp
import discord

from bot.app.markdown import shown
from bot.core.limits import DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, FIELD_VALUE_LIMIT
from bot.errors import UserError
from bot.services.subscriptions import MAX_IMPORT_BYTES, ImportSummary, SkipReason

EXPORTED = ("The feeds this server follows, as OPML: open the file in a feed reader, or bring the feeds"
            " to another server with /feeds import.")  # fmt: skip
EXPORT_FILENAME = "wirebrief-feeds.opml"
NAME_LIMIT = 100  # one feed's name in the summary
DETAIL_LIMIT = 120  # why it was left out
SUMMARY_BUDGET = EMBED_TOTAL_LIMIT - 400  # room kept for the title and field names


def check_size(file: discord.Attachment) -> None:
    """UserError when the attachment is larger than an import may be (before it is downloaded)."""
    if file.size > MAX_IMPORT_BYTES:
        raise UserError(f"That file is {_kb(file.size)}; an OPML file to import may be at most "
                        f"{_kb(MAX_IMPORT_BYTES)}. Split it, or leave out what you do not need.")  # fmt: skip


async def download(file: discord.Attachment) -> bytes:
    """The attachment's bytes, read from Discord; UserError when it is too large or cannot be read."""
    check_size(file)
    try:
        data = await file.read()
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
        raise UserError("I could not download that file from Discord; please attach it again.") from None
    if len(data) > MAX_IMPORT_BYTES:  # Discord said otherwise: trust what arrived
        raise UserError(f"That file is larger than {_kb(MAX_IMPORT_BYTES)}, the most an import may be.")
    return data


def _kb(size: int) -> str:
    return f"{math.ceil(size / 1024):,} KB" if size >= 1024 else f"{size} bytes"  # up: 256 KB + 1 byte is 257 KB


def export_file(document: bytes) -> discord.File:
    """The OPML document as an attachment."""
    return discord.File(io.BytesIO(document), filename=EXPORT_FILENAME)


def import_embed(summary: ImportSummary, filename: str, routed: bool) -> discord.Embed:
    """What an import did: how many feeds were followed and left out, then one field for the
    followed ones and one per reason, each naming its feeds (as many as fit)."""
    followed, left = len(summary.added), len(summary.skipped)
    text = f"Followed **{followed}** {_feeds(followed)}; left out **{left}**."
    if followed:
        text += " What each has now is stored as seen: only new items will be posted."
        if not routed:
            text += " No topic goes to a channel here yet: set one with /topics route."
    if not followed and not left:
        text = "That file lists no feeds (no outline with an xmlUrl)."
    embed = discord.Embed(title=f"Imported {shown(filename, 200)}", description=text[:DESCRIPTION_LIMIT])
    groups: list[tuple[str, list[str]]] = []
    if summary.added:
        groups.append(("Followed", [shown(r.title or r.feed.display_name, NAME_LIMIT) for r in summary.added]))
    for reason in SkipReason:
        lines = [_skipped_line(s.name, s.detail) for s in summary.skipped if s.reason is reason]
        if lines:
            groups.append((str(reason), lines))
    budget = SUMMARY_BUDGET - len(embed.title or "") - len(text)
    for name, lines in groups:
        limit = min(FIELD_VALUE_LIMIT, budget // len(groups))
        embed.add_field(name=f"{name} ({len(lines)})", value=bullets(lines, limit), inline=False)
    return embed


def _feeds(count: int) -> str:
    return "feed" if count == 1 else "feeds"


def _skipped_line(name: str, detail: str) -> str:
    line = shown(name, NAME_LIMIT)
    return f"{line} — {shown(detail, DETAIL_LIMIT)}" if detail else line


def bullets(lines: Sequence[str], limit: int) -> str:
    """`• line` per line, as many as fit in `limit` characters, then "… and N more"."""
    shown_lines: list[str] = []
    used = 0
    for number, line in enumerate(lines):
        bullet = f"• {line}"
        rest = len(lines) - number - 1
        reserve = len(f"\n… and {rest} more") if rest else 0
        if used + len(bullet) + 1 + reserve > limit:
            return "\n".join([*shown_lines, f"… and {len(lines) - number} more"])
        shown_lines.append(bullet)
        used += len(bullet) + 1
    return "\n".join(shown_lines)
