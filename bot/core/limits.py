"""Discord's text limits, Markdown escaping and inert mentions, for text that came from feeds."""

from __future__ import annotations

import re

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000

_ELLIPSIS = "…"
_MARKDOWN = re.compile(r"([\\*_`~|>#\[\]()-])")
_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)(\d+)>")
_ZWSP = "\u200b"


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis when too long."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return _ELLIPSIS[:limit]
    room = text[: limit - 1]
    boundary = room.rfind(" ")
    if boundary >= limit // 2:  # do not throw away half the room to find a space
        room = room[:boundary]
    return room.rstrip(" ,;:-") + _ELLIPSIS


def escape_markdown(text: str) -> str:
    """Backslash-escape what Discord would read as Markdown; feed text is shown literally."""
    return _MARKDOWN.sub(r"\\\1", text)


def inert_mentions(text: str) -> str:
    """Break @everyone, @here, <@id>, <@&id> and <#id> so they can never ping, even if
    AllowedMentions were ever misconfigured."""
    return _MENTION.sub(lambda m: m.group(0).replace("@", "@" + _ZWSP).replace("<#", "<" + _ZWSP + "#"), text)


def safe(text: str, limit: int) -> str:
    """Feed text made safe to show: mentions inert, Markdown escaped, cut to `limit`.

    Cutting happens before escaping would double some characters, so the cut is done on the
    escaped text, never splitting an escape sequence.
    """
    escaped = escape_markdown(inert_mentions(" ".join(text.split())))
    if len(escaped) <= limit:
        return escaped
    body = cut(escaped, limit).removesuffix(_ELLIPSIS)
    trailing = len(body) - len(body.rstrip("\\"))
    if trailing % 2:  # the cut split an escape: drop its lone backslash
        body = body[:-1]
    return body + _ELLIPSIS
