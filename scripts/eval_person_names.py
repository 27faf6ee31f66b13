"""Score the person-name detector (baltetl.personal) on the labelled records, per half.

    python scripts/eval_person_names.py WAREHOUSE [--split dev|holdout] [--errors]

tests/fixtures/personal/labelled.csv names 600 organisation records of the full real data by (source,
source_id), never by name, in two rounds of 300: 200 drawn at random from the records whose first or last word
is a first name and 100 from the other records with two to four words of letters and no legal form (neither a
municipality).  Each was labelled by reading its name, short name and type (1: a natural person's name).  Each
round is split dev / holdout by a hash of source|source_id, fixed before it was run.  Round 1's held-out half was
read once, then round 2 was drawn (the round-1 records left out) and labelled; round 2 was tuned on all of
round 1 and round 2's dev half, so "dev" below is those, and "holdout" round 2's held-out half.
WAREHOUSE: a warehouse built from the full real data (the records are looked up there).  --errors lists the
dev half's errors only.  Prints the figures of --split only (default dev); last line: precision= recall=
records=.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from baltetl import personal, resolve  # noqa: E402

LABELLED = ROOT / "tests" / "fixtures" / "personal" / "labelled.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--split", default="dev", choices=("dev", "holdout"))
    ap.add_argument("--errors", action="store_true", help="list the dev half's errors")
    a = ap.parse_args()
    con = duckdb.connect(str(a.warehouse), read_only=True)
    recs = resolve.load_records(con)
    named = personal.person_named(recs)
    key_of = {(s, i): k for s, i, k in con.execute("SELECT source, source_id, org_key FROM organisation_sources").fetchall()}
    by_key = {r.key: r for r in recs}
    tally = {s: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for s in ("dev", "holdout")}
    missing = 0
    with open(LABELLED, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rec = by_key.get(key_of.get((row["source"], row["source_id"])))
            if rec is None:
                missing += 1
                continue
            said = rec.key in named
            truth = row["label"] == "1"
            split = "holdout" if row["round"] == "2" and row["split"] == "holdout" else "dev"
            tally[split][("t" if said == truth else "f") + ("p" if said else "n")] += 1
            if a.errors and said != truth and split == "dev":
                print("FP" if said else "FN", rec.source, rec.name, sep=" | ")
    t = tally[a.split]  # only the half asked for (the held-out half is read once, after the last change)
    print(f"{a.split}: tp={t['tp']} fp={t['fp']} fn={t['fn']} tn={t['tn']}")
    print(f"precision={t['tp'] / max(1, t['tp'] + t['fp']):.3f} recall={t['tp'] / max(1, t['tp'] + t['fn']):.3f} "
          f"records={sum(t.values())} missing={missing}")


if __name__ == "__main__":
    main()
