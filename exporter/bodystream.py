"""An answer read as it arrives, so that a large body is never held whole (hostile input).

Up to ``STREAM_ABOVE_BYTES`` a body is read whole; above it, the HTTP client hands the poller a
``StreamedBody`` instead, whose chunks go to a parse worker as they come off the socket, and the worker's
parser reads them through a ``BodyStream``. The first bytes are in hand from the start (``head``): they are
what the format is sniffed from, and what the streaming readers look at to find the shape of the document
before the one pass over the whole of it.
"""

from __future__ import annotations

from collections.abc import Callable

HEAD_BYTES = 1 << 16  # what a parser is handed first: enough to see a document's shape (a family's streaming parser)
STREAM_ABOVE_BYTES = 1 << 20  # an answer of a normal SBC is read whole; past this, streamed


class BodyStream:
    """File-like (``read``), as lxml's iterparse and ijson want: ``head`` first, then each chunk that
    ``next_chunk`` returns, until it returns ``b""``. Whatever ``next_chunk`` raises (the connection dropped,
    the answer was too large) reaches the parser's caller."""

    def __init__(self, head: bytes, next_chunk: Callable[[], bytes] | None = None):
        self.head = head
        self._buf = head
        self._pos = 0
        self._next = next_chunk

    @classmethod
    def of(cls, body: bytes, chunk: int = HEAD_BYTES, head: int | None = None) -> BodyStream:
        """A complete body served chunk by chunk, after a head of ``head`` bytes (default: one chunk)."""
        head = chunk if head is None else head
        pieces = iter([body[i:i + chunk] for i in range(head, len(body), chunk)])
        return cls(body[:head], lambda: next(pieces, b""))

    def _fill(self) -> bool:
        while self._pos >= len(self._buf):
            if self._next is None:
                return False
            self._buf, self._pos = self._next(), 0
            if not self._buf:
                self._next = None
                return False
        return True

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while self._fill():
                parts.append(self._buf[self._pos:])
                self._pos = len(self._buf)
            return b"".join(parts)
        if not self._fill():
            return b""
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        return out
