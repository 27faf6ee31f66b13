"""Per source: the date of its data, apart from when it was fetched, and whether its data is illustrative.

The date of the data is, first that applies: the newest value of the column `[publish.sources.NAME]
data_date_column` names (`table.column` of the source's staged tables, e.g. CORDIS's content_update_date);
the date the export's file names carry (`keep_..._export_2019.csv`, `members_2025-05-18.txt`: the last date in
a name, the newest over the files and their archive members); the server's Last-Modified.  None applies: the
date of the data is unknown and only the fetch date is shown.

A source whose data was landed from its bundled sample is illustrative when `[publish.sources.NAME]
sample_illustrative = true` (the hand-made cluster registry): public/views.sql publishes none of it.

Written as the table `source_data` during the build (before the marts, which count with it).
"""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from . import models
from .config import Config
from .geo import insert_rows
from .state import State

DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?:[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(0[1-9]|[12]\d|3[01]))?)?(?!\d)")


def name_date(name: str) -> str | None:
    """The last date in a file name, as far as it goes: '2019', '2025-05', '2025-05-18'."""
    found = DATE.findall(Path(name).name)
    if not found:
        return None
    y, m, d = found[-1]
    return "-".join(x for x in (y, m, d) if x)


def _members(path: Path) -> list[str]:
    """The names inside a landed archive (none for another file, or one no longer there)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return z.namelist()
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as t:
                return t.getnames()[:10000]
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError):
        pass
    return []


def _from_column(con, source: str, spec: str | None) -> tuple[str, str] | None:
    if not spec or "." not in spec:
        return None
    table, column = spec.split(".", 1)
    have = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?",
                                      [f"stg_{source}__{table}"]).fetchall()}  # fmt: skip
    if column not in have:
        return None
    value = con.execute(f'SELECT max(TRY_CAST("{column}" AS DATE)) FROM "stg_{source}__{table}"').fetchone()[0]
    return (value.isoformat(), f"the newest {column} of its {table}") if value else None


def _from_files(cfg: Config, source: str, files: list[dict]) -> tuple[str, str] | None:
    dated = []
    for f in files:
        path = cfg.landing / source / f.get("file_name", "")
        names = [(f.get("origin") or "").removeprefix("input:").removeprefix("sample:"), *_members(path)]
        dated += [(d, n) for n in names if (d := name_date(n))]
    if dated:
        d, n = max(dated)
        return d, f"the date in the export's file name: {Path(n).name}"
    for f in files:
        try:
            side = json.loads(Path(str(cfg.landing / source / f.get("file_name", "")) + ".json").read_text())
            modified = parsedate_to_datetime(side["last_modified"]) if side.get("last_modified") else None
        except (OSError, ValueError, TypeError):
            modified = None
        if isinstance(modified, datetime):
            dated.append((modified.date().isoformat(), "the server's Last-Modified date of its download"))
    return max(dated) if dated else None


def build(con, cfg: Config, state: State) -> None:
    """Write `source_data`: per source with data, its data date (and what it was taken from), illustrative."""
    conf = cfg.raw.get("publish", {}).get("sources", {})
    rows = []
    for source in state.sources():
        files = (state.meta(source) or {}).get("input_files", [])
        pub = conf.get(source, {})
        illustrative = bool(pub.get("sample_illustrative")) and any((f.get("origin") or "").startswith("sample:") for f in files)
        date, basis = _from_column(con, source, pub.get("data_date_column")) or _from_files(cfg, source, files) or (None, None)
        rows.append((source, date, basis, illustrative))
    models.run(con, "marts/source_data.sql")
    if rows:
        insert_rows(con, "source_data", rows)
