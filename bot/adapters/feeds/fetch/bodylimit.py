"""A response body read with a hard cap: decompressed step by step, refused as soon as it passes the cap.

Only the codings `Accept-Encoding` offers are accepted (gzip, deflate), and zlib's max_length
bounds every step, so a gzip bomb never expands in memory past the cap plus one step.
"""

from __future__ import annotations

import zlib

from multidict import CIMultiDictProxy

from bot.errors import FetchError

__all__ = ["ACCEPT_ENCODING", "BoundedBody", "content_coding"]

ACCEPT_ENCODING = "gzip, deflate"  # exactly what BoundedBody can decode with a bound on every step
CHUNK = 64 * 1024


class BoundedBody:
    """A response body as it arrives: inflated step by step, refused as soon as it passes `limit`.

    zlib's max_length bounds every step to CHUNK bytes of output, so even one small chunk of a
    gzip bomb never expands in memory past the cap plus one step.
    """

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding  # "", "gzip" or "deflate"
        self._limit = limit
        self._raw = 0
        self._out = bytearray()
        self._inflater: zlib._Decompress | None = None
        self._members = 0  # complete compressed streams so far
        self._trailing = False  # junk after a complete stream, ignored as gzip(1) does

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise too_large(self._limit)
        if not self._coding:
            self._append(chunk)
        elif not self._trailing:
            self._inflate(chunk)

    def finish(self) -> bytes:
        if self._inflater is not None:
            raise FetchError(f"the {self._coding} body is truncated")
        return bytes(self._out)

    def _inflate(self, data: bytes) -> None:
        while True:
            if self._inflater is None:
                if not data:
                    return
                self._inflater = self._new_inflater(data)
            inflater = self._inflater
            try:
                out = inflater.decompress(data, CHUNK)
            except zlib.error as exc:
                if not self._members:
                    raise FetchError(f"cannot decode the {self._coding} body: {exc}") from None
                self._inflater, self._trailing = None, True
                return
            self._append(out)
            if inflater.eof:  # end of one gzip member; another may follow
                self._inflater, self._members, data = None, self._members + 1, inflater.unused_data
                continue
            data = inflater.unconsumed_tail
            if not data and len(out) < CHUNK:
                return  # input used up and no output pending; a full step means ask again

    def _new_inflater(self, data: bytes) -> zlib._Decompress:
        if self._coding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" should be zlib-wrapped (RFC 9110) but some servers send raw deflate; the
        # first byte of a zlib header always has compression method 8 in its low nibble.
        return zlib.decompressobj(zlib.MAX_WBITS if data[0] & 0x0F == 8 else -zlib.MAX_WBITS)

    def _append(self, out: bytes) -> None:
        if len(self._out) + len(out) > self._limit:
            raise too_large(self._limit)
        self._out += out


def content_coding(headers: CIMultiDictProxy[str]) -> str:
    declared = headers.get("Content-Encoding", "")
    codings = [c.strip().lower() for c in declared.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return ""
    if codings in (["gzip"], ["x-gzip"]):
        return "gzip"
    if codings == ["deflate"]:
        return "deflate"
    raise FetchError(f"unsupported content encoding {declared!r}")


def too_large(limit: int) -> FetchError:
    return FetchError(f"larger than {limit} bytes")
