"""Cut the bundled reference geography from ../shared/data/geo (Eurostat, reuse with credit).

Keeps the LAU rows and NUTS history rows of the countries that hold a configured metropolis, so that a
fresh clone can define every metropolis offline.  Run from the repository root:
    python scripts/make_reference.py [--geo ../shared/data/geo]
"""

import argparse
import gzip
from pathlib import Path

import duckdb

COUNTRIES = ["DE", "DK", "SE", "FI", "EE", "LV", "LT", "PL", "NO"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--geo", default="../shared/data/geo")
    ap.add_argument("--out", default="src/baltetl/reference")
    a = ap.parse_args()
    geo, out = Path(a.geo), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    lau = con.sql(
        f"SELECT * FROM read_csv('{geo}/eurostat_lau2019_nuts2016_city_fua.csv.gz', all_varchar=true, header=true)"
        f" WHERE country IN {tuple(COUNTRIES)} ORDER BY gisco_id"
    )
    target = out / "lau2019_nuts2016_fua_bsr.csv.gz"
    tmp = out / "lau.csv"
    lau.write_csv(str(tmp))
    with open(tmp, "rb") as f, gzip.GzipFile(target, "wb", mtime=0, compresslevel=9) as g:
        g.write(f.read())
    tmp.unlink()
    pattern = "|".join(f"^{c}" for c in COUNTRIES)
    changes = con.sql(
        f"SELECT * FROM read_csv('{geo}/nuts_changes_1999-2021.csv', all_varchar=true, header=true) "
        f"WHERE regexp_matches(concat_ws(',', code_1999, code_2003, code_2006, code_2010, code_2013, code_2016, code_2021), '{pattern}')"
    )
    changes.write_csv(str(out / "nuts_changes_1999-2021_bsr.csv"))
    print(target.stat().st_size, "bytes LAU;", changes.shape[0], "NUTS history rows")


if __name__ == "__main__":
    main()
