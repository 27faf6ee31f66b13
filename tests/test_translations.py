"""The word translation table learned from ROR and CORDIS's own bilingual names (baltetl.translations) and the
rule that uses it (resolve rule `name_translated`, cognates.Cover.translated)."""

import io
import json
import tarfile

import pytest

from baltetl import cognates, resolve, regions, translations
from helpers.common import SHARED

# a small hand table for the matcher's tests (the learned one may change when ROR does)
TABLE = {"saatio": {"foundation": 0.86}, "fundacion": {"foundation": 0.8}, "verband": {"association": 0.79},
         "hochschule": {"university": 0.45, "applied": 0.32}, "angewandte": {"applied": 0.99},
         "wissenschaften": {"science": 0.7}, "agentur": {"agency": 0.87}}  # fmt: skip


def _record(rid, english, *others):
    names = [{"value": english, "types": ["label"], "lang": "en"}]
    names += [{"value": v, "types": ["label"], "lang": lang} for v, lang in others]
    return {"ror_id": f"https://ror.org/{rid}", "country_code": "FI", "names": names}


def test_learner_aligns_the_words_two_names_do_not_share(tmp_path):
    cut = tmp_path / "ror.jsonl"
    recs = [_record("a1", "Jane and Aatos Erkko Foundation", ("Jane ja Aatos Erkon säätiö", "fi")),
            _record("a2", "Sigrid Jusélius Foundation", ("Sigrid Juséliuksen säätiö", "fi")),
            _record("a3", "Foundation for Economic Education", ("Liikesivistysrahasto säätiö", "fi")),
            _record("a4", "Finnish Cultural Fund", ("Suomen Kulttuurirahasto", "fi")),
            # an acronym is no name to align; a name in English only gives no pair
            _record("a5", "Tampere University", ("TAU", "fi")),
            _record("a6", "Finnish Academy of Fine Arts", ("Kuvataideakatemia", "fi")),
            _record("a7", "Theatre Academy", ("Academy Teatterikorkeakoulu", "fi"))]  # fmt: skip
    recs[4]["names"][1]["types"] = ["acronym"]
    cut.write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    pairs = translations.ror_pairs(cut)
    assert {rid[-2:] for rid, _f, _e in pairs} == {"a1", "a2", "a3", "a4", "a6", "a7"}
    rows = {(f, e): (p, n) for f, e, p, n in translations.learn(pairs)}
    # 'saatio' stands against 'foundation' in three records: learned, with its count of records
    assert rows[("saatio", "foundation")][1] == 3 and rows[("saatio", "foundation")][0] >= translations.MIN_PROB
    # words the names share or write as cognates are not aligned ('erkon' / 'erkko', 'sigrid')
    assert not any(f in ("erkon", "sigrid", "aatos", "juseliuksen") for f, _e in rows)
    # a pair of one record only is no evidence (MIN_RECORDS)
    assert ("kulttuurirahasto", "cultural") not in rows and ("kuvataideakatemia", "fine") not in rows
    # a word ROR's English names use as often is English, not a national word ('academy')
    assert not any(f == "academy" for f, _e in rows)


def _project(*orgs: tuple[str, str, str]) -> bytes:
    body = "".join(f'<organization type="participant"><id>{i}</id><legalName>{legal}</legalName>'
                   f"<shortName>{short}</shortName><address><city>X</city></address></organization>"
                   for i, legal, short in orgs)  # fmt: skip
    return f"<project><relations><associations>{body}</associations></relations></project>".encode()


def test_cordis_legal_and_short_names_count_when_they_are_one_name_in_two_languages(tmp_path):
    tar = tmp_path / "cordis.tar.xz"
    with tarfile.open(tar, "w:xz") as tf:
        for n, data in enumerate([_project(("1", "VALSTYBINE MAISTO IR VETERINARIJOS TARNYBA",
                                            "STATE FOOD AND VETERINARY SERVICE"),
                                           ("2", "POLITECHNIKA CZESTOCHOWSKA", "PCz")),
                                  _project(("3", "THERACELL LABORATORIES PRIVATE EQUITY COMPANY",
                                            "THERACELL LABORATORIES"),
                                           ("4", "PROMOCIONES MEDIOAMBIENTALES VILLAFRANQUESA SL", "LA HORMIGA VERDE"),
                                           ("5", "AGENCIA ESTATAL CONSEJO SUPERIOR DE INVESTIGACIONES CIENTIFICAS",
                                            "Consejo Superior de Investigaciones Cient&#237;ficas"))]):  # fmt: skip
            info = tarfile.TarInfo(f"data/{n}.xml")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    raw = translations.cordis_pairs(tar)
    assert ("cordis:5", "AGENCIA ESTATAL CONSEJO SUPERIOR DE INVESTIGACIONES CIENTIFICAS",
            "Consejo Superior de Investigaciones Científicas") in raw and len(raw) == 5  # fmt: skip
    english = frozenset({"state", "food", "service", "veterinary", "laboratories", "company"})
    # kept: the English name has its words in English; left out: an acronym, an abbreviation (the short name's
    # words are the legal name's), a brand (no English word), one name in one language
    assert translations.bilingual(raw, english) == [("cordis:1", "valstybine maisto veterinarijos tarnyba",
                                                     "state food veterinary service")]  # fmt: skip


