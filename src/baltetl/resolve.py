"""Cross-source resolution: one golden organisation per real organisation, with every source record behind it.

    resolve.run(con, cfg, state, revs, run_id)

reads every row of `organisations` (one per source record) and makes

    golden_organisations   one row per resolved organisation (golden_id stable across runs)
    organisation_sources   org_key -> golden_id, with the rule that attached the record and its score
    golden_id_history      'new' | 'merged_into' | 'split_from' events, of every run so far

How records are joined (edges of a union-find, strongest first):

1. revisions   `revs.merges` (org_keys or golden ids) join, whatever the matcher says; `revs.keep_apart`
               forbids a join: no edge of any kind may put both sides in one cluster.
2. keys        CORDIS organisationID (`cordis_id`: a record of another source naming a CORDIS PIC), VAT number
               (`vat`, normalised, placeholders dropped), Wikidata id (`wikidata`), website registrable domain
               (`domain`).  CORDIS id, VAT and Wikidata may join records of different countries; a domain only
               joins records of one country (airbus.com is the site of Airbus Operations GmbH *and* Airbus
               Operations Ltd: a group's national companies are separate organisations), and never two
               records with different VAT numbers (nor do names).  A domain is a key only when it is
               not a generic host (social media, programme and EU sites) and, inside every source, all records
               carrying it have similar names: keep.eu's "website" is usually the project's or programme's
               site, shared by partners with different names, and is then ignored.
3. names       only inside one country (blocking; so no cross-country cluster without a key), see `decide`.
               The country is the record's matching country: the source's, unless the record's own address
               is another country's or its territory belongs to a Nordic state (`country_evidence`; the
               stated country and the evidence stay in organisation_sources).

The pairwise decision `decide(a, b)` is the one `baltetl eval-matching` scores.

Scorer and threshold.  Names are first normalised (`norm_name`): anyascii transliteration, case and
punctuation folded, legal forms stripped (cleanco's suffix table + prefixes SIA/UAB/AS/OÜ/AB ...),
words of the region's languages for kinds of organisation, countries and points of the compass written
in English (Nordic compounds split first: 'Syddansk' -> 'south denmark'), stop words dropped.  Municipalities
("City of Riga", "Riga City Council", "Rīgas dome", "Helsingin kaupunki", "Oslo kommune", a Eurocities or
network record of type city) are reduced to their place and compared by place (genitive endings and a few
exonyms folded); so is a department named after its municipality's legal name ('Riga City Council Traffic
Department', 'Tanums kommun Miljöavdelningen', `municipal_units`) where the place is its own city or one of
its country's municipalities in the LAU table.  Otherwise equal normalised names match (`name_exact`); a name that is the other's
with the city both records are in put before or after it matches; a sub-unit written
"<organisation>, <department>" / "<organisation> / <unit>" matches its organisation by its head; else the
score is rapidfuzz `fuzz.token_sort_ratio` on the normalised names (the better of: as written, and
without an acronym written before or after the name).  token_sort_ratio is order-insensitive
("Tartu University" / "University of Tartu") but, unlike token_set_ratio or WRatio, does not reward one name
being contained in the other, which is exactly the failure that matters here ("University of Helsinki" is
contained in "Helsinki University of Technology"; "Tallinn University" in "Tallinn University of
Technology").  The threshold, 92 (97 when both records give different cities), was chosen on the
development half of tests/fixtures/matching/pairs.csv: at 92 one-character spelling variants and dropped
words in long names pass, while sibling organisations in one city (about 75-88) do not.  Names shorter
than 4 characters only match exactly.

Registry and address evidence (issue 14).  A record whose name (or its head, or without its acronym) is a
label or alias of exactly one ROR record of its country carries that ROR id (`link_ror`; never on an acronym
alone): one ROR id joins (rule `ror`), two different ROR ids refuse any guarded join, as two VAT numbers do.
`matching.link_more` links more records (by word set, the record's own website, a near name in the registry's
city) and gives each linked record the registry's names in every language (`Rec.alt`), which `address_match`
compares too.
Records of different sources at one street address (postcode + street + number, `address_key`) whose names
are alike once the city's name is set aside (token_set_ratio >= 72) join by rule `address`, each with at most
one other (no chains through a science park).  Municipalities in every legal form resolve to their place;
a district municipality is '<place> district'; a public body a source names by its own town is that town.
One name in two languages (`cognates`): at an address no source gives to another body, names that cover each
other's words as cognates join (rule `address_cognate`); in one city, names whose every word is close to one
of the other join (rule `name_cognate`).  A word table learned from ROR's English and national names and
CORDIS's legal and short names (`translations`, reference/translations.csv) adds translations that are no
cognates: in one city or at one street address, names whose every word is a cognate or a translation of a
word of the other join (rule `name_translated`: 'FUNDACION BIODIVERSIDAD' / 'Biodiversity Foundation',
'Regionalverband Ruhr' / 'Ruhr Regional Association'); at one street address, records of two sources whose
names are so but for one word of the two join too (rule `address_translated`: 'ERFTVERBAND' / 'Erft River
Association'; not one word of each: 'Slovensko geološko društvo' is not the 'Geological Survey of Slovenia').
A source's own short name (CORDIS's shortName, often the English name: 'LANDESAMT FUR UMWELT BRANDENBURG' /
'STATE OFFICE FOR ENVIRONMENT BRANDENBURG') is a name of its record: equal to another record's name in one city
(rule `short_name`), or at one street address when one name's words are all the other's (or, an acronym, the
other's registry acronym).  An acronym among a name's words is the words it stands for, in one city (rule
`name_acronym`: 'Latvian IT Cluster' / 'Latvia Information Technologies Cluster').  No address or cognate join
for a company named after the body at its address ('KINDERBURO UNIVERSITAT WIEN GMBH' / 'Universität Wien':
a company form on one side only, and a word of its own before the other's name), for a name listing bodies
('Universities of Glasgow & Strathclyde'), or for a registry acronym inside a longer name ('..., HPA').

Splink, measured (bench/splink_compare.py, full real data, same evidence as comparisons, m/u by EM and
random sampling, term frequencies on names): dev precision 0.81 at recall 0.93, 0.97 at 0.47; no
threshold reaches 0.98 on dev, where these rules give 0.987 / 0.789.  So the rules stay.

Why not splink: it learns m/u probabilities by EM over comparison levels, which pays off with several
independent, noisy fields (dates of birth, addresses).  Here there is essentially one field (the name),
the address is sparse and inconsistent across sources (keep.eu campuses, CORDIS genitive city names), the
keys are exact, and the decision must be explainable per pair and stable run to run; splink would also add
a heavy dependency (and its own DuckDB/Spark backends) to the nightly run.  A transparent rule + one
rapidfuzz score does the same job here in well under the time budget.

Stable ids: a registry (org_key -> golden_id) in `state.root / "resolution" / "registry.parquet"`, written
atomically and made current only once the build that wrote it is swapped in (`commit`).  A cluster keeps the id most of its members had; when members of two old ids meet, the larger
keeps its id and the other is recorded 'merged_into'; when an old cluster splits, the larger part keeps the
id and each other part gets a new id recorded 'split_from'; brand-new ids are 'org_' + the first 12 hex of
sha1(smallest org_key).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import time
from collections import Counter, defaultdict, namedtuple
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, combinations
from operator import attrgetter
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import numpy as np
import pandas as pd
from anyascii import anyascii
from cleanco import prepare_default_terms
from cleanco.clean import normalized as _cleanco_normalized
from cleanco.clean import strip_punct as _strip_punct
from cleanco.clean import tail_removal_rexp as _TAIL
from rapidfuzz import fuzz, process

from . import cognates, db, models, normalise, personal, regions
from .declaration import declared, registry_table
from .faults import point
from .normalise import norm_place, norm_postcode
from .state import write_parquet

THRESHOLD = 92.0  # token_sort_ratio on normalised names, same or unknown city
THRESHOLD_OTHER_CITY = 97.0  # both records give a city and the cities differ
MIN_LEN = 4  # shorter normalised names match only exactly
RULE_RANK = {"revision_merge": 0, "cordis_id": 1, "vat": 2, "wikidata": 3, "ror": 4, "domain": 5, "name_exact": 6,
             "name_fuzzy": 7, "short_name": 8, "address": 9, "address_cognate": 10, "name_cognate": 11,
             "name_acronym": 12, "name_translated": 13, "address_translated": 14, "single": 15}  # fmt: skip
# the rules that never join two clusters whose VAT numbers, or ROR ids, all differ (_UF.union's guard)
GUARDED = frozenset({"ror", "domain", "name_exact", "name_fuzzy", "address", "address_cognate", "name_cognate",
                     "name_acronym", "short_name", "name_translated", "address_translated"})  # fmt: skip
ADDRESS_THRESHOLD = 72.0  # token_set_ratio of the normalised names of two records at one street address
SIDE_WORDS = {"north", "south", "east", "west", "nord", "syd", "sud", "ost", "vest", "vast", "mid", "mitt", "central",
              "upper", "lower", "ober", "unter", "nieder", "inner", "outer"}  # fmt: skip
ADDRESS_MAX_RECORDS = 6  # more records at one address (a science park, an office building): no address joins


def declared_with(flag: str) -> set[str]:
    """The sources whose declaration (source.toml [resolution]) sets `flag`."""
    return {n for n, d in declared().items() if getattr(d.resolution, flag)}


def source_rank() -> dict[str, int]:
    """source -> its declared resolution rank: a golden record takes names and fields from the lowest first."""
    return {n: d.resolution.rank for n, d in declared().items() if d.resolution.rank is not None}

# legal forms written before the name in the region (cleanco handles suffixes)
LEGAL_PREFIXES = ("sia", "uab", "as", "ou", "ab", "aps", "oy", "oyj", "sp z oo", "spolka z oo", "ooo", "zao", "oao",
                  "pao", "ao", "gmbh", "ev", "vsi", "mb", "ai", "ps", "sa", "bv", "nv", "ltd", "ks", "tuu", "mtu",
                  "tu", "sihtasutus", "sa", "fonds", "stiftelsen")  # fmt: skip
# ... and written out, as CORDIS gives legal names ('VIESOJI ISTAIGA ...', 'AKCINE BENDROVE ...', 'MITTETULUNDUSUHING
# ...') and keep.eu translates them ('Public institution ...', 'State Enterprise ...')
LEGAL_PREFIXES += ("viesoji istaiga", "public institution", "state enterprise", "akcine bendrove", "uzdaroji akcine bendrove",
                   "mittetulundusuhing", "aktsiaselts", "osauhing", "sabiedriba ar ierobezotu atbildibu",
                   "akciju sabiedriba", "valsts sabiedriba ar ierobezotu atbildibu", "biedriba")  # fmt: skip
LEGAL_PREFIXES = tuple(sorted(set(LEGAL_PREFIXES) - {"stiftelsen", "fonds", "sihtasutus"}, key=len, reverse=True))
STOP = {"of", "the", "and", "for", "fur", "und", "der", "die", "das", "de", "du", "des", "la", "le", "i", "och",
        "og", "ja", "zu", "in", "im", "am", "a", "an", "&", "on", "at", "w", "z", "ir", "un",
        # of, the, and, in in the other languages of keep.eu's and CORDIS's names ('Universitatea din Craiova')
        "di", "da", "do", "dos", "del", "della", "delle", "dei", "degli", "dello", "din", "van", "von", "het", "el", "los",
        "las", "na", "pri", "ve"}  # fmt: skip
UNIVERSITY = {"universitet", "universitat", "universitaet", "uniwersytet", "universiteit", "universite",
              "universita", "universidad", "universidade", "universitetas", "universitate", "universiti",
              "universitaets", "universitets", "univ", "uni", "univerzita", "univerzity", "univerza", "univerzitet",
              "univerziteta"}  # fmt: skip
# municipality words: "<place> <word>" or "<word> <place>"
# the region's words for kinds of organisation, folded to one English form (after anyascii)
LEXICON = {"yliopisto": "university", "ulikool": "university", "universitate": "university",
           "universitatea": "university", "universitete": "university", "uniwersytetu": "university",
           "tehnikaulikool": "technical university", "politechnika": "technical university",
           "technology": "technical", "technologijos": "technical", "tekniska": "technical",
           "teknillinen": "technical", "technische": "technical", "technischen": "technical",
           "tehniska": "technical", "techniczna": "technical", "technicka": "technical",
           "technical": "technical", "tekniske": "technical", "teknologiske": "technical",
           "kungliga": "royal", "akademia": "academy", "akademie": "academy", "akadeemia": "academy",
           "akademija": "academy", "akademi": "academy", "instituut": "institute", "institut": "institute",
           "institutt": "institute", "instituutti": "institute", "institutas": "institute",
           "instytut": "institute", "institutet": "institute", "sciences": "science",
           "ammattikorkeakoulu": "university applied science", "hogskola": "university",
           "hogskolan": "university", "universitetet": "university",
           # a Finnish foundation university's legal name is '<name> korkeakoulusaatio sr' ('Aalto University')
           "korkeakoulusaatio": "university",
           # Estonian 'maaulikool' is the country's university of life sciences (agricultural university)
           "maaulikool": "university life science",
           "environmental": "environment", "miljo": "environment", "miljoe": "environment",
           "sveikatos": "health", "sveikata": "health", "mokslu": "science", "mokslo": "science",
           # Latvian: 'Rīgas plānošanas reģions' (Riga Planning Region), 'Rīgas brīvostas pārvalde' (Freeport of
           # Riga Authority), 'Latvijas IT klasteris'
           "planosanas": "planning", "regions": "region", "brivostas": "freeport", "brivosta": "freeport",
           "parvalde": "authority", "klasteris": "cluster", "instituts": "institute", "agentura": "agency"}  # fmt: skip
# a country written as a noun or an adjective, in English or its own language, is the country
COUNTRY_WORDS = {"finland": ("finnish", "suomen", "suomi", "suomalainen"),
                 "estonia": ("estonian", "eesti"),
                 "latvia": ("latvian", "latvijas", "latvija"),
                 "lithuania": ("lithuanian", "lietuvos", "lietuva"),
                 "sweden": ("swedish", "svenska", "svensk", "sveriges", "sverige"),
                 "denmark": ("danish", "dansk", "danske", "danmarks", "danmark"),
                 "norway": ("norwegian", "norsk", "norske", "norges", "norge"),
                 "poland": ("polish", "polska", "polski", "polskie", "polskiej"),
                 "germany": ("german", "deutsche", "deutsches", "deutscher", "deutschland")}  # fmt: skip
LEXICON.update({w: c for c, ws in COUNTRY_WORDS.items() for w in ws})
# points of the compass: 'Ita-Suomen yliopisto' is the University of Eastern Finland
COMPASS = {"eastern": "east", "ita": "east", "western": "west", "lansi": "west", "northern": "north",
           "pohjois": "north", "southern": "south", "etela": "south"}  # fmt: skip
LEXICON.update(COMPASS)
# compound words of the Nordic languages: 'Linneuniversitetet' (Linnaeus University), 'Syddansk' (South Danish)
COMPOUND_TAILS = tuple(sorted({"universitetet", "universitet", "institutet", "institut", "yliopisto", "ulikool",
                               "korkeakoulu", "hogskolan", "hogskola"}, key=len, reverse=True))  # fmt: skip
COMPOUND_HEADS = {"syd": "south", "nord": "north", "ost": "east", "vast": "west", "vest": "west", "mitt": "mid",
                  "miljo": "environment", "miljoe": "environment"}  # fmt: skip
_COMPOUND_HEADS = tuple(COMPOUND_HEADS)
# Finnish registered foundation / association, which cleanco lacks ('Aalto University Foundation sr')
LEGAL_SUFFIXES = ("foundation sr", "saatio sr", "sr", "ry", "rf", "rs",
                  # legal forms written out or in letters cleanco does not know ('SPOLKA AKCYJNA', 'd.o.o.', 's.r.o.')
                  "spolka z ograniczona odpowiedzialnoscia", "spolka akcyjna", "sp z o o", "d o o", "s r o", "v v i",
                  "o p s", "z s", "nonprofit kft", "kft", "zrt")  # fmt: skip
LEGAL_SUFFIXES = tuple(sorted(LEGAL_SUFFIXES, key=len, reverse=True))
MUNI_SUFFIX = ("city municipal administration", "city municipality administration", "city council", "city government", "city administration", "city municipality", "city hall",
               "municipality", "municipal council", "city", "kommun", "kommune", "stad", "kaupunki", "linn",
               "linnavalitsus", "dome", "pilsetas dome", "valstspilsetas pasvaldiba", "pilsetas pasvaldiba", "miesto savivaldybe", "miesto savivaldybes administracija",
               "savivaldybe", "savivaldybes administracija", "town council", "town", "municipality council",
               "municipality administration", "municipal administration", "municipal office", "city office",
               "novada pasvaldiba", "novada dome", "miasto na prawach powiatu", "regionskommune", "kaupunginhallitus",
               "stadtverwaltung", "kommunestyre", "kunta", "city municipal government administration",
               "municipal government administration", "city municipality government", "city municipal government", "municipality government",
               "municipal government", "municipal commune", "municipal administrative office")  # fmt: skip
# a district (rural) municipality named after its seat town is not the town: 'Vilniaus rajono savivaldybe' is
# 'Vilnius district', 'Vilniaus miesto savivaldybe' is Vilnius
DISTRICT_SUFFIX = ("rajono savivaldybes administracija", "rajono savivaldybe", "district municipality administration",
                   "district municipality", "rural municipality", "vallavalitsus", "vald",
                   "municipality district administration")  # fmt: skip
MUNI_PREFIX = ("free and hanseatic city of", "free hanseatic city of", "freie hansestadt", "kreisfreie stadt",
               "universitats und hansestadt", "magistrat der stadt", "municipalite de", "municipalite d", "comune di",
               "gemeente", "gemeentebestuur", "stadsbestuur", "stad", "kommun", "stadt der", "hanseatic city of", "city council of", "city of", "municipality of", "town of", "commune of", "miasto stoleczne",
               "miasto", "gmina miasta", "gmina miasto", "gmina miejska", "gmina wiejska", "gmina", "stadt", "hansestadt", "landeshauptstadt",
               "freie und hansestadt", "kommune", "urzad miasta", "urzad miejski w", "stolichnyi gorod", "gorod",
               "city municipality of", "regional municipality of", "city hall of", "city hall in", "city office of",
               "municipal commune", "community stadt", "magistrat", "urzad miasta i gminy w", "miasto i gmina",
               # other countries' legal forms of a town or commune (keep.eu names municipalities all over Europe)
               "statutarni mesto", "mestys", "mesto", "obec", "gemeinde", "ville de", "commune de", "ayuntamiento de",
               "concello de", "municipio de", "municipio do", "municipio da", "comune", "camara municipal de", "camara municipal do", "camara municipal da",
               "dimos", "grad", "opcina", "mestna obcina", "obcina", "primaria municipiului", "primaria orasului",
               "primaria comunei", "primaria", "municipiul", "orasul", "comuna",
               # found on the full data (session 15): two-word names of a network's city with a word of their own
               "ajuntament de", "ajuntament d", "ajuntament", "ayuntamiento", "mairie de", "mairie d", "obshtina", "bashkia",
               "municipality")  # fmt: skip
# words before a municipality's name that say nothing of it: 'The Municipality of Elk', 'Administration of
# Šilalė District Municipality', 'Municipality administration of Giżycko city'
MUNI_LEAD = ("the ", "municipality administration of ", "administration of the ", "administration of ")
MUNI_TYPES = {"city", "municipality", "town"}
# the same words as one str.startswith / str.endswith argument: one C call tells whether any applies at all
_LEGAL_PREFIXES_SP = tuple(p + " " for p in LEGAL_PREFIXES)
_LEGAL_SUFFIXES_SP = tuple(" " + s for s in LEGAL_SUFFIXES)
_MUNI_PREFIX_SP = tuple(p + " " for p in MUNI_PREFIX)
_MUNI_SUFFIX_SP = tuple(" " + s for s in MUNI_SUFFIX)
_DISTRICT_SUFFIX_SP = tuple(" " + s for s in DISTRICT_SUFFIX)
DISTRICT_WORDS = {"district", "region", "county", "rajono", "rajonas", "novads", "novada", "vald", "kreis", "landkreis", "powiat"}
EXONYMS = {"copenhagen": "kobenhavn", "kopenhagen": "kobenhavn", "warsaw": "warszawa", "warschau": "warszawa",
           "helsingin": "helsinki", "helsingfors": "helsinki", "turun": "turku", "abo": "turku",
           "st petersburg": "sankt peterburg", "saint petersburg": "sankt peterburg", "petersburg": "sankt peterburg",
           "gdansk": "gdansk", "danzig": "gdansk", "vilna": "vilnius", "reval": "tallinn", "rigas": "riga",
           "tallinna": "tallinn", "vilniaus": "vilnius", "kobenhavns": "kobenhavn", "stockholms": "stockholm",
           "goteborgs": "goteborg", "gothenburg": "goteborg", "malmo stad": "malmo", "oulun": "oulu",
           "espoon": "espoo", "vantaan": "vantaa", "tampereen": "tampere", "kauno": "kaunas", "kaunas": "kaunas"}  # fmt: skip

# and towns' English names learned from ROR and the LAU table ('munich' -> 'munchen', regions.learn_towns)
EXONYMS.update({k: v for k, v in regions.load_towns().items() if k not in EXONYMS})
GENERIC_HOSTS = {"facebook.com", "linkedin.com", "twitter.com", "x.com", "instagram.com", "youtube.com",
                 "google.com", "sites.google.com", "wordpress.com", "blogspot.com", "wix.com", "europa.eu",
                 "keep.eu", "interreg.eu", "interreg-baltic.eu", "baltic.net", "eu.baltic.net",
                 "southbaltic.eu", "centralbaltic.eu", "interreg-oks.eu", "interregeurope.eu", "bsr-interreg.eu",
                 "balticsea-region.eu", "cbss.org", "ubc.net", "eurocities.eu", "cordis.europa.eu",
                 "wikipedia.org", "github.io", "gov.uk", "tillvaxtverket.se", "etmun.eu"}  # fmt: skip
SEPARATORS = re.compile(r"\s*(?:,|;|/|\(|\s[-–—]\s|\s\|\s)\s*")
_NONWORD = re.compile(r"[^a-z0-9]+")
# an acronym written before or after the name: 'IMAR - Instituto do Mar', 'Instituto do Mar (IMAR)'
_ACRONYM = re.compile(r"^\s*[A-Z0-9][A-Za-z0-9.&]{1,7}\s+[-–—]\s+|\s*\(\s*[A-Za-z0-9.&-]{1,8}\s*\)\s*$")


# ---------------------------------------------------------------------------------------------------------
# normalisation


fold = lru_cache(maxsize=None)(normalise.fold)  # names repeat: each is folded once


_LEGAL_LAST = {_NONWORD.sub(" ", " ".join(t)).split()[-1] for _n, t in prepare_default_terms()
               if _NONWORD.sub(" ", " ".join(t)).split()}  # fmt: skip


_TERMS = prepare_default_terms()  # cleanco's legal forms, in the order cleanco tries them
_TERMS_BY_LAST: dict[str, list[int]] = defaultdict(list)
for _i, (_n, _t) in enumerate(_TERMS):
    _TERMS_BY_LAST[_t[-1]].append(_i)


def _strip_tail(name: str) -> str:
    """cleanco's strip_tail (trailing non-word characters but dots cut), its pattern searched directly."""
    m = _TAIL.search(name)
    return name[: m.start()] if m else name


