"""A fake Discord — REST API v10 and the gateway — for end-to-end tests of the real bot.

The real, unmodified bot runs as a subprocess and talks to this server on 127.0.0.1 (the config's
`discord.api_base` and `discord.gateway_url` point at it). The server speaks just enough of the
protocol for discord.py 2.7 to log in, connect, sync slash commands, receive interactions and send
messages, and records everything it sees so tests can assert on it.

    async with FakeDiscord() as fake:                 # serves on 127.0.0.1, a free port
        guild = fake.add_guild("Test Guild", channels=("general", "news"))
        user = fake.add_user("alice")
        guild.add_member(user, permissions=MANAGE_GUILD)
        ...start the bot with fake.api_base / fake.gateway_url and DISCORD_TOKEN=fake.token...
        await fake.wait_for_ready()                   # the bot identified and got READY
        interaction = await fake.invoke("about", user=user, channel=guild.channel("general"))
        reply = await interaction.wait_response()
        assert reply["data"]["flags"] & EPHEMERAL

What it does:

* REST (`/api/v10/...`): the bot's own user and application, gateway discovery, global and guild
  command sync (with Discord's main validation rules, 400/50035 on a bad command), interaction
  callbacks (`with_response` answers with an `interaction` object and, for messages, a
  `resource`), follow-ups and `@original` through the interaction webhook, channel messages
  (create with nonce + `enforce_nonce`, get, list, edit, delete), channels and guilds.
  Channels of each kind the bot may post in: text (type 0), announcement (5: `crosspost` publishes a
  message, once), forum (15, media 16: `POST /channels/{id}/threads` opens a post — a thread whose
  first message has the thread's id — and dispatches THREAD_CREATE; Discord keeps no nonce there),
  threads (11/12, `add_thread`; a message unarchives one), voice (2) and category (4) channels that
  take no posts, `GET /guilds/{id}/threads/active` and a forum's archived posts. A message's
  `mention_roles` / `mention_everyone` say whom it pinged: the mentions in its content that its
  `allowed_mentions` let through (`add_role` makes a role to mention).
  Every request is kept in `requests` (`RecordedRequest`: method, path, query, headers, JSON body,
  the status answered). Routes that need the bot token answer 401 to any other token; unknown
  routes answer 404 and are recorded like the rest.
* Fault injection: `rate_limit()` (a 429 that discord.py waits out: `Via` header plus a JSON body
  with `retry_after`), `server_error()` (5xx) or any list of `Fault`s with `inject()`, per method
  and path pattern, each used by one matching request, in order.
* Gateway (`/` and the resume URL `/resume`): HELLO, heartbeat ACKs (op 1 → op 11), IDENTIFY →
  READY + one GUILD_CREATE per guild of the session's shard, RESUME → the missed events then
  RESUMED (or INVALID_SESSION when the session is unknown or `fail_resumes` is set). It honours
  `compress=zlib-stream` in the URL as Discord does (one zlib stream per connection, each message
  ending in a sync flush); any other value, or `compress_transport=False`, gets plain text frames,
  which discord.py accepts too.
  `dispatch()` pushes any event; `invoke()` builds an INTERACTION_CREATE for a slash command as
  Discord would (an attachment option: `upload()` a file, pass it as the option's value and in
  `resolved(attachments=…)`; its bytes are served under `/attachments/…`, as the files of the
  messages are, and each download is kept in `downloads`); `drop_gateway()` closes (or aborts)
  the live connection to test resuming.
* Sharding, as Discord documents it: IDENTIFY's `shard: [shard_id, num_shards]` (default [0, 1];
  anything else closes with 4010 Invalid shard) makes a session of that shard: READY echoes it and
  lists only its guilds, and only the guilds with `(guild_id >> 22) % num_shards == shard_id` get a
  GUILD_CREATE. An event about a guild (INTERACTION_CREATE, GUILD_DELETE, …) goes to the newest
  session of the shard that owns the guild; one about no guild (a DM) to shard 0's. `add_guild(…,
  shard=(1, 2))` makes a guild on a chosen shard; `shard_ready(1, 2)` is `ready_sent` for one shard.
  `/gateway/bot` keeps recommending one shard. `client_of` (None by default) may name the process
  behind each REST request and gateway connection, e.g. from its TCP peer (`RecordedRequest.client`,
  `GatewayConnection.client`): several processes share one bot token, so nothing else tells them
  apart.
* Knobs a test may turn at any time: `ack_heartbeats` (False: a zombie connection),
  `fail_resumes`, `interaction_deadline` (e.g. 3.0: Discord's limit for the first callback),
  `nonce_window`, `compress_transport`; per guild, `bot_permissions` (a 403 50013 on sending when
  the bot lacks View Channel + Send Messages) and each member's `permissions`.
* Waiting: `wait_for(predicate, timeout)` re-checks the predicate whenever the fake's state changes
  (and a few times a second in any case) and returns its first truthy value; on timeout it raises
  `TimeoutError` with the requests seen so far. Health checks (`add_health_check`, e.g. "the bot is
  still running") end a wait at once when they fail. `wait_for_request()` and `wait_for_ready()`
  are the common cases.

The second part of this module, `BotProcess`, is a handle on the bot under test as a subprocess:
its output captured line by line, `wait_for_line()`, signals, `wait()` with a "did not hang" bound,
and `kill()` for teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import os
import re
import secrets
import signal
import socket
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

T = TypeVar("T")
JSON = dict[str, Any]

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/"
RESUME_GATEWAY_PATH = "/resume"
DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11  # in a forum: Create Posts
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17  # also: mention roles that are not mentionable
SEND_MESSAGES_IN_THREADS = 1 << 38
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = (1 << 53) - 1
EVERYONE_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY  # 84992, as in README

# Message flags.
CROSSPOSTED = 1 << 0
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Channel types, and a forum's flag that demands a tag on each post.
TEXT_CHANNEL, VOICE_CHANNEL, CATEGORY, ANNOUNCEMENT_CHANNEL = 0, 2, 4, 5
ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD, FORUM_CHANNEL, MEDIA_CHANNEL = 10, 11, 12, 15, 16
THREAD_TYPES = frozenset({ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
FORUM_TYPES = frozenset({FORUM_CHANNEL, MEDIA_CHANNEL})
REQUIRE_TAG = 1 << 4

# Gateway opcodes.
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE, OP_RESUME = 0, 1, 2, 3, 6
OP_RECONNECT, OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 8, 9, 10, 11

# Interaction types and callback types.
INTERACTION_PING, INTERACTION_COMMAND, INTERACTION_COMPONENT, INTERACTION_AUTOCOMPLETE = 1, 2, 3, 4
CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE, CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE = 4, 5, 6, 7
MESSAGE_DEFAULT, MESSAGE_CHAT_INPUT_COMMAND = 0, 20
CALLBACK_AUTOCOMPLETE = 8

# Application command option types.
OPTION_SUB_COMMAND, OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_CHANNEL, OPTION_ROLE = 1, 3, 4, 5, 7, 8
OPTION_ATTACHMENT = 11


def option(name: str, value: Any, *, focused: bool = False) -> JSON:
    """One interaction option as Discord sends it: a channel or an attachment by its id, an int as
    INTEGER, else STRING."""
    if isinstance(value, FakeChannel):
        data: JSON = {"name": name, "type": OPTION_CHANNEL, "value": str(value.id)}
    elif isinstance(value, FakeAttachment):
        data = {"name": name, "type": OPTION_ATTACHMENT, "value": str(value.id)}
    elif isinstance(value, FakeRole):
        data = {"name": name, "type": OPTION_ROLE, "value": str(value.id)}
    elif isinstance(value, bool):
        data = {"name": name, "type": OPTION_BOOLEAN, "value": value}
    else:
        kind = OPTION_INTEGER if isinstance(value, int) and not isinstance(value, bool) else OPTION_STRING
        data = {"name": name, "type": kind, "value": value}
    return {**data, "focused": True} if focused else data


def sub(name: str, **values: Any) -> list[JSON]:
    """The options of `/<group> <name> key:value…` as Discord sends them: one SUB_COMMAND."""
    return [{"type": OPTION_SUB_COMMAND, "name": name, "options": [option(k, v) for k, v in values.items()]}]


def resolved(
    *channels: FakeChannel, attachments: Sequence[FakeAttachment] = (), roles: Sequence[FakeRole] = ()
) -> JSON:
    """The `resolved` block of an interaction with channel, attachment or role options."""
    block: JSON = {"channels": {str(c.id): {**c.payload(), "permissions": str(EVERYONE_PERMISSIONS)} for c in channels}}
    if attachments:
        block["attachments"] = {str(a.id): a.payload() for a in attachments}
    if roles:
        block["roles"] = {str(r.id): r.payload() for r in roles}
    return block


async def shown(interaction: FakeInteraction, timeout: float = 20.0) -> JSON:
    """`interaction.wait_shown()`, for a nested `await shown(await fake.invoke(...))`."""
    return await interaction.wait_shown(timeout)


def now_iso() -> str:
    """The current time as Discord writes timestamps (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Unique, time-ordered Discord ids (discord.utils.snowflake_time gives their creation time)."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


class Changes:
    """Wakes whoever waits on a condition of some mutable state whenever that state changes."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        timeout: float,
        describe: Callable[[], str] = lambda: "",
        poll: float = 0.25,
    ) -> T:
        """The first truthy value of `predicate()`; TimeoutError after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = getattr(predicate, "__name__", "condition")
                raise TimeoutError(f"{name} not met within {timeout:g} s{describe()}")
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, min(remaining, poll))


