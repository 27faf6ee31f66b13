"""Benchmark: publishing the full real warehouse (site + open-data exports).

    python bench/publish.py [--warehouse WH] [--out DIR]

Takes an existing warehouse (one built before warehouse/public/views.sql gets the public views on a copy), or
builds one from the full real data in ../shared/data as bench/resolve.py does (a few minutes).  Publishes
twice: into an empty folder, then over that site (the usual nightly case; the previous site is deleted in the
background once the new one is in place).  Prints the pages per kind, the files and the site's size, the load
of the machine (the figures are wall-clock: other work on the machine slows them), and as its last line
    publish_s=... site_mb=... files=... target_s=15
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 15


def ensure_public_views(wh: Path, work: Path) -> Path:
    from baltetl.publish import REQUIRED, public_views
    from baltetl.warehouse import create_public_views

    con = duckdb.connect(str(wh), read_only=True)
    have = public_views(con)
    con.close()
    if all(v in have for v in REQUIRED):
        return wh
    print(f"{wh} has no public views (built before warehouse/public/views.sql): adding them to a copy", flush=True)
    copy = work / "with-public-views.duckdb"
    shutil.copy(wh, copy)
    con = duckdb.connect(str(copy))
    create_public_views(con, ROOT / "warehouse" / "public" / "views.sql")
    con.close()
    return copy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", type=Path, help="an existing warehouse (opened read-only)")
    ap.add_argument("--out", type=Path, help="publish here (default: a temporary folder, removed afterwards)")
    args = ap.parse_args()
    from baltetl.config import load_config
    from baltetl.publish import publish

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        wh = args.warehouse
        if wh is None:
            sys.path.insert(0, str(ROOT / "bench"))
            from resolve import build  # the same full build as the resolution benchmark

            wh = d / "wh" / "baltmet.duckdb"
            print("building a warehouse from the full real data ...", flush=True)
            build(wh)
        wh = ensure_public_views(wh, d)
        cfg = load_config(warehouse=wh)
        out = args.out or d / "site"
        if out.is_symlink():  # a published site: a symlink to its folder (publish deletes the folder after)
            out.unlink()
        elif out.exists():
            shutil.rmtree(out)
        runs = []
        for label in ("into an empty folder", "over the previous site"):
            load = os.getloadavg()[0]
            cpu = time.process_time()
            r = publish(cfg, out, log=lambda m: None)
            runs.append(r)
            print(f"publish {label}: {r['seconds']:.2f} s (read {r['read_s']} s, pages {r['pages_s']} s, waiting for "
                  f"the exports {r['wait_s']} s; CPU of this process {time.process_time() - cpu:.1f} s; "
                  f"load average before {load:.1f} on {os.cpu_count()} cores)", flush=True)  # fmt: skip
        r = runs[0]
        pages = r["pages"]
        sizes: dict[str, int] = {}
        for p in out.rglob("*"):
            if p.is_file():
                top = p.relative_to(out).parts[0] if len(p.relative_to(out).parts) > 1 else "(top)"
                sizes[top] = sizes.get(top, 0) + p.stat().st_size
        total = sum(sizes.values())
        print("pages: " + ", ".join(f"{k} {v}" for k, v in pages.items()) + f" (total {sum(pages.values())})")
        print("size by folder: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items(), key=lambda t: -t[1])))
        print("exports: " + ", ".join(f"{f['path']} {f['bytes'] / 1e6:.1f} MB" for f in r["exports"]))
        print(f"site total: {total / 1e6:.1f} MB in {r['files']} files")
        slower = max(x["seconds"] for x in runs)
    print(f"publish_s={slower:.2f} site_mb={total / 1e6:.1f} files={r['files']} target_s={TARGET_S}")


if __name__ == "__main__":
    main()
