"""The exception tree. Every error Wirebrief raises on purpose is a WirebriefError.

`str()` of each carries its cause, so a log line or a CLI message is complete on its own.
"""

from __future__ import annotations


class WirebriefError(Exception):
    """Root of every error Wirebrief raises on purpose."""

    def __str__(self) -> str:
        text = super().__str__()
        cause = self.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            return f"{text}: {type(cause).__name__}: {cause}"
        return text


class UserError(WirebriefError):
    """A mistake the person can fix (a bad argument, a bad file); its text is shown as it is."""


class ConfigError(WirebriefError):
    """The configuration is unusable; `problems` lists each one as `section.key: why (got X)`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class StorageError(WirebriefError):
    """The store failed; wraps sqlite errors."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer Wirebrief than this one."""


class FetchError(WirebriefError):
    """A feed could not be fetched. `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds, from a 429/503 Retry-After

    @property
    def gone(self) -> bool:
        """410 Gone: the feed is disabled at once."""
        return self.status == 410


class BlockedAddressError(FetchError):
    """The URL points (or redirects, or resolves) to an address feeds from Discord may not use."""


class ParseError(WirebriefError):
    """A body could not be parsed as a feed, or the parse ran out of time or memory."""


class DependencyError(WirebriefError):
    """An installed library lacks what Wirebrief relies on: the wrong version of it is installed."""
