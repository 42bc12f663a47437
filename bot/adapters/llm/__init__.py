"""LLM summarizer backends: OpenAI-compatible chat completions and Anthropic's Messages API."""

from bot.adapters.llm.anthropic import AnthropicClient
from bot.adapters.llm.base import ChatClient, Completion, LLMError
from bot.adapters.llm.openai import OpenAIClient
from bot.adapters.llm.summarizer import LLMStore, LLMSummarizer, build_summarizer

__all__ = [
    "AnthropicClient",
    "ChatClient",
    "Completion",
    "LLMError",
    "LLMStore",
    "LLMSummarizer",
    "OpenAIClient",
    "build_summarizer",
]