def strip_legal_suffix(name: str) -> str:
    """cleanco's `basename` (suffixes only): the same terms tried in the same order, but only those ending
    in the name's current last word (cleanco compares every term with every name; 30k names cost seconds)."""
    name = _strip_tail(name)
    nparts = name.split()
    # cleanco's form of an ASCII name (norm_name's always is) is its lower case, made at once
    nnparts = [_strip_punct(w) for w in (name.lower() if name.isascii() else _cleanco_normalized(name)).split()]
    i = 0
    while nnparts:
        cands = _TERMS_BY_LAST.get(nnparts[-1], ())
        j = bisect.bisect_left(cands, i)
        if j == len(cands):
            break
        i = cands[j]
        size, parts = _TERMS[i]
        if nnparts[-size:] == parts:
            del nnparts[-size:]
            del nparts[-size:]
        i += 1
    return _strip_tail(" ".join(nparts))


@lru_cache(maxsize=None)
def norm_name(name: str) -> str:
    """The comparable form of an organisation name (legal forms, case, punctuation, stop words folded)."""
    ascii_name = anyascii(name or "")
    # cleanco strips trailing legal forms ("Posiva Oy", "X Sp. z o.o.", "Y A/S", "Z e.V."); it needs the
    # punctuation still in place (and is slow: called only when the last word can end a legal form)
    base = ascii_name
    for _ in range(2):  # 'X Company Ltd.': two legal words
        last = fold(base).split()[-1:]
        if not last or last[0] not in _LEGAL_LAST:
            break
        base = strip_legal_suffix(base) or base
    s = fold(base)
    changed = s.startswith(_LEGAL_PREFIXES_SP)
    while changed:
        changed = False
        for p in LEGAL_PREFIXES:
            if s.startswith(p + " ") and len(s) > len(p) + 3:
                s, changed = s[len(p) + 1:], True
                break
    for suf in LEGAL_SUFFIXES if s.endswith(_LEGAL_SUFFIXES_SP) else ():
        if s.endswith(" " + suf) and len(s.split()) > len(suf.split()) + 1:
            s = s[: -len(suf) - 1]
            break
    words = " ".join([_word(w) for w in s.split()]).split()
    kept = [w for w in words if w not in STOP]
    return " ".join(kept or words)


@lru_cache(maxsize=None)
def _word(w: str) -> str:
    """One folded word in English where the lexicon knows it (also written with oe/ae/ue); Nordic compounds
    split first."""
    if w not in LEXICON and w not in UNIVERSITY and (u := undigraph(w)) != w and (u in LEXICON or u in UNIVERSITY):
        w = u
    if w in UNIVERSITY:
        return "university"
    if w in LEXICON:
        return LEXICON[w]
    for tail in COMPOUND_TAILS if w.endswith(COMPOUND_TAILS) else ():
        if w.endswith(tail) and len(w) - len(tail) >= 3:
            return _word(w[: -len(tail)]) + " " + _word(tail)
    for head, eng in COMPOUND_HEADS.items() if w.startswith(_COMPOUND_HEADS) else ():
        if w.startswith(head) and w[len(head):] in LEXICON:
            return eng + " " + LEXICON[w[len(head):]]
    return w


def bare_name(name: str) -> str:
    """norm_name without an acronym before or after the name (compared when the names differ)."""
    return norm_name(_ACRONYM.sub("", anyascii(name or "")).strip() or name)


_CARE_OF = re.compile(r"(?i)\s+c/o\s+")
_NONDIGIT = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[^A-Z0-9]")
_DIGIT = re.compile(r"\d")
_THREE_LETTERS = re.compile(r"[a-z]{3}")
_NUMERIC_HOST = re.compile(r"[\d.]+")


