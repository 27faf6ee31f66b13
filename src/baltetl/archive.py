"""Read the members of a landed download, whatever its packaging: zip, tar(.gz/.xz/.bz2), a folder, one file.

Every fetched byte is untrusted: members are read in chunks under the source's `Limits` (decompressed bytes,
expansion ratio, member size, member count, time), and an archive must be complete where its format says so
(a tar's end-of-archive block, a compressed stream's end marker, a zip's central directory and CRCs).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import time
import zlib
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[int], None]  # called with bytes of the landed file consumed so far
CHUNK = 1 << 20
MB = 1 << 20
RATIO_FLOOR = 16 * MB  # the expansion ratio is not held against the first 16 MiB (a small gzip of text)
ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, lzma.LZMAError, zlib.error, NotImplementedError)


class ArchiveError(ValueError):
    """The landed file is not a readable archive (truncated, corrupt, unknown format) or exceeds a limit."""


@dataclass(frozen=True)
class Limits:
    """What one landed file may unpack to.  Configured in [archive] and per source in [sources.X] archive
    (keys max_total_mb, max_member_mb, max_ratio, max_members, max_seconds)."""

    max_total_bytes: int = 1024 * MB  # decompressed bytes of the whole archive, skipped members included
    max_member_bytes: int = 256 * MB  # one member read into memory
    max_ratio: float = 100.0  # decompressed bytes per byte of the landed file
    max_members: int = 100_000
    max_seconds: float = 600.0  # reading the whole archive (with the parser's work between members)

    @classmethod
    def of(cls, cfg, src) -> Limits:
        conf = {**(cfg.raw.get("archive") or {}), **(src.archive or {})}
        d = cls()
        return cls(
            max_total_bytes=int(float(conf.get("max_total_mb", d.max_total_bytes / MB)) * MB),
            max_member_bytes=int(float(conf.get("max_member_mb", d.max_member_bytes / MB)) * MB),
            max_ratio=float(conf.get("max_ratio", d.max_ratio)),
            max_members=int(conf.get("max_members", d.max_members)),
            max_seconds=float(conf.get("max_seconds", d.max_seconds)),
        )


class _Budget:
    """Counts what an archive unpacks to and fails at the first limit passed."""

    def __init__(self, label: str, limits: Limits | None, packed: int | None):
        self.label, self.packed, self.limits = label, packed, limits or Limits()
        self.allowed = self.limits.max_total_bytes
        if packed is not None:  # the ratio, as a bound on the total
            self.allowed = min(self.allowed, max(int(packed * self.limits.max_ratio), RATIO_FLOOR))
        self.total, self.members, self.start = 0, 0, time.monotonic()

    def fail(self, what: str) -> ArchiveError:
        return ArchiveError(f"{self.label}: {what}")

    def add(self, n: int) -> None:
        self.total += n
        lim = self.limits
        if self.total > self.allowed:
            if self.allowed < lim.max_total_bytes:
                raise self.fail(f"unpacks to more than {lim.max_ratio:g} times its size "
                                f"({self.packed} bytes; archive max_ratio) — a decompression bomb?")  # fmt: skip
            raise self.fail(f"unpacks to more than {lim.max_total_bytes // MB} MB (archive max_total_mb)")
        if time.monotonic() - self.start > lim.max_seconds:
            raise self.fail(f"reading it took more than {lim.max_seconds:g} s (archive max_seconds)")

    def count(self, n: int = 1) -> None:
        self.members += n
        if self.members > self.limits.max_members:
            raise self.fail(f"more than {self.limits.max_members} members (archive max_members)")

    def check_size(self, name: str, size: int) -> None:
        if size > self.limits.max_member_bytes:
            raise self.fail(f"member {name!r} is {size} bytes, over {self.limits.max_member_bytes // MB} MB "
                            "(archive max_member_mb)")  # fmt: skip

    def read(self, f, name: str, size: int | None = None, counted: bool = False) -> bytes:
        """A member's content, in chunks; `size`: as announced, checked before a byte is read.  counted: its
        bytes are already counted against the total (a tar's decompressed stream counts every byte)."""
        if size is not None:
            self.check_size(name, size)
        chunks, got = [], 0
        while chunk := f.read(CHUNK):
            if not counted:
                self.add(len(chunk))
            got += len(chunk)
            self.check_size(name, got)
            chunks.append(chunk)
        return b"".join(chunks)


class _CountingReader(io.RawIOBase):
    def __init__(self, f, progress: Progress | None):
        self._f, self._progress, self.pos = f, progress, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._f.readinto(b)
        self.pos += n or 0
        if self._progress:
            self._progress(self.pos)
        return n


class _Unpacked(io.RawIOBase):
    """A decompressed stream, counted against the budget; keeps its last bytes to check the tar's end."""

    def __init__(self, f, budget: _Budget):
        self._f, self._budget, self.pos = f, budget, 0
        self._tail: deque[tuple[int, bytes]] = deque()  # (offset, bytes) of the last reads

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._f.read(len(b))
        n = len(data)
        b[:n] = data
        if n:
            self._budget.add(n)
            self._tail.append((self.pos, data))
            self.pos += n
            while len(self._tail) > 2 and self._tail[1][0] <= self.pos - 4 * tarfile.RECORDSIZE:
                self._tail.popleft()
        return n

    def zero_block_at(self, offset: int) -> bool:
        start = self._tail[0][0] if self._tail else self.pos
        if not start <= offset <= self.pos - tarfile.BLOCKSIZE:
            return False
        tail = b"".join(d for _, d in self._tail)[offset - start:][: tarfile.BLOCKSIZE]
        return tail == tarfile.NUL * tarfile.BLOCKSIZE


def kind(path: Path) -> str:
    if path.is_dir():
        return "dir"
    with open(path, "rb") as f:
        head = f.read(262)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\xfd7zXZ") or head.startswith(b"\x1f\x8b") or head.startswith(b"BZh") or head[257:262] == b"ustar":
        return "tar"
    return "file"


def _decompressed(f, head: bytes):
    if head.startswith(b"\xfd7zXZ"):
        return lzma.LZMAFile(f)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=f)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(f)
    return f


