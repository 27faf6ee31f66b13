"""The landing folder: every raw input, as received, with its checksum and where and when it came from.

    <landing>/<source>/<name>-<sha256[:16]><suffix>        the bytes
    <landing>/<source>/<name>-<sha256[:16]><suffix>.json   origin, fetch time, HTTP validators (ETag ...)
The same bytes land once.  A fetched file, an --input file and the bundled sample all land here, and the
parser reads them from here, whatever their origin.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from .faults import point
from .procs import remove_orphans
from .types import Landed

KEEP_PER_NAME = 5
# a file being written into a source's landing folder: .<name>.<pid>.tmp|.zip, .<name>.<pid>.<thread>.part
TEMP = re.compile(r"\..+?\.(\d+)(\.\d+)?\.(tmp|zip|part)")


class UnsafeInput(ValueError):
    """An input folder holds something other than regular files (a symbolic link, a device, a pipe)."""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _suffix(name: str) -> str:
    for multi in (".tar.xz", ".tar.gz", ".tar.bz2"):
        if name.endswith(multi):
            return multi
    return Path(name).suffix


class Landing:
    def __init__(self, root: Path):
        self.root = Path(root)

    def place(self, tmp: Path, source: str, name: str, origin: str, suffix: str, extra: dict | None = None) -> Landed:
        """Move a finished download (or copy) into the landing folder under its checksum."""
        digest = sha256_of(tmp)
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        self.remove_dead_temps(source)
        final = folder / f"{name}-{digest[:16]}{suffix}"
        if final.exists() and sha256_of(final) == digest:
            tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, final)
        point("landing.data")
        meta = {
            "name": name, "origin": origin, "sha256": digest, "bytes": final.stat().st_size,
            "fetched_at": now_iso(), **(extra or {}),
        }  # fmt: skip
        side = final.with_name(final.name + ".json")
        tmp_side = side.with_name(f".{side.name}.tmp")
        tmp_side.write_text(json.dumps(meta, indent=2))
        os.replace(tmp_side, side)
        point("landing.sidecar")
        self._prune(source, name)
        return Landed(final, digest, meta["bytes"], meta["fetched_at"], origin, name)

    def land_file(self, path: Path, source: str, name: str, origin: str) -> Landed:
        """Copy a local file or folder (an --input, the sample) into the landing folder."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"input not found: {path}")
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        if path.is_dir():  # a CSV folder: land it as a zip of its files, so it is one checksummed file
            _only_regular_files(path)
            tmp = folder / f".{name}.{os.getpid()}.zip"
            base = shutil.make_archive(str(tmp.with_suffix("")), "zip", root_dir=path)
            return self.place(Path(base), source, name, origin, ".zip")
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(path, tmp)
        return self.place(tmp, source, name, origin, _suffix(path.name))

    def remove_dead_temps(self, source: str) -> list[str]:
        """Delete the temporary files a killed run left in a source's landing folder (their writer's pid is
        not running); those of a live process are being written."""
        return [p.name for p in remove_orphans((self.root / source).glob(".*"), TEMP)]

    def _sidecars(self, source: str, name: str):
        """(sidecar, data file, meta) of each landed file of this name.  A landed .json data file is not a
        sidecar: a sidecar sits beside its data file and records its checksum."""
        folder = self.root / source
        if not folder.exists():
            return
        for side in folder.glob(f"{name}-*.json"):
            data = side.with_name(side.name.removesuffix(".json"))
            if not data.is_file():
                continue
            try:
                meta = json.loads(side.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and meta.get("name") == name and "sha256" in meta:
                yield side, data, meta

    def latest(self, source: str, name: str) -> tuple[Landed, dict] | None:
        """The newest landed file of this download, with its sidecar (for conditional GET)."""
        best = max(self._sidecars(source, name), key=lambda t: t[2].get("fetched_at", ""), default=None)
        if best is None:
            return None
        _, data, meta = best
        return Landed(data, meta["sha256"], meta["bytes"], meta["fetched_at"], meta["origin"], name), meta

    def _prune(self, source: str, name: str) -> None:
        found = sorted(self._sidecars(source, name), key=lambda t: t[2].get("fetched_at", ""))
        for side, data, _ in found[:-KEEP_PER_NAME]:
            data.unlink(missing_ok=True)
            side.unlink(missing_ok=True)


def _only_regular_files(folder: Path) -> None:
    """An input folder is landed only when it holds regular files and folders: a symbolic link would copy
    whatever it points to (/etc/passwd) into the landed zip."""
    for p in sorted(folder.rglob("*")):
        if p.is_symlink() or not (p.is_file() or p.is_dir()):
            what = "a symbolic link" if p.is_symlink() else "not a regular file"
            raise UnsafeInput(f"{folder}: {p.relative_to(folder)} is {what}; the folder is not landed "
                              "(copy the file itself into it)")