def head_name(name: str) -> str | None:
    """'University of Helsinki, Faculty of Law' -> 'University of Helsinki' (None when there is no tail)."""
    parts = SEPARATORS.split(_CARE_OF.sub(", ", name or ""), maxsplit=1)
    if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0].strip()


def _place_canon(place: str, city_norm: str | None) -> str:
    """Canonical place; a final 's' is dropped everywhere (Swedish/Danish genitive: 'Söderhamns kommun' is
    Söderhamn's; 'Borås' becomes 'bora' on every side alike)."""
    p = _place_canon1(place, city_norm)
    return p[:-1] if p.endswith("s") and len(p) > 4 else p


def _place_canon1(place: str, city_norm: str | None) -> str:
    place = place.strip()
    if place in EXONYMS:
        return EXONYMS[place]
    city = fold(city_norm or "")
    city = EXONYMS.get(city, city)
    if city and place != city and len(os.path.commonprefix([place, city])) >= 3 and abs(len(place) - len(city)) <= 3:
        return city  # genitive / inflected form of the record's own city: 'turun' (Turku), 'rigas' (Riga)
    return place


def municipality_place(name: str, org_type: str | None, city_norm: str | None) -> str | None:
    """The place a municipality record stands for ('City of Riga (Riga City Council)' -> 'riga'), else None."""
    return _municipality_place(name, org_type, city_norm, head_name(name))


def _municipality_place(name: str, org_type: str | None, city_norm: str | None, head: str | None) -> str | None:
    """municipality_place, given the name's head_name (Rec has it already)."""
    full = fold(name)
    head = fold(head or "")
    ot = fold(org_type or "")
    city = fold(city_norm or "")
    forms = [full, head]
    for x in forms:  # grows: 'the administration of ...' loses both
        if x.startswith(MUNI_LEAD):
            forms += [x[len(lead):] for lead in MUNI_LEAD if x.startswith(lead) and len(x) > len(lead)]
    if city and any(x in (f"city {city}", f"town {city}") for x in forms):
        return _place_canon(city, city_norm)  # 'City Sejny' in Sejny
    parts = SEPARATORS.split(name or "", maxsplit=1)
    if head and len(parts) == 2 and fold(parts[1]) != full:
        # 'IASI - CITY HALL OF IASI', 'Kosice - City of Kosice': the town, then its administration
        tail = municipality_place(parts[1], None, city_norm)
        if tail and tail == _place_canon(head, city_norm):
            return tail
    for s in forms:
        if not s:
            continue
        for suf in DISTRICT_SUFFIX if s.endswith(_DISTRICT_SUFFIX_SP) else ():
            if s.endswith(" " + suf):
                rest = s[: -len(suf) - 1]
                if rest and len(rest.split()) <= 2:
                    return _place_canon(rest, city_norm) + " district"
        for p in MUNI_PREFIX if s.startswith(_MUNI_PREFIX_SP) else ():
            if s.startswith(p + " "):
                rest = s[len(p) + 1:]
                tail = rest[len(city) + 1:].split() if city and rest.startswith(city + " ") else []
                if tail and tail[0] in DISTRICT_WORDS:
                    return _place_canon(city, city_norm) + " district"  # 'municipality of kaunas district'
                if tail:
                    rest = city  # 'city of helsinki environment centre'
                if rest and len(rest.split()) <= 3:
                    return _place_canon(rest, city_norm)
        for suf in MUNI_SUFFIX if s.endswith(_MUNI_SUFFIX_SP) else ():
            if s.endswith(" " + suf):
                rest = s[: -len(suf) - 1]
                if rest and len(rest.split()) <= 2 and not rest.endswith(" city"):
                    return _place_canon(rest, city_norm)
    if ot in MUNI_TYPES and full and len(full.split()) <= 3 and not any(w in full.split() for w in ("region", "county", "university")):
        return _place_canon(full, city_norm)  # Eurocities / networks: the record *is* the city ('Helsinki')
    return None


# Where two municipalities of a country share one name in one NUTS3 region (the LAU table: a Polish town and the
# rural gmina around it, Sejny and gmina Sejny), a name with a word of the first set and none beginning as one of
# the second is the rural one ('Gmina Zamość', 'GMINA USTKA'), any other the town ('Gmina Miejska Zgorzelec',
# 'GMINA ŻARY O STATUSIE MIEJSKIM', 'Town of Zamość', a network's bare 'Ustka').  Country -> (rural words, town
# word beginnings).
RURAL_COMMUNE_WORDS = {"PL": (frozenset({"gmina", "gminy", "commune", "wiejska", "rural"}),
                              ("miast", "miejsk", "city", "town", "municipal", "urban"))}  # fmt: skip


def rural_communes(con: duckdb.DuckDBPyConnection, recs: list[Rec]) -> int:
    """Make a rural commune's record '<place> district' where its town shares its name (RURAL_COMMUNE_WORDS; the
    LAU table `lau_ref` says which places have two municipalities); returns how many records changed."""
    countries = [c for c in RURAL_COMMUNE_WORDS if any(r.place and r.country == c for r in recs)]
    if not countries or "lau_ref" not in db.tables(con):
        return 0
    twins = defaultdict(set)  # country -> places with two municipalities of their name in one NUTS3 region
    for country, name in con.execute(
        "SELECT country, lau_name FROM lau_ref WHERE country IN (SELECT unnest(?)) AND lau_name IS NOT NULL "
        "GROUP BY country, nuts3, lau_name HAVING count(*) = 2", [countries]).fetchall():  # fmt: skip
        twins[country].add(_place_canon(fold(name), None))
    changed = 0
    for r in recs:
        if r.place and r.place in twins.get(r.country, ()):
            rural, town = RURAL_COMMUNE_WORDS[r.country]
            words = fold(r.name).split()
            if rural.intersection(words) and not any(w.startswith(town) for w in words):
                r.place += " district"
                changed += 1
    return changed


# 'X City <unit>' may be a city's theatre or company: only the administrations' legal names are followed by a unit
_MUNI_SUFFIX_LONGEST = tuple(sorted(set(MUNI_SUFFIX) - {"city", "town"}, key=len, reverse=True))
_MUNI_INSIDE = re.compile(" (?:" + "|".join(map(re.escape, _MUNI_SUFFIX_LONGEST)) + ") ")
_MUNI_SUFFIX_WORDS = frozenset(_MUNI_SUFFIX_LONGEST)
# the offices of an administration, in the English names of 'X of <municipality>' (unit_place)
ADMIN_UNITS = {"department", "departament", "administration", "adminstration", "committee", "office", "authority",
               "council", "directorate", "division", "secretariat", "bureau"}  # fmt: skip
_LISTING = re.compile(r"(?<!-)\s(?:and|och|og|und|ja|un|ir|i|&)\s|\+")  # not 'Beskæftigelses- og Integrations...'
_UNIT_ACRONYM = re.compile(r"[A-Za-z\u00c0-\u024f]{2,6}")


def _admin_unit(folded: str) -> bool:
    """The folded words name an office of an administration (ADMIN_UNITS)."""
    return not ADMIN_UNITS.isdisjoint(re.findall(r"\w+", folded))


def unit_place(name: str, city: str | None) -> str | None:
    """The municipality a name says its body belongs to, or None: a municipality's legal name in its suffix
    form followed by the unit ('Riga City Council Traffic Department', 'Tanums kommun Miljöavdelningen'; the
    prefix form is municipality_place's), or an acronym before a municipality's name ('CoI - City of
    Ingolstadt').  Not for a company or a name listing bodies.  (A municipality named after another part of
    the name is often the body's host, not its parent: 'CWE Economic Development Corporation, City of
    Chemnitz', 'Union of the Baltic Cities ... /City of Turku'.)"""
    if not name or "+" in name:  # 'A + B': two bodies
        return None
    s = fold(name)
    parts = SEPARATORS.split(_CARE_OF.sub(", ", name)) if SEPARATORS.search(name) else [name]
    acronym = len(parts) == 2 and _UNIT_ACRONYM.fullmatch(parts[0].strip()) and sum(c.isupper() for c in parts[0]) >= 2
    if not acronym and not _MUNI_INSIDE.search(s + " "):
        return None  # (most names: no legal form of a municipality inside them)
    if company(name):
        return None
    if acronym:
        return None if _LISTING.search(name.lower()) else municipality_place(parts[1], None, city)
    if len(parts) == 2 and _admin_unit(fold(parts[0])):
        # an office of the administration, then the municipality: 'Environment Department, Tallinn City Government'
        if p := municipality_place(parts[1], None, city):
            return p
    for suf in _MUNI_SUFFIX_LONGEST:
        i = s.find(f" {suf} ")
        if i <= 0:
            continue
        rest, tail = s[:i], s[i + len(suf) + 2:].split()
        # bodies listed: a conjunction right after the legal form, or a second municipality ('Bornholms
        # Regionskommune, Simrishamn Kommun'); a conjunction inside the unit's name is the unit's ('Riga City
        # Council Education, Culture and Sports Department')
        listing = tail and (_LISTING.match(f" {tail[0]} ") or tail[-1] in _MUNI_SUFFIX_WORDS)
        if (len(rest.split()) <= 2 and tail and not listing and tail[0] not in DISTRICT_WORDS and tail[0] != "of"
                and not rest.endswith(" city")):  # fmt: skip
            return _place_canon(rest, city)
        return None
    for suf in _MUNI_SUFFIX_LONGEST:  # an office of the administration first, the municipality last, after 'of'
        if s.endswith(f" {suf}"):  # 'Education, Culture and Sports Department of Riga City Council'
            unit, of, place = s[: -len(suf) - 1].rpartition(" of ")
            # not its library, school, foundation or agency: a body of its own ('Public Library of Zarasai District
            # Municipality', 'Municipal Development Agency Of Komotini Municipality')
            if of and _admin_unit(unit) and 0 < len(place.split()) <= 2:
                return _place_canon(place, city)
            return None
    return None


def municipal_units(con: duckdb.DuckDBPyConnection, recs: list[Rec], known=None) -> int:
    """Give a municipality's department its municipality's place (`unit_place`) where the place is the record's
    own city or a municipality of its country in the LAU table (`municipal_places`); returns how many records
    changed.  A department is its municipality, as the labelled pairs have it ('City of Rostock, Cultural
    Office', 'Malmö Stad / Gatukontoret'): the legal body is the municipality."""
    known = known or municipal_places(con)
    changed = 0
    for r in recs:
        if r.place or not r.country:
            continue
        p = unit_place(r.name, r.city)
        # (the LAU name may keep the final 's' _place_canon drops: Borås is 'bora')
        if p and (p == _place_canon(r.city_f, r.city) or known(r.country, p) or known(r.country, p + "s")):
            r.place = p
            changed += 1
    return changed


def municipal_places(con: duckdb.DuckDBPyConnection):
    """(country, folded city) -> whether the LAU table `lau_ref` names a municipality so; a country's names are
    read when it is first asked for (names folded in SQL: accents stripped, so a city with a letter such as 'ł'
    may go unrecognised, and is then compared as before).  Without the table: never."""
    if "lau_ref" not in db.tables(con):
        return lambda country, city: False
    names: dict[str, set[str]] = {}

    def known(country: str, city: str) -> bool:
        if country not in names:
            names[country] = {n for (n,) in con.execute(
                "SELECT DISTINCT trim(regexp_replace(lower(strip_accents(lau_name)), '[^a-z0-9]+', ' ', 'g')) "
                "FROM lau_ref WHERE country = ? AND lau_name IS NOT NULL", [country]).fetchall()}  # fmt: skip
        return city in names[country]

    return known


def same_place(p: str, q: str) -> bool:
    """Places are compared after canonicalisation (exonyms, inflected forms of the record's own city), and
    then only as equal: small towns of one country differ by an ending (Campli / Campo, Monti / Montichiari)."""
    return p == q


def norm_vat(v: str | None) -> str | None:
    if not v:
        return None
    s = _NON_ALNUM.sub("", str(v).upper())
    digits = _NONDIGIT.sub("", s)
    if len(digits) < 5 or len(set(digits)) == 1:
        return None  # placeholders: 'N/A', 'NOTAPPLICABLE', '0000000'

    if s.startswith("EL"):
        s = "GR" + s[2:]
    return s


