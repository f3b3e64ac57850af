"""Reading and checking a GGUF file's header, before llama.cpp is given the file.

Only the header is read (magic, version, tensor count, kv count, then the key/value pairs), with
bounds on every count and length, since the files come from an untrusted publisher (see
:mod:`devtools.llmservers.local.weights`).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from devtools.llmservers.local.errors import ModelIntegrityError

__all__ = [
    "GGUFArray",
    "GGUFHeader",
    "GGUFMetadataExpectation",
    "check_gguf",
    "read_gguf_metadata",
]

GGUF_MAGIC = b"GGUF"
_SUPPORTED_VERSIONS = (2, 3)
_MAX_KV = 65_536
_MAX_TENSORS = 1_000_000
_MAX_STRING = 64 * 1024 * 1024
_MAX_ARRAY = 64 * 1024 * 1024

# GGUF value types -> struct format for the scalar ones; 8 = string, 9 = array.
_SCALAR = {
    0: "<B",  # uint8
    1: "<b",  # int8
    2: "<H",  # uint16
    3: "<h",  # int16
    4: "<I",  # uint32
    5: "<i",  # int32
    6: "<f",  # float32
    7: "<?",  # bool
    10: "<Q",  # uint64
    11: "<q",  # int64
    12: "<d",  # float64
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFMetadataExpectation:
    """What :func:`check_gguf` requires of a file's metadata."""

    architecture: str = "qwen2"
    file_type: int = 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    name_contains: tuple[str, ...] = ()  # substrings of ``general.name`` (case-insensitive)
    context_length: int | None = None  # ``<architecture>.context_length``


@dataclass(frozen=True)
class GGUFArray:
    """An array value, summarised: its item type and length (items are skipped, not kept)."""

    item_type: int
    length: int


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    kv_end: int  # byte offset where the key/value section ends


class _Reader:
    def __init__(self, fh: BinaryIO, source: str) -> None:
        self.fh = fh
        self.source = source

    def bytes(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ModelIntegrityError(f"{self.source}: truncated GGUF header")
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.bytes(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.scalar("<Q")
        if n > _MAX_STRING:
            raise ModelIntegrityError(f"{self.source}: implausible GGUF string length {n}")
        try:
            return self.bytes(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelIntegrityError(f"{self.source}: GGUF string is not UTF-8") from exc

    def skip(self, n: int) -> None:
        # Seek, then make sure the data was really there (seek past EOF does not fail).
        if n:
            self.fh.seek(n - 1, os.SEEK_CUR)
            self.bytes(1)

    def value(self, vtype: int) -> Any:
        if vtype in _SCALAR:
            return self.scalar(_SCALAR[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type = self.scalar("<I")
            length = self.scalar("<Q")
            if length > _MAX_ARRAY:
                raise ModelIntegrityError(f"{self.source}: implausible GGUF array length {length}")
            if item_type in _SCALAR:
                self.skip(struct.calcsize(_SCALAR[item_type]) * length)
            elif item_type == _STRING:
                for _ in range(length):
                    self.skip(self.scalar("<Q"))
            else:  # nested arrays are not used by llama.cpp models
                raise ModelIntegrityError(f"{self.source}: unsupported GGUF array of {item_type}")
            return GGUFArray(item_type, length)
        raise ModelIntegrityError(f"{self.source}: unknown GGUF value type {vtype}")


def read_gguf_metadata(path: str | os.PathLike[str]) -> GGUFHeader:
    """Read a GGUF file's header and key/value metadata (stops after the kv section).

    Raises :class:`ModelIntegrityError` for a wrong magic, an unsupported version, implausible
    counts or a truncated header. Array values are returned as :class:`GGUFArray` summaries.
    """
    path = Path(path)
    with path.open("rb") as fh:
        r = _Reader(fh, str(path))
        magic = fh.read(4)
        if magic != GGUF_MAGIC:
            raise ModelIntegrityError(f"{path}: not a GGUF file (magic {magic!r}, want b'GGUF')")
        version = r.scalar("<I")
        if version not in _SUPPORTED_VERSIONS:
            raise ModelIntegrityError(f"{path}: unsupported GGUF version {version}")
        tensor_count = r.scalar("<Q")
        kv_count = r.scalar("<Q")
        if tensor_count > _MAX_TENSORS or kv_count > _MAX_KV:
            raise ModelIntegrityError(
                f"{path}: implausible GGUF counts (tensors={tensor_count}, kv={kv_count})"
            )
        meta: dict[str, Any] = {}
        for _ in range(kv_count):
            key = r.string()
            meta[key] = r.value(r.scalar("<I"))
        return GGUFHeader(version, tensor_count, meta, fh.tell())


def check_gguf(
    path: str | os.PathLike[str], expect: GGUFMetadataExpectation, *, strict: bool = True
) -> GGUFHeader:
    """Check ``path``'s GGUF header against ``expect``.

    ``strict=False`` (a user-supplied file) checks only the header and the architecture;
    ``strict=True`` also checks file type, name and context length.
    """
    header = read_gguf_metadata(path)
    meta = header.metadata
    problems: list[str] = []
    arch = meta.get("general.architecture")
    if arch != expect.architecture:
        problems.append(f"general.architecture is {arch!r}, expected {expect.architecture!r}")
    if header.tensor_count == 0:
        problems.append("the file has no tensors")
    if strict:
        ftype = meta.get("general.file_type")
        if ftype != expect.file_type:
            problems.append(f"general.file_type is {ftype!r}, expected {expect.file_type!r}")
        name = meta.get("general.name")
        name_l = name.lower() if isinstance(name, str) else ""
        missing = [s for s in expect.name_contains if s.lower() not in name_l]
        if missing:
            problems.append(f"general.name is {name!r}, expected it to contain {missing!r}")
        if expect.context_length is not None:
            key = f"{expect.architecture}.context_length"
            ctx = meta.get(key)
            if ctx != expect.context_length:
                problems.append(f"{key} is {ctx!r}, expected {expect.context_length!r}")
    if problems:
        raise ModelIntegrityError(f"{path}: " + "; ".join(problems))
    return header
