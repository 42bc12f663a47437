"""Entry identity: which stored entry a freshly parsed one is, if any.

Real feeds change guids, republish old items and add tracking parameters, so identity is a
primary key (guid, else normalized link, else a hash of title and date) plus a second key on
the normalized link alone.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.core.types import ParsedEntry

# Query parameters that only say where a click came from; dropping them never changes the page.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid",
        "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "ref_src", "ref_url", "cmpid", "ncid", "sr_share",
        "spm", "ito", "oly_enc_id", "oly_anon_id", "vero_id", "wt_mc", "at_medium", "at_campaign",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def normalize_link(url: str | None) -> str | None:
    """A canonical form of `url` for comparing links, or None when it is not an http(s) URL.

    Scheme and host are lower-cased, the default port, a leading "www.", the fragment, a
    trailing slash and tracking parameters (utm_*, fbclid, …) are removed; the remaining query
    parameters are sorted. http and https fold together: feeds move between them.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = host.removeprefix("www.")
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    # surrogatepass: a lone surrogate (broken feed text) is kept as bytes instead of raising
    return urlunsplit(("https", host, path, urlencode(query, errors="surrogatepass"), ""))


def entry_key(entry: ParsedEntry) -> str:
    """The primary identity of an entry within its feed: guid, else normalized link, else a hash."""
    guid = (entry.guid or "").strip()
    if guid:
        return f"id:{guid}"
    link = normalize_link(entry.link)
    if link:
        return f"link:{link}"
    stamp = "" if entry.published is None else f"{entry.published:.0f}"
    digest = hashlib.sha256(f"{entry.title.strip()}\x00{stamp}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"hash:{digest}"


def content_hash(entry: ParsedEntry) -> str:
    """Changes when what a reader would see changes (title, link, text), not when dates move."""
    text = "\x00".join((entry.title, entry.link or "", entry.summary, entry.content))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
