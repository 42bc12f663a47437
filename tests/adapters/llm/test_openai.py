"""The OpenAI-compatible client against the fake server: request shape, adaptation, retries, errors."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from fake_llm import VALID_ANSWER, FakeLLM, Mode

from bot.adapters.llm import LLMError, OpenAIClient
from bot.adapters.llm.openai import DEFAULT_BASE_URL, MAX_ATTEMPTS, RequestShape, adapt
from bot.core.llm_parse import parse_answer
from bot.core.prompt import answer_schema

SCHEMA = answer_schema(["robotics", "business"])
KEY = "sk-test-0123456789-SECRET"
NOW = 1_767_000_000.0


class Sleeps:
    """An asyncio.sleep stand-in that records what it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(
    fake: FakeLLM, *, api_key: str | None = None, timeout: float = 5.0, sleep: Sleeps | None = None
) -> OpenAIClient:
    return OpenAIClient(
        model="test-model",
        base_url=fake.openai_base_url,
        api_key=api_key,
        timeout_seconds=timeout,
        sleep=sleep or Sleeps(),
        clock=lambda: NOW,
    )


async def ask(client: OpenAIClient) -> str:
    try:
        return (await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=500)).text
    finally:
        await client.close()


async def test_request_shape_and_answer(fake_llm: FakeLLM) -> None:
    client = client_for(fake_llm)
    completion = await client.complete("SYSTEM", "USER", SCHEMA, max_tokens=500)
    await client.close()
    (rec,) = fake_llm.requests
    assert rec.path == "/v1/chat/completions"
    assert rec.body["model"] == "test-model"
    assert rec.body["messages"] == [{"role": "system", "content": "SYSTEM"}, {"role": "user", "content": "USER"}]
    assert rec.body["max_tokens"] == 500 and rec.body["stream"] is False
    fmt = rec.response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == SCHEMA and fmt["json_schema"]["strict"] is True
    assert json.loads(completion.text) == VALID_ANSWER
    assert (completion.input_tokens, completion.output_tokens, completion.model) == (120, 80, "test-model")


async def test_no_authorization_header_without_a_key(fake_llm: FakeLLM) -> None:
    await ask(client_for(fake_llm, api_key=None))
    await ask(client_for(fake_llm, api_key=""))
    assert all("authorization" not in r.headers for r in fake_llm.requests)


async def test_bearer_key_when_set(fake_llm: FakeLLM) -> None:
    await ask(client_for(fake_llm, api_key=KEY))
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_default_base_url_is_openai() -> None:
    assert OpenAIClient(model="m").base_url == DEFAULT_BASE_URL == "https://api.openai.com/v1"
    assert OpenAIClient(model="m", base_url="http://127.0.0.1:11434/v1/").base_url == "http://127.0.0.1:11434/v1"


async def test_json_schema_refused_steps_down_to_json_object_and_remembers(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.REJECT_JSON_SCHEMA
    assert json.loads(await ask(client_for(fake_llm))) == VALID_ANSWER
    assert [r.response_format for r in fake_llm.requests] == [SCHEMA_FORMAT, {"type": "json_object"}]
    fake_llm.requests.clear()
    await ask(client_for(fake_llm))  # a new client in the same process: no second refusal
    assert [r.response_format for r in fake_llm.requests] == [{"type": "json_object"}]


SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "wirebrief_card", "strict": True, "schema": SCHEMA}}


