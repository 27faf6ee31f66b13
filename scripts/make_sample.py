"""Cut the bundled sample from the complete Horizon Europe XML edition (real CORDIS data, CC BY 4.0).

The sample holds the original, unmodified project files of ongoing projects (end date on or after
--ongoing-on) that have a partner in a configured metropolis, chosen from a warehouse built from the
complete archive.  Run from the repository root:

    baltetl refresh --source cordis --input ../shared/data/cordis/horizon/xml/cordis-HORIZONprojects-xml_2025-12-06.tar.xz -w /tmp/full.duckdb
    python scripts/make_sample.py --warehouse /tmp/full.duckdb
"""

import argparse
import io
import lzma
import tarfile
from pathlib import Path

import duckdb

ARCHIVE = "../shared/data/cordis/horizon/xml/cordis-HORIZONprojects-xml_2025-12-06.tar.xz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--archive", default=ARCHIVE)
    ap.add_argument("--ongoing-on", default="2026-11-24")
    ap.add_argument("--per-metropolis", type=int, default=120, help="at most this many projects per metropolis")
    ap.add_argument("--out", default="src/baltetl/sources/cordis/sample/cordis-HORIZON-xml-baltmet-sample.tar.xz")
    a = ap.parse_args()
    con = duckdb.connect(a.warehouse, read_only=True)
    # per metropolis, the ongoing projects with most metropolis partners first, then by id: a fixed choice
    members = {
        r[0].split("!", 1)[1]
        for r in con.execute(
            """
            WITH pm AS (
                SELECT DISTINCT pa.metropolis_id, p.project_key, p.record_ref, p.project_id,
                       count(DISTINCT pa2.metropolis_id) OVER (PARTITION BY p.project_key) AS metros
                FROM participations pa JOIN projects p USING (project_key)
                JOIN participations pa2 ON pa2.project_key = p.project_key AND pa2.metropolis_id IS NOT NULL
                WHERE pa.metropolis_id IS NOT NULL AND p.end_date >= ?::DATE
            )
            SELECT record_ref FROM pm
            QUALIFY row_number() OVER (PARTITION BY metropolis_id ORDER BY metros DESC, project_id) <= ?
            """,
            [a.ongoing_on, a.per_metropolis],
        ).fetchall()
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    n = 0
    with tarfile.open(a.archive, "r|xz") as src, tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for m in src:
            if m.isfile() and m.name in members:
                dst.addfile(m, src.extractfile(m))
                n += 1
    out.write_bytes(lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    print(f"{out}: {n} project files, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