@lru_cache(maxsize=1)
def _public_suffixes():
    """The Public Suffix List (publicsuffixlist's bundled copy; its private section too, so 'put.poznan.pl' and
    'x.blogspot.com' are sites of their own)."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@lru_cache(maxsize=None)
def domain_of(url: str | None) -> str | None:
    """Registrable domain of a website ('http://www.mm.helsinki.fi/mmtek/' -> 'helsinki.fi', 'uns.ac.rs' stays
    'uns.ac.rs': the Public Suffix List says where the registrable part begins)."""
    if not url or not isinstance(url, str):
        return None
    u = url.strip().lower()
    if "://" not in u:
        u = "http://" + u
    try:
        host = urlsplit(u).hostname or ""
    except ValueError:
        return None
    host = host.strip(".")
    if not host or "." not in host or _NUMERIC_HOST.fullmatch(host):
        return None
    dom = _public_suffixes().privatesuffix(host)
    if not dom or dom in GENERIC_HOSTS or host in GENERIC_HOSTS:
        return None
    return dom


# ---------------------------------------------------------------------------------------------------------
# records and the pairwise decision


@dataclass
class Rec:
    key: str
    source: str
    name: str
    country: str | None = None
    city: str | None = None
    org_type: str | None = None
    vat: str | None = None
    website: str | None = None
    cordis_id: str | None = None  # the CORDIS organisationID this record is (cordis) or names (pic)
    wikidata: str | None = None
    ror: str | None = None  # the ROR id the record's name is, in its country (link_ror)
    street: str | None = None
    post_code: str | None = None
    alt: tuple = ()  # the registry's names of the record's organisation, normalised (matching.link_more)
    alt_acronyms: frozenset = frozenset()
    legal_status: str | None = None  # the source's 'public' / 'private' (keep.eu, Interreg SE, Eurocities)
    short_name: str | None = None  # the source's short name (CORDIS: often the English name, or an acronym)
    stated_country: str | None = None  # the source's country, when the record is matched in another (country_evidence)
    country_evidence: str | None = None  # why: its address or realm (country_evidence.match_countries)
    norm: str = field(init=False)
    bare: str = field(init=False)
    head: str | None = field(init=False)
    place: str | None = field(init=False)
    domain: str | None = field(init=False)
    city_f: str = field(init=False)
    address: str | None = field(init=False)
    short: str | None = field(init=False)  # the short name normalised, when it is a name of two words or more

    def __post_init__(self):
        self.name = self.name or ""
        self.norm = norm_name(self.name)
        self.bare = bare_name(self.name)
        h = head_name(self.name)
        self.head = norm_name(h) if h else None
        self.city_f = fold(self.city or "")
        org_type = self.org_type
        if not org_type and self.legal_status == "public" and self.city and fold(self.name) == fold(self.city):
            org_type = "city"  # a public body named by the town it is in is the town: keep.eu's 'Vejle', 'Bremen'
        self.place = _municipality_place(self.name, org_type, self.city, h)
        self.vat = norm_vat(self.vat)
        self.domain = domain_of(self.website)
        self.country = (self.country or "").upper() or None
        self.address = address_key(self.street, self.post_code)
        s = norm_name(self.short_name) if self.short_name else ""
        self.short = s if len(s.split()) >= 2 and s != self.norm else None


_STREET_WORDS = re.compile(r"\b(?:ul|ulica|al|aleja|iela|gatan|gata|vej|vei|veien|tee|katu|g|str|strasse|st|street|road|rd|"
                           r"prospekt|pr|pl|plac|laan|allee|weg|vagen|v)\b")


@lru_cache(maxsize=None)
def address_key(street: str | None, post_code: str | None) -> str | None:
    """'ul. Narutowicza 11/12', '80-233' -> '80233|narutowicza 11 12': the postcode's digits and the street
    with its house number, street-type words dropped; None without a postcode or a house number."""
    pc = _NONDIGIT.sub("", post_code or "")
    st = " ".join(_STREET_WORDS.sub(" ", undigraph(fold(street or ""))).split())  # 'KOERNER' is 'Körner'
    if len(pc) < 4 or not st or not _DIGIT.search(st) or not _THREE_LETTERS.search(st):
        return None
    return f"{pc}|{st}"


def _city_words(*cities: str) -> set[str]:
    """The words of folded city names, each also in its exonyms' form: no evidence of one body."""
    words = {w for c in cities for w in c.split()}
    return words | {EXONYMS.get(w, w) for w in words}


# company forms (after fold): a name carrying one is a company, a legal person of its own
COMPANY_FORMS = ("gmbh", "ggmbh", "mbh", "ag", "kg", "ab", "ab publ", "oy", "oyj", "sia", "as", "asa", "a s", "aps",
                 "uab", "ou", "ltd", "limited", "plc", "sp z o o", "sp z oo", "sa", "s a", "spa", "s p a", "srl",
                 "bv", "nv", "doo", "d o o", "sro", "s r o", "llc", "inc", "oao", "ooo", "zao")  # fmt: skip
_COMPANY_TAIL = re.compile(r"(?:^|\s)(?:" + "|".join(sorted(COMPANY_FORMS, key=len, reverse=True)) + r")$")
_COMPANY_HEAD = re.compile(r"^(?:sia|uab|as|ou|ab|oy|aps|ooo|oao|zao)\s")


@lru_cache(maxsize=1 << 16)
def company(name: str) -> bool:
    """The name carries a company form: 'KINDERBURO UNIVERSITAT WIEN GMBH', 'SIA Baltic Foo', 'Foo Sp. z o.o.'."""
    f = fold(name)
    return bool(_COMPANY_TAIL.search(f) or _COMPANY_HEAD.match(f))


def _company_of(a: Rec, b: Rec, cities: set[str]) -> bool:
    """a is a company named after b, which is none: a's name carries a company form b's lacks and has b's words
    and more, the city's name and the form set aside ('Kinderbüro Universität Wien GmbH' / 'University of
    Vienna').  A company form on one side only is another legal person; the same words with and without the
    form ('Posiva Oy' / 'Posiva', 'FORECO DALFSEN BV' / 'Foreco' in Dalfsen) stay one."""
    if not company(a.name) or company(b.name):
        return False
    f = fold(a.name)
    bare = norm_name(_COMPANY_HEAD.sub("", _COMPANY_TAIL.sub("", f)).strip() or f)
    wa = [x for x in (EXONYMS.get(w, w) for w in bare.split()) if x not in cities]
    wb = [x for x in (EXONYMS.get(w, w) for w in b.norm.split()) if x not in cities]
    # b's name followed by words of a's own is a's longer legal name ('POMURSKI TEHNOLOSKI PARK PODJETJE ZA
    # POSPESEVANJE PODJETNISTVA V POMURJU DOO' / 'Pomurski tehnološki park'); a word before it names another body
    return bool(wb) and set(wb) < set(wa) and wa[: len(wb)] != wb


def _city_forms(a: Rec, b: Rec) -> set[str]:
    """The city's words (_city_words) and the words of either name that are forms of them: the city as an
    adjective or inflected ('RZESZOWSKA AGENCJA' in Rzeszów, 'Rīgas')."""
    cities = _city_words(a.city_f, b.city_f)
    stems = [c for c in cities if len(c) >= 4]
    return cities | {w for n in (a.norm, b.norm) for w in n.split()
                     if w not in cities and any(w.startswith(c) or _inflected(w, c) for c in stems)}


def _short_acronym(a: Rec, b: Rec) -> bool:
    """a's short name is an acronym (two to eight capitals) that b writes beside its name, spells by its
    initials or has in the registry."""
    t = (a.short_name or "").strip()
    if not (2 <= len(t) <= 8 and t.isupper() and t.isalnum()):
        return False
    return t in b.alt_acronyms or t in acronyms(b.name) or t == initials(b.name)


def address_match(a: Rec, b: Rec) -> float | None:
    """Two records at one street address whose names are alike (token_set_ratio of the normalised names, with
    or without an acronym, >= ADDRESS_THRESHOLD): the same body in two languages, or a unit of it.  Not a
    municipality and something else (a city hall houses the city's agencies and companies)."""
    if not a.address or a.address != b.address or bool(a.place) != bool(b.place) or not a.norm or not b.norm:
        return None
    if set(a.norm.split()) & SIDE_WORDS != set(b.norm.split()) & SIDE_WORDS:
        return None  # 'Nord-Trøndelag fylkeskommune' is not 'Trøndelag fylkeskommune', whatever the address
    if cognates.joint(a.name) != cognates.joint(b.name):
        return None  # 'Universities of Glasgow & Strathclyde' is neither university
    # the city's name is no evidence here: 'Startup Bremerhaven GmbH' at the Hochschule Bremerhaven's address
    cities = _city_words(a.city_f, b.city_f)
    if _company_of(a, b, cities) or _company_of(b, a, cities):
        return None  # 'KINDERBURO UNIVERSITAT WIEN GMBH' at the university's address is a company of its own
    best = 0.0
    # also the registry's names of either side's organisation, in every language (matching.link_more); not its
    # acronyms, which any name ending in them contains ('..., HPA' is not the Hamburg Port Authority): an
    # acronym is compared as a whole name below
    alt_a = [n for n in a.alt if n.upper() not in a.alt_acronyms]
    alt_b = [n for n in b.alt if n.upper() not in b.alt_acronyms]
    # ... but a name that begins with the registry's acronym of the other is its: 'ICES (budget reduced to
    # zero)' / 'INTERNATIONAL COUNCIL FOR THE EXPLORATION OF THE SEA', 'SEGES INNOVATION PS' / 'Knowledge Centre
    # for Agriculture' (ROR's SEGES)
    if a.norm.split()[0].upper() in b.alt_acronyms or b.norm.split()[0].upper() in a.alt_acronyms:
        return 90.0
    for x, y in ((a.norm, b.norm), (a.bare, b.bare), *((n, b.norm) for n in alt_a), *((a.norm, n) for n in alt_b)):
        y = harmonise(x, y)
        x, y = (" ".join(w for w in n.split() if w not in cities and EXONYMS.get(w, w) not in cities) for n in (x, y))
        if x and y:
            best = max(best, fuzz.token_set_ratio(x, y))
    # the short name a source gives, often the English name ('LANDESAMT FUR UMWELT BRANDENBURG': 'STATE OFFICE
    # FOR ENVIRONMENT BRANDENBURG'), when one name's words (two or more; the city and the country set aside) are
    # all the other's: a short name that shares a word or two and has words of its own ('Lithuanian hydrogen
    # energy association' / 'Lithuanian Energy Institute') is another body in the building
    if best < ADDRESS_THRESHOLD:
        drop = cities | COUNTRY_WORDS.keys()
        for x, y in ((a.short, b.norm), (a.norm, b.short), (a.short, b.short)):
            if x and y:
                y = harmonise(x, y)
                wx, wy = ({w for w in n.split() if w not in drop and EXONYMS.get(w, w) not in drop} for n in (x, y))
                if min(len(wx), len(wy)) >= 2 and (wx <= wy or wy <= wx):
                    best = 90.0
    if best < ADDRESS_THRESHOLD and (a.name.strip().upper() in b.alt_acronyms or b.name.strip().upper() in a.alt_acronyms):
        best = 90.0  # 'HELCOM' / 'Baltic Marine Environment Protection Commission', whose ROR acronym it is
    if best < ADDRESS_THRESHOLD and (acronyms(a.name) & {initials(b.name)} or acronyms(b.name) & {initials(a.name)}):
        best = 90.0  # 'NAPE National Energy Conservation Agency' / 'Narodowa Agencja Poszanowania Energii SA'
    if best < ADDRESS_THRESHOLD and (_short_acronym(a, b) or _short_acronym(b, a)):
        best = 90.0  # CORDIS's 'INSTYTUT EKOLOGII TERENOW UPRZEMYSLOWIONYCH' (short name 'IETU') / ROR's IETU
    return best if best >= ADDRESS_THRESHOLD else None


_ACR = re.compile(r"\(([A-Z][A-Z0-9&]{1,7})\)|^([A-Z][A-Z0-9&]{1,7})\s+[-–—]?\s*(?=[A-Z][a-z])|\s[-–—]\s*([A-Z][A-Z0-9&]{1,7})\s*$|^([A-Z][A-Z0-9&]{1,7})$")


@lru_cache(maxsize=1 << 16)
def acronyms(name: str) -> frozenset:
    """The acronyms a name writes beside itself: '(LWL)', 'NAPE National ...', 'TRAFIKVERKET - TRV', or a name
    that is one ('BGR'); two to eight capitals (after anyascii)."""
    n = anyascii(name or "").strip()
    return frozenset(x for m in _ACR.finditer(n) for x in m.groups() if x and len(x) >= 2)


@lru_cache(maxsize=1 << 16)
def initials(name: str) -> str:
    """The first letters of a name's words, stop words, legal forms and a written acronym left out
    ('Landschaftsverband Westfalen-Lippe' -> 'LWL', 'Terveyden ja hyvinvoinnin laitos' -> 'THL')."""
    n = _ACR.sub(" ", anyascii(name or ""))
    words = [w for w in re.split(r"[^A-Za-z0-9]+", n) if w and w.lower() not in STOP and undigraph(w.lower()) not in STOP]
    words = [w for w in words if w.lower() not in _LEGAL_LAST] or words
    return "".join(w[0] for w in words).upper()


def key_match(a: Rec, b: Rec, trusted_domains: set[str] | None = None) -> str | None:
    if a.cordis_id and a.cordis_id == b.cordis_id:
        return "cordis_id"
    if a.vat and a.vat == b.vat and vat_names_agree(a, b):
        return "vat"
    if a.wikidata and a.wikidata == b.wikidata:
        return "wikidata"
    if a.ror and a.ror == b.ror:
        return "ror"
    if (a.domain and a.domain == b.domain and (trusted_domains is None or a.domain in trusted_domains)
            and (a.country == b.country or not a.country or not b.country)):
        return "domain"
    return None


def _inflected(x: str, y: str) -> bool:
    """'helsingin'/'helsinki', 'latvijas'/'latvia', 'lunds'/'lund', 'kauno'/'kaunas': one word, two endings."""
    if x == y or x.isdigit() or y.isdigit():
        return x == y
    if x[:4] != y[:4]:
        return False  # fewer than 4 letters in common
    pre = len(os.path.commonprefix([x, y]))
    rx, ry = len(x) - pre, len(y) - pre
    return (pre >= 5 and rx <= 3 and ry <= 3) or (pre >= 4 and rx <= 2 and ry <= 2)


@lru_cache(maxsize=1 << 16)
def _words_by_prefix(a: str) -> tuple[frozenset, dict]:
    """a's words, and its words of 4+ letters by the first 4 letters of their exonym-folded form."""
    idx: dict[str, list[str]] = {}
    for x in a.split():
        if len(x) >= 4:
            idx.setdefault(EXONYMS.get(x, x)[:4], []).append(x)
    return frozenset(a.split()), idx


