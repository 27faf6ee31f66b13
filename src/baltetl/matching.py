"""Registry evidence for resolution, beyond `resolve.link_ror`'s exact name lookup (issue 14).

    n = link_more(con, recs)        # after resolve.link_ror: more records carry their ROR id and its names

A record not linked by its exact name is linked to a ROR record of its country by, in this order:

1. its name's word set (`name_key`: parenthesised parts and quotes dropped, oe/ae/ue as one letter, stop
   words and the record's own country word left out): 'HELMHOLTZ-ZENTRUM FUR OZEANFORSCHUNG KIEL (GEOMAR)' is
   ROR's 'GEOMAR Helmholtz-Zentrum für Ozeanforschung Kiel', 'Federal Maritime and Hydrographic Agency' is
   'Federal Maritime and Hydrographic Agency of Germany'; a ROR name counts also without an acronym quoted
   beside it ('Institute of Food Safety, Animal Health and Environment “BIOR”');
2. its website's domain, when that domain is the site of exactly one ROR record of the country and is a
   trusted key (`resolve.trusted_domains`: not a project's or programme's site), or the same site name under
   another suffix ('bior.gov.lv' / ROR's 'bior.lv');
3. a near name (token_sort_ratio of the word sets >= FUZZY) of exactly one ROR record of its country *and
   city* ('Institute of Food Safety, Animal Health and Environment' / '... "BIOR"');
4. a name of exactly one ROR record of its country that is its name in another language, every word a
   cognate of one of the other's (`cognates.translated`: 'LATVIJAS ORGANISKAS SINTEZES INSTITUTS' / 'Latvian
   Institute of Organic Synthesis'); never a name listing bodies.

Never on an acronym alone; never a city administration (it is its place).  Every linked record also carries
the registry's names of its organisation (`Rec.alt`: labels, aliases and acronyms in every language), which
the street-address rule (`resolve.address_match`) compares as well: the record 'Swedish Maritime
Administration' at Östra Promenaden 7 is ROR's Sjöfartsverket, so CORDIS's 'SJOFARTSVERKET' at that address
is one with it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from urllib.parse import urlsplit

import duckdb
from rapidfuzz import fuzz, process

from .declaration import registry_table
from . import cognates, db
from .resolve import (EXONYMS, STOP, Rec, _inflected, acronyms, domain_of, fold, initials, norm_name, trusted_domains,
                      undigraph)

FUZZY = 90.0  # token_sort_ratio of word sets against a ROR name of the record's city
# the word norm_name writes for each country (a ROR name often adds its country: '... of Germany', '(Sweden)')
COUNTRY_WORD = {"DE": "germany", "DK": "denmark", "EE": "estonia", "FI": "finland", "LT": "lithuania", "LV": "latvia",
                "NO": "norway", "PL": "poland", "SE": "sweden"}  # fmt: skip
_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]|[\"“”„«»]")
_QUOTED = re.compile(r"[\"“”„«(\[]\s*[A-Z][A-Z0-9&-]{1,9}\s*[\"“”»)\]]\s*$")  # '... “BIOR”', '... (GEOMAR)'


def name_key(name: str | None, country: str | None) -> str:
    """A name as its sorted set of words, for order-insensitive lookup; '' when nothing is left."""
    n = name or ""
    if _ASIDE.search(n):
        n = _ASIDE.sub(" ", n).strip() or n
    return norm_key(norm_name(n), country)


@lru_cache(maxsize=1 << 17)
def norm_key(norm: str, country: str | None) -> str:
    """name_key of a name already normalised (resolve.norm_name)."""
    if "oe" in norm or "ae" in norm or "ue" in norm:
        norm = undigraph(norm)
    words = {w for w in norm.split() if w not in STOP}
    own = COUNTRY_WORD.get(country or "")
    if own in words and len(words) > 2:
        words.discard(own)
    return " ".join(sorted(words))


class RorNames:
    """The ROR registry of a build, indexed for linking."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.hosts: list[tuple[str, str, str]] = []  # (country, host of the ROR record's website, ror id)
        self.host_of: dict[str, str] = {}  # ror id -> that host
        self.by_city: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        self.by_country: dict[str, list[tuple[str, str]]] = defaultdict(list)  # country -> (name key, ror id)
        self.names: dict[str, tuple[str, ...]] = {}
        self.countries: set[str] = set()
        have = db.tables(con)
        registry, registry_names = registry_table("registry"), registry_table("registry_names")
        if not {registry, registry_names} <= have:
            return
        city_of = {}
        for rid, country, city, d in con.execute(
                f"SELECT ror_id, country, city, domain FROM {registry}").fetchall():  # fmt: skip
            city_of[rid] = fold(city or "")
            if d and country:
                self.hosts.append((country, d.lower(), rid))
                self.host_of[rid] = d.lower()
        names = defaultdict(list)
        for rid, country, name, kind in con.execute(
                f"SELECT ror_id, country, name, name_type FROM {registry_names} ORDER BY record_key").fetchall():  # fmt: skip
            names[rid].append(name)
            if kind == "acronym" or not country:
                continue
            place = city_of.get(rid, "")
            # also without an acronym written in quotes or brackets beside it: 'Institute of Food Safety, Animal
            # Health and Environment “BIOR”'
            for key in dict.fromkeys((name_key(name, country), name_key(_QUOTED.sub(" ", name), country))):
                # never one short word, nor the ROR record's city ('Dresden' as an alias of TU Dresden)
                if not key or (" " not in key and len(key) <= 5) or EXONYMS.get(key, key) == EXONYMS.get(place, place):
                    continue
                self.by_key[(country, key)].add(rid)
                self.by_country[country].append((key, rid))
                if place:
                    self.by_city[(country, EXONYMS.get(place, place))].append((key, rid))
        self.names = {rid: tuple(ns) for rid, ns in names.items()}
        self.countries = {c for c, _k in self.by_key}

    def sites(self, domains: set[str]) -> dict[tuple[str, str], set[str]]:
        """(country, registrable domain) -> ROR ids whose website is on it, for the given domains (a ROR host
        'llh.hessen.de' is on 'hessen.de', as resolve.domain_of writes a record's website)."""
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        for country, host, rid in self.hosts:
            labels = host.split(".")
            for n in (2, 3):
                if len(labels) >= n and (d := ".".join(labels[-n:])) in domains:
                    out[(country, d)].add(rid)
        return out

    def site_labels(self) -> dict[tuple[str, str], set[str]]:
        """(country, the name of a ROR record's site without its suffix: 'bior' of 'bior.lv') -> ROR ids; names of
        four letters or more."""
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        for country, host, rid in self.hosts:
            d = domain_of("http://" + host)
            if d != host.removeprefix("www."):  # a site under another's domain: 'rea.riga.lv' is not 'riga'
                continue
            label = d.split(".")[0]
            if len(label) >= 4:
                out[(country, label)].add(rid)
        return out

    def __bool__(self) -> bool:
        return bool(self.names)

    def lookup(self, r: Rec) -> str | None:
        """The one ROR id of r's country one of whose names has r's word set (r's name as written, without
        its parenthesised parts, without an acronym, or its head); None when none or several have it."""
        keys = [norm_key(r.norm, r.country)]
        if _ASIDE.search(r.name):
            keys.append(name_key(r.name, r.country))
        if r.bare != r.norm:
            keys.append(norm_key(r.bare, r.country))
        if r.head and len(r.head.split()) >= 2:
            keys.append(norm_key(r.head, r.country))
        if r.short:  # the source's short name, often the English name ('MINISTRY OF THE ENVIRONMENT')
            keys.append(norm_key(r.short, r.country))
        for key in keys:
            ids = self.by_key.get((r.country, key))
            if ids:
                return next(iter(ids)) if len(ids) == 1 else None
        return None


