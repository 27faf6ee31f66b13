"""A word translation table learned from the sources' own bilingual names (issue 14): national word -> English word.

    pairs = pairs(shared_data_folder)               # (record id, national name, English name), normalised
    rows = learn(pairs)                             # [(national, english, probability, records)]
    table = load()                                  # national -> {English word: probability} (the shipped file)

ROR gives one organisation its English label and labels in national languages ('Hochschule Bremerhaven' /
'University of Applied Sciences Bremerhaven', 'Suomen Fysiologiyhdistys' / 'Finnish Physiological Society').
CORDIS gives each participant a legal name and a short name, often the English name ('VALSTYBINE MAISTO IR
VETERINARIJOS TARNYBA' / 'STATE FOOD AND VETERINARY SERVICE'): such a pair counts when it is one name in two
languages (`bilingual`: the English one has half its words in ROR's English names, the two share at most half
their words; not an acronym, a brand or an abbreviation).  These are one record's own two names, never a link
between records.  Both names are normalised as the matcher normalises (resolve.norm_name); the words the two
share or that are cognates (cognates.alike) are set aside, and the words left are aligned by IBM model 1 (EM,
with a NULL word on the national side): t(english | national).  A row is kept when t >= MIN_PROB and the two
words stand in the pairs of at least MIN_RECORDS records.  No word is listed by hand.

The table is data: reference/translations.csv (its first lines name each source, its licence and file), made by
scripts/make_translations.py from the shared data (SOURCES: ROR's EU/EEA cut, the Baltic Sea cut the package
ships having a third of its name pairs; CORDIS's Horizon Europe XML edition); tests/test_translations.py checks
that regenerating it gives the same file, and what the learner learns from a few records.
`cognates.Cover.translated` uses it as evidence that two names are one (rule `name_translated` in resolve).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from . import cognates, regions

TABLE = Path(__file__).resolve().parent / "reference" / "translations.csv"
# the ROR records learned from: the EU/EEA cut of the shared data (its PROVENANCE.md), 36,680 records of which
# 6,008 give an English name and a name in another language
ROR_CUT = "registries/ror/ror_eu_eea.jsonl.gz"
ROR_SHA256 = "3ea8c43ce995e6b7e66510161cdb9e18783848ef85d04bd9682eacabd42945dd"
# CORDIS participants' legal name and short name (often the English name), Horizon Europe XML edition
CORDIS_XML = "cordis/horizon/xml/cordis-HORIZONprojects-xml_2025-12-06.tar.xz"
CORDIS_SHA256 = "7f3e8395df3043bb935fb43a574030db9515501ef48f656464a173a0d01456db"
PROVENANCE = "\n".join([
    "# ROR, Research Organization Registry (https://ror.org), CC0 1.0: reconstructed release v2.9 of 2026-06-23 "
    f"(ROR dump 2021-09-23 + ror-community/ror-records @ d93fc66), EU/EEA cut {ROR_CUT} (sha256 {ROR_SHA256[:12]})",
    "# CORDIS (© European Union, CORDIS), CC BY 4.0: Horizon Europe XML edition of 2025-12-06, participants' "
    f"legalName / shortName, {CORDIS_XML} (sha256 {CORDIS_SHA256[:12]})",
    "# learned by scripts/make_translations.py"])  # fmt: skip
SOURCES = {ROR_CUT: ROR_SHA256, CORDIS_XML: CORDIS_SHA256}  # file in the shared data -> its sha256
MIN_PROB = 0.3  # t(english | national) of IBM model 1
MIN_RECORDS = 2  # records whose name pairs hold both words
ITERATIONS = 10


def _records(path: Path) -> Iterable[dict]:
    """ROR records of a JSONL file, gzipped or not, or of the JSONL members of a zip (the shipped cut)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                if name.endswith(".jsonl"):
                    for line in io.TextIOWrapper(z.open(name), encoding="utf-8"):
                        if line.strip():
                            yield json.loads(line)
        return
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def ror_pairs(path: Path) -> list[tuple[str, str, str]]:
    """(ROR id, national name, English name) of every record with an English label and a name in another
    language (label or alias, not an acronym), both normalised (resolve.norm_name); a pair of equal names is
    left out."""
    from .resolve import norm_name

    out = []
    for r in _records(Path(path)):
        names = [n for n in r.get("names") or [] if "acronym" not in (n.get("types") or ()) and n.get("value")]
        en = sorted({norm_name(n["value"]) for n in names if n.get("lang") == "en"} - {""})
        nat = sorted({norm_name(n["value"]) for n in names if n.get("lang") not in (None, "", "en")} - {""})
        out += [(r["ror_id"], f, e) for e in en for f in nat if f != e]
    return out


# a participant's id, legal name and short name, in the order of the XML edition (FORMAT.md)
_NAMES = re.compile(rb"<id>([^<]*)</id>\s*(?:<vatNumber>[^<]*</vatNumber>\s*)?<legalName>([^<]*)</legalName>\s*"
                    rb"<shortName>([^<]*)</shortName>")  # fmt: skip
_END = b"</organization>"


def cordis_pairs(path: Path) -> list[tuple[str, str, str]]:
    """(CORDIS organisation id, legal name, short name) of every participant of the XML edition (a tar.xz of one
    XML file per project) that gives both names, as written; each distinct pair once.  The tar is read as one
    stream, up to the last participant's end at a time (twice as fast as file by file)."""
    import lzma
    from html import unescape

    out, rest = set(), b""
    with lzma.open(path) as f:
        while chunk := f.read(1 << 24):
            buf = rest + chunk
            end = buf.rfind(_END)
            if end < 0:
                rest = buf
                continue
            end += len(_END)
            for m in _NAMES.finditer(buf, 0, end):
                oid, legal, short = (unescape(x.decode()).strip() for x in m.groups())
                if legal and short:
                    out.add((f"cordis:{oid}", legal, short))
            rest = buf[end:]
    return sorted(out)


