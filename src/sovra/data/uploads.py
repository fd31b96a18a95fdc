"""Receiving an uploaded file without its plaintext ever touching a disk (ADR 0406).

Starlette's form parser spools every file part above 1 MiB to an unnamed temporary file
in the system temporary directory, in plaintext, outside the encrypted store. Here the
multipart body is read as a stream (python-multipart's push parser) and the file part is
written, as it arrives, to an :class:`EncryptedSpool`: an unnamed file in the data
directory's ``uploads/`` folder, sealed under a key made for this one upload that exists
only in this process's memory. The file has no name (``O_TMPFILE`` where the file system
offers it, else unlinked at once), so a crash leaves nothing behind, and what a crash
could leave would be ciphertext under a key that died with the process.

Segments follow the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, CRYPTO
2015, §7), as ``sovra.keys.aead`` does for stored objects: nonce ``prefix(7) || index(4)
|| last(1)``, so a reordered, cut or extended spool fails to open.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import anyio.to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from sovra.errors import DecryptionError, FileTooLargeError, InvalidInputError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

SEGMENT_BYTES = 64 * 1024
_TAG_BYTES = 16
_PREFIX_BYTES = 7
# Plaintext held in memory before it is sealed and written (in a worker thread).
_FLUSH_BYTES = 16 * SEGMENT_BYTES
# Text fields are a label or two; a bound keeps a hostile body from filling memory.
_MAX_FIELD_BYTES = 1024
_MAX_PARTS = 16
# Multipart framing around the file: boundaries, part headers, the small fields.
FRAMING_ALLOWANCE = _MAX_PARTS * (_MAX_FIELD_BYTES + 1024)


class EncryptedSpool:
    """An unnamed file in ``directory`` holding one upload, sealed under a key of its own.

    ``write`` buffers plaintext in memory; ``flush`` seals every complete segment but the
    newest (only ``finish`` knows which segment is the last) and writes it. Not thread
    safe: one upload, one writer at a time.
    """

    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Unnamed (O_TMPFILE, or unlinked at once) and 0600; it lives as long as the
        # spool object, which ``close`` ends, so no ``with`` block fits here.
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))  # never written anywhere
        self._prefix = os.urandom(_PREFIX_BYTES)
        self._segment = segment_bytes
        self._pending = bytearray()
        self._index = 0
        self._size = 0
        self._finished = False

    @property
    def size(self) -> int:
        """Plaintext bytes received so far."""
        return self._size

    @property
    def pending(self) -> int:
        """Plaintext bytes in memory, not yet sealed."""
        return len(self._pending)

    def write(self, data: bytes) -> None:
        if self._finished:
            raise InvalidInputError("the upload is complete; nothing more can be written")
        self._pending += data
        self._size += len(data)

    def flush(self) -> None:
        """Seal and write the complete segments, keeping one back unless finished."""
        seg = self._segment
        done = 0
        with memoryview(self._pending) as view:  # no copy of each segment
            while len(view) - done > seg:
                self._seal(view[done:done + seg], last=False)
                done += seg
        del self._pending[:done]

    def finish(self) -> None:
        self.flush()
        self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        self._finished = True
        self._file.flush()

    def read(self) -> bytes:
        """The whole plaintext, authenticated segment by segment (after ``finish``)."""
        if not self._finished:
            raise InvalidInputError("the upload is not complete")
        self._file.seek(0)
        out = bytearray(self._size)
        done = 0
        for index in range(self._index):
            last = index == self._index - 1
            sealed = self._file.read(self._segment + _TAG_BYTES)
            size = len(sealed) - _TAG_BYTES
            if size < 0 or done + size > self._size:
                raise DecryptionError(f"upload spool segment {index} has the wrong length")
            try:
                self._aead.decrypt_into(self._nonce(index, last=last), sealed, None,
                                        memoryview(out)[done:done + size])
                done += size
            except InvalidTag as exc:
                raise DecryptionError(f"upload spool segment {index} failed authentication: "
                                      "the spool file was changed while it was written") from exc
        if self._file.read(1) or done != self._size:
            raise DecryptionError("upload spool does not end where its final segment does")
        return bytes(out)

    def close(self) -> None:
        self._pending.clear()
        self._file.close()

    def _seal(self, plaintext: bytes | memoryview, *, last: bool) -> None:
        self._file.write(self._aead.encrypt(self._nonce(self._index, last=last), plaintext,
                                            None))
        self._index += 1

    def _nonce(self, index: int, *, last: bool) -> bytes:
        return self._prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


@dataclass
class Upload:
    """A received multipart upload: the file's name, its spool, and the text fields."""

    filename: str
    spool: EncryptedSpool
    fields: dict[str, str] = field(default_factory=dict)

    def read(self) -> bytes:
        """The file's bytes; closes (and so removes) the spool."""
        try:
            return self.spool.read()
        finally:
            self.spool.close()

    def close(self) -> None:
        self.spool.close()