def on_site(website: str | None, host: str) -> bool:
    """The website is the host's site or a part of it (both without 'www.'): 'http://www.llh.hessen.de/x' is on
    'llh.hessen.de', 'www.iksd.riga.lv' is not on 'rea.riga.lv', though both are on the registrable 'riga.lv'."""
    u = (website or "").strip().lower()
    try:
        mine = urlsplit(u if "://" in u else "http://" + u).hostname or ""
    except ValueError:
        return False
    mine, host = mine.strip(".").removeprefix("www."), host.strip(".").removeprefix("www.")
    return bool(host) and (mine == host or mine.endswith("." + host))


def site_names(domain: str, name: str) -> bool:
    """The website's own name is the record's: 'sjofartsverket.se' / 'SJOFARTSVERKET', 'zalf.de' / '... (ZALF)',
    'bsh.de' / 'Bundesamt für Seeschifffahrt und Hydrographie' (initials).  A body listing another's site (a
    renamed successor, a tenant) is not linked by it: 'FBCD AS' with agropark.dk."""
    label = domain.split(".")[0].replace("-", "")
    if len(label) < 2:
        return False
    folded = fold(name)
    return (label in folded.replace(" ", "") or label == initials(name).lower()
            or label in {a.lower() for a in acronyms(name)})