# ---------------------------------------------------------------------------------------------
# The fake's world: users, guilds, channels, messages, interactions


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class FakeMember:
    user: FakeUser
    permissions: int = EVERYONE_PERMISSIONS  # what an interaction reports for this member
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=now_iso)

    def payload(self, *, with_permissions: bool = False) -> JSON:
        data: JSON = {
            "user": self.user.payload(),
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_permissions:
            data["permissions"] = str(self.permissions)
        return data


@dataclass
class FakeMessage:
    """A message as stored by the fake: the payload Discord returns plus the request that made it."""

    payload: JSON
    request: JSON = field(default_factory=dict)  # the JSON body as sent (allowed_mentions, nonce…)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def content(self) -> str:
        return str(self.payload.get("content", ""))

    @property
    def embeds(self) -> list[JSON]:
        return list(self.payload.get("embeds", []))

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags", 0))

    @property
    def allowed_mentions(self) -> JSON | None:
        value = self.request.get("allowed_mentions")
        return value if isinstance(value, dict) else None


@dataclass
class FakeChannel:
    id: int
    name: str
    guild_id: int | None  # None for a DM channel
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category, 5 announcement, 11/12 thread, 15 forum, 16 media
    position: int = 0
    topic: str | None = None
    permission_overwrites: list[JSON] = field(default_factory=list)
    messages: list[FakeMessage] = field(default_factory=list)
    recipient: FakeUser | None = None  # DM channels only
    parent_id: int | None = None  # a thread's channel (a forum post's forum)
    owner_id: int | None = None  # who opened a thread
    archived: bool = False  # threads
    locked: bool = False  # threads
    flags: int = 0  # a forum's REQUIRE_TAG

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def payload(self) -> JSON:
        if self.guild_id is None:
            return {
                "id": str(self.id),
                "type": self.type,
                "last_message_id": None,
                "recipients": [self.recipient.payload()] if self.recipient else [],
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "topic": self.topic,
            "nsfw": False,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "last_message_id": str(self.messages[-1].id) if self.messages else None,
            "rate_limit_per_user": 0,
            "permission_overwrites": copy.deepcopy(self.permission_overwrites),
            "flags": self.flags,
            **self._kind_payload(),
        }

    def _kind_payload(self) -> JSON:
        """The keys only threads (thread_metadata…), forums (tags…) or voice channels (bitrate…) have."""
        if self.is_thread:
            return {
                "owner_id": str(self.owner_id),
                "message_count": len(self.messages),
                "member_count": 1,
                "total_message_sent": len(self.messages),
                "thread_metadata": {"archived": self.archived, "auto_archive_duration": 1440, "locked": self.locked,
                                    "archive_timestamp": now_iso(), "create_timestamp": now_iso()},
            }  # fmt: skip
        if self.type in FORUM_TYPES:
            return {"available_tags": [], "default_reaction_emoji": None, "default_sort_order": None,
                    "default_forum_layout": 0, "default_auto_archive_duration": 1440}  # fmt: skip
        if self.type == VOICE_CHANNEL:
            return {"bitrate": 64000, "user_limit": 0, "rtc_region": None}
        return {}

    def message(self, message_id: int) -> FakeMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    bot_role_id: int
    everyone_permissions: int = EVERYONE_PERMISSIONS
    bot_permissions: int = BOT_PERMISSIONS
    channels: dict[int, FakeChannel] = field(default_factory=dict)  # threads too
    members: dict[int, FakeMember] = field(default_factory=dict)
    roles: dict[int, FakeRole] = field(default_factory=dict)  # besides @everyone and the bot's own
    _ids: Snowflakes = field(default_factory=Snowflakes, repr=False)

    def add_role(self, name: str, *, mentionable: bool = False) -> FakeRole:
        role = FakeRole(self._ids(), name, mentionable=mentionable, position=2 + len(self.roles))
        self.roles[role.id] = role
        return role

    def add_thread(self, parent: FakeChannel, name: str, *, owner: FakeUser | None = None,
                   type: int = PUBLIC_THREAD) -> FakeChannel:  # fmt: skip
        """A thread of `parent` (a text channel, or a forum: then a post someone else opened)."""
        thread = FakeChannel(id=self._ids(), name=name, guild_id=self.id, type=type, parent_id=parent.id,
                             owner_id=owner.id if owner else self.owner_id)  # fmt: skip
        self.channels[thread.id] = thread
        return thread

    def add_channel(self, name: str, *, type: int = 0, topic: str | None = None) -> FakeChannel:
        channel = FakeChannel(
            id=self._ids(), name=name, guild_id=self.id, type=type, position=len(self.channels), topic=topic
        )
        self.channels[channel.id] = channel
        return channel

    def channel(self, name: str) -> FakeChannel:
        """The channel called `name` (KeyError if there is none)."""
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"guild {self.name!r} has no channel {name!r}")

    def add_member(self, user: FakeUser, *, permissions: int | None = None, nick: str | None = None) -> FakeMember:
        member = FakeMember(user=user, permissions=self.everyone_permissions if permissions is None else permissions)
        member.nick = nick
        if user.bot:
            member.roles = [self.bot_role_id]
        self.members[user.id] = member
        return member

    def roles_payload(self) -> list[JSON]:
        return [
            FakeRole(self.id, "@everyone", permissions=self.everyone_permissions, position=0).payload(),
            FakeRole(
                self.bot_role_id, "Wirebrief", position=1, permissions=self.bot_permissions, managed=True
            ).payload(),
            *(r.payload() for r in self.roles.values()),
        ]

    def payload(self) -> JSON:
        """The guild as in GUILD_CREATE (and, less the gateway-only keys, GET /guilds/{id})."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "roles": self.roles_payload(),
            "emojis": [],
            "stickers": [],
            "max_members": 500000,
            "premium_progress_bar_enabled": False,
            # gateway-only (GUILD_CREATE)
            "joined_at": now_iso(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [m.payload() for m in self.members.values() if m.user.bot],  # no members intent
            "channels": [c.payload() for c in self.channels.values() if not c.is_thread],
            "threads": [c.payload() for c in self.channels.values() if c.is_thread and not c.archived],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass
class FakeRole:
    """A role of a guild that messages may mention (`FakeGuild.add_role`)."""

    id: int
    name: str
    mentionable: bool = False
    position: int = 2
    permissions: int = 0
    managed: bool = False

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass(frozen=True)
class FakeAttachment:
    """A file a user attached to a command option (`FakeDiscord.upload`): the fake serves its bytes
    at `url`, as Discord's CDN would; `size` is what Discord states (a test may make it lie)."""

    id: int
    filename: str
    url: str
    size: int
    content_type: str

    def payload(self) -> JSON:
        return {"id": str(self.id), "filename": self.filename, "size": self.size, "url": self.url,
                "proxy_url": self.url, "content_type": self.content_type, "ephemeral": True}  # fmt: skip


@dataclass
class FakeInteraction:
    """One interaction the fake sent, and what the bot answered."""

    id: int
    token: str
    type: int
    payload: JSON  # the INTERACTION_CREATE data as dispatched
    channel: FakeChannel | None
    created: float = field(default_factory=time.monotonic)
    callbacks: list[JSON] = field(default_factory=list)  # bodies of POST .../callback
    original: FakeMessage | None = None  # the response message, when there is one
    followups: list[FakeMessage] = field(default_factory=list)
    _fake: FakeDiscord | None = field(default=None, repr=False)

    @property
    def response(self) -> JSON | None:
        """The first callback body ({"type": 4, "data": {...}} and the like), or None yet."""
        return self.callbacks[0] if self.callbacks else None

    async def wait_response(self, timeout: float = 20.0) -> JSON:
        """The first callback body, once the bot has sent it."""
        assert self._fake is not None

        def interaction_answered() -> JSON | None:
            return self.response

        return await self._fake.wait_for(interaction_answered, timeout)

    async def wait_shown(self, timeout: float = 20.0) -> JSON:
        """What the user finally sees: the response's message, or — after a deferral — the follow-up
        or the edited original, whichever the bot sends; with the message's flags."""
        assert self._fake is not None
        response = await self.wait_response(timeout)
        if response["type"] != CALLBACK_DEFERRED_MESSAGE:
            return dict(response.get("data") or {})

        def shown() -> JSON | None:
            if self.followups:
                return {**self.followups[0].request, "flags": self.followups[0].flags}
            message = self.original
            if message is not None and message.payload.get("edited_timestamp"):
                return {**message.request, "flags": message.flags}
            return None

        return await self._fake.wait_for(shown, timeout)


