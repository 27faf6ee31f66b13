"""Cuts the ROR sample shipped with the package (src/baltetl/sources/ror/sample/ror_bsr_slim.zip) from the
reconstructed Baltic Sea cut in ../shared/data/registries/ror/ror_bsr.jsonl.gz (see its PROVENANCE.md):
every record, only the fields the `ror` source reads, in a zip of one JSONL file.  ROR data: CC0 1.0."""

import gzip
import json
import sys
import zipfile
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/registries/ror/ror_bsr.jsonl.gz")
OUT = Path(__file__).resolve().parents[1] / "src" / "baltetl" / "sources" / "ror" / "sample" / "ror_bsr_slim.zip"
KEEP = ("ror_id", "status", "types", "country_code", "city", "names", "websites", "domains", "wikidata")
lines = []
with gzip.open(SRC, "rt", encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        out = {k: r.get(k) for k in KEEP}
        out["names"] = [{k: v for k, v in n.items() if v} for n in r.get("names") or []]
        out["relationships"] = [x for x in r.get("relationships") or [] if x.get("type") in ("predecessor", "successor")]
        lines.append(json.dumps({k: v for k, v in out.items() if v not in (None, [], "")}, ensure_ascii=False))
OUT.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("ror_bsr.jsonl", "\n".join(lines) + "\n")
print(OUT, OUT.stat().st_size, len(lines))