def test_shipped_table_is_what_the_learner_makes_of_the_shared_data():
    if not all((SHARED / name).exists() for name in translations.SOURCES):
        pytest.skip(f"no {SHARED} with {', '.join(translations.SOURCES)}")
    text = translations.TABLE.read_text(encoding="utf-8")
    head = translations.PROVENANCE.splitlines()
    assert text.splitlines()[: len(head)] == head and "CC0" in head[0] and "CC BY 4.0" in head[1]
    rows = translations.learn(translations.pairs(SHARED))
    shipped = [ln.split(",") for ln in text.splitlines()[len(head) + 1:]]
    assert [(f, e, float(p), int(n)) for f, e, p, n in shipped] == rows
    table = translations.load()
    assert table["stiftelsen"].keys() >= {"foundation"} and table["laitos"].keys() >= {"institute"}
    # a public body's word that ROR lacks, learned from CORDIS's names
    assert table["tarnyba"].keys() >= {"service"}


def test_cover_by_translation_needs_every_word_of_both_names():
    cover = cognates.Cover.of([])
    assert cover.translated("fundacion biodiversidad", "biodiversity foundation", TABLE) == (True, 2)
    # 'hochschule' is 'university' only for 0.45 of its probability: 'university' alone is not it (the
    # Hochschule Karlsruhe is not the University of Karlsruhe), 'university ... applied' is
    assert not cover.translated("hochschule karlsruhe", "university karlsruhe", TABLE, {"karlsruhe"})[0]
    assert cover.translated("hochschule angewandte wissenschaften kempten", "university applied science kempten",
                            TABLE, {"kempten"})[0]  # fmt: skip
    # a compound word by its parts: 'regional|verband'
    assert cover.translated("regionalverband ruhr", "ruhr regional association", TABLE)[0]
    # a word of its own on either side: another body
    assert not cover.translated("fundacion biodiversidad", "biodiversity research foundation", TABLE)[0]
    assert not cover.translated("fundacion biodiversidad marina", "biodiversity foundation", TABLE)[0]
    # cognates only (no word by the table) is not this rule's evidence; nor equal names
    assert not cover.translated("ruhr regional", "ruhr regionalverband", {})[0]
    assert not cover.translated("a b", "a b", TABLE)[0]


def _rec(key, source, name, city="Essen", country="DE", ror=None):
    r = resolve.Rec(key, source, name, country, city)
    r.ror = ror
    return r


def _apart(*recs) -> bool:
    return len(set(resolve.cluster(list(recs))[0].values())) == len(recs)


def test_translated_names_of_one_city_join_with_their_reason(monkeypatch):
    monkeypatch.setattr(translations, "load", lambda path=None: TABLE)
    a = _rec("cordis:1", "cordis", "REGIONALVERBAND RUHR")
    b = _rec("keep:1", "keep", "Ruhr Regional Association")
    assert not resolve.decide(a, b)[0]  # the names alone are not alike
    roots, best = resolve.cluster([a, b])
    assert roots["cordis:1"] == roots["keep:1"] and best["keep:1"] == ("name_translated", 0.85)
    # in another city, or in another country, no join
    assert _apart(a, _rec("keep:2", "keep", "Ruhr Regional Association", city="Bochum"))
    assert _apart(a, _rec("keep:3", "keep", "Ruhr Regional Association", country="NL"))
    # never two ROR ids
    assert _apart(_rec("cordis:1", "cordis", "REGIONALVERBAND RUHR", ror="https://ror.org/x1"),
                  _rec("keep:1", "keep", "Ruhr Regional Association", ror="https://ror.org/x2"))  # fmt: skip
    # a country's word is evidence, as the city's is not: the national agency is not the city's
    assert _apart(_rec("cordis:2", "cordis", "DEUTSCHE ENERGIE-AGENTUR GMBH", city="Berlin"),
                  _rec("keep:4", "keep", "Berlin Energy Agency", city="Berlin"))  # fmt: skip
    # two universities of one city: a Hochschule is not the university
    assert _apart(_rec("cordis:3", "cordis", "HOCHSCHULE KARLSRUHE", city="Karlsruhe"),
                  _rec("keep:5", "keep", "University of Karlsruhe", city="Karlsruhe"))  # fmt: skip
    # a city and its company: the city administration is its place, not a name to translate
    assert _apart(_rec("keep:6", "keep", "Stadt Essen"), _rec("keep:7", "keep", "Essen Agency"))


def _shipped(path, provenance: str) -> list[list[str]]:
    """The rows of a shipped reference table, once its first lines are checked to be `provenance`."""
    if not (SHARED / translations.ROR_CUT).exists():
        pytest.skip(f"no {SHARED / translations.ROR_CUT}")
    lines = path.read_text(encoding="utf-8").splitlines()
    head = provenance.splitlines()
    assert lines[: len(head)] == head
    return [ln.split(",") for ln in lines[len(head) + 1:]]


def test_region_names_are_what_the_learner_makes_of_ror_and_nuts():
    shipped = _shipped(regions.TABLE, regions.PROVENANCE)
    assert [(f, e, float(p), int(n)) for f, e, p, n in shipped] == regions.learn(SHARED)
    table = translations.load()
    # a region's own name and its adjective, in English; a region named alike in English is no row (a cognate)
    assert table["niedersachsen"] == table["niedersachsisches"] == {"lower": 0.5, "saxony": 0.5}
    assert table["midtjylland"] == {"central": 0.5, "jutland": 0.5} and "hessen" not in table
    cover = cognates.Cover.of([])
    assert cover.translated("landwirtschaftskammer niedersachsen", "chamber agriculture lower saxony", table)[0]
    assert not cover.translated("landwirtschaftskammer niedersachsen", "chamber agriculture bavaria", table)[0]


def test_town_names_are_what_the_learner_makes_of_ror_and_the_lau_table():
    shipped = _shipped(regions.CITIES, regions.TOWN_PROVENANCE)
    assert [(e, o, int(n)) for e, o, n in shipped] == regions.learn_towns(SHARED)
    assert regions.load_towns()["munich"] == "munchen" and resolve.EXONYMS["antwerp"] == "antwerpen"
