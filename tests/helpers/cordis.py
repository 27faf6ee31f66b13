"""Helpers for the CORDIS parser tests (tests/sources/cordis/)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from helpers.common import FIXTURES, ROOT

CORDIS_FIXTURES = FIXTURES / "cordis"
EXCERPT_FIXTURE = CORDIS_FIXTURES / "organization_rows_excerpt_2026-10-03.csv"
CSV_EDITION = CORDIS_FIXTURES / "csv_edition"
CSV_BROKEN = CORDIS_FIXTURES / "csv_broken"
TOPICS_FIXTURE = CORDIS_FIXTURES / "topics_unescaped_quotes_excerpt.csv"


def make_ctx(tmp_dir: Path, workers: int | None = 1):
    """A SourceContext for cordis whose warehouse/state/landing live in tmp_dir.

    workers=1 parses in this process (fast for small inputs); None keeps the configured default
    (a process pool, as in production).
    """
    from baltetl.config import load_config
    from baltetl.types import SourceContext

    with pytest.MonkeyPatch.context() as mp:
        for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING"):
            mp.delenv(var, raising=False)
        cfg = load_config(warehouse=tmp_dir / "wh" / "baltmet.duckdb")
    ctx = SourceContext(cfg, cfg.source("cordis"))
    if workers is not None:
        ctx.source.options["parse_workers"] = workers  # per-config dict: affects this ctx only
    return ctx


def contracts():
    from baltetl import quality

    return quality.load_contracts(ROOT / "schemas", "cordis")


def read_members(archive_path: Path, names: list[str]) -> dict[str, bytes]:
    """Exact bytes of the named members of a tar."""
    out = {}
    with tarfile.open(archive_path, "r:*") as t:
        for n in names:
            out[n] = t.extractfile(n).read()
    assert set(out) == set(names)
    return out


def write_tar_xz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:xz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def write_dir(path: Path, members: dict[str, bytes]) -> Path:
    for name, data in members.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def without_origin(df: pd.DataFrame) -> pd.DataFrame:
    """record_ref is '<landed file name>!<member>:...': drop the landed file name to compare packagings."""
    out = df.copy()
    out["record_ref"] = out["record_ref"].str.split("!", n=1).str[1]
    return out.sort_values("record_key").reset_index(drop=True)
