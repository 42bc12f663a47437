"""Discord's text limits, Markdown escaping and inert mentions, for text that came from feeds."""

from __future__ import annotations

import re

from bot.core.chars import MARK

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
_ZWJ = "\u200d"
# What belongs to the character before it: combining marks, joiners, variation selectors, skin
# tones, emoji tags. Cutting before one would leave half a letter or half an emoji.
_EXTENDS = re.compile(f"{MARK}|[\u200c\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]")
_REGIONAL = re.compile("[\U0001f1e6-\U0001f1ff]")  # flags are pairs of these


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis when too long.

    Limits count code points (as Discord does); a cut never separates a letter from its accents
    nor splits an emoji.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return _ELLIPSIS[:limit]
    room = text[: _cluster_start(text, limit - 1)]
    boundary = room.rfind(" ")
    if boundary >= limit // 2:  # do not throw away half the room to find a space
        room = room[:boundary]
    return room.rstrip(" ,;:-" + _ZWJ) + _ELLIPSIS


def _cluster_start(text: str, end: int) -> int:
    """The last place at or before `end` where `text` can be cut without splitting a cluster."""
    while 0 < end < len(text) and (_EXTENDS.match(text, end) or text[end - 1] == _ZWJ):
        end -= 1
    start = end
    while start > 0 and _REGIONAL.match(text, start - 1):
        start -= 1
    if (end - start) % 2 and end < len(text) and _REGIONAL.match(text, end):
        end -= 1  # the cut would take the first half of a flag
    return end


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
    if limit < 1:
        return ""  # no room even for the ellipsis
    body = cut(escaped, limit).removesuffix(_ELLIPSIS)
    trailing = len(body) - len(body.rstrip("\\"))
    if trailing % 2:  # the cut split an escape: drop its lone backslash
        body = body[:-1]
    return body + _ELLIPSIS
