"""Any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter).

Plain aiohttp, no SDK. Servers differ in what they accept, so the request adapts: it asks for
`response_format` json_schema first; a 400 naming response_format steps down to json_object, then
to none (the parse ladder copes with free text). A 400 naming `max_completion_tokens` or
`temperature` (reasoning models) adapts those. What worked is remembered per server and model
for the life of the process, so the refusals are paid once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import aiohttp

from bot.adapters.llm.base import Completion, LLMError, estimate_tokens
from bot.adapters.llm.http import Clock, JSONPoster, Sleep

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
TEMPERATURE = 0.2  # briefings want the likeliest wording, not creativity
SCHEMA_NAME = "wirebrief_card"
MAX_ATTEMPTS = 5  # the first try, plus one for every step `adapt` can take
_NEXT_FORMAT = {"json_schema": "json_object", "json_object": "none"}


@dataclass(frozen=True, slots=True)
class RequestShape:
    """The optional parts of a request that servers disagree about."""

    response_format: str = "json_schema"  # json_schema | json_object | none
    tokens_param: str = "max_tokens"  # or max_completion_tokens (OpenAI reasoning models)
    temperature: bool = True


def adapt(shape: RequestShape, detail: str) -> RequestShape | None:
    """The next shape to try after a 400 whose message is `detail`; None when nothing fits."""
    text = detail.lower()
    if shape.response_format != "none" and any(w in text for w in ("response_format", "json_schema", "json_object")):
        return replace(shape, response_format=_NEXT_FORMAT[shape.response_format])
    if shape.tokens_param == "max_tokens" and "max_completion_tokens" in text:
        return replace(shape, tokens_param="max_completion_tokens")
    if shape.temperature and "temperature" in text:
        return replace(shape, temperature=False)
    return None


def _message_text(data: dict[str, Any]) -> tuple[str, str | None]:
    """The answer's text and the model's refusal, if any, from a chat-completions response."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMError("the model server answered without any choice")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise LLMError("the model server answered without a message")
    content = message.get("content")
    if isinstance(content, list):  # some servers send content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    refusal = message.get("refusal")
    return (content if isinstance(content, str) else ""), (str(refusal) if refusal else None)


def _count(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) else None


class OpenAIClient:
    """A ChatClient for POST {base_url}/chat/completions."""

    _learned: ClassVar[dict[tuple[str, str], RequestShape]] = {}  # (base_url, model) -> what worked

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "",
        api_key: str | None = None,
        timeout_seconds: float = 120.0,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
    ) -> None:
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key or None  # an empty variable means "no key", as for a local server
        self._poster = JSONPoster(
            label="the model server", timeout_seconds=timeout_seconds, secret=self._api_key,
            session=session, sleep=sleep, clock=clock,
        )  # fmt: skip

    def __repr__(self) -> str:  # never the key
        return f"OpenAIClient(model={self.model!r}, base_url={self.base_url!r})"

    @classmethod
    def forget_learned(cls) -> None:
        """Forget what each server accepted (tests start from a clean process state)."""
        cls._learned.clear()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:  # no key, no header: local servers may reject an empty bearer
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _payload(
        self, shape: RequestShape, system: str, user: str, schema: dict[str, Any], max_tokens: int
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            shape.tokens_param: max_tokens,
            "stream": False,
        }
        if shape.temperature:
            payload["temperature"] = TEMPERATURE
        if shape.response_format == "json_schema":
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
            }
        elif shape.response_format == "json_object":
            payload["response_format"] = {"type": "json_object"}
        return payload

    async def complete(self, system: str, user: str, schema: dict[str, Any], *, max_tokens: int) -> Completion:
        """One chat completion; see ChatClient.complete."""
        key = (self.base_url, self.model)
        shape = self._learned.get(key, RequestShape())
        for _ in range(MAX_ATTEMPTS):
            payload = self._payload(shape, system, user, schema, max_tokens)
            try:
                data = await self._poster.post(f"{self.base_url}/chat/completions", self._headers(), payload)
            except LLMError as exc:
                better = adapt(shape, exc.detail) if exc.status == 400 else None
                if better is None:
                    raise
                log.info("%s refused part of the request (%s); retrying with %s", self.base_url, exc.detail, better)
                shape = better
                continue
            self._learned[key] = shape
            return self._completion(data, system, user)
        raise LLMError(f"the model server at {self.base_url} refused every form of the request")

    def _completion(self, data: dict[str, Any], system: str, user: str) -> Completion:
        text, refusal = _message_text(data)
        if refusal and not text:
            raise LLMError(f"the model refused to answer: {refusal[:200]}")
        usage = data.get("usage")
        input_tokens = _count(usage, "prompt_tokens")
        output_tokens = _count(usage, "completion_tokens")
        return Completion(
            text=text,
            input_tokens=input_tokens if input_tokens is not None else estimate_tokens(system, user),
            output_tokens=output_tokens if output_tokens is not None else estimate_tokens(text),
            model=str(data.get("model") or self.model),
        )

    async def close(self) -> None:
        """Close the HTTP session, if this client opened it."""
        await self._poster.close()