class _Parts:
    """python-multipart callbacks: the one file part into the spool, fields in memory."""

    def __init__(self, directory: Path, file_field: str, max_file_bytes: int) -> None:
        self._directory = directory
        self._file_field = file_field
        self._max = max_file_bytes
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._target: bytearray | EncryptedSpool | None = None
        self._field_name = ""
        self.parts = 0
        self.filename: str | None = None
        self.spool: EncryptedSpool | None = None
        self.fields: dict[str, str] = {}
        self.ended = False

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._part_begin, "on_part_data": self._part_data,
                "on_part_end": self._part_end, "on_header_field": self._header_field,
                "on_header_value": self._header_value_cb, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_end": self._end}

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > _MAX_PARTS:
            raise InvalidInputError(f"too many form parts (at most {_MAX_PARTS})")
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > _MAX_FIELD_BYTES:
            raise InvalidInputError("a multipart part header is too long")

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition")
        if disposition is None:
            raise InvalidInputError("a multipart part has no Content-Disposition header")
        _, options = parse_options_header(disposition)
        name = _text(options.get(b"name", b""), "form field name")
        if b"filename" not in options:
            self._field_name, self._target = name, bytearray()
            return
        if name != self._file_field or self.spool is not None:
            raise InvalidInputError(f"send exactly one file, in the form field "
                                    f"{self._file_field!r}")
        self.filename = _text(options[b"filename"], "file name")
        self.spool = self._target = EncryptedSpool(self._directory)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        target = self._target
        if isinstance(target, EncryptedSpool):
            if target.size + (end - start) > self._max:
                raise FileTooLargeError(f"{self.filename}: above the limit of {self._max} "
                                        "bytes (setting data_max_file_bytes)")
            target.write(data[start:end])
        elif target is not None:
            target += data[start:end]
            if len(target) > _MAX_FIELD_BYTES:
                raise InvalidInputError(f"form field {self._field_name!r} is longer than "
                                        f"{_MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if isinstance(self._target, bytearray):
            self.fields[self._field_name] = _text(bytes(self._target),
                                                  f"form field {self._field_name!r}")
        self._target = None

    def _end(self) -> None:
        self.ended = True

    def complete(self) -> tuple[str, EncryptedSpool]:
        """The file's name and spool, once the whole body was parsed."""
        if not self.ended:
            raise InvalidInputError("the multipart body ended before its closing boundary")
        if self.spool is None or self.filename is None:
            raise InvalidInputError(f"no file: send it in the form field {self._file_field!r}")
        return self.filename, self.spool

    def discard(self) -> None:
        if self.spool is not None:
            self.spool.close()


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{what} is not UTF-8") from exc


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary of a Content-Type header, or InvalidInputError."""
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind.lower() != b"multipart/form-data" or not boundary:
        raise InvalidInputError("send the file as multipart/form-data (with a boundary), in "
                                "the form field 'file'")
    return bytes(boundary)


async def receive_upload(chunks: AsyncIterator[bytes], content_type: str | None,
                         directory: Path, *, max_file_bytes: int,
                         file_field: str = "file") -> Upload:
    """Parse a multipart body as it streams in; the file part goes to an encrypted spool.

    Raises InvalidInputError for a malformed body, no file or more than one, and
    FileTooLargeError as soon as the file passes ``max_file_bytes`` (the rest of the
    body is not read). Sealing and writing happen in a worker thread, so the event loop
    never waits on the disk.
    """
    parts = _Parts(directory, file_field, max_file_bytes)
    try:
        await _feed(parts, chunks, content_type)
        filename, spool = parts.complete()
        await anyio.to_thread.run_sync(spool.finish)
    except BaseException:
        parts.discard()
        raise
    return Upload(filename, spool, dict(parts.fields))


async def _feed(parts: _Parts, chunks: AsyncIterator[bytes], content_type: str | None
                ) -> None:
    parser = MultipartParser(boundary_of(content_type), parts.callbacks())
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if parts.spool is not None and parts.spool.pending >= _FLUSH_BYTES:
                await anyio.to_thread.run_sync(parts.spool.flush)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInputError(f"malformed multipart body: {exc}") from exc

__all__ = ["FRAMING_ALLOWANCE", "SEGMENT_BYTES", "EncryptedSpool", "Upload", "boundary_of",
           "receive_upload"]
