"""Feed text in Discord Markdown, escaped by discord.py's own `escape_markdown`.

`bot.core.limits.safe` (no discord.py in the core) escapes every character Markdown might use;
here, in the Discord face, discord.py's `escape_markdown` escapes what Discord actually reads
(asterisks, underscores, tildes, bars, backticks; a heading, quote or list at the start; a masked
link) and leaves bare URLs as they are, so an address in a title or a list still links. Mentions
are made inert first, as everywhere. What `escape_markdown` does not cover is kept here: text
inside `[…]` of a masked link has its square brackets turned into parentheses (a `]` would end the
link text), and the URL of a masked link is `embeds.link_url`'s percent-encoded form, in which no
`)`, `]`, `<`, `>` or space can end or break the link.
"""

from __future__ import annotations

from discord.utils import escape_markdown

from bot.app.embeds import link_url
from bot.core.limits import cut, inert_mentions

_ELLIPSIS = "…"


def shown(text: str, limit: int) -> str:
    """Feed text for a place Discord renders as Markdown: whitespace folded, mentions inert,
    Markdown escaped, cut to `limit` characters (the cut never leaves half an escape)."""
    escaped = escape_markdown(inert_mentions(" ".join(text.split())))
    if len(escaped) <= limit:
        return escaped
    if limit < 1:
        return ""
    body = cut(escaped, limit).removesuffix(_ELLIPSIS)
    if (len(body) - len(body.rstrip("\\"))) % 2:  # the cut split an escape: drop its lone backslash
        body = body[:-1]
    return body + _ELLIPSIS


def masked_link(text: str, url: str, limit: int) -> str:
    """`[text](url)` within `limit` characters: the text escaped (brackets as parentheses), the URL
    percent-encoded so nothing in it ends the link. The escaped text alone when the URL cannot be a
    link (not http(s)) or leaves no room; the URL alone (Discord links it) when the text is the URL
    itself, as a feed without a title is named."""
    target = link_url(url)
    if target is None or len(target) + 5 > limit:
        return shown(text, limit)
    if text.strip() == url.strip():
        return target
    label = shown(text.replace("[", "(").replace("]", ")"), limit - len(target) - 4)
    return f"[{label}]({target})" if label else target