def link_more(con: duckdb.DuckDBPyConnection, recs: list[Rec], ror: RorNames | None = None) -> int:
    """Link records that `resolve.link_ror` left unlinked (see the module's doc) and give every linked record
    its ROR names (`Rec.alt`).  Returns how many were newly linked."""
    ror = ror if ror is not None else RorNames(con)
    if not ror:
        return 0
    todo = [r for r in recs if not r.ror and r.country in ror.countries and not r.place and r.norm]
    n = 0
    left = []
    seen: dict[tuple, str | None] = {}
    for r in todo:
        k = (r.country, r.name, r.norm, r.bare, r.head, r.short)
        rid = seen[k] if k in seen else seen.setdefault(k, ror.lookup(r))
        if rid:
            r.ror, n = rid, n + 1
        else:
            left.append(r)
    by_domain = ror.sites({r.domain for r in left if r.domain})
    by_label = ror.site_labels()
    labels = {lb for _c, lb in by_label}
    doms = {d for _c, d in by_domain} | {r.domain for r in left if r.domain and r.domain.split(".")[0] in labels}
    trusted = trusted_domains([r for r in recs if r.domain in doms])  # judged per domain: the same verdicts
    rest = []
    for r in left:
        ids = by_domain.get((r.country, r.domain)) if r.domain in trusted else None
        if ids:  # on the ROR record's own site: 'www.iksd.riga.lv' (Riga's education department) is not 'rea.riga.lv'
            ids = {i for i in ids if on_site(r.website, ror.host_of[i])}
        if not ids and r.domain in trusted:
            # the same site name under another suffix ('bior.gov.lv' / ROR's 'bior.lv')
            ids = by_label.get((r.country, r.domain.split(".")[0]))
        if ids and len(ids) == 1 and site_names(r.domain, r.name):
            r.ror, n = next(iter(ids)), n + 1
        else:
            rest.append(r)
    n += _link_near(rest, ror)
    n += _link_cognate([r for r in rest if not r.ror], ror)
    for r in recs:
        if r.ror:
            r.alt = tuple(dict.fromkeys(norm_name(x) for x in ror.names.get(r.ror, ()) if x))
            r.alt_acronyms = frozenset(x.upper() for x in ror.names.get(r.ror, ()) if x and x.isupper())
    return n


def _words_in(q: str, key: str) -> bool:
    words = key.split()
    return all(w in words or any(_inflected(w, v) for v in words) for w in q.split())


def _link_near(recs: list[Rec], ror: RorNames) -> int:
    """A near name of exactly one ROR record of the record's country and city."""
    by_city = defaultdict(list)
    for r in recs:
        if r.city_f:
            c = r.city_f.split()[0]
            by_city[(r.country, EXONYMS.get(c, c))].append(r)
    n = 0
    for block, rs in by_city.items():
        cands = ror.by_city.get(block)
        if not cands:
            continue
        keys = [k for k, _ in cands]
        queries = [name_key(r.name, r.country) if _ASIDE.search(r.name) else norm_key(r.norm, r.country) for r in rs]
        scores = process.cdist(queries, keys, scorer=fuzz.ratio, score_cutoff=FUZZY)
        for r, q, row in zip(rs, queries, scores):
            if len(q) < 8:
                continue
            # the words of one name are among the other's (or inflected forms of them): a near name that
            # puts a word of its own in place of one of the other's is another body ('Geography' / 'Geophysics')
            ids = {cands[j][1] for j in row.nonzero()[0] if _words_in(q, keys[j]) or _words_in(keys[j], q)}
            if len(ids) == 1:
                r.ror, n = ids.pop(), n + 1
    return n


def _starts(key: str) -> frozenset:
    """The beginnings (five letters of the spelling skeleton) of a name's words of five letters or more: close
    words (cognates.close) begin alike, so only names with the same beginnings are compared."""
    return frozenset(map(cognates.start, key.split())) - {""}


def _link_cognate(recs: list[Rec], ror: RorNames) -> int:
    """A name of the registry in the record's country that is the record's name in another language, every word
    close to a word of the other (cognates.translated: 'LATVIJAS ORGANISKAS SINTEZES INSTITUTS' / 'Latvian
    Institute of Organic Synthesis'), of exactly one ROR record; a name listing bodies never."""
    if not recs:
        return 0
    index: dict[tuple[str, frozenset], list[tuple[str, str]]] = defaultdict(list)
    for country, names in ror.by_country.items():
        for key, rid in names:
            if len(key.split()) >= 2 and (st := _starts(key)):
                index[(country, st)].append((key, rid))
    n = 0
    for r in recs:
        if cognates.joint(r.name):
            continue
        key = name_key(r.name, r.country) if _ASIDE.search(r.name) else norm_key(r.norm, r.country)
        cands = index.get((r.country, _starts(key))) if len(key.split()) >= 2 else None
        if not cands:
            continue
        ids = {rid for k, rid in cands if cognates.translated(key, k, STOP)}
        if len(ids) == 1:
            r.ror, n = ids.pop(), n + 1
    return n