def _tar(
    path: Path, budget: _Budget, progress: Progress | None = None
) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Each member of a tar, streaming (decompressed here: tarfile's own stream decompression copies its
    buffer at every block, quadratic in a member's size).  When the loop ends, the tar must have ended with
    its end-of-archive block and the compressed stream with its end marker: else it was cut short."""
    with open(path, "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        counted = io.BufferedReader(_CountingReader(raw, progress), CHUNK)
        unpacked = _Unpacked(_decompressed(counted, head), budget)
        plain = io.BufferedReader(unpacked, CHUNK)  # tarfile reads 10 KiB at a time: one call per CHUNK instead
        with tarfile.open(fileobj=plain, mode="r|") as t:
            for m in t:
                yield m, t
            if not unpacked.zero_block_at(t.offset):
                raise ArchiveError(f"{path.name}: archive is truncated: no end-of-archive block after "
                                   f"{len(t.members)} members ({t.offset} bytes)")  # fmt: skip
            while plain.read(CHUNK):  # to the compressed stream's end marker (EOFError when it is missing)
                pass


def _regular_files(folder: Path) -> list[Path]:
    """The regular files under a folder; symbolic links (and what is under them) are not followed."""
    out = []
    for root, dirs, files in os.walk(folder):  # os.walk does not descend into linked folders
        out += [p for f in files if (p := Path(root, f)).is_file() and not p.is_symlink()]
    return sorted(out)


def names(path: Path, limit: int | None = None, limits: Limits | None = None) -> list[str]:
    """Member names without reading their content; of a tar (a stream) only the first `limit`."""
    k = kind(path)
    try:
        if k == "dir":
            return [str(p.relative_to(path)) for p in _regular_files(path)]
        if k == "zip":  # the central directory: cheap, so always complete
            with zipfile.ZipFile(path) as z:
                return [i.filename for i in z.infolist() if not i.is_dir()]
        if k == "tar":
            out = []
            budget = _Budget(path.name, limits, path.stat().st_size)
            for m, _ in _tar(path, budget):
                budget.count()
                if m.isfile():
                    out.append(m.name)
                    if limit is not None and len(out) >= limit:
                        break
            return out
    except ERRORS as exc:
        raise ArchiveError(f"{path.name}: archive is truncated or corrupt: {exc}") from exc
    return [path.name]


def iter_members(
    path: Path, want: Callable[[str], bool] = lambda n: True, progress: Progress | None = None,
    limits: Limits | None = None,
) -> Iterator[tuple[str, bytes]]:  # fmt: skip
    """Yield (member name, content) of every member `want` accepts, streaming (memory ~ one member), within
    `limits` (default: Limits()); ArchiveError when the archive is cut short, corrupt or over a limit."""
    k = kind(path)
    try:
        if k == "dir":
            budget = _Budget(path.name, limits, None)
            for p in _regular_files(path):
                name = str(p.relative_to(path))
                budget.count()
                if want(name):
                    with open(p, "rb") as f:
                        yield name, budget.read(f, name, p.stat().st_size)
        elif k == "zip":
            budget = _Budget(path.name, limits, path.stat().st_size)
            with zipfile.ZipFile(path) as z:
                infos = z.infolist()
                budget.count(len(infos))
                done = 0
                for info in infos:
                    done += info.compress_size
                    if not info.is_dir() and want(info.filename):
                        budget.check_size(info.filename, info.file_size)  # before a byte is unpacked
                        with z.open(info) as f:
                            yield info.filename, budget.read(f, info.filename, info.file_size)
                    if progress:
                        progress(done)
        elif k == "tar":
            budget = _Budget(path.name, limits, path.stat().st_size)
            for m, t in _tar(path, budget, progress):
                budget.count()
                if m.isfile() and want(m.name):
                    f = t.extractfile(m)
                    yield m.name, budget.read(f, m.name, m.size, counted=True) if f else b""
        else:
            if want(path.name):
                budget = _Budget(path.name, limits, None)
                budget.count()
                with open(path, "rb") as f:
                    yield path.name, budget.read(f, path.name, path.stat().st_size)
    except ERRORS as exc:
        # lzma/gzip raise EOFError on a truncated stream, tarfile a ReadError
        raise ArchiveError(f"{path.name}: archive is truncated or corrupt: {exc}") from exc


def members(path: Path, want: Callable[[str], bool], limits: Limits | None = None) -> list[tuple[str, bytes]]:
    """(name, content) of the members `want` accepts; a plain file is its own one member, whatever its name.
    Within `limits`, as iter_members."""
    return list(iter_members(path, (lambda n: True) if kind(path) == "file" else want, limits=limits))


def gunzip(data: bytes | Path, label: str, limits: Limits | None = None) -> bytes:
    """The content of a gzip (bytes or a file), within `limits`; ArchiveError when it is cut short, corrupt or
    over a limit.  label: the file (and member) named in the error."""
    budget = _Budget(label, limits, len(data) if isinstance(data, bytes) else data.stat().st_size)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) if isinstance(data, bytes) else gzip.open(data, "rb") as g:
            return budget.read(g, label)
    except ERRORS as exc:
        raise ArchiveError(f"{label}: gzip is truncated or corrupt: {exc}") from exc
