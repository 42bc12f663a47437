"""The Anthropic Messages client against the fake server: headers, prefill, thinking blocks, errors."""

from __future__ import annotations

import json

import pytest
from fake_llm import VALID_ANSWER, FakeLLM, Mode

from bot.adapters.llm import AnthropicClient, LLMError
from bot.adapters.llm.anthropic import API_VERSION, DEFAULT_BASE_URL
from bot.core.llm_parse import parse_answer
from bot.core.prompt import answer_schema

SCHEMA = answer_schema(["robotics", "business"])
KEY = "sk-ant-test-0123456789-SECRET"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(
    fake: FakeLLM, *, api_key: str | None = KEY, timeout: float = 5.0, sleep: Sleeps | None = None
) -> AnthropicClient:
    return AnthropicClient(
        model="claude-test",
        base_url=fake.anthropic_base_url,
        api_key=api_key,
        timeout_seconds=timeout,
        sleep=sleep or Sleeps(),
    )


async def ask(client: AnthropicClient) -> str:
    try:
        return (await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=700)).text
    finally:
        await client.close()


async def test_request_shape_headers_and_prefill(fake_llm: FakeLLM) -> None:
    client = client_for(fake_llm)
    completion = await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=700)
    await client.close()
    (rec,) = fake_llm.requests
    assert rec.path == "/v1/messages"
    assert rec.headers["x-api-key"] == KEY and rec.headers["anthropic-version"] == API_VERSION == "2023-06-01"
    assert "authorization" not in rec.headers
    assert rec.body["system"] == "SYSTEM" and rec.body["max_tokens"] == 700 and rec.body["model"] == "claude-test"
    assert rec.messages == [{"role": "user", "content": "USER"}, {"role": "assistant", "content": "{"}]
    assert json.loads(completion.text) == VALID_ANSWER  # the prefilled "{" is put back
    assert (completion.input_tokens, completion.output_tokens) == (120, 80)


async def test_no_key_header_without_a_key(fake_llm: FakeLLM) -> None:
    await ask(client_for(fake_llm, api_key=None))
    assert "x-api-key" not in fake_llm.requests[0].headers


def test_default_base_url() -> None:
    assert AnthropicClient(model="m").base_url == DEFAULT_BASE_URL == "https://api.anthropic.com"


async def test_thinking_blocks_are_not_the_answer(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.THINK
    assert json.loads(await ask(client_for(fake_llm))) == VALID_ANSWER


async def test_a_refused_prefill_is_dropped_and_remembered(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.REJECT_PREFILL
    assert json.loads(await ask(client_for(fake_llm))) == VALID_ANSWER
    assert [len(r.messages) for r in fake_llm.requests] == [2, 1]
    fake_llm.requests.clear()
    await ask(client_for(fake_llm))
    assert [len(r.messages) for r in fake_llm.requests] == [1]


async def test_rate_limit_then_success(fake_llm: FakeLLM) -> None:
    fake_llm.script(Mode.RATE_LIMITED, Mode.SERVER_ERROR, Mode.VALID)
    fake_llm.retry_after = "3"
    sleeps = Sleeps()
    assert json.loads(await ask(client_for(fake_llm, sleep=sleeps))) == VALID_ANSWER
    assert sleeps.waits == [3.0, 4.0]  # Retry-After, then the backoff of the second retry


async def test_truncated_answer_is_repaired_by_the_parser(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.TRUNCATED
    draft = parse_answer(await ask(client_for(fake_llm)), ["robotics", "business"])
    assert draft.hook == VALID_ANSWER["hook"]
    assert draft.implications[0].endswith("…") and draft.topics == ()


async def test_the_key_never_appears_in_errors(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.UNAUTHORIZED
    client = client_for(fake_llm)
    assert KEY not in repr(client)
    with pytest.raises(LLMError) as caught:
        await ask(client)
    assert caught.value.status == 401 and KEY not in str(caught.value) and KEY not in caught.value.detail


async def test_a_hang_times_out(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.HANG
    with pytest.raises(LLMError, match=r"the Anthropic API at http://127\.0\.0\.1:\d+ did not answer within 0\.5 s"):
        await ask(client_for(fake_llm, timeout=0.5))