def harmonise(a: str, b: str) -> str:
    """b with each word that is an inflected form of a word of a written as in a (candidates share their
    first 4 letters, as `_inflected` requires)."""
    words, idx = _words_by_prefix(a)
    out = b.split()
    for k, w in enumerate(out):
        if len(w) >= 4 and w not in words:
            mw = EXONYMS.get(w, w)
            for x in idx.get(mw[:4], ()):
                if _inflected(EXONYMS.get(x, x), mw):
                    out[k] = x
                    break
    return " ".join(out)


def name_score(a: str, b: str) -> float:
    """token_sort_ratio after writing b's inflected words as a writes them ('Helsingin yliopisto' ->
    'helsingin university' vs 'university helsinki' -> 100)."""
    return fuzz.token_sort_ratio(a, harmonise(a, b))


def _cities_differ(a: Rec, b: Rec) -> bool:
    if not a.city_f or not b.city_f:
        return False
    ca, cb = a.city_f.split()[0], b.city_f.split()[0]
    return not (ca == cb or same_place(ca, cb) or EXONYMS.get(ca, ca) == EXONYMS.get(cb, cb))


def _without_city(a: Rec, b: Rec) -> bool:
    """b's name is a's with their common city put in front or behind ('Helsinki Metropolia University of
    Applied Sciences' / 'Metropolia Ammattikorkeakoulu Oy', both in Helsinki).  Both records must give that
    city: a bare 'Port Authority' in one city is not 'Trieste Port Authority'.  Two words must remain."""
    if not a.city_f or not b.city_f or len(a.norm.split()) < 2:
        return False
    ca, cb = a.city_f.split()[0], b.city_f.split()[0]
    if EXONYMS.get(ca, ca) != EXONYMS.get(cb, cb):
        return False
    bw, aw = b.norm.split(), a.norm.split()
    return (bw[0] in (ca, cb) and bw[1:] == aw) or (bw[-1] in (ca, cb) and bw[:-1] == aw)


@lru_cache(maxsize=1 << 16)
def _numbers(norm: str) -> frozenset:
    """The numbers a normalised name holds."""
    return frozenset(w for w in norm.split() if w.isdigit())


def _best_score(a: Rec, b: Rec, score) -> float:
    """The score of the two names, or of the two without an acronym beside them if that is higher."""
    s = score(a.norm, b.norm)
    if a.bare != a.norm or b.bare != b.norm:
        s = max(s, score(a.bare, b.bare) if min(len(a.bare), len(b.bare)) >= MIN_LEN else 0.0)
    return s


def _names_own_city(r: Rec) -> bool:
    """The record's name holds its city's (first) word."""
    return bool(r.city_f) and r.city_f.split()[0] in r.norm.split()


def name_match(a: Rec, b: Rec, municipal=None) -> tuple[str | None, float]:
    """(rule, score) of a name match inside one country, or (None, score).  municipal: municipal_places' lookup
    (two names each holding its own city, both municipalities, are compared as written)."""
    if a.country != b.country or not a.country:
        return None, 0.0
    if a.place or b.place:
        if a.place and b.place and same_place(a.place, b.place):
            return ("name_exact" if a.place == b.place else "name_fuzzy"), 1.0 if a.place == b.place else 0.95
        return None, 0.0  # a municipality matches only a municipality of the same place
    if not a.norm or not b.norm:
        return None, 0.0
    if a.norm == b.norm:
        return "name_exact", 1.0
    for h, other in ((a.head, b.norm), (b.head, a.norm)):
        if h and h == other and len(h) >= 8 and len(h.split()) >= 2:
            return "name_fuzzy", 0.93
    if _without_city(a, b) or _without_city(b, a):
        return "name_fuzzy", 0.93
    na, nb = _numbers(a.norm), _numbers(b.norm)
    if min(len(a.norm), len(b.norm)) < MIN_LEN or (na and nb and na != nb):
        return None, 0.0  # (two numbers, two bodies: 'Municipal District Prague 9' is not 'Prague 6')
    differ = _cities_differ(a, b)
    threshold = THRESHOLD_OTHER_CITY if differ else THRESHOLD
    s = _best_score(a, b, name_score)
    # two names each holding its own record's city, the cities two municipalities (LAU), are read as written:
    # 'Provincia di Lecco' is not 'Provincia di Lecce' (harmonise would take 'lecco' for an inflected 'lecce'),
    # while 'University of Geneva' still meets 'Université de Genève' ('geneva' names no Swiss municipality);
    # asked only when it decides
    if (s >= threshold and differ and municipal is not None and _names_own_city(a) and _names_own_city(b)
            and (plain := _best_score(a, b, fuzz.token_sort_ratio)) < threshold
            and municipal(a.country, a.city_f) and municipal(b.country, b.city_f)):  # fmt: skip
        s = plain
    if s >= threshold:
        return "name_fuzzy", s / 100.0
    return None, s / 100.0


def vat_names_agree(a: Rec, b: Rec) -> bool:
    """Two records of one VAT number are one organisation when their names agree too: the same name (or the
    source's short name: a record named after a contact person carries its body's), a word in common in one
    city, names name_match joins, or one name in two languages (the word table); never two ROR ids.  A VAT number
    is a legal person's or its VAT group's: the Freistaat Bayern's for Universität Regensburg, two Hochschulen
    and two state offices in five cities; a UK group's for Coventry University and CU Services Ltd, or the
    University of Bristol and NCC Operations Ltd."""
    if a.ror and b.ror and a.ror != b.ror:  # two organisations in the registry
        return False
    names_a, names_b = {a.norm, a.short} - {None}, {b.norm, b.short} - {None}  # also the source's short name
    if names_a & names_b:
        return True
    words = lambda names: set(" ".join(names).split())  # noqa: E731
    if not _cities_differ(a, b) and (words(names_a) & words(names_b)) - STOP:
        return True
    if name_match(a, b)[0] is not None:
        return True
    from .translations import load

    table = load()
    letters = {w for w in (a.norm + " " + b.norm).split() if len(w) == 1}  # 'v' of 'CESKE ... V PRAZE' ('in')
    return bool(table) and cognates.Cover(Counter(), 1).translated(a.norm, b.norm, table, STOP | letters)[0]


def decide(a: Rec, b: Rec, trusted_domains: set[str] | None = None) -> tuple[bool, str | None, float]:
    """The matcher's pairwise decision: (same organisation?, rule, score).  Keys first, then names."""
    rule = key_match(a, b, trusted_domains)
    if rule in ("cordis_id", "vat", "wikidata"):
        return True, rule, 1.0
    if a.vat and b.vat and a.vat != b.vat:  # two VAT numbers: two legal entities, whatever the name or website
        return False, None, 0.0
    if rule == "ror":
        return True, rule, 1.0
    if a.ror and b.ror:  # two ROR ids: two organisations in the registry
        return False, None, 0.0
    if rule:
        return True, rule, 1.0
    rule, score = name_match(a, b)
    if rule is None and a.country == b.country and (s := address_match(a, b)):
        return True, "address", s / 100.0
    return rule is not None, rule, score


# ---------------------------------------------------------------------------------------------------------
# union-find with keep-apart constraints


class _UF:
    """Union-find that refuses (a) joins forbidden by keep-apart pairs, (b) guarded joins (domain, names) of
    two sets whose VAT numbers are all different: two VAT numbers are two legal entities (Airbus Operations
    GmbH / Airbus Operations Ltd share airbus.com; SINTEF AS / SINTEF Ocean AS share sintef.no)."""

    def __init__(self, keys: list[str], apart: list[tuple[str, str]], vats: dict[str, str] | None = None,
                 rors: dict[str, str] | None = None):
        self.parent = dict(zip(keys, keys))
        self.vats = {k: {v} for k, v in (vats or {}).items() if v}
        self.rors = {k: {v} for k, v in (rors or {}).items() if v}
        self.size = dict.fromkeys(keys, 1)
        self.forbid: dict[str, set[str]] = defaultdict(set)
        for x, y in apart:
            if x in self.parent and y in self.parent and x != y:
                self.forbid[x].add(y)
                self.forbid[y].add(x)
        self.cons = {k: {k} for k in self.forbid}  # root -> constrained members in its set

    def find(self, x: str) -> str:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, a: str, b: str, guard: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ca, cb = self.cons.get(ra), self.cons.get(rb)
        if ca and cb and any(self.forbid[x] & cb for x in ca):
            return False
        va, vb = self.vats.get(ra), self.vats.get(rb)
        if guard and va and vb and not (va & vb):
            return False
        wa, wb = self.rors.get(ra), self.rors.get(rb)
        if guard and wa and wb and not (wa & wb):
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        for kept in (self.cons, self.vats, self.rors):  # what the joined set forbids, kept at its new root
            moved = kept.pop(rb, None)
            if moved:
                kept.setdefault(ra, set()).update(moved)
        return True


# ---------------------------------------------------------------------------------------------------------
# clustering


def load_records(con: duckdb.DuckDBPyConnection, table: str = "organisations") -> list[Rec]:
    """Every organisation record, normalised for matching (`table`: organisations, or stg_organisations, of
    which organisations is a copy plus the metropolis columns)."""
    tables = db.tables(con) | {
        r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}  # fmt: skip
    extra = []
    for t in sorted(tables):
        m = re.fullmatch(r"stg_(\w+?)__organisations", t)
        if not m:
            continue
        cols = {r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()}
        sel = [f"'{m.group(1)}:' || org_id AS org_key",
               "pic::VARCHAR AS pic" if "pic" in cols else "NULL::VARCHAR AS pic",
               "wikidata_id::VARCHAR AS wikidata" if "wikidata_id" in cols else "NULL::VARCHAR AS wikidata"]  # fmt: skip
        extra.append(f"SELECT {', '.join(sel)} FROM {t}")
    x = " UNION ALL ".join(extra) if extra else "SELECT NULL::VARCHAR org_key, NULL::VARCHAR pic, NULL::VARCHAR wikidata WHERE false"
    df = con.execute(
        f"""SELECT o.org_key, o.source, o.org_id, o.name, o.country, o.city, o.org_type, o.vat_number, o.website,
                   x.pic, x.wikidata, o.street, o.post_code, lower(o.legal_status), o.short_name
            FROM {table} o LEFT JOIN ({x}) x USING (org_key) ORDER BY o.org_key"""
    ).fetchall()
    out = []
    pic_is_id, place_ids = declared_with("org_id_is_pic"), declared_with("wikidata_is_place")
    for key, source, org_id, name, country, city, org_type, vat, website, pic, wikidata, street, post, status, short in df:
        cid = org_id if source in pic_is_id else (pic or None)
        if source in place_ids and org_type != "city":
            wikidata = None  # the city's id on another body (Eurocities' 'Lyon Metropole'): no evidence it is the city
        out.append(Rec(key, source, name, country, city, org_type, vat, website, cid, wikidata, None, street, post,
                       legal_status=status, short_name=short))
    return out


def load_records_meanwhile(con: duckdb.DuckDBPyConnection) -> Future:
    """load_records of the staged organisations in a thread, on a cursor of its own: the normalisation (Python)
    runs while the build's SQL (DuckDB, without the GIL) places the records in metropolises.  Pass the
    future's result to `run`; wait for it before closing `con`."""
    def work(cur):
        recs = load_records(cur, "stg_organisations")
        personal.given_names(), personal.legal_words()  # (the name lists person_named reads, loaded here too)
        return recs

    return db.meanwhile(con, work, "resolve-records")


def registry_index(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], set[str]]:
    """(country, normalised name) -> the ROR ids with that label or alias (stg_<registry>__registry_names, when
    the build has the registry source).  Acronyms are left out, and so is any name that normalises to one word of five
    letters or less: a ROR id is never linked on an acronym alone ('SSE' is several organisations)."""
    have = db.tables(con)
    names, registry = registry_table("registry_names"), registry_table("registry")
    if names not in have:
        return {}
    index: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rid, country, name, city in con.execute(
            f"""SELECT n.ror_id, n.country, n.name, r.city FROM {names} n
                LEFT JOIN {registry} r USING (ror_id) WHERE n.name_type <> 'acronym'""").fetchall():  # fmt: skip
        place = fold(city or "")
        for n in {norm_name(name), bare_name(name)}:
            # a name that is only its city ('Dresden' as an alias of TU Dresden) names the city, not the body
            # nor does one word left of a longer name ('MTU München', 'TU Dresden': MTÜ and TÜ are legal forms)
            if (n and not (len(n.split()) == 1 and (len(n) <= 5 or len(fold(name).split()) > 1)) and n != place
                    and EXONYMS.get(n, n) != EXONYMS.get(place, place)):
                index[(country, n)].add(rid)
                index[(country, undigraph(n))].add(rid)
    return index


_DIGRAPH = re.compile(r"(?<=[a-z])(?:oe|ae|ue)(?=[a-z]|$)")


def undigraph(name: str) -> str:
    """'hoegskolan' -> 'hogskolan', 'fuer' -> 'fur': ö ä ü written as two letters (CORDIS's upper case) and
    as one letter (anyascii) compare alike."""
    return _DIGRAPH.sub(lambda m: m.group(0)[0], name)


def link_ror(recs: list[Rec], index: dict[tuple[str, str], set[str]]) -> int:
    """Set each record's ROR id: the one registry record, in the record's country, one of whose names is the
    record's name (normalised, also without an acronym beside it, or its head: 'University of X, Faculty of
    Y' is the university).  A name of several ROR records links to none.  Returns how many were linked."""
    n = 0
    for r in recs:
        if not index or not r.country or r.place:  # a city administration is its place, not a registry entry
            continue
        for form in (r.norm, r.bare, r.head if r.head and len(r.head.split()) >= 2 else None):
            ids = (index.get((r.country, form)) or index.get((r.country, undigraph(form)))) if form else None
            if ids:
                if len(ids) == 1:
                    r.ror = next(iter(ids))
                    n += 1
                break
    return n


