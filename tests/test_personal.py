"""Organisation records named after a person (baltetl.personal): read from the name, never published.

The names here are made up (personal data stays out of the repository); the labelled real records are in
tests/fixtures/personal/labelled.csv by their source ids only."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from baltetl import personal
from baltetl.resolve import Rec

ROOT = Path(__file__).resolve().parents[1]
LABELLED = Path(__file__).parent / "fixtures" / "personal" / "labelled.csv"

# how often words occur in organisation names (personal.word_counts of Rec.norm): kinds of organisation and a
# first name that names many municipalities are frequent, made-up surnames are not
COUNTS = Counter({"institute": 900, "foundation": 700, "consulting": 300, "dimos": 200, "marta": 2, "anna": 5,
                  "berzkalne": 1, "ozolkalne": 0, "kowalczyn": 1, "dijkstrom": 0, "eriksdotter": 1, "group": 400})


def test_a_person_s_name_in_either_order_is_read_as_one():
    for name in ("Marta Berzkalne", "BERZKALNE MARTA", "Anna Marta Ozolkalne", "KOWALCZYN ANNA M.",
                 "Sandra van Dijkstrom", "VAN DIJKSTROM SANDRA", "Ingrid Eriksdotter-Berzkalne",
                 "GARCIA BERZKALNE MARTA"):  # two surnames, one of them a family name of Faker's
        assert personal.is_person(name, COUNTS), name


def test_organisations_named_after_people_or_places_are_not_persons():
    for name in (
        "Marta Berzkalne Institute",      # a kind of organisation among the words (frequent in names)
        "Robert Koch-Institut",           # ... as part of a compound
        "Anna Berzkalne GmbH",            # a legal form
        "BERZKALNE MARTA SIA",            # ... of the region
        "CLARIN ERIC",                    # the EU's research consortium form
        "Dimos Ozolkalne",                # a given name that names many organisations ('Dimos' = municipality)
        "Marta Berzkalne ressurssenter",  # a word in small letters in a name written with capitals
        "Berzkalne Consulting",           # no given name
        "Marta 2000",                     # not letters
        "Marta",                          # one word
        "Berzkalne Ozolkalne Marta",      # two surname words, neither a family name Faker knows
        "Anna Marta Berzkalne Ozolkalne Kowalczyn",  # five words
    ):
        assert not personal.is_person(name, COUNTS), name
    assert not personal.is_person("Marta Berzkalne", COUNTS, municipal=True)


def test_the_lists_come_from_the_libraries():
    given, legal = personal.given_names(), personal.legal_words()
    assert {"anna", "marta", "janis", "ingrid", "lukas"} <= given
    assert not {"md", "sdh"} & given  # transliterations from other scripts are left out
    assert {"gmbh", "ky", "ad", "sas", "sia", "uab", "ry", "is"} <= legal


def test_the_name_files_are_what_faker_gives():
    """reference/given_names.txt and family_names.txt are scripts/make_given_names.py's output for the Faker
    version they name."""
    import importlib.util
    import re

    import faker

    spec = importlib.util.spec_from_file_location("make_given_names", ROOT / "scripts" / "make_given_names.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    shipped = personal.GIVEN_NAMES.read_text(encoding="utf-8")
    version = re.match(r"# first names of Faker (\S+)'s", shipped).group(1)
    if version != faker.VERSION:
        pytest.skip(f"the file was made with Faker {version}, {faker.VERSION} is installed: remake it with scripts/make_given_names.py")
    assert make.text(make.FIRST) == shipped
    assert make.text(make.LAST) == personal.FAMILY_NAMES.read_text(encoding="utf-8")


def test_person_named_reads_records():
    recs = [Rec("cordis:1", "cordis", "BERZKALNE MARTA", "LV", "Riga"),
            Rec("keep:2", "keep", "Marta Berzkalne", "LV", "Riga", org_type="municipality"),
            Rec("cordis:3", "cordis", "RIGAS DOME", "LV", "Riga"),
            Rec("cordis:4", "cordis", "Anna Ozolkalne", "LV", "Riga")]
    counts = personal.word_counts(r.norm for r in recs) + COUNTS
    assert personal.person_named(recs, counts) == {"cordis:1", "cordis:4"}


def test_a_withheld_name_gives_way_to_another_record_s_or_the_short_name():
    con = duckdb.connect()
    con.execute("""CREATE TABLE golden_organisations (golden_id VARCHAR, name VARCHAR, short_name VARCHAR,
                   website VARCHAR, name_withheld BOOLEAN DEFAULT false)""")
    con.execute("""INSERT INTO golden_organisations (golden_id, name, short_name, website) VALUES
        ('g1', 'Marta Berzkalne', 'Region Testland', NULL),
        ('g2', 'BERZKALNE MARTA', 'GREEN ROOFS CONSULTING', 'https://berzkalne.example'),
        ('g3', 'KOWALCZYN ANNA', 'KOWALCZYN CONSULTING', 'https://green.example'),
        ('g4', 'OZOLKALNE ANNA', 'ANNA OZOLKALNE', NULL),
        ('g5', 'Region Testland', NULL, NULL)""")
    recs = {"a": Rec("a", "cordis", "Marta Berzkalne", "LV", "Riga", short_name="Region Testland"),
            "b": Rec("b", "keep", "Region Testland", "LV", "Riga"),
            "c": Rec("c", "cordis", "BERZKALNE MARTA", "LV", "Riga", short_name="GREEN ROOFS CONSULTING"),
            "d": Rec("d", "cordis", "KOWALCZYN ANNA", "PL", "Gdansk", short_name="KOWALCZYN CONSULTING"),
            "e": Rec("e", "cordis", "OZOLKALNE ANNA", "LV", "Riga", short_name="ANNA OZOLKALNE"),
            "f": Rec("f", "keep", "Region Testland", "LV", "Riga")}
    members = {"g1": ["a", "b"], "g2": ["c"], "g3": ["d"], "g4": ["e"], "g5": ["f"]}
    assert personal.withhold_names(con, members, {"a", "c", "d", "e"}, recs, COUNTS) == 4
    rows = {r[0]: r[1:] for r in con.execute("SELECT * FROM golden_organisations ORDER BY 1").fetchall()}
    assert rows["g1"] == ("Region Testland", "Region Testland", None, False)  # the other record's name
    assert rows["g2"] == ("GREEN ROOFS CONSULTING", None, None, True)  # the short name; the website held her name
    assert rows["g3"] == (personal.PLACEHOLDER, None, "https://green.example", True)  # the short name holds his
    assert rows["g4"] == (personal.PLACEHOLDER, None, None, True)  # the short name is the person's name
    assert rows["g5"] == ("Region Testland", None, None, False)  # untouched


def test_the_labelled_records_are_named_by_their_ids_only():
    """The labelled set holds no names (they are personal data): the evaluation looks the records up in a
    built warehouse (scripts/eval_person_names.py)."""
    with open(LABELLED, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["source", "source_id", "round", "stratum", "split", "label"]
    assert len(rows) == 600 and {(r["round"], r["split"]) for r in rows} == {(x, y) for x in "12" for y in ("dev", "holdout")}
    assert len({(r["source"], r["source_id"]) for r in rows}) == 600  # round 2 left round 1's records out
    assert sum(r["label"] == "1" for r in rows) >= 40
