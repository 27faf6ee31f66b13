"""Benchmark: a second `baltetl refresh` of an unchanged CORDIS XML archive against the parse floor.

    python bench/refresh_nochange.py [ARCHIVE]    (default: the complete Horizon Europe XML in ../shared/data)

In one run it measures (the floor and the refresh command are those of bench/refresh_cordis.py, imported)
  floor     decompress the archive and parse every XML member with lxml (one process, nothing else)
  first     `baltetl refresh --source cordis --input ARCHIVE -w <tmp>/bench.duckdb`: parse, validate, stage, build
  nochange  the same command again, as a user runs it (a new process): the input lands with the same checksum,
            the warehouse was built from exactly the current inputs, so nothing is parsed or built and no
            Prefect API is started; the run is recorded
and prints as its last line
  floor_s=... nochange_s=... ratio=...
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from refresh_cordis import args, refresh, start  # beside this script (python bench/refresh_nochange.py)



def main() -> None:
    archive = args().archive
    floor_s = start(archive)
    with tempfile.TemporaryDirectory(prefix="baltetl-bench-") as d:
        _, first_s, peak, first = refresh(archive, Path(d))
        print(f"first refresh: {first_s:.2f} s ({first['status']}, peak {peak / 2**20:.0f} MB)")
        _, nochange_s, _, again = refresh(archive, Path(d))
    if again["status"] != "unchanged":
        sys.exit(f"the second refresh was {again['status']}, not unchanged: {again.get('message')}")
    print(f"second refresh, same input: {nochange_s:.2f} s ({again['status']}: {again['message']})")
    print(f"floor_s={floor_s:.2f} nochange_s={nochange_s:.2f} ratio={nochange_s / floor_s:.2f}")


if __name__ == "__main__":
    main()