def _word_counts(pairs: Iterable[tuple[str, str, str]]) -> tuple[Counter, Counter]:
    """(in how many English names each word is, in how many national names) of name pairs."""
    in_english, in_national = Counter(), Counter()
    for _rid, national, english in pairs:
        in_english.update(set(english.split()))
        in_national.update(set(national.split()))
    return in_english, in_national


def english_words(ror: Iterable[tuple[str, str, str]], min_records: int = 3) -> frozenset:
    """Words of ROR's English names (`ror_pairs`) in min_records records at least and more than twice as
    often as in its names in other languages."""
    in_english, in_national = _word_counts(set(ror))
    return frozenset(w for w, n in in_english.items() if n >= min_records and n > 2 * in_national[w])


def bilingual(pairs: Iterable[tuple[str, str, str]], english: frozenset) -> list[tuple[str, str, str]]:
    """(id, national name, English name), normalised (resolve.norm_name), of the pairs of one record's two
    names (`cordis_pairs`) that are one name in two languages: both of two words at least (a one-word name is
    mostly an acronym or a brand), the English one (more of its words in `english`) has half its words in
    `english` at least, and the two share at most half the words of the shorter (else one abbreviates the
    other, or both are one name)."""
    from .resolve import norm_name

    def share(words: list[str]) -> float:
        return sum(w in english for w in words) / len(words)

    out = []
    for rid, a, b in pairs:
        wa, wb = norm_name(a).split(), norm_name(b).split()
        if len(wa) < 2 or len(wb) < 2 or wa == wb:
            continue
        if share(wb) < share(wa):
            wa, wb = wb, wa
        if share(wb) < 0.5 or share(wb) == share(wa) or 2 * len(set(wa) & set(wb)) > min(len(wa), len(wb)):
            continue
        out.append((rid, " ".join(wa), " ".join(wb)))
    return out


def pairs(shared: Path) -> list[tuple[str, str, str]]:
    """The name pairs the table is learned from, of the shared data folder (SOURCES): ROR's, and those of
    CORDIS's legal and short names that `bilingual` finds one name in two languages (the English words being
    those of ROR's English names)."""
    ror = ror_pairs(Path(shared) / ROR_CUT)
    return ror + bilingual(cordis_pairs(Path(shared) / CORDIS_XML), english_words(ror))


def residue(national: str, english: str, drop: frozenset | set = frozenset()) -> tuple[list[str], list[str]]:
    """The words of two names that are no cognate of a word of the other (cognates.alike), `drop` left out."""
    fw = [w for w in dict.fromkeys(national.split()) if w not in drop]
    ew = [w for w in dict.fromkeys(english.split()) if w not in drop]
    return ([w for w in fw if not any(cognates.alike(w, v) for v in ew)],
            [v for v in ew if not any(cognates.alike(w, v) for w in fw)])  # fmt: skip


def learn(pairs: Iterable[tuple[str, str, str]], min_prob: float = MIN_PROB, min_records: int = MIN_RECORDS,
          iterations: int = ITERATIONS) -> list[tuple[str, str, float, int]]:
    """IBM model 1 over the words two names of one record do not share: rows (national, english, t(english |
    national), records with both words), sorted."""
    from .resolve import STOP

    data, records = [], defaultdict(set)
    pairs = list(pairs)
    # a word the pairs' English names use as often as their other names is an English word (norm_name writes many
    # national words in English: 'akademie' -> 'academy'), not a national one
    in_english, in_national = _word_counts(pairs)
    for rid, national, english in pairs:
        fw, ew = residue(national, english, STOP)
        fw = [f for f in fw if in_english[f] * 2 < in_national[f]]
        if fw and ew:
            data.append((fw + [None], ew))
            for f in fw:
                for e in ew:
                    records[(f, e)].add(rid)
    t: dict = defaultdict(lambda: 1.0)
    for _ in range(iterations):
        count: Counter = Counter()
        total: Counter = Counter()
        for fw, ew in data:
            for e in ew:
                z = sum(t[(e, f)] for f in fw)
                for f in fw:
                    p = t[(e, f)] / z
                    count[(e, f)] += p
                    total[f] += p
        t = defaultdict(float, {(e, f): c / total[f] for (e, f), c in count.items()})
    rows = [(f, e, round(p, 3), len(records[(f, e)])) for (e, f), p in t.items()
            if f is not None and round(p, 3) >= min_prob and len(records[(f, e)]) >= min_records]  # fmt: skip
    return sorted(rows)


def write(rows: list[tuple], path: Path = TABLE, provenance: str = PROVENANCE,
          header: tuple[str, ...] = ("national", "english", "probability", "records")) -> None:
    """A reference table: its provenance lines ('# ...'), then the CSV (regions.py's tables are written so too)."""
    buf = io.StringIO()
    buf.write(provenance + "\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")


REGIONS = regions.TABLE  # regions.learn's: 'niedersachsen' -> 'lower', 'saxony'


@lru_cache(maxsize=4)
def load(path: Path = TABLE, regions: Path | None = REGIONS) -> dict[str, dict[str, float]]:
    """national word -> {English word: t(english | national)}: the learned table, and the regions' names in
    English (regions.py) on top."""
    out: dict[str, dict] = defaultdict(dict)
    for p in (path, regions):
        if p is None or not Path(p).exists():
            continue
        with open(p, encoding="utf-8") as f:
            for row in csv.DictReader(ln for ln in f if not ln.startswith("#")):
                out[row["national"]][row["english"]] = float(row["probability"])
    return dict(out)
