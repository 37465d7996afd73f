"""Exposition bytes held compressed, served without re-encoding: gzip answers are joined, never compressed.

Why: the exposition a poll leaves is kept until the next poll, and it was most of the exporter's memory
(~148 kB of text per 20-trunk SBC, ~0.15 MB of the ~0.25 MB an SBC cost). Prometheus asks for gzip on every
scrape, so the text was also compressed again on every scrape of /metrics. Held as raw deflate, a 20-trunk
SBC's data is ~11 kB (13:1 at level 1, 0.5 ms in the parse worker per poll of all seven tables).

How: a ``Chunk`` is a run of pieces, one per section of the text format (see exporter.catalog), each a piece of
a raw deflate stream that ends byte-aligned and refers to nothing before it (a full flush after each). Any
sequence of such pieces, in any order, is itself a valid deflate stream, so a scrape that regroups sections
across targets (/metrics) or takes one target (/probe) only joins pieces, adds the gzip header and trailer
(RFC 1952), and combines the pieces' CRC-32s. A client that does not ask for gzip gets the stream inflated.

Small pieces rendered in the main process (status series: a line or two each, re-rendered after every poll)
are held as deflate "stored" blocks: no compression, no CPU, five bytes of framing.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator

LEVEL = 1  # exposition compresses ~13:1 at level 1 in pieces; level 6 gains 5% for 1.7x the CPU
# Sections shorter than this are stored, not compressed: a metric with a sample or two (~40-120 bytes, a third
# of an SBC's sections) compresses to about its own size plus a flush's framing, and each compress-and-flush
# costs more than the rest of packing it. Stored, an SBC's pieces are ~20% cheaper to pack and no larger.
STORE_BELOW = 128
_STORED_MAX = 0xFFFF  # a stored block holds at most 65,535 bytes
FIELDS = 4  # per piece in Chunk.index: section, end offset in data, text size, text CRC-32
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime, unknown OS
FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set: ends the deflate stream


class Chunk:
    """Pieces of raw deflate, one per section, with each piece's section, text size and text CRC-32.

    Held per collector for as long as its data is served; two objects whatever the number of sections (an
    array of 32-bit words and the bytes), so a piece costs 16 bytes of bookkeeping. Immutable by convention:
    built once, replaced whole."""

    __slots__ = ("index", "data", "text_bytes")

    def __init__(self, index: array, data: bytes):
        self.index = index  # FIELDS words per piece, pieces in ascending section order
        self.data = data
        # Bytes of text it stands for: read after every poll for the self-metric (a sum per read was 1.7% of
        # the main process's samples under a 1,000-SBC fleet, py-spy).
        self.text_bytes = sum(index[2::FIELDS])

    def __len__(self) -> int:
        return len(self.index) // FIELDS

    def __bool__(self) -> bool:
        return bool(self.index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chunk) and self.index == other.index and self.data == other.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return f"Chunk({len(self)} sections, {self.text_bytes} bytes of text in {len(self.data)})"

    def __reduce__(self):  # to and from the parse workers: the array pickles as its raw bytes
        return Chunk, (self.index, self.data)

    @property
    def packed_bytes(self) -> int:
        """Bytes of compressed exposition (besides them: 16 bytes of index per piece, two objects' headers)."""
        return len(self.data)

    def sections(self) -> Iterator[tuple[int, memoryview, int, int]]:
        """(section, piece, text size, text CRC-32) in order; pieces are views of ``data``, not copies."""
        view = memoryview(self.data)
        index = self.index
        start = 0
        for i in range(0, len(index), FIELDS):
            end = index[i + 1]
            yield index[i], view[start:end], index[i + 2], index[i + 3]
            start = end

    def text(self) -> list[tuple[int, bytes]]:
        """(section, text) in order: what the chunk holds, inflated (tests, tools; never a scrape)."""
        return [(section, inflate([piece])) for section, piece, _, _ in self.sections()]


EMPTY = Chunk(array("I"), b"")


def pack(sections: Iterable[tuple[int, bytes]]) -> Chunk:
    """Compress each section's text as an independent piece (empty sections are left out; short ones are
    stored)."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    index = array("I")
    out: list[bytes] = []
    end = 0
    for section, text in sections:
        if text:
            if len(text) < STORE_BELOW:
                piece = stored_piece(text)
            else:
                piece = compressor.compress(text) + compressor.flush(zlib.Z_FULL_FLUSH)
            end += len(piece)
            out.append(piece)
            index.extend((section, end, len(text), zlib.crc32(text)))
    return Chunk(index, b"".join(out)) if out else EMPTY


def stored_piece(text: bytes) -> bytes:
    """``text`` as deflate stored blocks (uncompressed, byte-aligned, not final)."""
    out = []
    for i in range(0, len(text), _STORED_MAX):
        block = text[i:i + _STORED_MAX]
        out.append(b"\x00" + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block)
    return b"".join(out)


def store(sections: Iterable[tuple[int, bytes]]) -> Chunk:
    """Like ``pack``, without compressing: for the few lines the main process renders after every poll."""
    index = array("I")
    out: list[bytes] = []
    end = 0
    for section, text in sections:
        if text:
            piece = stored_piece(text)
            end += len(piece)
            out.append(piece)
            index.extend((section, end, len(text), zlib.crc32(text)))
    return Chunk(index, b"".join(out)) if out else EMPTY


def piece_of(text: bytes, compress: bool = False) -> tuple[bytes, int, int]:
    """One piece for text rendered at serve time (headers, the exporter's own metrics): (piece, size, CRC)."""
    if compress:
        c = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        piece = c.compress(text) + c.flush(zlib.Z_FULL_FLUSH)
    else:
        piece = stored_piece(text)
    return piece, len(text), zlib.crc32(text)


# --- CRC-32 of a concatenation --------------------------------------------------------------------------------

_ZEROS = memoryview(bytes(1 << 16))
_ZERO_CRCS: dict[int, int] = {}


def _crc_of_zeros(n: int, crc: int = 0) -> int:
    while n > len(_ZEROS):
        crc = zlib.crc32(_ZEROS, crc)
        n -= len(_ZEROS)
    return zlib.crc32(_ZEROS[:n], crc)


def crc_combine(crc_a: int, crc_b: int, size_b: int) -> int:
    """CRC-32 of A + B from CRC-32(A), CRC-32(B) and len(B) (Python's zlib has no crc32_combine before 3.14).

    CRC-32 is affine in (initial value, data): crc(B, init) = L(init) ^ M(B) ^ K, so crc(B, crc_a) =
    crc(0^n, crc_a) ^ crc(B, 0) ^ crc(0^n, 0): one pass of C over n zero bytes instead of over the text."""
    if size_b == 0:
        return crc_a
    constant = _ZERO_CRCS.get(size_b)
    if constant is None:
        if len(_ZERO_CRCS) > 65_536:  # sizes vary with the fleet: bound the cache
            _ZERO_CRCS.clear()
        constant = _ZERO_CRCS[size_b] = _crc_of_zeros(size_b)
    return _crc_of_zeros(size_b, crc_a) ^ crc_b ^ constant


# --- answers --------------------------------------------------------------------------------------------------


class Pieces:
    """An answer's pieces in order, without an object per piece (a fleet's /metrics is ~100 pieces per
    target): the bytes objects they lie in (chunks' data, pieces made at serve time), and per piece five
    words: which of those, start, end, text size, text CRC-32."""

    __slots__ = ("sources", "index", "_source_of")

    WORDS = 5

    def __init__(self) -> None:
        self.sources: list[bytes] = []
        self.index = array("I")
        self._source_of: dict[int, int] = {}  # id of a bytes object -> its position in ``sources``

    def __len__(self) -> int:
        return len(self.index) // self.WORDS

    def source(self, data: bytes) -> int:
        """The number of ``data`` among the sources (added once)."""
        number = self._source_of.get(id(data))
        if number is None:
            number = self._source_of[id(data)] = len(self.sources)
            self.sources.append(data)
        return number

    def add(self, piece: bytes, size: int, crc: int) -> None:
        self.index.extend((self.source(piece), 0, len(piece), size, crc))

    def text_bytes(self, start: int = 0, end: int | None = None) -> int:
        """Bytes of text of pieces ``start`` to ``end``."""
        end = len(self) if end is None else end
        return sum(self.index[start * self.WORDS + 3:end * self.WORDS:self.WORDS])

    def data(self, start: int, end: int) -> list[bytes]:
        """The pieces ``start`` to ``end`` as they are held (copies: one block's worth at a time)."""
        sources, index = self.sources, self.index
        return [sources[index[i]][index[i + 1]:index[i + 2]]
                for i in range(start * self.WORDS, end * self.WORDS, self.WORDS)]

    def blocks(self, text_bytes: int) -> list[tuple[int, int]]:
        """Ranges of pieces of about ``text_bytes`` of text each: an answer is sent block by block."""
        ranges, first, size = [], 0, 0
        sizes = self.index[3::self.WORDS]
        for i, n in enumerate(sizes):
            size += n
            if size >= text_bytes:
                ranges.append((first, i + 1))
                first, size = i + 1, 0
        if first < len(sizes):
            ranges.append((first, len(sizes)))
        return ranges

    def gzip(self) -> bytes:
        """The whole answer as one gzip member."""
        encoder = GzipJoin()
        return encoder.head() + encoder.block(self, 0, len(self)) + encoder.tail()

    def text(self) -> bytes:
        return inflate(self.data(0, len(self)))


class GzipJoin:
    """One gzip member made of pieces, block by block (a /metrics answer is sent as it is joined): the
    header, each block's pieces as they are, then the final block and the CRC-32 and size of the text."""

    def __init__(self) -> None:
        self.crc = 0
        self.size = 0

    def head(self) -> bytes:
        return GZIP_HEADER

    def block(self, pieces: Pieces, start: int, end: int) -> bytes:
        crc, size = self.crc, self.size
        index, words = pieces.index, Pieces.WORDS
        for i in range(start * words, end * words, words):
            n = index[i + 3]
            crc = crc_combine(crc, index[i + 4], n)
            size += n
        self.crc, self.size = crc, size
        return b"".join(pieces.data(start, end))

    def tail(self) -> bytes:
        return FINAL_BLOCK + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)


class InflateJoin:
    """The same pieces inflated, block by block, for a client that does not take gzip."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)

    def block(self, pieces: Pieces, start: int, end: int) -> bytes:
        return self._inflater.decompress(b"".join(pieces.data(start, end)))


def inflate(pieces: Iterable[bytes | memoryview]) -> bytes:
    return zlib.decompressobj(-zlib.MAX_WBITS).decompress(b"".join(pieces))
