"""Learns the word translation table (src/baltetl/reference/translations.csv) from ROR's EU/EEA cut in the
shared data (../shared/data/registries/ror/ror_eu_eea.jsonl.gz, CC0 1.0; its sha256 is checked): see
src/baltetl/translations.py.  Usage: make_translations.py [shared data folder]"""

import hashlib
import sys
from pathlib import Path

from baltetl import translations

shared = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "data"
src = shared / translations.ROR_CUT
if hashlib.sha256(src.read_bytes()).hexdigest() != translations.ROR_SHA256:
    sys.exit(f"{src}: not the ROR cut the table's provenance names (sha256 {translations.ROR_SHA256})")
rows = translations.learn(translations.ror_pairs(src))
translations.write(rows)
print(translations.TABLE, len(rows), "rows")
