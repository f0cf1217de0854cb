"""Compressed uploads: gzip, bzip2 and xz, recognised by their first bytes and decompressed as a
stream in front of any parser.

MediaWiki dumps come as ``.xml.bz2`` (``pages-articles-multistream``) or ``.gz``, and large JSON
Lines or CSV exports are often gzipped. The magic bytes decide, not the file name: a gzip file
named ``data.jsonl`` is decompressed, a ``notes.txt.gz`` that holds plain text is read as is.
Multi-stream bzip2 and multi-member gzip (what ``pbzip2``/``pigz`` write, and the Wikipedia
multistream dumps) are read to the end.

The decompressed size is capped by *max_bytes*: a few kilobytes of bzip2 expand to gigabytes (a
decompression bomb), and the upload limit only bounds what was uploaded. Crossing the cap, or
corrupt/truncated compressed data, raises :class:`ImportFormatError` from the first read that
meets it, so the import fails cleanly wherever the parser happens to be.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Callable
from typing import IO

from annotation.sources.base import ImportFormatError

#: Read size between the decompressor and the parser.
BUFFER_SIZE = 1 << 20

_Opener = Callable[[IO[bytes]], IO[bytes]]


def _is_bzip2(head: bytes) -> bool:
    # "BZh" + block size 1-9, then a block header (pi) or the end-of-stream marker (sqrt pi) for
    # an empty stream: "BZh" alone would also match a text file that starts with those letters.
    return (
        head[:3] == b"BZh"
        and len(head) >= 4
        and head[3:4] in b"123456789"
        and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90")
    )


_COMPRESSIONS: tuple[tuple[str, Callable[[bytes], bool], _Opener], ...] = (
    ("gzip", lambda head: head[:2] == b"\x1f\x8b", lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
    ("bzip2", _is_bzip2, lambda f: bz2.BZ2File(f, mode="rb")),
    ("xz", lambda head: head[:6] == b"\xfd7zXZ\x00", lambda f: lzma.LZMAFile(f, mode="rb")),  # noqa: SIM115
)

#: Containers we recognise but do not open: say so instead of reporting binary garbage.
_UNSUPPORTED = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x28\xb5\x2f\xfd", "Zstandard-compressed"),
)

_HEAD_BYTES = 10


def detect_compression(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"`` or ``"xz"`` if *head* (the file's first bytes) starts one, else None.

    Raises :class:`ImportFormatError` for archive formats that are recognised but not supported.
    """
    for name, matches, _ in _COMPRESSIONS:
        if matches(head):
            return name
    for magic, kind in _UNSUPPORTED:
        if head.startswith(magic):
            raise ImportFormatError(
                None,
                f"the file is {kind}, which cannot be imported: upload the file itself, "
                "or compressed with gzip (.gz), bzip2 (.bz2) or xz (.xz)",
            )
    return None


def open_decompressed(stream: IO[bytes], *, max_bytes: int) -> tuple[IO[bytes], str | None]:
    """*stream* itself if it is not compressed, else a buffered stream of its decompressed bytes
    that fails after *max_bytes*; and the compression's name (None for none).

    *stream* must be seekable (an upload or a local file): its first bytes are peeked and it is
    rewound. The caller keeps using ``stream.tell()`` to see how much of the upload was read.
    """
    head = stream.read(_HEAD_BYTES)
    if isinstance(head, str):
        raise TypeError("parsers need a binary stream: open the file with 'rb'")
    stream.seek(0)
    kind = detect_compression(head)
    if kind is None:
        return stream, None
    opener = next(open_ for name, _, open_ in _COMPRESSIONS if name == kind)
    raw = _BoundedDecompressor(opener(stream), kind, max_bytes)
    return io.BufferedReader(raw, buffer_size=BUFFER_SIZE), kind


class _BoundedDecompressor(io.RawIOBase):
    """Counts the decompressed bytes and turns decompression failures into import errors."""

    def __init__(self, inner: IO[bytes], kind: str, max_bytes: int) -> None:
        super().__init__()
        self._inner, self._kind, self._max = inner, kind, max_bytes
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        # One byte more than the cap allows is enough to know it is crossed.
        view = memoryview(buffer)[: max(0, self._max - self.total) + 1]
        try:
            n = self._inner.readinto(view)
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            raise ImportFormatError(
                None,
                f"the {self._kind} data is corrupt or truncated after {self.total:,} "
                f"decompressed bytes ({exc})",
            ) from None
        self.total += n
        if self.total > self._max:
            raise ImportFormatError(
                None,
                f"the file decompresses to more than {self._max:,} bytes, the import size limit; "
                "split it into smaller files",
            )
        return n

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()
