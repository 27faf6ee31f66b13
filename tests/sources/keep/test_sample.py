"""The bundled keep.eu sample: how it is cut from the real 2019 exports, and that it still is that cut.

`cut_sample(shared_keep_dir, out_dir, countries)` writes src/baltetl/sources/keep/sample/keep/:
- from keep_closed_2014-2020_partnership_export_2019.csv, every record (byte for byte: CRLF/LF and multi-line
  fields kept) of the projects of the Baltic Sea Region programmes (transnational Baltic Sea, Central Baltic,
  South Baltic) with a partner in the country of a configured metropolis;
- from keep_closed_2000-2020_partners_with_ids_2019.csv.gz, the same for all periods, leaving out the
  projects already taken from the first file (gzip written with mtime 0, so the cut is reproducible).
Run `PYTHONPATH=src:tests python tests/sources/keep/test_sample.py` to write it again.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path


from helpers.common import ROOT, SHARED, need_shared

from baltetl.sources.keep import source as keep

SAMPLE_DIR = ROOT / "src" / "baltetl" / "sources" / "keep" / "sample" / "keep"
KEEP_DIR = SHARED / "keep"
EXPORT = "keep_closed_2014-2020_partnership_export_2019.csv"
PROCESSED = "keep_closed_2000-2020_partners_with_ids_2019.csv.gz"
BSR = re.compile(r"Baltic Sea|Central Baltic|South Baltic")


def records(data: bytes) -> list[bytes]:
    """Split CSV bytes into records, byte for byte: a record ends at a line end outside quotes."""
    out, cur = [], b""
    for line in data.splitlines(keepends=True):
        cur += line
        if cur.count(b'"') % 2 == 0:
            out.append(cur)
            cur = b""
    if cur:
        out.append(cur)
    return out


def _fields(rec: bytes, delim: str) -> list[str]:
    return next(csv.reader(io.StringIO(rec.decode("utf-8-sig"), newline=""), delimiter=delim))


def _cut(data: bytes, delim: str, names: dict, countries: set[str], skip: set[str]) -> tuple[bytes, set[str]]:
    recs = records(data)
    header = _fields(recs[0], delim)
    i = {k: header.index(v) for k, v in names.items()}
    by_project: dict[str, list[tuple[bytes, list[str]]]] = {}
    for rec in recs[1:]:
        f = _fields(rec, delim)
        if len(f) != len(header) or not BSR.search(f[i["programme"]]):
            continue
        pid = keep.project_key(f[i["programme"]], f[i["acronym"]])
        by_project.setdefault(pid, []).append((rec, f))
    wanted = {
        pid for pid, rows in by_project.items()
        if pid not in skip and any(keep.country_of(f[i["cc"]], f[i["country"]])[0] in countries for _, f in rows)
    }  # fmt: skip
    keep_recs = {id(r) for pid in wanted for r, _ in by_project[pid]}
    body = [rec for rec in recs[1:] if id(rec) in keep_recs]
    return recs[0] + b"".join(body), wanted


def cut_sample(src: Path, out: Path, countries: set[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    exp, taken = _cut((src / EXPORT).read_bytes(), ";", {"programme": "Programme", "acronym": "Acronym",
                      "cc": "Country code", "country": "Country"}, countries, set())  # fmt: skip
    (out / EXPORT.replace(".csv", "_bsr-cut.csv")).write_bytes(exp)
    proc, _ = _cut(gzip.decompress((src / PROCESSED).read_bytes()), ",", {"programme": "Programme", "acronym": "Acronym",
                   "cc": "Country.code", "country": "Country"}, countries, taken)  # fmt: skip
    (out / PROCESSED.replace(".csv.gz", "_bsr-cut.csv.gz")).write_bytes(gzip.compress(proc, mtime=0))


def metropolis_countries() -> set[str]:
    from baltetl.config import load_config

    return {m.country for m in load_config().metropolises}


def test_sample_is_the_documented_cut_of_the_real_exports(tmp_path):
    need_shared(KEEP_DIR / EXPORT)
    cut_sample(KEEP_DIR, tmp_path, metropolis_countries())
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in SAMPLE_DIR.iterdir())
    for name in made:
        a, b = (tmp_path / name).read_bytes(), (SAMPLE_DIR / name).read_bytes()
        if name.endswith(".gz"):
            a, b = gzip.decompress(a), gzip.decompress(b)
        assert a == b, name
    # every record of the sample is a record of the real file, unchanged (CRLF/LF and line breaks kept)
    real = set(records((KEEP_DIR / EXPORT).read_bytes()))
    cut = records((SAMPLE_DIR / made[1]).read_bytes()) if made[1].endswith(".csv") else []
    assert cut and set(cut) <= real


def test_sample_is_small_and_real():
    size = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir())
    assert 50_000 < size < 300_000
    names = {p.name for p in SAMPLE_DIR.iterdir()}
    assert names == {EXPORT.replace(".csv", "_bsr-cut.csv"), PROCESSED.replace(".csv.gz", "_bsr-cut.csv.gz")}


if __name__ == "__main__":
    cut_sample(KEEP_DIR, SAMPLE_DIR, metropolis_countries())
    for p in sorted(SAMPLE_DIR.iterdir()):
        print(p, p.stat().st_size)
