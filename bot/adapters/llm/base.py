"""What every LLM backend offers: one chat completion, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.errors import WirebriefError


class LLMError(WirebriefError):
    """A model server could not give an answer. Never carries the API key.

    `status` is the HTTP status when there was one; `retry_after` the seconds the server asked
    to wait; `detail` the server's own message (scrubbed of the key), for adapting a request.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's raw answer and what it cost."""

    text: str
    input_tokens: int
    output_tokens: int
    model: str  # as the server reports it


class ChatClient(Protocol):
    """One backend: a system prompt and a user message in, the model's text out."""

    async def complete(self, system: str, user: str, schema: dict[str, Any], *, max_tokens: int) -> Completion:
        """Ask once. `schema` is the answer's JSON schema, used where the server can enforce it.

        Raises LLMError when no answer came (refused, rate limited, timed out, unreachable).
        """
        ...

    async def close(self) -> None:
        """Release the HTTP session, when the client opened its own."""
        ...


def estimate_tokens(*texts: str) -> int:
    """A rough token count (about four characters a token) for servers that report no usage.

    Better than zero: the daily budget must still see what a call cost.
    """
    return sum(len(t) for t in texts) // 4 + 1