def trusted_domains(recs: list[Rec]) -> set[str]:
    """Domains usable as a key: inside every source, the records carrying it have similar names."""
    by = defaultdict(lambda: defaultdict(set))
    for r in recs:
        if r.domain:
            by[r.domain][r.source].add(r.head or r.norm)
    ok = set()
    for dom, per_source in by.items():
        names = set().union(*per_source.values())
        if len(names) > 8:
            continue
        good = True
        for ns in per_source.values():
            ns = sorted(ns)
            if len(ns) > 1 and any(fuzz.token_set_ratio(ns[0], n) < 90 for n in ns[1:]):
                good = False
                break
        if good:
            ok.add(dom)
    return ok


def cluster(recs: list[Rec], merges=(), keep_apart=(), stats: dict | None = None, municipal=None) -> tuple[dict[str, str], dict[str, tuple[str, float]]]:
    """Union-find over records.  Returns (org_key -> root, org_key -> (rule, score)).  municipal: see name_match."""
    keys = [r.key for r in recs]
    uf = _UF(keys, list(keep_apart), {r.key: r.vat for r in recs}, {r.key: r.ror for r in recs})
    best: dict[str, tuple[str, float]] = {}

    def note(k, rule, score):
        cur = best.get(k)
        if cur is None or (RULE_RANK[rule], -score) < (RULE_RANK[cur[0]], -cur[1]):
            best[k] = (rule, score)

    def link(a, b, rule, score):
        if uf.union(a, b, guard=rule in GUARDED):
            note(a, rule, score)
            note(b, rule, score)
            return True
        if stats is not None:
            stats["refused_joins"] = stats.get("refused_joins", 0) + 1
        return False

    for a, b in merges:
        if a in uf.parent and b in uf.parent:
            link(a, b, "revision_merge", 1.0)
    # keys
    trusted = trusted_domains(recs)
    country = {r.key: r.country for r in recs}
    by_key = {r.key: r for r in recs}
    for attr, rule in (("cordis_id", "cordis_id"), ("vat", "vat"), ("wikidata", "wikidata"), ("ror", "ror"), ("domain", "domain")):
        first, more = {}, defaultdict(list)  # value -> its first record's key, the other records' (most have one)
        for k, v in zip(keys, map(attrgetter(attr), recs)):
            if v:
                if v in first:
                    more[v].append(k)
                else:
                    first[v] = k
        for v, k in first.items():
            if v not in more or (attr == "domain" and v not in trusted):
                continue
            ks = [k, *more[v]]
            if attr == "domain":  # a website is shared by a group's national companies: one country only
                by_c = defaultdict(list)
                for k in ks:
                    by_c[country[k]].append(k)
                parts = list(by_c.values())
            elif attr == "vat":  # a VAT group's bodies: joined only where their names agree (vat_names_agree)
                for i, k in enumerate(ks):
                    for k2 in ks[i + 1:]:
                        if vat_names_agree(by_key[k], by_key[k2]):
                            link(k, k2, rule, 1.0)
                continue
            else:
                parts = [ks]
            for part in parts:
                for k in part[1:]:
                    link(part[0], k, rule, 1.0)
    # names, blocked by country: first exact units, then municipality places, then fuzzy between units
    units = defaultdict(list)  # (country, norm) -> keys
    places = defaultdict(list)  # (country, place) -> keys
    heads = defaultdict(list)  # (country, head) -> keys
    rep: dict[tuple, Rec] = {}
    for r in recs:
        if not r.country:
            continue
        if r.place:
            places[(r.country, r.place)].append(r.key)
            continue
        if not r.norm:
            continue
        units[(r.country, r.norm)].append(r.key)
        rep.setdefault((r.country, r.norm), r)
        if r.head and len(r.head) >= 8 and len(r.head.split()) >= 2:
            heads[(r.country, r.head)].append(r.key)
    for ks in list(units.values()) + list(places.values()):
        for k in ks[1:]:
            link(ks[0], k, "name_exact", 1.0)
    # places of one country that are spellings of one another ('helsingin' / 'helsinki' were folded already)
    by_country = defaultdict(list)  # blocked by country and first 4 letters (same_place needs them equal)
    for c, p in places:
        by_country[(c, p[:4])].append(p)
    for (c, _p4), ps in by_country.items():
        ps.sort()
        for i, p in enumerate(ps):
            for q in ps[i + 1:]:
                if same_place(p, q):
                    link(places[(c, p)][0], places[(c, q)][0], "name_fuzzy", 0.95)
    # heads: 'University of Helsinki, Faculty of Law' joins 'University of Helsinki'
    for (c, h), ks in heads.items():
        target = units.get((c, h))
        if target:
            for k in ks:
                link(target[0], k, "name_fuzzy", 0.93)
    # the short name a source gives (CORDIS's is often the English name) is the name of a record of its city:
    # 'SOTSIAALMINISTEERIUM' ('MINISTRY OF SOCIAL AFFAIRS') / 'Ministry of Social Affairs', both in Tallinn
    for r in recs:
        if r.short and r.country and r.city_f and not r.place:
            for k in units.get((r.country, r.short), ()):
                o = by_key[k]
                if o.city_f and not _cities_differ(r, o) and o.source != r.source:
                    link(k, r.key, "short_name", 0.9)
                    break
    # fuzzy between distinct normalised names of one country, candidates sharing a rare token
    n_pairs = 0
    country_units = defaultdict(list)
    for (c, n) in units:
        country_units[c].append(n)
    cands = []
    for c, names in country_units.items():
        pairs = _candidate_pairs(names)
        n_pairs += len(pairs)
        cands += _name_matches([rep[(c, n)] for n in names], pairs, municipal)
    for score, a, b in sorted(cands, key=lambda t: (-t[0], t[1], t[2])):
        link(a, b, "name_fuzzy", score)
    # one street address and alike names (the same body in two languages, or its unit)
    at = defaultdict(list)
    for r in recs:
        if r.address and r.country:
            at[(r.country, r.address)].append(r)
    addr = []
    for rs in at.values():
        if 1 < len(rs) <= ADDRESS_MAX_RECORDS:
            for i, a in enumerate(rs):
                for b in rs[i + 1:]:
                    s = address_match(a, b) if a.norm != b.norm and a.source != b.source else None
                    if s:
                        addr.append((s / 100.0, a.key, b.key))
    paired: set[str] = set()  # each record joins at most one other by its address: no chains through a building
    for score, a, b in sorted(addr, key=lambda t: (-t[0], t[1], t[2])):
        # a pair already in one cluster (by a key) uses up neither record's one address join
        if a not in paired and b not in paired and uf.find(a) != uf.find(b):
            paired.update((a, b))
            link(a, b, "address", score)
    _join_translations(at, uf, link)
    blocks = _city_blocks(recs)
    _join_city_translations(blocks, uf, link)
    _join_acronyms(rep, uf, link)
    _join_translated(blocks, at, uf, link)
    if stats is not None:
        stats["fuzzy_pairs_scored"] = n_pairs
    roots = {k: uf.find(k) for k in keys}
    return roots, best


def _candidate_pairs(names: list[str]) -> set[tuple[int, int]]:
    """The pairs (i, j), i < j, of names that share one of their two rarest words (rarest in `names`; ties
    alphabetical).  A word in hundreds of names is no block: only its first 400 names are paired."""
    words = [set(n.split()) for n in names]
    df = Counter(chain.from_iterable(words))
    index = defaultdict(list)
    for i, ws in enumerate(words):
        for w in sorted(sorted(ws), key=df.__getitem__)[:2]:  # a stable sort: ties stay alphabetical
            index[w].append(i)
    pairs = set()
    for ids in index.values():
        pairs.update(combinations(ids[:400], 2))
    return pairs


def _name_matches(reps: list[Rec], pairs: set[tuple[int, int]], municipal=None) -> list[tuple[float, str, str]]:
    """(score, key, key) of the pairs (i, j) of `reps` (records of one country's distinct names, no municipality)
    that name_match joins.  The pairs' name scores are computed at once (rapidfuzz's cpdist, as name_score
    computes them); name_match decides only the pairs whose score reaches THRESHOLD or to which one of its other
    tests may apply: an acronym beside a name (bare), a head that is another name, a name that is another with
    a word before or after it (_without_city)."""
    norms = [r.norm for r in reps]
    pairs = [(i, j) for i, j in pairs if len(norms[i]) >= MIN_LEN and len(norms[j]) >= MIN_LEN]
    if not pairs:
        return []
    scores = process.cpdist([norms[i] for i, _j in pairs], [harmonise(norms[i], norms[j]) for i, j in pairs],
                            scorer=fuzz.token_sort_ratio)  # fmt: skip
    own = set(norms)
    other = np.array([r.bare != r.norm or r.head in own or (r.norm.count(" ") >= 2 and not own.isdisjoint(_edges_dropped(r.norm)))
                      for r in reps])  # fmt: skip
    ij = np.array(pairs)
    out = []
    for k in np.flatnonzero((scores >= THRESHOLD) | other[ij[:, 0]] | other[ij[:, 1]]):
        a, b = reps[pairs[k][0]], reps[pairs[k][1]]
        rule, score = name_match(a, b, municipal)
        if rule:
            out.append((score, a.key, b.key))
    return out


def _edges_dropped(name: str) -> tuple[str, ...]:
    """A name of three words or more without its first word, and without its last."""
    w = name.split()
    return (" ".join(w[1:]), " ".join(w[:-1])) if len(w) >= 3 else ()


def _join_translations(at: dict, uf, link) -> None:
    """One street address that only two bodies have, each given by other sources, whose names cover each
    other's words (cognates.MIN_SHARE, with at least one cognate: two languages, not a shared word) join by
    rule `address_cognate`: 'Institute for Ecology of Industrial Areas' / 'INSTYTUT EKOLOGII TERENOW
    UPRZEMYSLOWIONYCH'.  A source that gives two bodies at the address says the address is shared."""
    cover = cognates.Cover.of(r.norm for rs in at.values() for r in rs)
    joins = []
    for rs in at.values():
        if not 1 < len(rs) <= ADDRESS_MAX_RECORDS or any(r.place for r in rs):
            continue
        groups = defaultdict(list)
        for r in rs:
            groups[uf.find(r.key)].append(r)
        if len(groups) != 2:
            continue
        one, other = groups.values()
        if {r.source for r in one} & {r.source for r in other}:
            continue
        best = None
        for a in one:
            for b in other:
                if cognates.joint(a.name) != cognates.joint(b.name):
                    continue
                share, n_cognates = cover.score(a.norm, b.norm, STOP | _city_forms(a, b))
                if n_cognates and share >= cognates.MIN_SHARE and (best is None or share > best[0]):
                    best = (share, a.key, b.key)
        if best:
            joins.append(best)
    for share, a, b in sorted(joins, key=lambda t: (-t[0], t[1], t[2])):
        link(a, b, "address_cognate", round(share, 3))


def _nearly(a: Rec, b: Rec, cover: cognates.Cover, table: dict) -> bool:
    """Two names of one street address, one name in two languages but for one word (`cognates.Cover.nearly`);
    not a company named after the other, not two sides of a region, not two numbers, not a name listing bodies
    against one that does not."""
    if cognates.joint(a.name) != cognates.joint(b.name) or _numbers(a.norm) != _numbers(b.norm):
        return False
    if set(a.norm.split()) & SIDE_WORDS != set(b.norm.split()) & SIDE_WORDS:
        return False
    cities = _city_forms(a, b)
    if _company_of(a, b, cities) or _company_of(b, a, cities):
        return False
    return cover.nearly(a.norm, b.norm, table, STOP | cities)


def _city_blocks(recs: list[Rec]) -> dict[tuple[str, str], dict[str, Rec]]:
    """(country, city) -> normalised name -> its first record, of the records that are no municipality."""
    blocks = defaultdict(dict)
    for r in recs:
        if r.country and r.city_f and r.norm and not r.place:
            blocks[(r.country, r.city_f)].setdefault(r.norm, r)
    return blocks


def _join_city_translations(blocks: dict[tuple[str, str], dict[str, Rec]], uf, link) -> None:
    """Two names of one city that are one name in two languages (`cognates.translated`: every word close to a
    word of the other, one a cognate) join by rule `name_cognate`: 'Latvian Hydroecology Institute' /
    'LATVIJAS HIDROEKOLOGIJAS INSTITUTS'.  Close words begin alike (the first five letters of their skeletons),
    so only names of one city with the same set of such beginnings are compared; a beginning shared by
    hundreds of the city's names is no evidence of its own (a set of only such beginnings is left out)."""
    joins = []
    for (_c, city), units in blocks.items():
        if len(units) < 2:
            continue
        drop = STOP | _city_words(city)
        groups = defaultdict(list)  # the set of beginnings -> names
        for n in units:
            starts = frozenset(map(cognates.start, set(n.split()) - drop)) - {""}
            if starts:
                groups[starts].append(n)
        size = defaultdict(int)  # beginning -> how many of the city's names have it
        for starts, names in groups.items():
            for k in starts:
                size[k] += len(names)
        for starts, names in groups.items():
            if len(names) < 2 or all(size[k] > 200 for k in starts):
                continue
            for x, y in combinations(names, 2):
                a, b = units[x], units[y]
                # a name listing bodies against one that does not: a joint body, not a translation
                if cognates.joint(a.name) == cognates.joint(b.name) and cognates.translated(x, y, drop):
                    joins.append(tuple(sorted((a.key, b.key))))
    for a, b in sorted(set(joins)):
        if uf.find(a) != uf.find(b):
            link(a, b, "name_cognate", 0.9)


