"""Counts the words of organisation names in a warehouse built from the full real data, for the person-name
detector (src/baltetl/reference/organisation_words.csv, read by baltetl/personal.py).

    python scripts/make_name_words.py WAREHOUSE

A word is kept when at least MIN_NAMES of the records' normalised names (resolve.norm_name: legal forms
stripped, kinds of organisation in English) hold it: a surname in at most MAX_SURNAME_NAMES of them is then
read as rare by any build, however few records it has (a sample's own counts would call 'marina' or 'scotland'
rare).  Only words at least that frequent are written, so the file names no person.
"""

import sys
from pathlib import Path

import duckdb

from baltetl import personal, resolve

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "baltetl" / "reference" / "organisation_words.csv"
MIN_NAMES = personal.MAX_SURNAME_NAMES + 1


def main(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    recs = resolve.load_records(con)
    counts = personal.word_counts(r.norm for r in recs)
    files = con.execute("SELECT source, file_name, sha256 FROM landed_files ORDER BY source").fetchall()
    kept = sorted((w, n) for w, n in counts.items() if n >= MIN_NAMES)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# words of the normalised names of {len(recs):,} organisation records of the full real data, each in at "
                f"least {MIN_NAMES} of them (scripts/make_name_words.py)\n")
        for source, name, sha in files:
            f.write(f"# {source}: {name} (sha256 {sha[:12]})\n")
        f.write("word,names\n")
        for w, n in kept:
            f.write(f"{w},{n}\n")
    print(f"{len(kept)} words written to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
