"""A word translation table learned from ROR (issue 14): national-language word -> English word.

    pairs = ror_pairs(path_of_ror_jsonl_or_zip)     # (ROR id, national name, English name), normalised
    rows = learn(pairs)                             # [(national, english, probability, records)]
    table = load()                                  # national -> {English word: probability} (the shipped file)

ROR gives one organisation its English label and labels in national languages ('Hochschule Bremerhaven' /
'University of Applied Sciences Bremerhaven', 'Suomen Fysiologiyhdistys' / 'Finnish Physiological Society').
Both names are normalised as the matcher normalises (resolve.norm_name); the words the two share or that are
cognates (cognates.alike) are set aside, and the words left are aligned by IBM model 1 (EM, with a NULL word
on the national side): t(english | national).  A row is kept when t >= MIN_PROB and the two words stand in the
pairs of at least MIN_RECORDS ROR records.  No word is listed by hand.

The table is data: reference/translations.csv, made by scripts/make_translations.py from ROR's EU/EEA cut in
the shared data (../shared/data/registries/ror/ror_eu_eea.jsonl.gz: the Baltic Sea cut the package ships has a
third of its name pairs); tests/test_translations.py checks that regenerating it gives the same file, and
what the learner learns from a few records.  `cognates.Cover.translated` uses it as evidence that two names are one (rule
`name_translated` in resolve).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from . import cognates

TABLE = Path(__file__).resolve().parent / "reference" / "translations.csv"
# the ROR records learned from: the EU/EEA cut of the shared data (its PROVENANCE.md), 36,680 records of which
# 6,008 give an English name and a name in another language
ROR_CUT = "registries/ror/ror_eu_eea.jsonl.gz"
ROR_SHA256 = "3ea8c43ce995e6b7e66510161cdb9e18783848ef85d04bd9682eacabd42945dd"
PROVENANCE = ("# ROR, Research Organization Registry (https://ror.org), CC0 1.0: reconstructed release v2.9 of "
              "2026-06-23 (ROR dump 2021-09-23 + ror-community/ror-records @ d93fc66), EU/EEA cut "
              f"{ROR_CUT} (sha256 {ROR_SHA256[:12]}); learned by scripts/make_translations.py")  # fmt: skip
MIN_PROB = 0.3  # t(english | national) of IBM model 1
MIN_RECORDS = 2  # ROR records whose name pairs hold both words
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


def residue(national: str, english: str, drop: frozenset | set = frozenset()) -> tuple[list[str], list[str]]:
    """The words of two names that are no cognate of a word of the other (cognates.alike), `drop` left out."""
    fw = [w for w in dict.fromkeys(national.split()) if w not in drop]
    ew = [w for w in dict.fromkeys(english.split()) if w not in drop]
    return ([w for w in fw if not any(cognates.alike(w, v) for v in ew)],
            [v for v in ew if not any(cognates.alike(w, v) for w in fw)])  # fmt: skip


def learn(pairs: Iterable[tuple[str, str, str]], min_prob: float = MIN_PROB, min_records: int = MIN_RECORDS,
          iterations: int = ITERATIONS) -> list[tuple[str, str, float, int]]:
    """IBM model 1 over the words two names of one record do not share: rows (national, english, t(english |
    national), ROR records with both words), sorted."""
    from .resolve import STOP

    data, records = [], defaultdict(set)
    pairs = list(pairs)
    # a word ROR's English names use as often as its other names is an English word (norm_name writes many
    # national words in English: 'akademie' -> 'academy'), not a national one
    in_english, in_national = Counter(), Counter()
    for _rid, national, english in pairs:
        in_english.update(set(english.split()))
        in_national.update(set(national.split()))
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


def write(rows: list[tuple[str, str, float, int]], path: Path = TABLE) -> None:
    buf = io.StringIO()
    buf.write(PROVENANCE + "\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["national", "english", "probability", "records"])
    w.writerows(rows)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")


@lru_cache(maxsize=4)
def load(path: Path = TABLE) -> dict[str, dict[str, float]]:
    """national word -> {English word: t(english | national)} (the learned table)."""
    if not Path(path).exists():
        return {}
    out: dict[str, dict] = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(ln for ln in f if not ln.startswith("#")):
            out[row["national"]][row["english"]] = float(row["probability"])
    return dict(out)
