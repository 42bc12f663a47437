"""A model server that redirects: the request follows a 307/308 with its body, but the API key never
goes to another origin (a cross-origin redirect drops Authorization and x-api-key); other 3xx and
redirect loops are clear errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from fake_llm import FakeLLM
from loopback import serve_on_loopback

from bot.adapters.llm import AnthropicClient, LLMError, OpenAIClient
from bot.core.prompt import answer_schema

KEY = "sk-test-redirect-SECRET"
SCHEMA = answer_schema(["robotics"])


class Redirector:
    """A server on its own port (another origin) whose every POST answers `status` to `target`."""

    def __init__(self, status: int, target: str) -> None:
        self.status = status
        self.target = target
        self.seen: list[dict[str, str]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        self.seen.append({k.lower(): v for k, v in request.headers.items()})
        location = self.target.replace("{port}", str(self.port)) + request.path
        return web.Response(status=self.status, headers={"Location": location})

    async def __aenter__(self) -> Redirector:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as server:
        yield server


@pytest.mark.parametrize("status", [307, 308])
async def test_a_cross_origin_redirect_keeps_the_request_but_not_the_api_key(fake: FakeLLM, status: int) -> None:
    async with Redirector(status, fake.url) as hop:
        client = OpenAIClient(model="m", base_url=f"{hop.url}/v1", api_key=KEY, timeout_seconds=5)
        try:
            await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=100)
        except LLMError:
            pass  # the fake refuses a request without its key: what matters is what it was sent
        finally:
            await client.close()
    assert hop.seen and hop.seen[0]["authorization"] == f"Bearer {KEY}", "the configured server gets the key"
    assert fake.requests, "the redirect was followed with the request body"
    assert "authorization" not in fake.requests[0].headers and KEY not in str(fake.requests[0].headers)
    assert fake.requests[0].body["messages"][1]["content"] == "USER"


async def test_anthropic_keys_stay_home_too(fake: FakeLLM) -> None:
    async with Redirector(307, fake.url) as hop:
        client = AnthropicClient(model="claude-test", base_url=hop.url, api_key=KEY, timeout_seconds=5)
        try:
            await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=100)
        except LLMError:
            pass
        finally:
            await client.close()
    assert hop.seen[0]["x-api-key"] == KEY
    assert fake.requests and "x-api-key" not in fake.requests[0].headers


async def test_a_same_origin_redirect_keeps_the_key(fake: FakeLLM) -> None:
    async with Redirector(307, "http://127.0.0.1:{port}/moved") as hop:  # to itself: same origin, then loops
        client = OpenAIClient(model="m", base_url=f"{hop.url}/v1", api_key=KEY, timeout_seconds=5)
        with pytest.raises(LLMError, match="redirected more than 3 times"):
            await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=100)
        await client.close()
    assert len(hop.seen) == 4 and all(h["authorization"] == f"Bearer {KEY}" for h in hop.seen)


async def test_a_redirect_that_would_turn_the_post_into_a_get_is_a_clear_error(fake: FakeLLM) -> None:
    async with Redirector(302, fake.url) as hop:
        client = OpenAIClient(model="m", base_url=f"{hop.url}/v1", api_key=KEY, timeout_seconds=5)
        with pytest.raises(LLMError, match=r"redirected the request \(HTTP 302\); set summarizer.base_url"):
            await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=100)
        await client.close()
    assert fake.requests == [], "never followed"