@dataclass
class RecordedRequest:
    method: str
    path: str  # below the API prefix, e.g. "/channels/123/messages"
    query: dict[str, str]
    headers: dict[str, str]
    json: Any  # the parsed JSON body (or a multipart's payload_json); None without a body
    files: list[tuple[str, bytes]] = field(default_factory=list)  # multipart (filename, content)
    status: int = 0  # what the fake answered
    at: float = field(default_factory=time.monotonic)
    client: Any = None  # who sent it, as `FakeDiscord.client_of` names the peer (None: not asked)

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class Fault:
    """One injected failure: the response a single matching request gets instead of the real one."""

    status: int
    retry_after: float = 0.0  # seconds, for 429s
    is_global: bool = False  # a global rate limit (429)
    via: bool = True  # discord.py only waits out a 429 that has a Via header (else: Cloudflare ban)
    body: Any = None  # overrides the JSON body (a str is sent as text/plain)
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        headers = dict(self.headers)
        if self.status == 429:
            if self.via:
                headers.setdefault("Via", "1.1 google")
            headers.setdefault("Retry-After", str(max(1, round(self.retry_after))))
            headers.setdefault("X-RateLimit-Scope", "global" if self.is_global else "user")
            body: Any = {"message": "You are being rate limited.", "retry_after": self.retry_after}
            body["global"] = self.is_global
        else:
            body = {"message": f"{self.status}: fault injected by the test", "code": 0}
        if self.body is not None:
            body = self.body
        if isinstance(body, str):
            return web.Response(status=self.status, text=body, headers=headers)
        return json_response(body, status=self.status, headers=headers)


@dataclass
class _FaultRule:
    method: str
    pattern: re.Pattern[str]
    faults: deque[Fault]


@dataclass
class GatewaySession:
    id: str
    events: list[JSON] = field(default_factory=list)  # every dispatch sent, with its "s"
    seq: int = 0
    connection: GatewayConnection | None = None
    shard: tuple[int, int] = (0, 1)  # (shard_id, num_shards), as identified

    def owns(self, guild_id: int) -> bool:
        """Whether the guild's events come to this session (Discord's rule for its shard)."""
        shard_id, count = self.shard
        return shard_of(guild_id, count) == shard_id


def shard_of(guild_id: int, num_shards: int) -> int:
    """The shard Discord gives guild `guild_id` among `num_shards`."""
    return (guild_id >> 22) % num_shards


@dataclass
class GatewayConnection:
    """One websocket connection from the bot."""

    number: int
    path: str
    query: dict[str, str]
    ws: web.WebSocketResponse = field(repr=False)
    request: web.Request = field(repr=False)
    compressor: Any = field(default=None, repr=False)  # zlib compressobj for zlib-stream
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    received: list[JSON] = field(default_factory=list)  # every payload from the bot
    sent: list[JSON] = field(default_factory=list)  # every payload to the bot
    identify: JSON | None = None
    resume: JSON | None = None
    session: GatewaySession | None = None
    heartbeats: int = 0
    closed: bool = False
    closed_by_server: bool = False
    close_code: int | None = None  # the bot's close code; the fake's own if closed_by_server (None: aborted)
    client: Any = None  # who connected, as `FakeDiscord.client_of` names the peer (None: not asked)

    @property
    def compressed(self) -> bool:
        return self.compressor is not None

    def received_ops(self, op: int) -> list[JSON]:
        return [p for p in self.received if p.get("op") == op]


def json_response(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """JSON with the exact Content-Type discord.py checks for (it compares it to 'application/json')."""
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=dict(headers or {}),
    )


def error_body(code: int, message: str) -> JSON:
    return {"message": message, "code": code}


