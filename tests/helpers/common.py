"""Shared test helpers: paths of the real data and the sample, and the pipeline called directly."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("BALTETL_SHARED_DATA", ROOT.parent / "shared" / "data"))
HE_XML = SHARED / "cordis" / "horizon" / "xml" / "cordis-HORIZONprojects-xml_2025-12-06.tar.xz"
CSV_EXCERPT = SHARED / "cordis" / "samples" / "organization_rows_excerpt_2026-10-03.csv"


def sample_dir(source: str) -> Path:
    """The folder of a source's bundled sample (src/baltetl/sources/<source>/sample/)."""
    return ROOT / "src" / "baltetl" / "sources" / source / "sample"


SAMPLE = ROOT / "src" / "baltetl" / "sources" / "cordis" / "sample" / "cordis-HORIZON-xml-baltmet-sample.tar.xz"
FIXTURES = ROOT / "tests" / "fixtures"


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared real data at {path} (absent here; CI has it)")
    return path

def landed(path: Path, name: str = "test"):
    from baltetl.types import Landed

    return Landed(path, "", path.stat().st_size if path.is_file() else 0, "2026-11-24T00:00:00Z", f"test:{path}", name)


def sample_cut(n: int) -> bytes:
    """A zip of the first n project files of the bundled CORDIS sample."""
    buf = io.BytesIO()
    with tarfile.open(SAMPLE, "r|xz") as tar, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for m in tar:
            if m.isfile() and m.name.endswith(".xml"):
                z.writestr(m.name, tar.extractfile(m).read())
                n -= 1
                if not n:
                    break
    return buf.getvalue()


def truncated_sample(folder: Path) -> Path:
    """The bundled CORDIS sample cut in half (a truncated download), written into `folder`."""
    broken = folder / "truncated.tar.xz"
    broken.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    return broken


def run_refresh(cfg, source="cordis", *, sample=False, input_path=None):
    """The refresh flow's steps for one source and the build, called directly (no Prefect engine)."""
    from baltetl import pipeline

    run_id = pipeline.new_run_id()
    with pipeline.refresh_lock(cfg):
        result = pipeline.refresh_source(cfg, source, run_id, sample=sample, input_path=input_path)
        counts = pipeline.build(cfg, run_id, log=lambda m: None)
    return result, counts


# the full real data: complete Horizon Europe XML, keep.eu exports, city networks, Interreg SE, Eurocities
FULL_INPUTS = {
    "cordis": HE_XML,
    "keep": SHARED / "keep",
    "networks": SHARED / "city_networks",
    "interreg_se": SHARED / "interreg_se" / "tillvaxtverket_interreg_se_partners_2021-2027_extract-2026-06-09.json",
    "eurocities": None,  # the bundled sample is the real directory
    "ror": None,  # the shipped cut is every Baltic record of the registry
}



def copy_built(built, cfg) -> None:
    """The warehouse folder of configuration `built` (the file, its state and its landing) copied to `cfg`'s,
    and recorded there as the build it is a byte-for-byte copy of: the next refresh sees it as current, as it
    would the original.  For tests that start from a build the session made once (fixture cordis_sample)."""
    import shutil

    from baltetl import buildinfo
    from baltetl.state import State

    for c in (built, cfg):  # the layout of load_config(warehouse=...): state and landing beside the file
        assert c.state.parent == c.landing.parent == c.warehouse.parent, c
    assert built.warehouse.name == cfg.warehouse.name and not cfg.warehouse.parent.exists()
    shutil.copytree(built.warehouse.parent, cfg.warehouse.parent, ignore=shutil.ignore_patterns("*.lock"))
    state = State(cfg.state)
    info = buildinfo.load(state)
    buildinfo.record(cfg, state, info["fingerprint"], info["parts"], info["run_id"], info["counts"])
    assert buildinfo.current(cfg, state, buildinfo.compute(cfg, state)[0]) is not None  # the copy is current


def refresh_run(cfg, sources, *, sample=True):
    """One run of several sources as the flow runs it, without Prefect (the build is skipped when nothing it
    reads changed): -> (run_id, results, counts)."""
    from baltetl import pipeline

    run_id = pipeline.new_run_id()
    with pipeline.refresh_lock(cfg):
        results = [pipeline.refresh_source(cfg, s, run_id, sample=sample) for s in sources]
        counts = pipeline.build(cfg, run_id, log=lambda m: None, results=results)
    return run_id, results, counts


def local_source(tmp_path: Path, source: str, keys: str = "", warehouse: Path | None = None, **http):
    """The configuration with [sources.SOURCE] served by the local test server (its `hosts`) and `keys` (TOML
    lines) added to it, over local_toml's [http] settings; the warehouse in tmp_path unless given."""
    from baltetl.config import load_config

    body = f'\n[sources.{source}]\nhosts = ["127.0.0.1", "localhost"]\n{keys}\n'
    toml = local_toml(tmp_path / "override.toml", body, **http)
    return load_config(toml, warehouse=warehouse or tmp_path / "wh" / "baltmet.duckdb")


def warehouse_rows(cfg, sql: str, params=()) -> list[tuple]:
    """The rows of `sql` on the configuration's warehouse, opened read-only and closed again."""
    return q(cfg.warehouse, sql, params)


def local_toml(path: Path, body: str, **http) -> Path:
    """Write an override TOML for sources served by a local test server: no pause between requests to a host,
    fast backoff, `retries` (default 0) and any other [http] settings given; `body` holds the [sources.*]
    tables (their `hosts` naming the local server).  Returns the path."""
    settings = {"min_interval_s": 0, "retries": 0, "backoff_s": 0.01, **http}
    path.write_text("[http]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()) + body, encoding="utf-8")
    return path


def q(path, sql: str, params=()) -> list[tuple]:
    """The rows of `sql` on the DuckDB file `path`, opened read-only and closed again."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def small_archive(tmp_path, n):
    """The first n real project files of the sample, as their own tar.xz."""
    out = tmp_path / f"first{n}.tar.xz"
    with tarfile.open(SAMPLE, "r:xz") as src, tarfile.open(out, "w:xz") as dst:
        for m in [m for m in src.getmembers() if m.isfile()][:n]:
            dst.addfile(m, src.extractfile(m))
    return out


def together(*recs) -> bool:
    """Whether resolution (resolve.cluster over just these records) makes them one organisation."""
    from baltetl import resolve

    roots, _ = resolve.cluster(list(recs))
    return len({roots[r.key] for r in recs}) == 1