def _join_translated(blocks: dict[tuple[str, str], dict[str, Rec]], at: dict, uf, link, table: dict | None = None) -> None:
    """Two names of one city, or of one street address, that are one name in two languages by the word table
    learned from ROR and CORDIS (`translations`, `cognates.Cover.translated`: every word of each name a cognate
    of a word of the other or its translation, one at least by the table) join by rule `name_translated`:
    'FUNDACION BIODIVERSIDAD' / 'Biodiversity Foundation', 'Regionalverband Ruhr' / 'Ruhr Regional
    Association'.  The city's name is set aside, the country's is not ('Deutsche Energie-Agentur' is not the
    'Berlin Energy Agency').  Not a municipality (its place decides), not a name listing bodies against one that does not, not a
    company named after the other body; never two ROR ids (a guarded join).  Candidates share the rarest
    word of one name, as itself or a translation (the first five letters of its spelling skeleton)."""
    from .translations import load

    table = load() if table is None else table
    if not table:
        return
    cover = cognates.Cover(Counter(), 1)

    memo: dict[str, tuple[frozenset, bool]] = {}

    def keys(w: str) -> tuple[frozenset, bool]:
        """The word's keys, and whether the table has it (or a part of it)."""
        if w not in memo:
            parts = cognates.parts(w, table)
            memo[w] = (frozenset({cognates.skeleton(x)[:5] for x in (w, *table.get(w, ()))}
                                 | {cognates.skeleton(p)[:5] for hp in parts for p in hp}), w in table or bool(parts))
        return memo[w]

    def check(a: Rec, b: Rec, drop: set | None = None) -> bool:
        if a.norm == b.norm or cognates.joint(a.name) != cognates.joint(b.name):
            return False
        if drop is not None and not cover.translated(a.norm, b.norm, table, drop)[0]:
            return False  # the city's name and the country's set aside, before its inflected forms are
        cities = _city_forms(a, b)
        if _company_of(a, b, cities) or _company_of(b, a, cities):
            return False
        again = STOP | cities  # no other words set aside than before: the same cover
        return again == drop or cover.translated(a.norm, b.norm, table, again)[0]

    joins = set()
    for (_c, city), units in blocks.items():
        if len(units) < 2:
            continue
        drop = STOP | _city_words(city)
        names = list(units)
        post = defaultdict(list)  # key -> names with a word of that key
        wkeys = []
        listed = []  # the name has a word (or a part of one) in the table, as one of two joined names must
        for i, n in enumerate(names):
            info = [keys(w) for w in dict.fromkeys(n.split()) if w not in drop]
            wkeys.append([ks for ks, _listed in info])
            listed.append(any(x for _ks, x in info))
            for k in set().union(*wkeys[-1]):
                post[k].append(i)
        for i, ks in enumerate(wkeys):
            if not ks or not listed[i]:  # a pair with one listed name is found from that name
                continue
            # the word whose keys the fewest names have (ties: the smallest keys)
            size = [sum(map(len, map(post.__getitem__, s))) for s in ks]
            least = min(size)
            rare = min((s for s, n in zip(ks, size) if n == least), key=sorted)
            for j in set().union(*(post[k] for k in rare)):
                if j != i and (j > i or not listed[j]) and check(units[names[i]], units[names[j]], drop):
                    joins.add(tuple(sorted((units[names[i]].key, units[names[j]].key))))
    nearly = set()
    for (_c, _a), rs in at.items():
        if 1 < len(rs) <= ADDRESS_MAX_RECORDS and not any(r.place for r in rs):
            for i, a in enumerate(rs):
                for b in rs[i + 1:]:
                    if not (a.norm and b.norm):
                        continue
                    if check(a, b):
                        joins.add(tuple(sorted((a.key, b.key))))
                    elif a.source != b.source and _nearly(a, b, cover, table):
                        nearly.add(tuple(sorted((a.key, b.key))))
    for a, b in sorted(joins):
        if uf.find(a) != uf.find(b):
            link(a, b, "name_translated", 0.85)
    for a, b in sorted(nearly):  # one word left over: at one street address of other sources only
        if uf.find(a) != uf.find(b):
            link(a, b, "address_translated", 0.8)


_INNER_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")


@lru_cache(maxsize=1 << 16)
def inner_acronyms(name: str) -> tuple[str, ...]:
    """The acronyms a name writes among its words ('Latvian IT Cluster' -> ('it',)); none in a name written
    all in capitals, where every word looks like one."""
    n = anyascii(name or "")
    if n.upper() == n:
        return ()
    return tuple(dict.fromkeys(m.group(0).lower() for m in _INNER_ACRONYM.finditer(n)))


def _join_acronyms(units: dict[tuple[str, str], Rec], uf, link) -> None:
    """A name with an acronym among its words is the name with the words the acronym stands for, in one
    country and city, two other words at least: 'Latvian IT Cluster' / 'Latvia Information Technologies
    Cluster' (rule `name_acronym`).  The expansion must be the other name's words in their place.  units:
    (country, norm) -> its first record, of the records that are no municipality (cluster() joined equal names)."""
    # candidates by their first and last word, or the first letter of either
    index: dict[tuple, list[Rec]] = defaultdict(list)
    for (c, n), r in units.items():
        w = n.split()
        if len(w) >= 4:
            index[(c, w[0], w[-1])].append(r)
            index[(c, w[0][0], w[-1], 1)].append(r)
            index[(c, w[0], w[-1][0], 2)].append(r)
    joins = []
    for (c, n), a in units.items():
        words = n.split()
        for t in inner_acronyms(a.name) if len(words) >= 3 else ():
            if t not in words:
                continue
            i = words.index(t)
            pre, post = words[:i], words[i + 1:]
            key = (c, pre[0], post[-1]) if pre and post else (c, t[0], post[-1], 1) if post else (c, pre[0], t[-1], 2)
            for b in index.get(key, ()):
                w = b.norm.split()
                mid = w[len(pre): len(w) - len(post)]
                if (len(mid) == len(t) and w[: len(pre)] == pre and w[len(w) - len(post):] == post
                        and "".join(x[0] for x in mid) == t and not _cities_differ(a, b)):
                    joins.append(tuple(sorted((a.key, b.key))))
    for a, b in sorted(set(joins)):
        if uf.find(a) != uf.find(b):
            link(a, b, "name_acronym", 0.9)


# ---------------------------------------------------------------------------------------------------------
# stable ids


def registry_path(state) -> Path:
    return Path(state.root) / "resolution" / "registry.parquet"


def history_path(state) -> Path:
    return Path(state.root) / "resolution" / "history.parquet"


def _pending(path: Path) -> Path:
    return path.with_name(path.name + ".pending")


def commit(state) -> None:
    """Make a build's registry and id history (written pending by run(commit=False)) the current ones: called
    once the build is swapped in, so that no id event is kept of a build nobody saw."""
    for path in (history_path(state), registry_path(state)):
        if _pending(path).exists():
            os.replace(_pending(path), path)


def discard(state) -> None:
    """Forget a build's pending registry and history (the build failed, or was killed before its swap)."""
    for path in (history_path(state), registry_path(state)):
        _pending(path).unlink(missing_ok=True)