class HTTPError(Exception):
    """Raised by a route handler to answer with a Discord-style JSON error."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(code, message)
        if errors:
            self.body["errors"] = errors


Handler = Callable[[RecordedRequest, re.Match[str]], Awaitable[tuple[int, Any]]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    auth: bool  # needs "Authorization: Bot <token>"
    handler: Handler


_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


class FakeDiscord:
    """The fake Discord server. Use as `async with FakeDiscord() as fake:` (or start()/close())."""

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_name: str = "Wirebrief",
        app_name: str = "Wirebrief",
        heartbeat_interval_ms: int = 41_250,
        compress_transport: bool = True,
        nonce_window: float = 300.0,
    ) -> None:
        self.ids = Snowflakes()
        self.token = token or f"FAKE.{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(27)}"
        self.bot_user = FakeUser(id=self.ids(), username=bot_name, bot=True)
        self.owner = FakeUser(id=self.ids(), username="owner")
        self.application_id = self.bot_user.id  # as on Discord: the bot user's id is the app's
        self.app_name = app_name
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.owner.id: self.owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.dm_channels: dict[int, FakeChannel] = {}

        # knobs a test may turn at any time
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.compress_transport = compress_transport  # honour ?compress=zlib-stream
        self.ack_heartbeats = True  # False: a zombie connection (no op 11)
        self.fail_resumes = False  # True: answer every RESUME with INVALID_SESSION
        self.nonce_window = nonce_window  # seconds a message nonce is remembered (enforce_nonce)
        self.interaction_deadline: float | None = None  # e.g. 3.0: a later first callback gets 404 10062
        # who is behind a request or a gateway connection (asked with the aiohttp request, as it arrives,
        # e.g. from its TCP peer): which of several processes sharing the token sent it; kept in `client`
        self.client_of: Callable[[web.BaseRequest], Any] | None = None

        # what was seen
        self.requests: list[RecordedRequest] = []
        self.connections: list[GatewayConnection] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.global_commands: dict[str, JSON] = {}  # by "type:name" ("1:about"), as last synced
        self.guild_commands: dict[int, dict[str, JSON]] = {}  # guild id -> the same
        self.interactions: dict[int, FakeInteraction] = {}
        self._nonces: dict[tuple[int, int, str], tuple[float, FakeMessage]] = {}
        self._files: dict[str, bytes] = {}  # what /attachments/... serves, by path
        self.downloads: list[str] = []  # the paths of /attachments/... requested, in order
        self._faults: list[_FaultRule] = []
        self._health_checks: list[Callable[[], None]] = []
        self._changes = Changes()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._routes = self._build_routes()

    # ----- lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        app.router.add_get("/attachments/{tail:.*}", self._serve_file)
        app.router.add_get(GATEWAY_PATH, self._handle_gateway)
        app.router.add_get(RESUME_GATEWAY_PATH, self._handle_gateway)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def close(self) -> None:
        for conn in self.connections:
            if not conn.closed:
                conn.closed_by_server = True
                conn.close_code = 1001
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(code=1001, message=b"fake shutting down"), 2)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        """For the config's discord.api_base."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """For the config's discord.gateway_url."""
        return f"ws://127.0.0.1:{self._port}{GATEWAY_PATH}"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}{RESUME_GATEWAY_PATH}"

    # ----- the world

    def add_user(self, username: str, *, bot: bool = False) -> FakeUser:
        user = FakeUser(id=self.ids(), username=username, bot=bot)
        self.users[user.id] = user
        return user

    def upload(
        self, filename: str, content: bytes, *, content_type: str = "text/x-opml", size: int | None = None
    ) -> FakeAttachment:
        """A file to attach to a command option (`option(name, attachment)` and `resolved(attachments=…)`),
        served from this fake's own address like Discord's CDN."""
        attachment_id = self.ids()
        path = f"/attachments/{attachment_id}/{attachment_id}/{filename}"
        self._files[path] = content
        stated = len(content) if size is None else size
        return FakeAttachment(attachment_id, filename, self.base_url + path, stated, content_type)

    async def _serve_file(self, request: web.Request) -> web.Response:
        self.downloads.append(request.path)
        self._changes.notify()
        content = self._files.get(request.path)
        if content is None:
            return web.Response(status=404, text="no such attachment")
        return web.Response(body=content, content_type="application/octet-stream")

    def add_guild(
        self,
        name: str,
        *,
        channels: Iterable[str] = ("general",),
        bot_permissions: int = BOT_PERMISSIONS,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A guild the bot is in (it gets a GUILD_CREATE for it on IDENTIFY), with text channels;
        `shard` = (shard_id, num_shards) picks an id on that shard (else: whichever the clock gives)."""
        guild = FakeGuild(
            id=self.ids() if shard is None else self.id_on_shard(*shard),
            name=name,
            owner_id=self.owner.id,
            bot_role_id=self.ids(),
            bot_permissions=bot_permissions,
            everyone_permissions=everyone_permissions,
            _ids=self.ids,
        )
        for channel in channels:
            guild.add_channel(channel)
        guild.add_member(self.owner, permissions=ALL_PERMISSIONS)
        guild.add_member(self.bot_user)
        self.guilds[guild.id] = guild
        return guild

    def id_on_shard(self, shard_id: int, num_shards: int) -> int:
        """A new snowflake whose guild would be on shard `shard_id` of `num_shards`: the next id, its
        timestamp moved on to the next millisecond that gives that shard (still unique: the counter)."""
        if not 0 <= shard_id < num_shards:
            raise ValueError(f"shard {shard_id} is not among {num_shards}")
        snowflake = self.ids()
        ms = snowflake >> 22
        ms += (shard_id - ms) % num_shards
        return (ms << 22) | (snowflake & 0x3FFFFF)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between `user` and the bot."""
        for channel in self.dm_channels.values():
            if channel.recipient is user:
                return channel
        channel = FakeChannel(id=self.ids(), name="", guild_id=None, type=1, recipient=user)
        self.dm_channels[channel.id] = channel
        return channel

    def channel(self, channel_id: int) -> FakeChannel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        return self.dm_channels.get(channel_id)

    def messages(self, channel: FakeChannel | int) -> list[FakeMessage]:
        """The messages now in a channel, oldest first."""
        found = self.channel(channel) if isinstance(channel, int) else channel
        return list(found.messages) if found else []

    # ----- waiting and looking

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 20.0) -> T:
        """The first truthy value of `predicate()`, re-checked on every change of the fake's state.

        While the predicate is false, every health check runs too: one that raises (e.g. "the bot
        died", see `add_health_check`) ends the wait at once with its error instead of a timeout.
        """

        def condition() -> T | None:
            value = predicate()
            if not value:
                for check in self._health_checks:
                    check()
            return value

        condition.__name__ = getattr(predicate, "__name__", "condition")
        return await self._changes.wait_until(condition, timeout, self._describe)

    def add_health_check(self, check: Callable[[], None]) -> None:
        """Run `check` during every wait_for; it raises to abort the wait (BotProcess.assert_running)."""
        self._health_checks.append(check)

    async def wait_for_request(self, method: str, path: str, timeout: float = 20.0) -> RecordedRequest:
        """The first request whose method is `method` and whose path fully matches the regex `path`."""
        pattern = re.compile(path)

        def request_seen() -> RecordedRequest | None:
            return next(iter(self.find_requests(method, pattern)), None)

        request_seen.__name__ = f"request {method} {path}"
        return await self.wait_for(request_seen, timeout)

    def find_requests(self, method: str, path: str | re.Pattern[str]) -> list[RecordedRequest]:
        pattern = re.compile(path) if isinstance(path, str) else path
        return [r for r in self.requests if r.method == method.upper() and pattern.fullmatch(r.path)]

    def _describe(self) -> str:
        lines = [f"\n  {r}" for r in self.requests[-30:]]
        conns = [
            f"\n  gateway #{c.number} {c.path}: {'closed' if c.closed else 'open'}, "
            f"{len(c.received)} received, {len(c.sent)} sent"
            for c in self.connections
        ]
        return "; requests so far:" + "".join(lines or ["\n  (none)"]) + "".join(conns)

    async def wait_for_ready(self, timeout: float = 30.0) -> GatewayConnection:
        """The live gateway connection, once the bot has identified (or resumed) and got READY
        (or RESUMED): from then on dispatched events reach it."""

        def bot_connected() -> GatewayConnection | None:
            return self.live_connection if self.ready_sent else None

        return await self.wait_for(bot_connected, timeout)

    @property
    def live_connection(self) -> GatewayConnection | None:
        """The newest gateway connection still open."""
        return next((c for c in reversed(self.connections) if not c.closed), None)

    @property
    def ready_sent(self) -> bool:
        """Whether a live connection got its READY (the bot identified and may get events)."""
        conn = self.live_connection
        return bool(conn and conn.session and any(p.get("t") in ("READY", "RESUMED") for p in conn.sent))

    def live_connection_of(self, shard_id: int, num_shards: int) -> GatewayConnection | None:
        """The newest open connection of a session of that shard."""
        for conn in reversed(self.connections):
            if not conn.closed and conn.session is not None and conn.session.shard == (shard_id, num_shards):
                return conn
        return None

    def shard_ready(self, shard_id: int, num_shards: int) -> GatewayConnection | None:
        """The shard's live connection once it got READY (or RESUMED): events of its guilds reach it."""
        conn = self.live_connection_of(shard_id, num_shards)
        if conn is not None and any(p.get("t") in ("READY", "RESUMED") for p in conn.sent):
            return conn
        return None

    # ----- faults

    def inject(self, method: str, path: str, faults: Iterable[Fault]) -> None:
        """Answer the next requests matching `method` ("*" for any) and the regex `path` with `faults`,
        one fault per request, in order; later requests are served normally."""
        self._faults.append(_FaultRule(method.upper(), re.compile(path), deque(faults)))

    def rate_limit(
        self, method: str, path: str, *, retry_after: float = 0.05, times: int = 1, is_global: bool = False
    ) -> None:
        """The next `times` matching requests get a 429 that discord.py waits out and retries."""
        self.inject(method, path, [Fault(429, retry_after=retry_after, is_global=is_global)] * times)

    def server_error(self, method: str, path: str, *, status: int = 500, times: int = 1) -> None:
        """The next `times` matching requests get a 5xx (discord.py retries 500/502/504 after 1 s, 3 s…)."""
        self.inject(method, path, [Fault(status)] * times)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for rule in self._faults:
            if rule.faults and rule.method in ("*", method) and rule.pattern.fullmatch(path):
                return rule.faults.popleft()
        return None

    # ----- REST

    def _build_routes(self) -> list[_Route]:
        table: list[tuple[str, str, bool, Handler]] = [
            ("GET", r"/users/@me", True, self._get_me),
            ("GET", r"/oauth2/applications/@me", True, self._get_application),
            ("GET", r"/applications/@me", True, self._get_application),
            ("GET", r"/gateway", False, self._get_gateway),
            ("GET", r"/gateway/bot", True, self._get_gateway_bot),
            ("GET", r"/applications/(?P<app>\d+)/commands", True, self._get_commands),
            ("PUT", r"/applications/(?P<app>\d+)/commands", True, self._put_commands),
            ("GET", r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands", True, self._get_commands),
            ("PUT", r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands", True, self._put_commands),
            ("POST", r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback", False, self._interaction_callback),
            ("POST", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)", False, self._followup_create),
            ("GET", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<msg>@original|\d+)", False,
             self._webhook_message),
            ("PATCH", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<msg>@original|\d+)", False,
             self._webhook_message),
            ("DELETE", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<msg>@original|\d+)", False,
             self._webhook_message),
            ("GET", r"/channels/(?P<channel>\d+)", True, self._get_channel),
            ("GET", r"/channels/(?P<channel>\d+)/messages", True, self._list_messages),
            ("POST", r"/channels/(?P<channel>\d+)/messages", True, self._create_message),
            ("GET", r"/channels/(?P<channel>\d+)/messages/(?P<msg>\d+)", True, self._channel_message),
            ("PATCH", r"/channels/(?P<channel>\d+)/messages/(?P<msg>\d+)", True, self._channel_message),
            ("DELETE", r"/channels/(?P<channel>\d+)/messages/(?P<msg>\d+)", True, self._channel_message),
            ("POST", r"/channels/(?P<channel>\d+)/messages/(?P<msg>\d+)/crosspost", True, self._crosspost),
            ("POST", r"/channels/(?P<channel>\d+)/threads", True, self._start_forum_post),
            ("GET", r"/channels/(?P<channel>\d+)/threads/archived/public", True, self._archived_threads),
            ("GET", r"/guilds/(?P<guild>\d+)/threads/active", True, self._active_threads),
            ("GET", r"/guilds/(?P<guild>\d+)", True, self._get_guild),
            ("GET", r"/guilds/(?P<guild>\d+)/channels", True, self._get_guild_channels),
        ]  # fmt: skip
        return [_Route(method, re.compile(path), auth, handler) for method, path, auth, handler in table]

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
            client=self._client(request),
        )
        self.requests.append(record)
        try:
            response = await self._respond(record)
            record.status = response.status
            return response
        finally:
            self._changes.notify()

    def _client(self, request: web.Request) -> Any:
        """`client_of` the request (None when no one asks)."""
        return None if self.client_of is None else self.client_of(request)

    async def _respond(self, record: RecordedRequest) -> web.Response:
        fault = self._take_fault(record.method, record.path)
        if fault is not None:
            return fault.response()
        for route in self._routes:
            if route.method != record.method:
                continue
            match = route.pattern.fullmatch(record.path)
            if match is None:
                continue
            if route.auth and record.headers.get("Authorization") != f"Bot {self.token}":
                return json_response(error_body(0, "401: Unauthorized"), status=401)
            try:
                status, body = await route.handler(record, match)
            except HTTPError as exc:
                return json_response(exc.body, status=exc.status)
            if body is None:
                return web.Response(status=204)
            return json_response(body, status=status)
        return json_response(error_body(0, "404: Not Found"), status=404)

    async def _get_me(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        me = self.bot_user.payload()
        me.update(verified=True, mfa_enabled=False, flags=0, locale="en-US", email=None)
        return 200, me

    async def _get_application(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": self.app_name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.owner.payload(),
            "team": None,
            "bot": self.bot_user.payload(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "approximate_guild_count": len(self.guilds),
        }

    async def _get_gateway(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return 200, {"url": self.gateway_url.rstrip("/"), "shards": 1, "session_start_limit": limit}

    def _check_app(self, m: re.Match[str]) -> None:
        if int(m["app"]) != self.application_id:
            raise HTTPError(403, 50001, "Missing Access")

    def _command_scope(self, m: re.Match[str]) -> dict[str, JSON]:
        self._check_app(m)
        guild_id = m.groupdict().get("guild")
        if guild_id is None:
            return self.global_commands
        if int(guild_id) not in self.guilds:
            raise HTTPError(403, 50001, "Missing Access")
        return self.guild_commands.setdefault(int(guild_id), {})

    async def _get_commands(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        return 200, list(self._command_scope(m).values())

    async def _put_commands(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        scope = self._command_scope(m)
        if not isinstance(req.json, list):
            raise HTTPError(400, 50035, "Invalid Form Body", {"_errors": [{"code": "BASE_TYPE_ARRAY"}]})
        errors = _validate_commands(req.json)
        if errors:
            raise HTTPError(400, 50035, "Invalid Form Body", errors)
        guild_id = m.groupdict().get("guild")
        stored: dict[str, JSON] = {}
        for command in req.json:
            key = f"{command.get('type', 1)}:{command['name']}"
            previous = scope.get(key)
            entry = copy.deepcopy(command)
            entry.update(
                id=previous["id"] if previous else str(self.ids()),
                application_id=str(self.application_id),
                version=str(self.ids()),
                type=command.get("type", 1),
                default_member_permissions=command.get("default_member_permissions"),
            )
            if guild_id is not None:
                entry["guild_id"] = guild_id
            stored[key] = entry
        scope.clear()
        scope.update(stored)
        return 200, list(stored.values())

    def find_command(self, name: str, guild_id: int | None = None) -> JSON | None:
        """The registered chat-input command `name`: the guild's own first, then the global one."""
        key = f"1:{name}"
        if guild_id is not None and key in self.guild_commands.get(guild_id, {}):
            return self.guild_commands[guild_id][key]
        return self.global_commands.get(key)

    # ----- REST: messages

    def _channel_or_404(self, channel_id: str | int) -> FakeChannel:
        channel = self.channel(int(channel_id))
        if channel is None:
            raise HTTPError(404, 10003, "Unknown Channel")
        return channel

    def _new_message(
        self,
        channel: FakeChannel | None,
        channel_id: int,
        body: JSON,
        *,
        author: FakeUser | None = None,
        message_type: int = MESSAGE_DEFAULT,
        extra_flags: int = 0,
        interaction: FakeInteraction | None = None,
        files: Sequence[tuple[str, bytes]] = (),
    ) -> FakeMessage:
        author = author or self.bot_user
        message_id = self.ids()
        flags = int(body.get("flags") or 0) | extra_flags
        attachments = self._attachments(channel_id, message_id, files)
        payload: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": message_type,
            "content": body.get("content") or "",
            "author": author.payload(),
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            **_pinged(body.get("content") or "", body.get("allowed_mentions")),
            "attachments": attachments,
            "embeds": copy.deepcopy(body.get("embeds") or []),
            "components": copy.deepcopy(body.get("components") or []),
            "pinned": False,
            "flags": flags,
        }
        if channel is not None and channel.guild_id is not None:
            payload["guild_id"] = str(channel.guild_id)
        if body.get("nonce") is not None:
            payload["nonce"] = body["nonce"]
        if body.get("message_reference"):
            payload["message_reference"] = copy.deepcopy(body["message_reference"])
        if interaction is not None:
            payload["application_id"] = str(self.application_id)
            payload["webhook_id"] = str(self.application_id)
            payload["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": copy.deepcopy(_interaction_user(interaction.payload)),
                "authorizing_integration_owners": {},
            }
        return FakeMessage(payload=payload, request=copy.deepcopy(body))

    async def _create_message(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        channel = self._channel_or_404(m["channel"])
        body = req.json if isinstance(req.json, dict) else {}
        if not (body.get("content") or body.get("embeds") or body.get("components") or req.files):
            raise HTTPError(400, 50006, "Cannot send an empty message")
        if channel.type in FORUM_TYPES or channel.type == CATEGORY:
            raise HTTPError(400, 50024, "Cannot execute action on this channel type")  # a forum takes posts
        if channel.guild_id is not None:
            self._check_bot(channel, VIEW_CHANNEL | (SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES))
            if channel.locked:
                raise HTTPError(403, 50083, "Thread is locked")
            channel.archived = False  # a message to an archived thread opens it again
        nonce = body.get("nonce")
        key = (channel.id, self.bot_user.id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            self._forget_old_nonces()
            known = self._nonces.get(key)
            if known is not None:
                return 200, known[1].payload  # the same message again, not a new one
        message = self._new_message(channel, channel.id, body, files=req.files)
        channel.messages.append(message)
        if nonce is not None:
            self._nonces[key] = (time.monotonic(), message)
        return 200, message.payload

    def _check_bot(self, channel: FakeChannel, needed: int) -> None:
        """403 50013 unless the bot's role has `needed` (its permissions in the guild; no overwrites)."""
        granted = self.guilds[channel.guild_id].bot_permissions if channel.guild_id is not None else ALL_PERMISSIONS
        if granted & ADMINISTRATOR == 0 and granted & needed != needed:
            raise HTTPError(403, 50013, "Missing Permissions")

    async def _start_forum_post(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        """POST /channels/{forum}/threads: a forum post — a thread and its first message, whose id is the
        thread's. No nonce: Discord's forum thread message params have none, and a repeat opens another."""
        forum = self._channel_or_404(m["channel"])
        body = req.json if isinstance(req.json, dict) else {}
        message = body.get("message") if isinstance(body.get("message"), dict) else None
        if forum.type not in FORUM_TYPES or message is None:
            raise HTTPError(400, 50024, "Cannot execute action on this channel type")  # only a forum's posts here
        self._check_bot(forum, VIEW_CHANNEL | SEND_MESSAGES)  # Create Posts
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise HTTPError(400, 50035, "Invalid Form Body", {"name": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH"}]}})
        if forum.flags & REQUIRE_TAG and not body.get("applied_tags"):
            raise HTTPError(400, 40067, "A tag is required to create a forum post in this channel")
        if not (message.get("content") or message.get("embeds") or message.get("components")):
            raise HTTPError(400, 50006, "Cannot send an empty message")
        guild = self.guilds[int(forum.guild_id or 0)]
        thread = guild.add_thread(forum, name, owner=self.bot_user)
        starter = self._new_message(thread, thread.id, message, files=req.files)
        starter.payload["id"] = str(thread.id)  # a forum post's first message has the thread's id
        thread.messages.append(starter)
        payload = {**thread.payload(), "message": starter.payload}
        with contextlib.suppress(RuntimeError):  # the bot may be gone already (a test killed it)
            await self.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return 201, payload

    async def _active_threads(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        guild = self.guilds.get(int(m["guild"]))
        if guild is None:
            raise HTTPError(404, 10004, "Unknown Guild")
        threads = [c for c in guild.channels.values() if c.is_thread and not c.archived]
        return 200, {"threads": [t.payload() for t in threads], "members": []}

    async def _archived_threads(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        channel = self._channel_or_404(m["channel"])
        self._check_bot(channel, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        guild = self.guilds[int(channel.guild_id or 0)]
        limit = max(2, min(100, int(req.query.get("limit", "50"))))
        found = [c for c in guild.channels.values() if c.parent_id == channel.id and c.archived][::-1]
        return 200, {"threads": [t.payload() for t in found[:limit]], "members": [], "has_more": len(found) > limit}

    async def _crosspost(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        """Publish a message of an announcement channel to its followers, once (Send Messages for one's
        own messages, Manage Messages for others')."""
        channel = self._channel_or_404(m["channel"])
        if channel.type != ANNOUNCEMENT_CHANNEL:
            raise HTTPError(400, 50024, "Cannot execute action on this channel type")
        message = channel.message(int(m["msg"]))
        if message is None:
            raise HTTPError(404, 10008, "Unknown Message")
        own = message.payload["author"]["id"] == str(self.bot_user.id)
        self._check_bot(channel, VIEW_CHANNEL | (SEND_MESSAGES if own else MANAGE_MESSAGES))
        if message.flags & CROSSPOSTED:
            raise HTTPError(400, 40033, "This message has already been crossposted")
        message.payload["flags"] = message.flags | CROSSPOSTED
        return 200, message.payload

    def _forget_old_nonces(self) -> None:
        horizon = time.monotonic() - self.nonce_window
        for key in [k for k, (at, _) in self._nonces.items() if at < horizon]:
            del self._nonces[key]

    async def _list_messages(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        channel = self._channel_or_404(m["channel"])
        limit = max(1, min(100, int(req.query.get("limit", "50"))))
        found = list(channel.messages)
        if "before" in req.query:
            found = [x for x in found if x.id < int(req.query["before"])]
        if "after" in req.query:
            found = [x for x in found if x.id > int(req.query["after"])]
            return 200, [x.payload for x in found[:limit]][::-1]
        return 200, [x.payload for x in found[::-1][:limit]]  # newest first

    async def _channel_message(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        channel = self._channel_or_404(m["channel"])
        message = channel.message(int(m["msg"]))
        if message is None:
            raise HTTPError(404, 10008, "Unknown Message")
        return self._message_verb(req, message, channel)

    def _attachments(self, channel_id: int, message_id: int, files: Sequence[tuple[str, bytes]]) -> list[JSON]:
        """Attachment objects for uploaded files, each then served under its url."""
        attachments = [
            {
                "id": str(self.ids()),
                "filename": filename,
                "size": len(content),
                "url": f"{self.base_url}/attachments/{channel_id}/{message_id}/{filename}",
                "proxy_url": f"{self.base_url}/attachments/{channel_id}/{message_id}/{filename}",
            }
            for filename, content in files
        ]
        for attachment, (_filename, content) in zip(attachments, files, strict=True):
            self._files[attachment["url"].removeprefix(self.base_url)] = content
        return attachments

    def _message_verb(self, req: RecordedRequest, message: FakeMessage, channel: FakeChannel | None) -> tuple[int, Any]:
        if req.method == "GET":
            return 200, message.payload
        if req.method == "DELETE":
            if channel is not None and message in channel.messages:
                channel.messages.remove(message)
            return 204, None
        body = req.json if isinstance(req.json, dict) else {}
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                message.payload[key] = empty if body[key] is None else copy.deepcopy(body[key])
        if "flags" in body and body["flags"] is not None:
            message.payload["flags"] = int(body["flags"]) | (message.flags & EPHEMERAL)
        if "attachments" in body:  # as Discord: those listed by id are kept, the files uploaded are added
            listed = {str(a.get("id")) for a in body["attachments"] or () if isinstance(a, dict)}
            kept = [a for a in message.payload.get("attachments", []) if a["id"] in listed]
            added = self._attachments(int(message.payload["channel_id"]), message.id, req.files)
            message.payload["attachments"] = kept + added
        message.payload["flags"] = message.flags & ~LOADING
        message.payload["edited_timestamp"] = now_iso()
        message.request.update(copy.deepcopy(body))
        return 200, message.payload

    async def _get_channel(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        return 200, self._channel_or_404(m["channel"]).payload()

    async def _get_guild(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        guild = self.guilds.get(int(m["guild"]))
        if guild is None:
            raise HTTPError(404, 10004, "Unknown Guild")
        return 200, guild.payload()

    async def _get_guild_channels(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        guild = self.guilds.get(int(m["guild"]))
        if guild is None:
            raise HTTPError(404, 10004, "Unknown Guild")
        return 200, [c.payload() for c in guild.channels.values()]

    # ----- REST: interactions

    async def _interaction_callback(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        interaction = self.interactions.get(int(m["id"]))
        if interaction is None or interaction.token != m["token"]:
            raise HTTPError(404, 10062, "Unknown interaction")
        deadline = self.interaction_deadline
        if deadline is not None and time.monotonic() - interaction.created > deadline:
            raise HTTPError(404, 10062, "Unknown interaction")
        if interaction.callbacks:
            raise HTTPError(400, 40060, "Interaction has already been acknowledged.")
        body = req.json if isinstance(req.json, dict) else {}
        callback_type = int(body.get("type", 0))
        interaction.callbacks.append(copy.deepcopy(body))
        data = body.get("data") or {}
        message: FakeMessage | None = None
        if callback_type in (CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE):
            channel = interaction.channel
            message = self._new_message(
                channel,
                channel.id if channel else 0,
                data,
                message_type=MESSAGE_CHAT_INPUT_COMMAND,
                extra_flags=LOADING if callback_type == CALLBACK_DEFERRED_MESSAGE else 0,
                interaction=interaction,
                files=req.files,
            )
            interaction.original = message
            if channel is not None and not message.flags & EPHEMERAL:
                channel.messages.append(message)
        elif callback_type == CALLBACK_UPDATE and interaction.original is not None:
            self._message_verb(
                RecordedRequest("PATCH", req.path, {}, {}, data, req.files), interaction.original, interaction.channel
            )
            message = interaction.original
        if req.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        answer: JSON = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "activity_instance_id": None,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": callback_type == CALLBACK_DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(message and message.flags & EPHEMERAL),
            },
            "resource": {"type": callback_type},
        }
        if message is not None:
            answer["resource"]["message"] = message.payload
        return 200, answer

    def _interaction_for_webhook(self, m: re.Match[str]) -> FakeInteraction:
        if int(m["app"]) == self.application_id:
            for interaction in self.interactions.values():
                if interaction.token == m["token"]:
                    return interaction
        raise HTTPError(404, 10015, "Unknown Webhook")

    async def _followup_create(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        interaction = self._interaction_for_webhook(m)
        if not interaction.callbacks:
            raise HTTPError(404, 10015, "Unknown Webhook")  # Discord wants the callback first
        body = req.json if isinstance(req.json, dict) else {}
        channel = interaction.channel
        message = self._new_message(
            channel, channel.id if channel else 0, body, interaction=interaction, files=req.files
        )
        interaction.followups.append(message)
        if channel is not None and not message.flags & EPHEMERAL:
            channel.messages.append(message)
        if req.query.get("wait", "").lower() in ("1", "true"):
            return 200, message.payload
        return 204, None

    async def _webhook_message(self, req: RecordedRequest, m: re.Match[str]) -> tuple[int, Any]:
        interaction = self._interaction_for_webhook(m)
        if m["msg"] == "@original":
            message = interaction.original
        else:
            message = next((f for f in interaction.followups if f.id == int(m["msg"])), None)
        if message is None:
            raise HTTPError(404, 10008, "Unknown Message")
        status, answer = self._message_verb(req, message, interaction.channel)
        if req.method == "DELETE" and message is interaction.original:
            interaction.original = None
        return status, answer

    # ----- gateway

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="a websocket is expected here")
        await ws.prepare(request)
        query = dict(request.query)
        conn = GatewayConnection(
            number=len(self.connections) + 1,
            path=request.path,
            query=query,
            ws=ws,
            request=request,
            client=self._client(request),
        )
        if self.compress_transport and query.get("compress") == "zlib-stream":
            conn.compressor = zlib.compressobj()
        self.connections.append(conn)
        self._changes.notify()
        try:
            await self._send(conn, {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_payload(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            conn.closed = True
            if not conn.closed_by_server:
                conn.close_code = ws.close_code
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            self._changes.notify()
        return ws

    async def _send(self, conn: GatewayConnection, payload: JSON) -> bool:
        """Send one payload on `conn`; False if the connection is already gone."""
        async with conn.lock:
            if conn.closed or conn.ws.closed:
                return False
            text = json.dumps(payload)
            try:
                if conn.compressor is not None:
                    data = conn.compressor.compress(text.encode()) + conn.compressor.flush(zlib.Z_SYNC_FLUSH)
                    await conn.ws.send_bytes(data)
                else:
                    await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
            conn.sent.append(payload)
        self._changes.notify()
        return True

    async def _on_gateway_payload(self, conn: GatewayConnection, payload: JSON) -> None:
        conn.received.append(payload)
        self._changes.notify()
        op = payload.get("op")
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            conn.heartbeats += 1
            if self.ack_heartbeats:
                await self._send(conn, {"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif op == OP_REQUEST_MEMBERS and isinstance(data, dict):
            guild = self.guilds.get(int(data.get("guild_id", 0)))
            members = [m.payload() for m in guild.members.values()] if guild else []
            chunk = {"guild_id": data.get("guild_id"), "members": members, "chunk_index": 0, "chunk_count": 1}
            if data.get("nonce"):
                chunk["nonce"] = data["nonce"]
            await self._dispatch_on(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _identify(self, conn: GatewayConnection, data: JSON) -> None:
        conn.identify = data
        if data.get("token") != self.token:
            conn.closed_by_server = True
            conn.close_code = 4004
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = _identify_shard(data.get("shard"))
        if shard is None:
            conn.closed_by_server = True
            conn.close_code = 4010
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        session = GatewaySession(id=secrets.token_hex(16), connection=conn, shard=shard)
        self.sessions[session.id] = session
        conn.session = session
        guilds = [g for g in self.guilds.values() if session.owns(g.id)]
        ready = {
            "v": 10,
            "user": self.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "shard": list(shard),
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "user_settings": {},
        }
        await self._dispatch_on(session, "READY", ready)
        for guild in guilds:
            await self._dispatch_on(session, "GUILD_CREATE", guild.payload())

    async def _resume(self, conn: GatewayConnection, data: JSON) -> None:
        conn.resume = data
        session = self.sessions.get(str(data.get("session_id")))
        if self.fail_resumes or session is None or data.get("token") != self.token:
            await self._send(conn, {"op": OP_INVALID_SESSION, "d": False})
            return
        old = session.connection
        if old is not None and old is not conn and not old.closed:
            old.closed_by_server = True
            old.close_code = 4000
            with contextlib.suppress(Exception):
                await old.ws.close(code=4000, message=b"resumed elsewhere")
        session.connection = conn
        conn.session = session
        last_seen = int(data.get("seq") or 0)
        for event in [e for e in session.events if e["s"] > last_seen]:
            await self._send(conn, event)
        await self._dispatch_on(session, "RESUMED", {})

    async def _dispatch_on(self, session: GatewaySession | None, event: str, data: Any) -> int:
        if session is None:
            raise RuntimeError("no gateway session: the bot has not identified yet")
        session.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        if session.connection is not None:
            await self._send(session.connection, payload)  # a miss is replayed on RESUME
        return session.seq

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH of `event` on the newest session of the shard that owns the event's guild
        (`guild_id`, or a GUILD_* event's `id`; no guild: shard 0), kept for RESUME if the bot is away."""
        guild_id = _guild_of(event, data)
        owners = (
            [s for s in self.sessions.values() if s.owns(guild_id)]
            if guild_id is not None
            else [s for s in self.sessions.values() if s.shard[0] == 0]
        )
        session = owners[-1] if owners else None
        if session is None and self.sessions:
            where = f"guild {guild_id}" if guild_id is not None else "an event about no guild (shard 0)"
            shards = sorted({s.shard for s in self.sessions.values()})
            raise RuntimeError(f"no gateway session of the shard of {where}; sessions of shards {shards}")
        return await self._dispatch_on(session, event, data)

    async def send_op(self, op: int, data: Any = None) -> None:
        """Send a raw opcode (e.g. OP_RECONNECT) on the live connection."""
        conn = self.live_connection
        if conn is None:
            raise RuntimeError("no live gateway connection")
        await self._send(conn, {"op": op, "d": data})

    async def drop_gateway(self, *, code: int = 4000, abort: bool = False) -> GatewayConnection:
        """End the live gateway connection: a close frame with `code` (4000: the bot may RESUME), or,
        with `abort`, a dead TCP connection without any close frame. Returns the dropped connection."""
        conn = self.live_connection
        if conn is None:
            raise RuntimeError("no live gateway connection")
        conn.closed_by_server = True
        conn.close_code = None if abort else code
        if abort:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        else:
            await conn.ws.close(code=code, message=b"dropped by the test")

        def connection_closed() -> bool:
            return conn.closed

        await self.wait_for(connection_closed, 10)
        return conn

    async def invoke(
        self,
        name: str,
        *,
        user: FakeUser,
        channel: FakeChannel,
        options: Sequence[JSON] = (),
        resolved: JSON | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Dispatch an INTERACTION_CREATE for the slash command `name`, as `user` in `channel`.

        The command must have been synced (to the channel's guild or globally), as on Discord.
        `options` are the raw interaction options ({"name", "type", "value"}); `permissions`
        overrides the member's permissions, `app_permissions` the bot's in the channel.
        """
        guild = self.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        command = self.find_command(name, guild.id if guild else None)
        if command is None:
            raise LookupError(f"/{name} was never synced to this fake (commands: {self._command_names()})")
        command_data: JSON = {"id": command["id"], "name": name, "type": 1}
        if "guild_id" in command:
            command_data["guild_id"] = command["guild_id"]
        if options:
            command_data["options"] = copy.deepcopy(list(options))
        if resolved:
            command_data["resolved"] = copy.deepcopy(resolved)
        return await self.interact(
            INTERACTION_COMMAND, command_data, user=user, channel=channel, permissions=permissions,
            app_permissions=app_permissions, locale=locale,
        )  # fmt: skip

    async def autocomplete(
        self, name: str, *, user: FakeUser, channel: FakeChannel, options: Sequence[JSON], timeout: float = 20.0
    ) -> list[JSON]:
        """The choices the bot offers for the focused option of `/name`, as Discord asks while `user` types."""
        guild_id = channel.guild_id
        command = self.find_command(name, guild_id)
        if command is None:
            raise LookupError(f"/{name} was never synced to this fake (commands: {self._command_names()})")
        data: JSON = {"id": command["id"], "name": name, "type": 1, "options": copy.deepcopy(list(options))}
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        interaction = await self.interact(INTERACTION_AUTOCOMPLETE, data, user=user, channel=channel)
        response = await interaction.wait_response(timeout)
        assert response["type"] == CALLBACK_AUTOCOMPLETE, response
        return list(response["data"]["choices"])

    async def click(
        self, custom_id: str, *, user: FakeUser, message: FakeMessage | JSON, channel: FakeChannel | None = None
    ) -> FakeInteraction:
        """`user` presses the button `custom_id` under `message` (a message of this fake, or a message
        payload made up by the test); an UPDATE answer edits a message of this fake."""
        original = message if isinstance(message, FakeMessage) else None
        payload = message.payload if isinstance(message, FakeMessage) else message
        if channel is None:
            channel = self.channel(int(payload["channel_id"]))
        assert channel is not None, "the message's channel is unknown to the fake"
        data: JSON = {"custom_id": custom_id, "component_type": 2}
        return await self.interact(
            INTERACTION_COMPONENT, data, user=user, channel=channel, message=payload, original=original
        )

    async def interact(
        self,
        kind: int,
        data: JSON,
        *,
        user: FakeUser,
        channel: FakeChannel,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
        message: JSON | None = None,
        original: FakeMessage | None = None,
    ) -> FakeInteraction:
        """Dispatch an INTERACTION_CREATE of `kind` with `data`, from `user` in `channel`, as Discord builds it."""
        guild = self.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        interaction_id = self.ids()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        if guild is not None:
            member = guild.members.get(user.id) or guild.add_member(user)
            member_payload = member.payload(with_permissions=True)
            if permissions is not None:
                member_payload["permissions"] = str(permissions)
            bot_permissions = guild.bot_permissions if app_permissions is None else app_permissions
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member_payload,
                app_permissions=str(bot_permissions),
                context=0,
                authorizing_integration_owners={"0": str(guild.id)},
            )
        else:
            payload.update(
                user=user.payload(),
                app_permissions=str(app_permissions if app_permissions is not None else BOT_PERMISSIONS),
                context=1,
                authorizing_integration_owners={"0": "0"},
            )
        interaction = FakeInteraction(
            id=interaction_id, token=token, type=kind, payload=payload, channel=channel, original=original, _fake=self
        )
        self.interactions[interaction_id] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    def _command_names(self) -> list[str]:
        names = [c["name"] for c in self.global_commands.values()]
        for commands in self.guild_commands.values():
            names += [c["name"] for c in commands.values()]
        return sorted(set(names))


def _identify_shard(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's `shard` as (shard_id, num_shards): [0, 1] when absent; None when invalid."""
    if value is None:
        return (0, 1)
    if not (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)):
        return None
    shard_id, count = value
    return (shard_id, count) if 0 <= shard_id < count else None


_GUILD_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})  # the guild is `d.id`


_MENTION = re.compile(r"<@&(\d+)>|@(everyone|here)")


def _pinged(content: str, allowed: Any) -> JSON:
    """Whom a message's content pings, as Discord decides it: the role mentions and @everyone/@here in
    the content that `allowed_mentions` lets through (absent: all of them; never anything in embeds)."""
    parse = set(allowed.get("parse") or []) if isinstance(allowed, dict) else {"roles", "everyone"}
    listed = {str(r) for r in (allowed.get("roles") or [])} if isinstance(allowed, dict) else set()
    roles: list[str] = []
    everyone = False
    for role, broadcast in _MENTION.findall(content):
        if role and ("roles" in parse or role in listed) and role not in roles:
            roles.append(role)
        everyone = everyone or bool(broadcast and "everyone" in parse)
    return {"mention_roles": roles, "mention_everyone": everyone}


def _guild_of(event: str, data: Any) -> int | None:
    """The guild an event is about (its shard's session gets it), or None."""
    if not isinstance(data, dict):
        return None
    value = data.get("id") if event in _GUILD_EVENTS else data.get("guild_id")
    return int(value) if value is not None else None


def _interaction_user(payload: JSON) -> JSON:
    if "member" in payload:
        return dict(payload["member"]["user"])
    return dict(payload.get("user", {}))


async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    """The JSON body (or a multipart's payload_json) and any uploaded files."""
    if not request.body_exists:
        return None, []
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: Discord uses none
            content = await part.read()
            if part.name == "payload_json":
                payload = json.loads(content)
            else:
                files.append((part.filename or part.name or "file", bytes(content)))
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def _validate_commands(commands: list[Any]) -> JSON:
    """Discord's main checks on a bulk command upload, as a 50035 `errors` tree (empty: fine)."""
    errors: JSON = {}

    def problem(where: JSON, key: str, code: str, message: str) -> None:
        where.setdefault(key, {})["_errors"] = [{"code": code, "message": message}]

    if len(commands) > 100:
        problem(errors, "_root", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        here: JSON = {}
        if not isinstance(command, dict):
            problem(errors, str(index), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind = int(command.get("type", 1))
        name = str(command.get("name", ""))
        if not _COMMAND_NAME.match(name) or (kind == 1 and name != name.lower()):
            problem(here, "name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if (kind, name) in seen:
            problem(here, "name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
        seen.add((kind, name))
        if kind == 1 and not 1 <= len(str(command.get("description", ""))) <= 100:
            problem(here, "description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        options_errors = _validate_options(command.get("options") or [])
        if options_errors:
            here["options"] = options_errors
        if here:
            errors[str(index)] = here
    return errors


def _validate_options(options: list[Any]) -> JSON:
    errors: JSON = {}
    if len(options) > 25:
        errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
    optional_seen = False
    for index, option in enumerate(options):
        here: JSON = {}
        name = str(option.get("name", ""))
        if not _COMMAND_NAME.match(name) or name != name.lower():
            here["name"] = {"_errors": [{"code": "APPLICATION_COMMAND_INVALID_NAME", "message": "invalid name"}]}
        if not 1 <= len(str(option.get("description", ""))) <= 100:
            here["description"] = {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "1 to 100 long"}]}
        if option.get("type") in (1, 2):  # sub-command (group): its own options
            nested = _validate_options(option.get("options") or [])
            if nested:
                here["options"] = nested
        elif option.get("required"):
            if optional_seen:
                here["required"] = {
                    "_errors": [{"code": "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                 "message": "Required options must be placed before non-required options"}]
                }  # fmt: skip
        else:
            optional_seen = True
        if len(option.get("choices") or []) > 25:
            here["choices"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "25 or fewer"}]}
        if here:
            errors[str(index)] = here
    return errors


# ---------------------------------------------------------------------------------------------
# The bot under test, as a subprocess


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: .*$")
"""One record of the bot's log format (bot/logs.py): `date time LEVEL logger: message`."""


class BotProcess:
    """A running `python -m bot …`: its stdout and stderr captured line by line as they come."""

    def __init__(self, process: asyncio.subprocess.Process, argv: Sequence[str]) -> None:
        self.process = process
        self.argv = list(argv)
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.stopping = False  # set by send_signal(): an exit is expected from then on
        self._changes = Changes()
        assert process.stdout is not None and process.stderr is not None
        self._pumps = [
            asyncio.create_task(self._pump(process.stdout, self.stdout_lines)),
            asyncio.create_task(self._pump(process.stderr, self.stderr_lines)),
        ]

    @classmethod
    async def start(cls, argv: Sequence[str], *, env: Mapping[str, str], cwd: str | Path) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            limit=1 << 20,
            start_new_session=True,  # its own process group: teardown kills the parser workers too
        )
        return cls(process, argv)

    async def _pump(self, stream: asyncio.StreamReader, lines: list[str]) -> None:
        while line := await stream.readline():
            lines.append(line.decode(errors="replace").rstrip("\r\n"))
            self._changes.notify()
        self._changes.notify()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def stdout(self) -> str:
        return "".join(line + "\n" for line in self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "".join(line + "\n" for line in self.stderr_lines)

    def _describe(self) -> str:
        state = "running" if self.returncode is None else f"exited {self.returncode}"
        tail = "\n".join(self.stderr_lines[-40:])
        return f"; the bot is {state}; its stderr:\n{tail}"

    async def wait_for_line(
        self, pattern: str | re.Pattern[str], *, stream: str = "stderr", timeout: float = 20.0
    ) -> str:
        """The first line so far or to come that contains the regex `pattern`.

        Fails at once, with the output, if the process ends without printing it."""
        regex = re.compile(pattern)
        lines = self.stderr_lines if stream == "stderr" else self.stdout_lines

        def line_printed() -> str | None:
            found = next((line for line in lines if regex.search(line)), None)
            if found is None and all(pump.done() for pump in self._pumps):
                raise AssertionError(f"the bot ended without printing {regex.pattern!r}{self._describe()}")
            return found

        line_printed.__name__ = f"a line matching {regex.pattern!r}"
        return await self._changes.wait_until(line_printed, timeout, self._describe)

    def send_signal(self, sig: signal.Signals) -> None:
        """Send `sig`; from then on the process may exit without failing `assert_running`."""
        self.stopping = True
        self.process.send_signal(sig)

    def assert_running(self) -> None:
        """AssertionError, with the bot's output, if it has exited though no one asked it to."""
        if self.returncode is not None and not self.stopping:
            raise AssertionError(f"the bot exited unexpectedly{self._describe()}")

    async def wait(self, timeout: float = 20.0) -> int:
        """The exit code, once the process has ended and its output is all read."""
        try:
            await asyncio.wait_for(asyncio.gather(self.process.wait(), *self._pumps), timeout)
        except TimeoutError:
            raise TimeoutError(f"the bot did not exit within {timeout:g} s{self._describe()}") from None
        assert self.process.returncode is not None
        return self.process.returncode

    async def kill(self) -> None:
        """Make sure the process is gone (teardown): SIGKILL if it still runs, then reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the bot and any worker it left behind
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 10)
        for pump in self._pumps:
            if not pump.done():
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(pump, 5)


StartBot = Callable[..., Awaitable[BotProcess]]
"""The type of the `start_bot` fixture: `await start_bot(token=..., verbose=...)` → a BotProcess."""


# the variables that change where a bot process reads its config and database, or how it listens and logs
# (bot/config/deployment.py VARIABLES): a developer's own never reach the bot under test
DEPLOYMENT_VARIABLES = frozenset({"WIREBRIEF_CONFIG", "WIREBRIEF_DB_URL", "WIREBRIEF_DB_PATH", "WIREBRIEF_HEALTH_HOST",
                                  "WIREBRIEF_HEALTH_PORT", "WIREBRIEF_LOG_FORMAT"})  # fmt: skip


def child_environment(token: str | None, *, variable: str = "DISCORD_TOKEN") -> dict[str, str]:
    """This process's environment for the bot: no inherited token, `token` in `variable` if given,
    no proxy variables, none of the deployment variables."""
    drop = {variable, "DISCORD_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "WS_PROXY", "WSS_PROXY"}
    drop |= DEPLOYMENT_VARIABLES
    env = {k: v for k, v in os.environ.items() if k.upper() not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    if token is not None:
        env[variable] = token
    return env