async def test_any_response_format_refused_steps_down_to_none(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.REJECT_RESPONSE_FORMAT
    assert json.loads(await ask(client_for(fake_llm))) == VALID_ANSWER
    assert [r.response_format for r in fake_llm.requests] == [SCHEMA_FORMAT, {"type": "json_object"}, None]
    fake_llm.requests.clear()
    await ask(client_for(fake_llm))
    assert [r.response_format for r in fake_llm.requests] == [None]


def test_adapt_steps() -> None:
    shape = RequestShape()
    assert adapt(shape, "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead.") == RequestShape(
        tokens_param="max_completion_tokens"
    )
    assert adapt(shape, "Unsupported value: 'temperature' does not support 0.2") == RequestShape(temperature=False)
    assert adapt(RequestShape(response_format="none"), "response_format is bad") is None
    assert adapt(shape, "model not found") is None


async def test_other_400_is_not_retried(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.BAD_REQUEST
    with pytest.raises(LLMError) as caught:
        await ask(client_for(fake_llm))
    assert caught.value.status == 400 and "`test-model` does not exist" in str(caught.value)
    assert len(fake_llm.requests) == 1


async def test_429_honours_retry_after_seconds(fake_llm: FakeLLM) -> None:
    fake_llm.script(Mode.RATE_LIMITED, Mode.VALID)
    fake_llm.retry_after = "7"
    sleeps = Sleeps()
    assert json.loads(await ask(client_for(fake_llm, sleep=sleeps))) == VALID_ANSWER
    assert sleeps.waits == [7.0] and len(fake_llm.requests) == 2


async def test_429_honours_retry_after_http_date(fake_llm: FakeLLM) -> None:
    fake_llm.script(Mode.RATE_LIMITED, Mode.VALID)
    fake_llm.retry_after = format_datetime(datetime.fromtimestamp(NOW + 30, tz=UTC), usegmt=True)
    sleeps = Sleeps()
    await ask(client_for(fake_llm, sleep=sleeps))
    assert sleeps.waits == [30.0]


async def test_retry_after_past_the_cap_gives_up_at_once_saying_when(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.RATE_LIMITED
    fake_llm.retry_after = "3600"
    sleeps = Sleeps()
    with pytest.raises(LLMError) as caught:
        await ask(client_for(fake_llm, sleep=sleeps))
    assert caught.value.status == 429 and caught.value.retry_after == 3600.0
    assert "try again after 2025-12-29 10:20:00 UTC" in str(caught.value)
    assert sleeps.waits == [] and len(fake_llm.requests) == 1


async def test_500_backs_off_then_succeeds(fake_llm: FakeLLM) -> None:
    fake_llm.script(Mode.SERVER_ERROR, Mode.VALID)
    sleeps = Sleeps()
    assert json.loads(await ask(client_for(fake_llm, sleep=sleeps))) == VALID_ANSWER
    assert sleeps.waits == [2.0]


async def test_at_most_two_retries(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.SERVER_ERROR
    sleeps = Sleeps()
    with pytest.raises(LLMError, match="still answered HTTP 500 after 2 retries"):
        await ask(client_for(fake_llm, sleep=sleeps))
    assert sleeps.waits == [2.0, 4.0] and len(fake_llm.requests) == 3


async def test_a_hang_times_out_with_a_readable_error(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.HANG
    with pytest.raises(LLMError, match=r"did not answer within 0\.5 s.*timeout_seconds"):
        await ask(client_for(fake_llm, timeout=0.5))


async def test_connection_refused_is_an_llm_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAIClient(model="m", base_url=f"http://127.0.0.1:{port}/v1", timeout_seconds=2)
    with pytest.raises(LLMError, match=r"cannot reach the model server at http://127\.0\.0\.1"):
        await ask(client)


async def test_the_key_never_appears_in_errors(fake_llm: FakeLLM) -> None:
    fake_llm.mode = Mode.UNAUTHORIZED  # its message echoes the key it got
    client = client_for(fake_llm, api_key=KEY)
    assert KEY not in repr(client)
    with pytest.raises(LLMError) as caught:
        await ask(client)
    assert caught.value.status == 401
    assert "api_key_env" in str(caught.value) and "[redacted]" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in caught.value.detail and KEY not in repr(caught.value)


async def test_missing_usage_is_estimated(fake_llm: FakeLLM) -> None:
    fake_llm.report_usage = False
    client = client_for(fake_llm)
    completion = await client.complete("S" * 400, "U" * 400, SCHEMA, max_tokens=100)
    await client.close()
    assert completion.input_tokens == 201 and completion.output_tokens > 0


@pytest.mark.parametrize("mode", [Mode.FENCED, Mode.THINK, Mode.TRUNCATED, Mode.HALLUCINATE])
async def test_messy_answers_reach_the_parser_untouched(fake_llm: FakeLLM, mode: Mode) -> None:
    fake_llm.mode = mode
    draft = parse_answer(await ask(client_for(fake_llm)), ["robotics", "business"])
    assert draft.hook == VALID_ANSWER["hook"]


def test_every_adaptation_fits_in_the_attempts() -> None:
    shape, steps = RequestShape(), 0
    everything = "response_format unsupported; use max_completion_tokens; temperature unsupported"
    while (better := adapt(shape, everything)) is not None:
        shape, steps = better, steps + 1
    assert shape == RequestShape(response_format="none", tokens_param="max_completion_tokens", temperature=False)
    assert steps + 1 <= MAX_ATTEMPTS
