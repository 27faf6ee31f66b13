"""Read the members of a landed download, whatever its packaging: zip, tar(.gz/.xz/.bz2), a folder, one file."""

from __future__ import annotations

import io
import lzma
import tarfile
import zlib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

Progress = Callable[[int], None]  # called with bytes of the landed file consumed so far


class ArchiveError(ValueError):
    """The landed file is not a readable archive (truncated, corrupt, unknown format)."""


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


def names(path: Path, limit: int | None = None) -> list[str]:
    """Member names without reading their content; of a tar (a stream) only the first `limit`."""
    k = kind(path)
    try:
        if k == "dir":
            return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
        if k == "zip":  # the central directory: cheap, so always complete
            with zipfile.ZipFile(path) as z:
                return [i.filename for i in z.infolist() if not i.is_dir()]
        if k == "tar":
            out = []
            with tarfile.open(path, "r|*") as t:
                for m in t:
                    if m.isfile():
                        out.append(m.name)
                        if limit is not None and len(out) >= limit:
                            break
            return out
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        raise ArchiveError(f"{path.name}: archive is truncated or corrupt: {exc}") from exc
    return [path.name]


def iter_members(
    path: Path, want: Callable[[str], bool] = lambda n: True, progress: Progress | None = None
) -> Iterator[tuple[str, bytes]]:
    """Yield (member name, content) of every member `want` accepts, streaming (memory ~ one member)."""
    k = kind(path)
    try:
        if k == "dir":
            for p in sorted(path.rglob("*")):
                name = str(p.relative_to(path))
                if p.is_file() and want(name):
                    yield name, p.read_bytes()
        elif k == "zip":
            with zipfile.ZipFile(path) as z:
                done = 0
                for info in z.infolist():
                    done += info.compress_size
                    if not info.is_dir() and want(info.filename):
                        yield info.filename, z.read(info)
                    if progress:
                        progress(done)
        elif k == "tar":
            with open(path, "rb") as raw:
                counted = io.BufferedReader(_CountingReader(raw, progress), 1 << 20)
                with tarfile.open(fileobj=counted, mode="r|*") as t:
                    for m in t:
                        if m.isfile() and want(m.name):
                            f = t.extractfile(m)
                            yield m.name, f.read() if f else b""
        else:
            if want(path.name):
                yield path.name, path.read_bytes()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        # lzma/gzip raise EOFError on a truncated stream, tarfile a ReadError
        raise ArchiveError(f"{path.name}: archive is truncated or corrupt: {exc}") from exc
