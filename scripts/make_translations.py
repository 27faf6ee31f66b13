"""Learns the word translation table (src/baltetl/reference/translations.csv) from the shared data: ROR's EU/EEA
cut (CC0 1.0) and CORDIS's Horizon Europe XML edition (CC BY 4.0), each file's sha256 checked (translations.SOURCES):
see src/baltetl/translations.py; and the regions' names in English (src/baltetl/reference/region_names.csv) from
ROR's locations and the NUTS and LAU tables, and towns' English names (city_names.csv): see src/baltetl/regions.py.  Usage: make_translations.py [shared data folder]"""

import hashlib
import sys
from pathlib import Path

from baltetl import regions, translations

shared = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "data"
for name, sha256 in translations.SOURCES.items():
    if hashlib.sha256((shared / name).read_bytes()).hexdigest() != sha256:
        sys.exit(f"{shared / name}: not the file the table's provenance names (sha256 {sha256})")
rows = translations.learn(translations.pairs(shared))
translations.write(rows)
print(translations.TABLE, len(rows), "rows")
rows = regions.learn(shared)
regions.write(rows)
print(regions.TABLE, len(rows), "rows")
towns = regions.learn_towns(shared)
regions.write_towns(towns)
print(regions.CITIES, len(towns), "rows")
