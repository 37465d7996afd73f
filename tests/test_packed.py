"""Exposition held compressed (exporter.packed): any order of pieces is one valid deflate stream, the gzip
answer joined from them is what gzip tools read, and its CRC-32 is the text's."""

import gzip
import pickle
import random
import shutil
import subprocess
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.packed import EMPTY, Chunk, GzipJoin, InflateJoin, Pieces, crc_combine, pack, piece_of, store

texts = st.lists(st.binary(max_size=3000), max_size=12)


def _pieces(chunks: list[Chunk], order: list[tuple[int, int]]) -> Pieces:
    """The pieces of ``chunks`` in the order given as (chunk, piece) positions."""
    flat = [list(chunk.sections()) for chunk in chunks]
    out = Pieces()
    for c, p in order:
        _, piece, size, crc = flat[c][p]
        out.add(bytes(piece), size, crc)
    return out


@given(texts, texts, st.randoms())
def test_pieces_in_any_order_are_one_stream(first, second, rnd):
    """A /metrics answer interleaves targets' pieces section by section: whatever the order, the joined gzip
    and the inflated text are the texts in that order (gzip.decompress checks the CRC-32 and the size)."""
    chunks = [pack(enumerate(first)), store(enumerate(second))]
    kept = [[t for t in first if t], [t for t in second if t]]
    order = [(c, p) for c in range(2) for p in range(len(kept[c]))]
    rnd.shuffle(order)
    pieces = _pieces(chunks, order)
    expected = b"".join(kept[c][p] for c, p in order)
    assert pieces.text() == expected
    assert gzip.decompress(pieces.gzip()) == expected
    assert pieces.text_bytes() == len(expected)


def test_sections_and_sizes_are_kept():
    chunk = pack([(3, b"a 1\n" * 50), (4, b""), (9, b"b 2\n")])
    assert [(s, size) for s, _, size, _ in chunk.sections()] == [(3, 200), (9, 4)]
    assert chunk.text() == [(3, b"a 1\n" * 50), (9, b"b 2\n")]
    assert len(chunk) == 2 and chunk.text_bytes == 204
    assert chunk.packed_bytes == len(chunk.data) < 100  # 200 bytes of repeats
    assert not pack([(1, b"")]) and pack([(1, b"")]) is EMPTY and not store([]) and len(EMPTY) == 0


def test_chunks_cross_a_process_boundary_whole():
    """Parse workers send chunks back pickled: the same index and bytes arrive."""
    chunk = pack([(1, b"x 1\n"), (2, b"y 2\n" * 10)])
    assert pickle.loads(pickle.dumps(chunk, protocol=5)) == chunk
    assert pickle.loads(pickle.dumps(chunk)) != pack([(1, b"x 1\n")])


def test_stored_pieces_split_at_the_block_limit():
    """A stored block holds at most 65,535 bytes: a longer text is several blocks, still one piece."""
    text = random.Random(5).randbytes(200_000)
    chunk = store([(1, text)])
    assert len(chunk) == 1 and chunk.text() == [(1, text)]
    assert len(chunk.data) == len(text) + 5 * 4  # four blocks of at most 65,535 bytes, 5 bytes of framing each


@pytest.mark.parametrize("sizes", [[0, 1], [5, 0, 7], [70_000, 3], [1 << 17, 65_536, 65_535, 1]])
def test_crc_combine_is_the_crc_of_the_concatenation(sizes):
    rnd = random.Random(sum(sizes))
    parts = [rnd.randbytes(n) for n in sizes]
    crc = 0
    for part in parts:
        crc = crc_combine(crc, zlib.crc32(part), len(part))
    assert crc == zlib.crc32(b"".join(parts))


def test_gzip_joined_block_by_block_is_read_by_the_gzip_tool(tmp_path):
    """What /metrics streams (head, blocks, tail) is one gzip member the system's gzip reads, integrity checked."""
    if shutil.which("gzip") is None:
        pytest.fail("gzip (the Debian tool) is needed: it is part of every Debian install")
    lines = [f'metric{{target="sbc-{i:04d}"}} {i}\n'.encode() for i in range(3000)]
    pieces = Pieces()
    for i in range(0, 3000, 100):
        for _, piece, size, crc in pack([(1, b"".join(lines[i:i + 100]))]).sections():
            pieces.add(bytes(piece), size, crc)
    pieces.add(*piece_of(b"# own metrics\n", compress=True))
    pieces.add(*piece_of(b"# EOF\n"))
    encoder = GzipJoin()
    body = encoder.head() + b"".join(encoder.block(pieces, i, min(i + 7, len(pieces)))
                                     for i in range(0, len(pieces), 7)) + encoder.tail()
    path = tmp_path / "answer.gz"
    path.write_bytes(body)
    subprocess.run(["gzip", "-t", str(path)], check=True)
    out = subprocess.run(["gzip", "-dc", str(path)], check=True, capture_output=True).stdout
    assert out == b"".join(lines) + b"# own metrics\n# EOF\n"
    inflater = InflateJoin()
    assert b"".join(inflater.block(pieces, i, min(i + 7, len(pieces))) for i in range(0, len(pieces), 7)) == out
    assert len(body) < len(out) / 5


def test_short_sections_are_stored_long_ones_compressed():
    """A section of a sample or two is stored (compressing it costs more and saves nothing); a longer one is
    compressed. Both read back as their text."""
    from exporter.packed import STORE_BELOW

    short = b'vsxi_up{target="sbc-1"} 1\n'
    long = b"".join(b'vsxi_trunk_calls{target="sbc-1",trunk_id="%d"} 3\n' % i for i in range(40))
    assert len(short) < STORE_BELOW <= len(long)
    chunk = pack([(1, short), (2, long)])
    (_, stored, _, _), (_, compressed, _, _) = chunk.sections()
    n = len(short)
    assert bytes(stored) == b"\x00" + n.to_bytes(2, "little") + (n ^ 0xFFFF).to_bytes(2, "little") + short
    assert len(compressed) < len(long) / 3
    assert chunk.text() == [(1, short), (2, long)]
