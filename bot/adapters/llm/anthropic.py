"""Anthropic's Messages API (POST {base_url}/v1/messages), plain aiohttp.

JSON comes from the instructions in the system prompt, helped by prefilling the assistant's turn
with "{" so the model starts inside the object. Models that refuse a prefill (a 400 naming it)
are asked again without one, and that is remembered for the process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar

import aiohttp

from bot.adapters.llm.base import Completion, LLMError, estimate_tokens
from bot.adapters.llm.http import Clock, JSONPoster, Sleep

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
TEMPERATURE = 0.2
PREFILL = "{"


def _rejects_prefill(detail: str) -> bool:
    text = detail.lower()
    return "prefill" in text or ("assistant" in text and "final" in text)


class AnthropicClient:
    """A ChatClient for the Messages API."""

    _no_prefill: ClassVar[set[tuple[str, str]]] = set()  # (base_url, model) that refused a prefill

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
        self._api_key = api_key or None
        self._poster = JSONPoster(
            label="the Anthropic API", timeout_seconds=timeout_seconds, secret=self._api_key,
            session=session, sleep=sleep, clock=clock,
        )  # fmt: skip

    def __repr__(self) -> str:  # never the key
        return f"AnthropicClient(model={self.model!r}, base_url={self.base_url!r})"

    @classmethod
    def forget_learned(cls) -> None:
        """Forget which models refused a prefill (tests start from a clean process state)."""
        cls._no_prefill.clear()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "anthropic-version": API_VERSION}
        if self._api_key:  # a compatible proxy may need none; the real API answers 401 without
            headers["x-api-key"] = self._api_key
        return headers

    def _payload(self, system: str, user: str, max_tokens: int, prefill: bool) -> dict[str, Any]:
        messages: list[dict[str, str]] = [{"role": "user", "content": user}]
        if prefill:
            messages.append({"role": "assistant", "content": PREFILL})
        return {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": messages,
            "temperature": TEMPERATURE,
        }

    async def complete(self, system: str, user: str, schema: dict[str, Any], *, max_tokens: int) -> Completion:
        """One message; see ChatClient.complete. The schema is described by the system prompt."""
        key = (self.base_url, self.model)
        url = f"{self.base_url}/v1/messages"
        prefill = key not in self._no_prefill
        try:
            data = await self._poster.post(url, self._headers(), self._payload(system, user, max_tokens, prefill))
        except LLMError as exc:
            if not (prefill and exc.status == 400 and _rejects_prefill(exc.detail)):
                raise
            log.info("%s refused a prefilled answer; asking without one from now on", self.model)
            self._no_prefill.add(key)
            prefill = False
            data = await self._poster.post(url, self._headers(), self._payload(system, user, max_tokens, prefill))
        return self._completion(data, system, user, prefill)

    def _completion(self, data: dict[str, Any], system: str, user: str, prefill: bool) -> Completion:
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise LLMError("the Anthropic API answered without content")
        # thinking blocks and tool calls are not the answer
        text = "".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text")
        if data.get("stop_reason") == "refusal" and not text.strip():
            raise LLMError("the model refused to answer")
        if prefill and not text.lstrip().startswith(PREFILL):
            text = PREFILL + text  # the answer continues the prefilled "{"
        usage = data.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        input_tokens, output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
        return Completion(
            text=text,
            input_tokens=input_tokens if isinstance(input_tokens, int) else estimate_tokens(system, user),
            output_tokens=output_tokens if isinstance(output_tokens, int) else estimate_tokens(text),
            model=str(data.get("model") or self.model),
        )

    async def close(self) -> None:
        """Close the HTTP session, if this client opened it."""
        await self._poster.close()