def _read_parquet(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    return duckdb.connect().execute(f"SELECT * FROM read_parquet({db.quote(path)})").df()


def load_registry(state) -> dict[str, str]:
    df = _read_parquet(registry_path(state))
    return {} if df is None else dict(zip(df["org_key"], df["golden_id"]))


def new_id(seed: str, taken: set[str]) -> str:
    n = 0
    while True:
        gid = "org_" + hashlib.sha1((seed if n == 0 else f"{seed}#{n}").encode()).hexdigest()[:12]
        if gid not in taken:
            return gid
        n += 1


def assign_ids(clusters: list[list[str]], old: dict[str, str]) -> tuple[list[str], list[tuple]]:
    """A golden id per cluster (members sorted), and the events (golden_id, event, other_id, org_keys)."""
    claims = defaultdict(list)  # old id -> [(count, -size, min key, cluster index)]
    counts = []
    for i, members in enumerate(clusters):
        had = [old[k] for k in members if k in old]
        c = Counter(had) if len(had) > 1 else dict.fromkeys(had, 1)  # (most clusters: one record)
        counts.append(c)
        for gid, n in c.items():
            claims[gid].append((n, len(members), members[0], i))
    winner = {}  # old id -> cluster index keeping it
    for gid, cl in claims.items():
        winner[gid] = min(cl, key=lambda t: (-t[0], -t[1], t[2]))[3]
    taken = set(old.values())
    ids, events = [None] * len(clusters), []
    # a cluster keeps the old id most of its members had, if it won that id
    for i, c in enumerate(counts):
        for gid, _n in sorted(c.items(), key=lambda t: (-t[1], t[0])):
            if winner[gid] == i:
                ids[i] = gid
                break
    for i, members in enumerate(clusters):
        if ids[i] is None:
            ids[i] = new_id(members[0], taken)
            taken.add(ids[i])
            lost = [gid for gid in counts[i] if winner[gid] != i]
            if lost:
                for gid in sorted(lost):
                    events.append((ids[i], "split_from", gid, members))
            else:
                events.append((ids[i], "new", None, members))
        for gid in sorted(counts[i]):
            if gid != ids[i] and winner[gid] == i:  # an old id whose members now sit in a larger cluster
                events.append((gid, "merged_into", ids[i], members))
    return ids, events


# ---------------------------------------------------------------------------------------------------------
# golden records


def _pick(values, rank):
    vals = [(rank(r), v) for r, v in values if v not in (None, "") and not (isinstance(v, float) and pd.isna(v))]
    return min(vals, key=lambda t: t[0])[1] if vals else None


GOLDEN_COLUMNS = ["golden_id", "name", "short_name", "org_type", "activity_type", "country", "city", "nuts3",
                  "website", "metropolis_id", "assigned_by", "sources", "records", "hidden"]  # fmt: skip


def insert_golden(con, members_of: dict[str, list[str]], hidden: set[str] = frozenset(),
                  moved: dict[str, str] | None = None) -> int:
    """One golden row per cluster, into golden_organisations; returns how many have members of more than one
    source.  Rule: the name is the most frequent name of the best source (the lowest [resolution] rank its
    source.toml declares: CORDIS's legal name first); ties go to the shorter name.  Other fields are taken from
    the best source that has them (the website of a source declaring `website = false` only when no other
    source gives one); country is the
    members' most frequent (a record's address country where it contradicts the source's: `moved`, org_key ->
    country, country_evidence); the metropolis is the seat's (see seat()).  A cluster of one record (most
    of them) is that record's fields, in SQL."""
    moved = moved or {}
    singles = pd.DataFrame([(gid, keys[0], gid in hidden, moved.get(keys[0])) for gid, keys in members_of.items()
                            if len(keys) == 1], columns=["golden_id", "org_key", "hidden", "moved_to"])  # fmt: skip
    con.register("golden_singles", singles)
    con.execute("""
        INSERT INTO golden_organisations BY NAME
        SELECT s.golden_id, o.name, nullif(o.short_name, '') AS short_name, nullif(o.org_type, '') AS org_type,
               nullif(o.activity_type, '') AS activity_type, coalesce(s.moved_to, nullif(o.country, '')) AS country,
               nullif(o.city, '') AS city, nullif(o.nuts3, '') AS nuts3, nullif(o.website, '') AS website,
               o.metropolis_id, CASE WHEN coalesce(o.metropolis_id, '') <> '' THEN o.assigned_by END AS assigned_by,
               [o.source] AS sources, 1 AS records, s.hidden
        FROM golden_singles s JOIN organisations o ON o.org_key = s.org_key
    """)  # fmt: skip
    con.unregister("golden_singles")
    multi = {gid: keys for gid, keys in members_of.items() if len(keys) > 1}
    golden = _golden_of_many(con, multi, hidden, moved)
    if golden.empty:
        return 0
    con.register("golden_frame", golden)
    con.execute("INSERT INTO golden_organisations BY NAME SELECT * FROM golden_frame")
    con.unregister("golden_frame")
    return int((golden["sources"].map(len) > 1).sum())


def seat(recs, rank) -> tuple[str | None, str | None]:
    """An organisation's metropolis is where its seat is, not a branch's: the place of its records from sources
    that give the legal address (CORDIS: [resolution] legal_address), else the place of the address most of its records share (postcode, else
    city); participations keep their own place."""
    def metro_of(r):
        return r.metropolis_id if isinstance(r.metropolis_id, str) and r.metropolis_id else None

    legal = declared_with("legal_address")
    seats = [r for r in recs if r.source in legal]
    if seats:
        group = seats
    else:
        def address(r):
            post = norm_postcode(r.post_code, r.country) if isinstance(r.post_code, str) else None
            return r.country, post or (norm_place(r.city) if isinstance(r.city, str) else None)

        counts = Counter(address(r) for r in recs)
        best = min(counts.items(), key=lambda t: (-t[1], min(rank(r) for r in recs if address(r) == t[0])))[0]
        group = [r for r in recs if address(r) == best]
    metros = Counter(metro_of(r) for r in group)
    metro = min(metros.items(), key=lambda t: (-t[1], min(rank(r) for r in group if metro_of(r) == t[0])))[0]
    assigned = next((r.assigned_by for r in sorted(group, key=rank) if metro_of(r) == metro), None) if metro else None
    return metro, assigned


def golden_name(recs, prio: dict[str, int]) -> str:
    """The golden name of records (anything with .source and .name): the most frequent name of the best source
    (the lowest rank in `prio`); ties go to the shorter name, then the first in order."""
    best = min(recs, key=lambda r: prio[r.source]).source
    names = Counter(r.name for r in recs if r.source == best)
    return min(names.items(), key=lambda t: (-t[1], len(t[0]), t[0]))[0]


def _golden_of_many(con, members_of: dict[str, list[str]], hidden: set[str], moved: dict[str, str] | None = None) -> pd.DataFrame:
    """The golden rows of clusters of several records (the rule of insert_golden)."""
    cols = ("org_key", "source", "name", "short_name", "org_type", "activity_type", "country", "city", "nuts3",
            "website", "metropolis_id", "assigned_by", "post_code")  # fmt: skip
    Row = namedtuple("Row", cols)
    keys = pd.DataFrame({"org_key": [k for ks in members_of.values() for k in ks]}, dtype=object)
    con.register("golden_members", keys)
    rows = {r[0]: Row(*r) for r in con.execute(
        f"SELECT {', '.join(cols)} FROM organisations WHERE org_key IN (SELECT org_key FROM golden_members)").fetchall()}  # fmt: skip
    for k in (moved or {}).keys() & rows.keys():
        rows[k] = rows[k]._replace(country=moved[k])
    con.unregister("golden_members")
    prio = source_rank()
    unranked = sorted({r.source for r in rows.values()} - set(prio))
    if unranked:
        raise ValueError(f"sources without a resolution rank: {unranked} (declare [resolution] rank in their source.toml)")
    no_web = {n for n, d in declared().items() if not d.resolution.website}
    out = []
    for gid, keys in members_of.items():
        recs = [rows[k] for k in keys if k in rows]
        if not recs:
            continue
        name = golden_name(recs, prio)
        rank = lambda r: (prio[r.source], r.org_key)  # noqa: E731
        countries = Counter(r.country for r in recs if r.country)
        country = min(countries.items(), key=lambda t: (-t[1], t[0]))[0] if countries else None
        metro, assigned = seat(recs, rank)
        web = _pick([(r, r.website) for r in recs if r.source not in no_web], rank) or _pick([(r, r.website) for r in recs], rank)
        out.append({
            "golden_id": gid, "name": name, "short_name": _pick([(r, r.short_name) for r in recs], rank),
            "org_type": _pick([(r, r.org_type) for r in recs], rank),
            "activity_type": _pick([(r, r.activity_type) for r in recs], rank), "country": country,
            "city": _pick([(r, r.city) for r in recs if r.country == country], rank),
            "nuts3": _pick([(r, r.nuts3) for r in recs if r.country == country], rank), "website": web,
            "metropolis_id": metro, "assigned_by": assigned,
            "sources": sorted({r.source for r in recs}), "records": len(recs), "hidden": gid in hidden,
        })  # fmt: skip
    return pd.DataFrame(out, columns=GOLDEN_COLUMNS)


def add_registry_fields(con, members_of: dict[str, list[str]], rec_of: dict[str, Rec]) -> int:
    """The golden record's ROR id (its members' most frequent), English and national-language name, Wikidata id
    (a member's, else ROR's), and where the sources give none its website and type from ROR.  Returns how many
    golden organisations link to ROR."""
    rows = []
    for gid, keys in members_of.items():
        recs = [rec_of[k] for k in keys if k in rec_of]
        if not any(r.ror or r.wikidata for r in recs):
            continue
        rors = Counter(r.ror for r in recs if r.ror)
        wds = Counter(r.wikidata for r in recs if r.wikidata)
        rows.append((gid, min(rors.items(), key=lambda t: (-t[1], t[0]))[0] if rors else None,
                     min(wds.items(), key=lambda t: (-t[1], t[0]))[0] if wds else None))  # fmt: skip
    if not rows:
        return 0
    con.register("golden_registry", pd.DataFrame(rows, columns=["golden_id", "ror_id", "wikidata_id"], dtype=object))
    have = db.tables(con)
    con.execute("UPDATE golden_organisations g SET ror_id = x.ror_id, wikidata_id = x.wikidata_id "
                "FROM golden_registry x WHERE x.golden_id = g.golden_id")  # fmt: skip
    con.unregister("golden_registry")
    registry = registry_table("registry")
    if registry in have:
        con.execute(f"""
            UPDATE golden_organisations g SET name_en = r.name_en,
                   name_local = CASE WHEN r.name_local IS DISTINCT FROM r.name_en THEN r.name_local END,
                   wikidata_id = coalesce(g.wikidata_id, r.wikidata_id), website = coalesce(g.website, r.website),
                   org_type = coalesce(g.org_type, replace(r.types, ',', ', '))
            FROM {registry} r WHERE r.ror_id = g.ror_id""")  # fmt: skip
    return con.execute("SELECT count(*) FROM golden_organisations WHERE ror_id IS NOT NULL").fetchone()[0]


def better_written_names(con, members_of: dict[str, list[str]], name_of: dict[str, str]) -> int:
    """A golden name in capitals only (CORDIS writes legal names so: 'RIGAS TEHNISKA UNIVERSITATE') takes the
    writing of a member record, or of ROR, that gives the same name with its small letters and accents ('Rīgas
    Tehniskā universitāte'): the same words once case, accents and punctuation are set aside (`fold`).  The
    form with the most letters beyond ASCII first, then one not capitalised word by word (ROR's 'Helsingin
    yliopisto', not 'Helsingin Yliopisto'), then the most frequent among the members, then the shorter.
    Only the writing changes, never the name.  Returns how many names were rewritten."""
    rows = con.execute("""
        SELECT golden_id, name, name_local, name_en FROM golden_organisations
        WHERE name = upper(name) AND name <> lower(name) AND (records > 1 OR name_local IS NOT NULL OR name_en IS NOT NULL)
    """).fetchall()  # fmt: skip
    out = []
    for gid, name, local, en in rows:
        names = [name_of[k] for k in members_of.get(gid, ()) if k in name_of]
        key = fold(name)
        forms = {f for f in (*names, local, en) if f and f != f.upper() and fold(f) == key}
        if forms:
            counts = Counter(names)
            out.append((gid, min(forms, key=lambda f: (-sum(not c.isascii() for c in f), f == f.title(), -counts[f], len(f), f))))
    if out:
        con.register("written_names", pd.DataFrame(out, columns=["golden_id", "name"], dtype=object))
        con.execute("UPDATE golden_organisations g SET name = w.name FROM written_names w WHERE w.golden_id = g.golden_id")
        con.unregister("written_names")
    return len(out)


def infer_types(con) -> int:
    """A golden organisation no source gives a type (no activity type, no type of its own: keep.eu's, most of
    them) gets the CORDIS activity type its name reads as (`orgtypes`, where the model is sure enough), in
    type_from_name and its chance in type_from_name_p.  Returns how many got one."""
    from . import orgtypes

    rows = con.execute("SELECT golden_id, name FROM golden_organisations "
                       "WHERE activity_type IS NULL AND org_type IS NULL").fetchall()  # fmt: skip
    if not rows:
        return 0
    typed = [(gid, t, p) for (gid, _n), (t, p) in zip(rows, orgtypes.infer([n for _g, n in rows])) if t]
    if typed:
        con.register("typed_frame", pd.DataFrame(typed, columns=["golden_id", "t", "p"]))
        con.execute("UPDATE golden_organisations g SET type_from_name = x.t, type_from_name_p = x.p "
                    "FROM typed_frame x WHERE x.golden_id = g.golden_id")  # fmt: skip
        con.unregister("typed_frame")
    return len(typed)


# ---------------------------------------------------------------------------------------------------------
# entry point


def _expand(side: str, keys: set[str], old: dict[str, str]) -> list[str]:
    """An org_key or golden id -> the current org_keys it stands for."""
    if side in keys:
        return [side]
    return sorted(k for k, g in old.items() if g == side and k in keys)


def revision_pairs(revs, keys: set[str], old: dict[str, str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    merges, apart = [], []
    for a, b in getattr(revs, "merges", None) or []:
        ea, eb = _expand(a, keys, old), _expand(b, keys, old)
        if ea and eb:
            merges += [(ea[0], x) for x in ea[1:] + eb]
    for a, b in getattr(revs, "keep_apart", None) or []:
        ea, eb = _expand(a, keys, old), _expand(b, keys, old)
        apart += [(x, y) for x in ea for y in eb]
    return merges, apart


SCHEMA = "core/golden_organisations.sql"  # the tables resolution writes (warehouse/)


def source_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """org_key -> the record's native id in its source (the query its declaration names: [resolution]
    source_id, e.g. keep.eu's ID_PARTNER); org_id where none is known.  A query runs when the staged tables it
    reads are there."""
    have = db.tables(con) | {
        r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}  # fmt: skip
    parts = []
    for d in declared().values():
        if d.resolution.source_id:
            q = (d.folder / d.resolution.source_id).read_text(encoding="utf-8")
            q = "\n".join(ln for ln in q.splitlines() if not ln.lstrip().startswith("--"))
            if set(re.findall(r"\bstg_\w+__\w+", q)) <= have:
                parts.append(q)
    x = " UNION ALL ".join(f"({q})" for q in parts) if parts else "SELECT NULL::VARCHAR AS org_key, NULL::VARCHAR AS sid WHERE false"
    return dict(con.execute(f"""
        SELECT o.org_key, coalesce(x.sid, o.org_id)
        FROM organisations o LEFT JOIN ({x}) x USING (org_key)""").fetchall())  # fmt: skip


def run(con: duckdb.DuckDBPyConnection, cfg, state, revs, run_id: str, log=None, commit: bool = True,
        records: list[Rec] | None = None) -> dict:  # fmt: skip
    """Resolve every row of `organisations` into golden organisations; update the id registry (commit=False:
    written pending, made current by `commit(state)` once the build is in place).  records: those rows
    already loaded (load_records_meanwhile)."""
    t0 = time.perf_counter()
    discard(state)  # what a killed build left (builds run under the refresh lock, one at a time)
    recs = load_records(con) if records is None else records
    keys = {r.key for r in recs}
    old = load_registry(state)
    merges, apart = revision_pairs(revs, keys, old)
    from .country_evidence import address_moved, match_countries
    from .matching import link_more

    municipal = municipal_places(con)
    stats: dict = {"country_changed": match_countries(con, recs), "municipal_units": municipal_units(con, recs, municipal),
                   "rural_communes": rural_communes(con, recs)}  # fmt: skip
    stats["linked_to_ror"] = link_ror(recs, registry_index(con))
    stats["linked_to_ror"] += link_more(con, recs)
    roots, best = cluster(recs, merges, apart, stats, municipal=municipal)
    ordered = sorted(roots)  # every record's key
    groups = defaultdict(list)
    for k in ordered:
        groups[roots[k]].append(k)
    clusters = sorted(groups.values(), key=lambda m: m[0])
    ids, events = assign_ids(clusters, old)
    members_of = dict(zip(ids, clusters))
    gid_of = {k: gid for gid, ms in members_of.items() for k in ms}
    src = {r.key: r.source for r in recs}
    country_of = {r.key: (r.country, r.country_evidence) for r in recs}
    models.run(con, SCHEMA)
    multi_source = insert_golden(con, members_of, moved={r.key: r.country for r in recs if address_moved(r)})
    rec_of = {r.key: r for r in recs}
    stats["golden_with_ror"] = add_registry_fields(con, members_of, rec_of)
    stats["names_rewritten"] = better_written_names(con, members_of, {r.key: r.name for r in recs})
    stats["types_inferred"] = infer_types(con)
    # records named after a person: their names stay in the warehouse, never published (personal.py)
    counts = personal.word_counts(r.norm for r in recs)
    persons = personal.person_named(recs, counts)
    stats["names_withheld"] = personal.withhold_names(con, members_of, persons, rec_of, counts)
    sids = source_ids(con)
    os_rows = pd.DataFrame(
        [(k, gid_of[k], src[k], *(best.get(k, ("single", 1.0)) if len(members_of[gid_of[k]]) > 1 else ("single", 1.0)),
          sids.get(k), *country_of.get(k, (None, None)), k in persons) for k in ordered],
        columns=["org_key", "golden_id", "source", "match_rule", "score", "source_id", "matched_country", "country_evidence",
                 "name_withheld"],
    )
    con.register("os_frame", os_rows)
    con.execute("INSERT INTO organisation_sources BY NAME SELECT * FROM os_frame")
    con.unregister("os_frame")
    now = datetime.now(UTC).replace(tzinfo=None)
    ev = pd.DataFrame([(run_id, g, e, o, list(m), now) for g, e, o, m in events],
                      columns=["run_id", "golden_id", "event", "other_id", "org_keys", "at"])  # fmt: skip
    hist_old = _read_parquet(history_path(state))
    hist = ev if hist_old is None else pd.concat([hist_old, ev], ignore_index=True)
    if len(hist):
        con.register("hist_frame", hist)
        con.execute("INSERT INTO golden_id_history BY NAME SELECT * FROM hist_frame")
        con.unregister("hist_frame")
    # the registry keeps records absent from this run, so a record that comes back gets its id again
    reg = {**old, **gid_of}
    where = (lambda path: path) if commit else _pending
    write_parquet(pd.DataFrame(sorted(reg.items()), columns=["org_key", "golden_id"]), where(registry_path(state)))
    point("resolve.registry")
    if len(ev):
        write_parquet(hist, where(history_path(state)))
    out = {"records": len(recs), "golden": len(clusters), "multi_source": multi_source,
           "events": Counter(e for _g, e, _o, _m in events), "seconds": round(time.perf_counter() - t0, 2), **stats}  # fmt: skip
    if log:
        log(f"resolution: {out['records']} records -> {out['golden']} organisations ({out['multi_source']} multi-source) in {out['seconds']} s")
    return out
