"""Co-operation opportunities that come true: the backtest, the learned ranking, its features and reasons.

    at_cut(warehouse, cut)    an in-memory view of the warehouse as it was known before `cut`
    load(con)                 the organisations, projects, memberships and topics such a view holds
    Graph(data)               pair features as dense organisation x organisation matrices (numpy/scipy)
    backtest(...)             precision@k, recall@k, average precision of every predictor, with intervals
    train(...), score(...)    the learned ranking (scikit-learn), saved to / read from the state folder

A project counts from its start date; a project without one (keep.eu) from the year after the end of the
programme period its programme names ("2014 - 2020 ..." -> 2021-01-01), or not at all.  A network membership
counts from its joining year (unknown: always).  Organisations, their metropolis and type are as resolved
today.  Plain functions: the CLI (cli/opportunities.py) and topics.build call them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse

from . import models
from .buildinfo import MODEL_PREFIX
from .config import Config
from .db import quote as db_quote
from .personal import PLACEHOLDER

MODEL_FORMAT = 1
MODEL_FILE = f"{MODEL_PREFIX}{MODEL_FORMAT}.json"
# when a project became known (see the module docstring)
KNOWN_FROM = """coalesce(p.start_date, make_date(TRY_CAST(regexp_extract(p.programme, '^(\\d{4}) - (\\d{4})', 2)
                 AS INTEGER) + 1, 1, 1))"""
CLASSIC = ("random", "preferential_attachment", "common_neighbours", "adamic_adar", "resource_allocation")
# metropolis centres (lat, lon) for the distance feature; a metropolis not here has no distance
CENTRES = {
    "berlin": (52.52, 13.40), "copenhagen": (55.68, 12.57), "helsinki": (60.17, 24.94), "malmo": (55.60, 13.00),
    "oslo": (59.91, 10.75), "riga": (56.95, 24.11), "st_petersburg": (59.94, 30.31), "stockholm": (59.33, 18.07),
    "tallinn": (59.44, 24.75), "vilnius": (54.69, 25.28), "warsaw": (52.23, 21.01), "hamburg": (53.55, 9.99),
    "gdansk": (54.35, 18.65),
}  # fmt: skip
FEATURES = (
    "common_neighbours", "adamic_adar", "resource_allocation", "preferential_attachment",
    "degree_min", "degree_max", "projects_min", "projects_max", "recent_min", "recent_max",
    "coordinated_min", "coordinated_max", "dated_min", "dated_max", "ongoing_min", "ongoing_max",
    "recent_degree_min", "recent_degree_max", "text_similarity", "field_similarity", "programme_similarity",
    "call_similarity", "shared_topics", "shared_networks", "complementary", "same_role", "role_pair", "metro_links",
    "distance_km", "same_country",
)  # fmt: skip
ROLES = ("research", "business", "public", "intermediary", "other")


def unbounded(cfg: Config) -> Config:
    """The configuration with the opportunity bounds lifted: every candidate pair of the hand ranking kept."""
    raw = dict(cfg.raw)
    raw["opportunities"] = {**(raw.get("opportunities") or {}), "per_organisation": 100_000, "per_metropolis_pair": 10**8}
    return dataclasses.replace(cfg, raw=raw)


def at_cut(warehouse: Path, cut: date | None) -> duckdb.DuckDBPyConnection:
    """An in-memory database holding views of the warehouse (ATTACHed read-only as wh) under the plain table
    names, as known before `cut`: projects known before it and their participations, memberships joined
    before its year.  `cut` None: everything (dated or not)."""
    con = duckdb.connect()
    con.execute(f"ATTACH {db_quote(warehouse)} AS wh (READ_ONLY)")
    when = "true" if cut is None else f"{KNOWN_FROM} < DATE '{cut.isoformat()}'"
    joined = "true" if cut is None else f"joined_year IS NULL OR joined_year < {cut.year}"
    con.execute(f"CREATE VIEW projects AS SELECT p.* FROM wh.projects p WHERE {when}")
    con.execute("CREATE VIEW participations AS SELECT pa.* FROM wh.participations pa SEMI JOIN projects p USING (project_key)")
    con.execute(f"CREATE VIEW network_memberships AS SELECT * FROM wh.network_memberships WHERE {joined}")
    for t in ("golden_organisations", "organisation_sources", "metropolises"):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM wh.{t}")
    return con


def truth(warehouse: Path, start: date, end: date | None = None) -> pd.DataFrame:
    """Pairs of visible organisations (golden_a < golden_b) taking part together in a visible project known
    from `start` on (and before `end`)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {db_quote(warehouse)} AS wh (READ_ONLY)")
        upper = "" if end is None else f"AND {KNOWN_FROM} < DATE '{end.isoformat()}'"
        return con.execute(f"""
            WITH op AS (
                SELECT DISTINCT os.golden_id, pa.project_key
                FROM wh.participations pa
                JOIN wh.organisation_sources os USING (org_key)
                JOIN wh.golden_organisations g ON g.golden_id = os.golden_id AND NOT coalesce(g.hidden, false)
                JOIN wh.projects p ON p.project_key = pa.project_key AND NOT coalesce(p.hidden, false)
                WHERE {KNOWN_FROM} >= DATE '{start.isoformat()}' {upper} AND g.metropolis_id IS NOT NULL)
            SELECT DISTINCT a.golden_id AS golden_a, b.golden_id AS golden_b
            FROM op a JOIN op b ON a.project_key = b.project_key AND a.golden_id < b.golden_id""").df()  # fmt: skip
    finally:
        con.close()


@dataclass
class Data:
    """What a view at a cut holds, as frames."""

    orgs: pd.DataFrame  # golden_id, metropolis_id, name, role, country (metropolis organisations known)
    org_projects: pd.DataFrame  # golden_id, project_key, coordinator, known_from, dated, end_date (every visible organisation)
    projects: pd.DataFrame  # project_key, euroscivoc, programmes, calls
    networks: pd.DataFrame  # golden_id, network
    topics: pd.DataFrame  # golden_id, topic, label, weight, evidence (organisation_topics)
    hand: pd.DataFrame  # golden_a, golden_b, score (the hand-weighted ranking, every candidate)
    metros: pd.DataFrame  # metropolis_id, name, country
    cut: date | None
    names: pd.Series | None = None  # golden_id -> name of every organisation with a project (partners named)
    terms: pd.DataFrame | None = None  # doc, col, weight: the TF-IDF of the projects' texts (_text_terms)
    words: np.ndarray | None = None  # the words of its columns


def load(con: duckdb.DuckDBPyConnection, cfg: Config, cut: date | None, *, marts: bool = True) -> Data:
    """Frames of the view `con` (see at_cut), each in a fixed order (the sums of the features then run in one
    order: two builds of the same data rank exactly alike).  `marts`: build the hand ranking's marts in it
    first (topics.build, unbounded); otherwise they are read as they are."""
    from . import topics
    from .warehouse import sql_dir

    if marts:
        topics.build(con, unbounded(cfg), sql_dir(cfg), log=lambda m: None, learned=False)
    topics_df, hand = load_marts(con)
    return dataclasses.replace(load_base(con, cfg, cut), topics=topics_df, hand=hand)


def load_marts(con: duckdb.DuckDBPyConnection, hand: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """What load reads of the topic and opportunity marts: the organisations' topics, the hand ranking (not
    read if not `hand`: None)."""
    topics_df = con.execute("""
        SELECT t.golden_id, t.topic, l.label, t.weight, t.evidence FROM organisation_topics t
        JOIN (SELECT DISTINCT topic, label FROM topic_profile) l USING (topic) ORDER BY t.golden_id, t.topic""").df()
    if not hand:
        return topics_df, None
    return topics_df, con.execute("SELECT golden_a, golden_b, score FROM opportunities ORDER BY golden_a, golden_b").df()


def load_base(con: duckdb.DuckDBPyConnection, cfg: Config, cut: date | None, counted: bool = False) -> Data:
    """What load reads from the core tables (resolved organisations, projects, memberships): topics and hand
    are empty frames here (load_marts reads them once the marts exist).  counted: count_words has counted
    the projects' words."""
    from . import topics

    settings = topics.opportunity_settings(cfg)
    con.register("roles_frame", pd.DataFrame(list(settings["roles"].items()), columns=["type_lower", "role"], dtype=object))
    org_projects = con.execute(f"""
        SELECT DISTINCT os.golden_id, pa.project_key, bool_or(pa.role = 'coordinator') AS coordinator,
               any_value({KNOWN_FROM}) AS known_from, any_value(p.start_date IS NOT NULL) AS dated,
               any_value(p.end_date) AS end_date
        FROM participations pa
        JOIN organisation_sources os USING (org_key)
        JOIN golden_organisations g ON g.golden_id = os.golden_id AND NOT coalesce(g.hidden, false)
        JOIN projects p ON p.project_key = pa.project_key AND NOT coalesce(p.hidden, false)
        GROUP BY ALL ORDER BY os.golden_id, pa.project_key""").df()  # fmt: skip
    networks = con.execute("""
        SELECT DISTINCT os.golden_id, nm.network FROM network_memberships nm
        JOIN organisation_sources os USING (org_key)
        JOIN golden_organisations g ON g.golden_id = os.golden_id AND NOT coalesce(g.hidden, false)
        ORDER BY ALL""").df()
    con.register("org_projects_frame", org_projects)
    con.register("networks_frame", networks)
    orgs = con.execute("""
        SELECT g.golden_id, g.metropolis_id, g.name, coalesce(r1.role, r2.role, 'other') AS role, m.country
        FROM golden_organisations g
        JOIN metropolises m USING (metropolis_id)
        LEFT JOIN roles_frame r1 ON r1.type_lower = lower(g.activity_type)
        LEFT JOIN roles_frame r2 ON r2.type_lower = lower(g.org_type)
        WHERE NOT coalesce(g.hidden, false)
          AND (g.golden_id IN (SELECT golden_id FROM org_projects_frame) OR g.golden_id IN (SELECT golden_id FROM networks_frame))
        ORDER BY g.golden_id""").df()  # fmt: skip
    con.unregister("roles_frame")
    con.register("orgs_frame", orgs)
    # the metropolis organisations' projects only (the content features compare those)
    mine = """FROM projects WHERE NOT coalesce(hidden, false)
                AND project_key IN (SELECT project_key FROM org_projects_frame
                                    WHERE golden_id IN (SELECT golden_id FROM orgs_frame))"""
    projects = con.execute(f"""
        SELECT project_key, euroscivoc,
               concat_ws(';', legal_basis, programme, funding_scheme,
                         array_to_string(list_transform(string_split(topics, ';'),
                                         lambda t: array_to_string(string_split(trim(t), '-')[1:2], '-')), ';')) AS programmes,
               topics AS calls
        {mine} ORDER BY project_key""").df()  # fmt: skip
    terms, words = _text_terms(con, f"SELECT project_key, {PROJECT_TEXT} AS text {mine}", counted)
    topics_df = pd.DataFrame({"golden_id": [], "topic": [], "label": [], "weight": [], "evidence": []}, dtype=object)
    hand = pd.DataFrame({"golden_a": pd.Series([], dtype=object), "golden_b": pd.Series([], dtype=object),
                         "score": pd.Series([], dtype=np.float64)})  # fmt: skip
    names = con.execute("""SELECT golden_id, name FROM golden_organisations
                           WHERE golden_id IN (SELECT golden_id FROM org_projects_frame) ORDER BY golden_id""").df().set_index("golden_id")["name"]
    for frame in ("org_projects_frame", "networks_frame", "orgs_frame"):
        con.unregister(frame)
    metros = con.execute("SELECT metropolis_id, name, country FROM metropolises ORDER BY 1").df()
    return Data(orgs, org_projects, projects, networks, topics_df, hand, metros, cut, names, terms, words)


def _rownorm(m: sparse.csr_matrix) -> sparse.csr_matrix:
    n = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    n[n == 0] = 1
    return sparse.diags(1 / n) @ m


def _incidence(rows: pd.Series, cols: pd.Series, row_index: pd.Index, col_index: pd.Index | None = None):
    """A sparse 0/1 matrix rows x columns from pairs (pairs whose row is not in row_index are dropped)."""
    if col_index is None:
        col_index = pd.Index(pd.unique(cols))
    r = row_index.get_indexer(rows)
    c = col_index.get_indexer(cols)
    ok = (r >= 0) & (c >= 0)
    m = sparse.csr_matrix((np.ones(ok.sum(), dtype=np.float32), (r[ok], c[ok])), shape=(len(row_index), len(col_index)))
    m.data[:] = 1
    return m, col_index


STOP_WORDS = Path(__file__).parent / "reference" / "stop_words_en.txt"
TEXT = {"min_df": 2, "max_df": 0.2, "max_features": 30_000}  # the vocabulary of the project texts' TF-IDF


PROJECT_TEXT = "concat_ws(' ', title, keywords, objective)"  # a project's text, as its TF-IDF reads it
WORDS = "project_words"  # projects' words counted ahead by a build (count_words); dropped before it ends
_TOKENS = "unnest(regexp_extract_all(lower(text), '[\\p{L}\\p{N}_]{2,}')) AS term"


def _term_counts(key: str, texts: str) -> str:
    """SQL: (key, term, tf) of the texts of `texts` (a relation of key, text), the words counted as the TF-IDF
    reads them (stop_words_frame registered)."""
    return (f"SELECT {key}, term, count(*) AS tf FROM (SELECT {key}, {_TOKENS} FROM {texts}) "
            "WHERE term NOT IN (SELECT word FROM stop_words_frame) GROUP BY ALL")


def _stop_words() -> pd.DataFrame:
    return pd.DataFrame({"word": [w for w in STOP_WORDS.read_text(encoding="utf-8").split("\n") if w and not w.startswith("#")]})


def count_words(con: duckdb.DuckDBPyConnection) -> None:
    """Count the words of the projects of organisations placed in a metropolis as _text_terms counts them,
    into tables WORDS (project_key, term, tf) and WORDS_texts (project_key, h: the hash of the text counted).
    A build counts them while it resolves the organisations (count_words_meanwhile): the projects the TF-IDF
    reads (those of the metropolis organisations) are known only after, and are nearly all among these."""
    con.register("stop_words_frame", _stop_words())
    placed = f"""SELECT project_key, {PROJECT_TEXT} AS text FROM projects WHERE project_key IN (
                     SELECT pa.project_key FROM participations pa JOIN organisations o USING (org_key)
                     WHERE o.metropolis_id IS NOT NULL)"""  # fmt: skip
    texts = (f"(SELECT project_key, {PROJECT_TEXT} AS text FROM projects "
             f"WHERE project_key IN (SELECT project_key FROM {WORDS}_texts))")
    try:
        con.execute(f"""
            CREATE TABLE {WORDS}_texts AS SELECT project_key, hash(text) AS h FROM ({placed});
            CREATE TABLE {WORDS} AS {_term_counts("project_key", texts)}""")  # fmt: skip
    finally:
        con.unregister("stop_words_frame")


def count_words_meanwhile(con: duckdb.DuckDBPyConnection) -> Future:
    """count_words in a thread, on a cursor of its own (a build's resolution is Python: DuckDB counts
    meanwhile).  Wait for it before a revision changes a project, and before closing `con`."""
    from . import db

    return db.meanwhile(con, count_words, "opportunities-words")


def drop_words(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {WORDS}; DROP TABLE IF EXISTS {WORDS}_texts")


def _text_terms(con: duckdb.DuckDBPyConnection, docs: str, counted: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """The TF-IDF of the texts of `docs` (a query of project_key, text) as rows doc (the text's place in project_key
    order), col, weight (not yet normalised: _text_matrix does it) and the words of the columns (sorted), made
    as scikit-learn's TfidfVectorizer(stop_words="english", sublinear_tf=True, **TEXT) makes it, but in DuckDB
    (its threads; no scikit-learn import in a build): lower-case words of two or more letters, digits or
    underscores, its English stop words left out, words in at least min_df and at most max_df of the texts,
    the max_features most frequent; weight (1 + ln tf) * (ln((1 + n) / (1 + df)) + 1).
    tests/test_opportunities.py checks it against TfidfVectorizer.  counted: the words of a text count_words
    counted (the same project, the same text) are read from WORDS; the others are counted here."""
    con.register("stop_words_frame", _stop_words())
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE text_docs AS
            SELECT (row_number() OVER (ORDER BY project_key) - 1)::INTEGER AS doc, project_key, text FROM ({docs})""")
        fresh, ahead = "text_docs", ""
        if counted:  # a text counted ahead, unchanged since (a revision may have changed it)
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE text_ahead AS
                SELECT d.doc, d.project_key FROM text_docs d JOIN {WORDS}_texts t
                    ON t.project_key = d.project_key AND t.h = hash(d.text)""")  # fmt: skip
            fresh = "(SELECT * FROM text_docs WHERE doc NOT IN (SELECT doc FROM text_ahead))"
            ahead = f"UNION ALL SELECT a.doc, w.term, w.tf FROM text_ahead a JOIN {WORDS} w USING (project_key)"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE text_counts AS {_term_counts("doc", fresh)} {ahead}""")  # fmt: skip
        n = con.execute("SELECT count(*) FROM text_docs").fetchone()[0]
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE text_words AS
            WITH df AS (SELECT term, count(*) AS df, sum(tf) AS total FROM text_counts GROUP BY term),
            kept AS (SELECT term, df FROM df WHERE df >= {TEXT["min_df"]} AND df <= {TEXT["max_df"]} * {n}
                     ORDER BY total DESC, term LIMIT {TEXT["max_features"]})
            SELECT term, ln((1 + {n}) / (1 + df)) + 1 AS idf, (row_number() OVER (ORDER BY term) - 1)::INTEGER AS col
            FROM kept""")  # fmt: skip
        # (in no order: the sparse matrix made of them is the same)
        terms = con.execute("SELECT doc, col, (1 + ln(tf)) * idf AS weight FROM text_counts JOIN text_words USING (term)").df()
        words = con.execute("SELECT term FROM text_words ORDER BY col").df()["term"].to_numpy(dtype=object)
        con.execute("DROP TABLE text_counts; DROP TABLE text_words; DROP TABLE text_docs; DROP TABLE IF EXISTS text_ahead")
        return terms, words
    finally:
        con.unregister("stop_words_frame")


def _text_matrix(terms: pd.DataFrame, words: np.ndarray, n_docs: int, rows: np.ndarray) -> sparse.csr_matrix:
    """The TF-IDF rows (each of length 1) of _text_terms' texts in the order `rows` (their places in
    project_key order, of n_docs; -1: a text not there, an empty row)."""
    if not len(words):
        return sparse.csr_matrix((len(rows), 1), dtype=np.float32)
    m = sparse.csr_matrix((terms["weight"].to_numpy(np.float32), (terms["doc"].to_numpy(), terms["col"].to_numpy())),
                          shape=(n_docs + 1, len(words)))  # fmt: skip
    return _rownorm(m[np.where(rows >= 0, rows, n_docs)]).tocsr()


def _codes(col: pd.Series, prefixes: bool = False) -> pd.DataFrame:
    """Rows (i, code) of a ';'-separated column; `prefixes`: a euroSciVoc path and its ancestors."""
    s = col.fillna("").str.split(";").explode().str.strip()
    s = s[s != ""]
    if prefixes:
        parts = s.str.strip("/").str.split("/")
        s = pd.concat([parts.map(lambda p, k=k: "/" + "/".join(p[:k]) if len(p) >= k else None) for k in (1, 2, 3, 4, 5)]).dropna()
    return pd.DataFrame({"i": s.index, "code": s.values}).drop_duplicates()


class Graph:
    """The metropolis organisations `data.orgs` with what their pair features are computed from: rows of
    sparse profiles (partners, projects, words, fields, programmes, topics, networks) and per-organisation
    numbers.  Pair features come in blocks of rows (`pairs`), never as one all-pairs matrix."""

    def __init__(self, data: Data, recent_days: int = 365):
        self.data = data
        orgs = data.orgs
        self.ids = pd.Index(orgs["golden_id"])
        self.names = orgs["name"].to_numpy()
        n = len(self.ids)
        op = data.org_projects
        every = pd.Index(pd.unique(op["golden_id"]))
        self.every = every
        proj_index = pd.Index(pd.unique(op["project_key"]))
        b_all, _ = _incidence(op["golden_id"], op["project_key"], every, proj_index)
        # the co-participation graph over every organisation (partners outside the metropolises link too)
        w = (b_all @ b_all.T).tocsr()
        w.setdiag(0)
        w.eliminate_zeros()
        w.data[:] = 1
        deg = np.asarray(w.sum(axis=1)).ravel()
        pos = every.get_indexer(self.ids)  # metropolis organisations in the graph (-1: no project)
        has = pos >= 0
        keep = sparse.diags(has.astype(np.float32))
        self.wm = (keep @ w[np.maximum(pos, 0)]).tocsr() if len(every) else sparse.csr_matrix((n, 0), dtype=np.float32)
        self.bm = (keep @ b_all[np.maximum(pos, 0)]).tocsr() if len(every) else sparse.csr_matrix((n, 0), dtype=np.float32)
        with np.errstate(divide="ignore"):
            self.inv_log = np.where(deg > 1, 1 / np.log(np.maximum(deg, 2)), 0).astype(np.float32)
            self.inv_deg = np.where(deg > 0, 1 / np.maximum(deg, 1), 0).astype(np.float32)
        self.wm_aa = (self.wm @ sparse.diags(self.inv_log)).tocsr()
        self.wm_ra = (self.wm @ sparse.diags(self.inv_deg)).tocsr()
        self.degree = np.where(has, deg[np.maximum(pos, 0)], 0).astype(np.float32)
        mine = op[op["golden_id"].isin(self.ids)]
        g = mine.groupby("golden_id")
        self.projects = g.size().reindex(self.ids, fill_value=0).to_numpy(np.float32)
        self.coordinated = g["coordinator"].sum().reindex(self.ids, fill_value=0).to_numpy(np.float32)
        cut = pd.Timestamp(data.cut or date.today())
        recent = mine[pd.to_datetime(mine["known_from"]) >= cut - pd.Timedelta(days=recent_days)]
        self.recent = recent.groupby("golden_id").size().reindex(self.ids, fill_value=0).to_numpy(np.float32)
        # projects with a start date (Horizon Europe, Interreg SE: the dated sources), still running at the cut
        self.dated = g["dated"].sum().reindex(self.ids, fill_value=0).to_numpy(np.float32)
        running = mine[pd.to_datetime(mine["end_date"]) >= cut]
        self.ongoing = running.groupby("golden_id").size().reindex(self.ids, fill_value=0).to_numpy(np.float32)
        # partners in the projects of the last year (every organisation counts as a partner)
        rop = op[pd.to_datetime(op["known_from"]) >= cut - pd.Timedelta(days=recent_days)]
        br, _ = _incidence(rop["golden_id"], rop["project_key"], self.ids, proj_index)
        ba, _ = _incidence(rop["golden_id"], rop["project_key"], every, proj_index)
        wr = (br @ ba.T).tocsr()
        wr.data[:] = 1
        self.recent_degree = (np.asarray(wr.sum(axis=1)).ravel() - (np.asarray(br.sum(axis=1)).ravel() > 0)).astype(np.float32)
        # content: what their projects are about (TF-IDF of title, keywords, objective), euroSciVoc fields
        # (a field counts for the fields above it too), programmes and call families
        bp, pidx = _incidence(mine["golden_id"], mine["project_key"], self.ids)
        projects = data.projects.set_index("project_key").reindex(pidx).reset_index(drop=True)
        # single words (pairs of words would hold millions of distinct terms in memory before the pruning)
        sorted_keys = pd.Index(data.projects["project_key"])  # (load_base: in project_key order, as _text_terms)
        text = _text_matrix(data.terms, data.words, len(sorted_keys), sorted_keys.get_indexer(pidx))
        self.words = data.words if len(data.words) else np.array([""], dtype=object)
        self.text = _rownorm(bp @ text)
        sci = _codes(projects["euroscivoc"], prefixes=True)
        sm, _ = _incidence(sci["i"], sci["code"], pd.RangeIndex(len(pidx)))
        self.fields = _rownorm(_idf(bp @ sm))
        prog = _codes(projects["programmes"])
        pm, self.programme_labels = _incidence(prog["i"], prog["code"], pd.RangeIndex(len(pidx)))
        self.programmes = _rownorm(_idf(bp @ pm))
        # the calls applied to (call topic ids such as HORIZON-CL5-2021-D2-01-11)
        calls = _codes(projects["calls"])
        cm, self.call_labels = _incidence(calls["i"], calls["code"], pd.RangeIndex(len(pidx)))
        self.calls = _rownorm(_idf(bp @ cm))
        # configured topics, networks, roles, places
        self.with_topics(data.topics)
        self.network_matrix, self.network_index = _incidence(data.networks["golden_id"], data.networks["network"], self.ids)
        for m in (self.wm, self.text, self.fields, self.programmes, self.calls, self.topic_matrix, self.network_matrix):
            m.sort_indices()  # _shared reads rows as sorted column lists
        self.role = pd.Categorical(orgs["role"], categories=ROLES).codes.astype(np.int8)
        self.role[self.role < 0] = ROLES.index("other")
        self.metro = pd.Categorical(orgs["metropolis_id"], categories=data.metros["metropolis_id"]).codes.astype(np.int16)
        self.country = orgs["country"].to_numpy()
        mi = data.metros["metropolis_id"].tolist()
        k = len(mi)
        self.distance = np.full((k, k), np.nan, dtype=np.float32)
        for a in range(k):
            for b in range(k):
                if mi[a] in CENTRES and mi[b] in CENTRES:
                    self.distance[a, b] = _km(CENTRES[mi[a]], CENTRES[mi[b]])
        # existing links between the metropolises: pairs of their organisations with a shared project
        mo = sparse.csr_matrix((np.ones(n, np.float32), (np.arange(n), self.metro)), shape=(n, k))
        linked = self.bm @ self.bm.T
        linked.data[:] = 1
        self.metro_links = (mo.T @ linked @ mo).toarray().astype(np.float32)
        ia, ib = self.ids.get_indexer(data.hand["golden_a"]), self.ids.get_indexer(data.hand["golden_b"])
        ok = (ia >= 0) & (ib >= 0)
        hs = data.hand["score"].to_numpy(np.float32)[ok]
        self.hand = sparse.csr_matrix((np.concatenate([hs, hs]), (np.concatenate([ia[ok], ib[ok]]), np.concatenate([ib[ok], ia[ok]]))),
                                      shape=(n, n))  # fmt: skip

    def with_topics(self, topics: pd.DataFrame) -> Graph:
        """The organisations' configured topics (load_marts) in place of those the graph was made with."""
        self.data = dataclasses.replace(self.data, topics=topics)
        self.topic_matrix, self.topic_index = _incidence(topics["golden_id"], topics["topic"], self.ids)
        self.topic_matrix.sort_indices()
        return self

    def _products(self) -> dict:
        """The features that are products of two matrices' rows: name -> (left matrix, right matrix)."""
        return {"common_neighbours": (self.wm, self.wm), "adamic_adar": (self.wm_aa, self.wm),
                "resource_allocation": (self.wm_ra, self.wm), "text_similarity": (self.text, self.text),
                "field_similarity": (self.fields, self.fields), "programme_similarity": (self.programmes, self.programmes),
                "call_similarity": (self.calls, self.calls),
                "shared_topics": (self.topic_matrix, self.topic_matrix),
                "shared_networks": (self.network_matrix, self.network_matrix)}  # fmt: skip

    def _columns(self, i: np.ndarray, j: np.ndarray, products: dict) -> np.ndarray:
        """The FEATURES of pairs (i, j), given their product features (`_products`)."""
        lo, hi = np.minimum, np.maximum
        other = ROLES.index("other")
        ri, rj = self.role[i], self.role[j]
        cols = {
            **products,
            "preferential_attachment": self.degree[i] * self.degree[j],
            "degree_min": lo(self.degree[i], self.degree[j]), "degree_max": hi(self.degree[i], self.degree[j]),
            "projects_min": lo(self.projects[i], self.projects[j]), "projects_max": hi(self.projects[i], self.projects[j]),
            "recent_min": lo(self.recent[i], self.recent[j]), "recent_max": hi(self.recent[i], self.recent[j]),
            "coordinated_min": lo(self.coordinated[i], self.coordinated[j]),
            "coordinated_max": hi(self.coordinated[i], self.coordinated[j]),
            "dated_min": lo(self.dated[i], self.dated[j]), "dated_max": hi(self.dated[i], self.dated[j]),
            "ongoing_min": lo(self.ongoing[i], self.ongoing[j]), "ongoing_max": hi(self.ongoing[i], self.ongoing[j]),
            "recent_degree_min": lo(self.recent_degree[i], self.recent_degree[j]),
            "recent_degree_max": hi(self.recent_degree[i], self.recent_degree[j]),
            "complementary": ((ri != rj) & (ri != other) & (rj != other)).astype(np.float32),
            "same_role": (ri == rj).astype(np.float32),
            "role_pair": (lo(ri, rj) * len(ROLES) + hi(ri, rj)).astype(np.float32),
            "metro_links": self.metro_links[self.metro[i], self.metro[j]],
            "distance_km": self.distance[self.metro[i], self.metro[j]],
            "same_country": (self.country[i] == self.country[j]).astype(np.float32),
        }  # fmt: skip
        if not len(i):
            return np.zeros((0, len(FEATURES)), np.float32)
        return np.column_stack([np.asarray(cols[f], dtype=np.float32) for f in FEATURES])

    def features(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """The FEATURES of any pairs (i, j) (row by row; `pairs` computes the same in blocks)."""
        def dot(m, m2, chunk=512):  # row by row products, a chunk at a time (rows of big organisations are long)
            return np.concatenate([np.asarray(m[i[k : k + chunk]].multiply(m2[j[k : k + chunk]]).sum(axis=1)).ravel()
                                   for k in range(0, len(i), chunk)] or [np.zeros(0)])  # fmt: skip
        return self._columns(i, j, {k: dot(a, b) for k, (a, b) in self._products().items()})

    def pairs(self, rows: np.ndarray | None = None, block: int = 128):
        """Blocks (i, j, features, hand score) of the candidate pairs i < j: metropolis organisations in two
        different metropolises with no shared project (only i in `rows` if given)."""
        n = len(self.ids)
        rows = np.arange(n) if rows is None else np.asarray(rows)
        for start in range(0, len(rows), block):
            r = rows[start : start + block]
            prod = lambda m, m2=None: (m[r] @ (m if m2 is None else m2).T).toarray().astype(np.float32)  # noqa: E731
            linked = prod(self.bm) > 0
            mask = (np.arange(n)[None, :] > r[:, None]) & (self.metro[None, :] != self.metro[r][:, None]) & ~linked
            bi, j = np.nonzero(mask)
            i = r[bi]
            if not len(i):
                continue
            x = self._columns(i, j, {k: prod(m, m2)[bi, j] for k, (m, m2) in self._products().items()})
            hand = self.hand[r].toarray()[bi, j].astype(np.float32)
            yield i.astype(np.int32), j.astype(np.int32), x, hand

    def _logits(self, model: dict, block: int = 256):
        """Blocks (rows r, candidate mask, logits, products), each a function that computes it, of every
        organisation in r against every organisation: the
        mask holds the pairs in different metropolises with no shared project (either order), the logits are
        `model`'s as `predict` computes them from the features, but without the feature rows: the model is
        linear in log(1 + feature), so each feature adds its weighted log to a dense block (the minimum of two
        logs is the log of the minimum; roles and places are tables of the few roles and metropolises)."""
        w, const = _weights(model)
        f = dict(zip(FEATURES, w[: len(FEATURES)].astype(np.float32)))
        n = len(self.ids)
        log = lambda v: np.log1p(np.abs(np.nan_to_num(np.asarray(v, np.float32), nan=5000.0)))  # noqa: E731 (as design)
        per_org = {name: log(getattr(self, name)) for name in ("degree", "projects", "recent", "coordinated", "dated", "ongoing", "recent_degree")}
        nr = len(ROLES)
        ri, rj = np.meshgrid(np.arange(nr), np.arange(nr), indexing="ij")
        lo_r, hi_r = np.minimum(ri, rj), np.maximum(ri, rj)
        other = ROLES.index("other")
        roles = (f["complementary"] * log((ri != rj) & (ri != other) & (rj != other)) + f["same_role"] * log(ri == rj)
                 + f["role_pair"] * log(lo_r * nr + hi_r) + w[len(FEATURES):][lo_r * nr + hi_r]).astype(np.float32)  # fmt: skip
        places = (f["metro_links"] * log(self.metro_links) + f["distance_km"] * log(self.distance)).astype(np.float32)
        country = pd.factorize(pd.Series(self.country, dtype=object))[0]
        products = self._products()

        def one(start: int):
            r = np.arange(start, min(n, start + block))
            linked = (self.bm[r] @ self.bm.T).toarray() > 0
            mask = (self.metro[None, :] != self.metro[r][:, None]) & ~linked
            s = np.full((len(r), n), const, dtype=np.float32)
            prods = {}
            for name, (m, m2) in products.items():
                prods[name] = (m[r] @ m2.T).toarray().astype(np.float32)
                s += f[name] * np.log1p(prods[name])
            for name, v in per_org.items():
                a, b = v[r][:, None], v[None, :]
                s += f[f"{name}_min"] * np.minimum(a, b) + f[f"{name}_max"] * np.maximum(a, b)
            deg = self.degree
            s += f["preferential_attachment"] * np.log1p(deg[r][:, None] * deg[None, :])
            s += roles[self.role[r]][:, self.role] + places[self.metro[r]][:, self.metro]
            s += f["same_country"] * np.log1p((country[r][:, None] == country[None, :]).astype(np.float32))
            return r, mask, s, prods

        for start in range(0, n, block):
            yield lambda start=start: one(start)  # a block is computed when called (best: in threads)

    def scored(self, model: dict):
        """Blocks (i, j, score) of the candidate pairs i < j of `pairs`, scored as `predict` scores them."""
        n = len(self.ids)
        for block in self._logits(model):
            r, mask, s, _ = block()
            bi, j = np.nonzero(mask & (np.arange(n)[None, :] > r[:, None]))
            yield r[bi].astype(np.int32), j.astype(np.int32), _sigmoid(s[bi, j])

    def best(self, model: dict, keep: int, threads: int = 2):
        """Each organisation's `keep` best candidate pairs (ties: the other's lower index) as arrays organisation,
        other, score and their FEATURES (the products read from the blocks), and the number of candidate pairs
        i < j per pair of metropolises (a matrix).  The blocks are scored in `threads` threads (numpy and
        scipy's sparse products release the GIL); the result does not depend on their number."""

        n, k = len(self.ids), len(self.metro_links)

        def top(block):
            r, mask, s, prods = block()
            bi, j = np.nonzero(mask & (np.arange(n)[None, :] > r[:, None]))
            count = np.bincount(self.metro[r][bi].astype(np.int64) * k + self.metro[j], minlength=k * k)
            s[~mask] = -np.inf
            if keep < n:  # the keep-th best of each row, then every candidate at least as good (ties included)
                floor = -np.partition(-s, keep - 1, axis=1)[:, keep - 1 : keep]
                s[s < floor] = -np.inf
            bi, j = np.nonzero(np.isfinite(s))
            order = np.lexsort((j, -s[bi, j], bi))
            bi, j = bi[order], j[order]
            first = np.searchsorted(bi, bi)  # where each row's run starts (bi is sorted)
            kept = np.arange(len(bi)) - first < keep
            bi, j = bi[kept], j[kept]
            return r[bi], j, _sigmoid(s[bi, j]), {name: v[bi, j] for name, v in prods.items()}, count

        with ThreadPoolExecutor(max(1, threads)) as pool:
            out = list(pool.map(top, self._logits(model)))  # in the blocks' order
        count = sum((p[4] for p in out), np.zeros(k * k, dtype=np.int64))
        if not out:
            return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32),
                    np.zeros((0, len(FEATURES)), np.float32), count.reshape(k, k))  # fmt: skip
        o, other, score = (np.concatenate([p[t] for p in out]) for t in range(3))
        prods = {name: np.concatenate([p[3][name] for p in out]) for name in out[0][3]}
        every = {name: prods.get(name, np.zeros(len(o), np.float32)) for name in self._products()}
        return o, other, score, self._columns(o, other, every), count.reshape(k, k)

    def all_pairs(self):
        """Every candidate pair: (i, j, features, hand score) concatenated."""
        parts = list(self.pairs())
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.float32)
        return tuple(np.concatenate(p) for p in zip(*parts))


def _idf(m: sparse.csr_matrix) -> sparse.csr_matrix:
    """Counts weighted by inverse document frequency (rare fields and programmes say more)."""
    df = np.asarray((m > 0).sum(axis=0)).ravel()
    idf = np.log((1 + m.shape[0]) / (1 + df)) + 1
    return (m @ sparse.diags(idf.astype(np.float32))).tocsr()


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def classic_scores(x: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The textbook link predictors on the co-participation graph, from the pairs' features."""
    out = {"random": np.random.default_rng(seed).random(len(x)).astype(np.float32)}
    for name in CLASSIC[1:]:
        out[name] = x[:, FEATURES.index(name)]
    return out


# ------------------------------------------------------------------------------------------------ metrics


def ranking(score: np.ndarray, seed: int = 0) -> np.ndarray:
    """Positions, best first; ties broken at random (a fixed seed), never by the order of the candidates."""
    tie = np.random.default_rng(seed).random(len(score))
    return np.lexsort((tie, -np.asarray(score, dtype=np.float64)))


def metrics(labels: np.ndarray, order: np.ndarray, ks: tuple[int, ...], weights: np.ndarray | None = None) -> dict:
    """precision@k, recall@k (for each k) and average precision of a ranking `order` of the pairs with
    `labels` (0/1); `weights` count each pair that many times (the bootstrap's resampled organisations)."""
    y = labels[order].astype(np.float64)
    w = np.ones_like(y) if weights is None else weights[order].astype(np.float64)
    cw, cy = np.cumsum(w), np.cumsum(w * y)
    total = cy[-1] if len(cy) else 0.0
    out = {}
    for k in ks:
        pos = np.searchsorted(cw, k, side="right")  # pairs wholly inside the first k
        hits = cy[pos - 1] if pos > 0 else 0.0
        out[f"p@{k}"] = hits / k
        out[f"r@{k}"] = hits / total if total else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(cw > 0, cy / cw, 0)
    out["ap"] = float((w * y * prec).sum() / total) if total else 0.0
    return out


def bootstrap(labels, orders: dict[str, np.ndarray], i, j, n_orgs: int, learned: str, classic: tuple[str, ...],
              k: int = 100, reps: int = 100, seed: int = 1) -> dict:
    """95 % intervals of p@k and AP ratios learned / best classic, organisations resampled with replacement
    (a pair counts as often as both its organisations were drawn; the best classic is chosen per sample)."""
    rng = np.random.default_rng(seed)
    names = (learned, *classic)
    # per ranking: its pairs in order, and where the positives are in it
    ranked = {n: (i[orders[n]], j[orders[n]], np.flatnonzero(labels[orders[n]])) for n in names}
    p_ratio, ap_ratio = [], []
    for _ in range(reps):
        m = np.bincount(rng.integers(0, n_orgs, n_orgs), minlength=n_orgs).astype(np.float32)
        p_at, ap = {}, {}
        for n, (ri, rj, pos) in ranked.items():
            cw = np.cumsum(m[ri] * m[rj], dtype=np.float64)
            wp = (m[ri[pos]] * m[rj[pos]]).astype(np.float64)
            cy = np.cumsum(wp)
            inside = np.searchsorted(pos, np.searchsorted(cw, k, side="right"))  # positives wholly in the first k
            p_at[n] = (cy[inside - 1] if inside else 0.0) / k
            total = cy[-1] if len(cy) else 0.0
            ap[n] = float((wp * cy / np.where(cw[pos] > 0, cw[pos], 1)).sum() / total) if total else 0.0
        best_p, best_ap = max(p_at[c] for c in classic), max(ap[c] for c in classic)
        p_ratio.append(p_at[learned] / best_p if best_p else np.nan)
        ap_ratio.append(ap[learned] / best_ap if best_ap else np.nan)
    q = lambda v: tuple(np.nanpercentile(v, [2.5, 97.5]).round(2)) if np.isfinite(v).any() else (np.nan, np.nan)  # noqa: E731
    return {"ratio_ci": q(np.array(p_ratio)), "ap_ratio_ci": q(np.array(ap_ratio))}


# ------------------------------------------------------------------------------------------------ model


def labels_for(g: Graph, i: np.ndarray, j: np.ndarray, pairs: pd.DataFrame) -> np.ndarray:
    a, b = g.ids.get_indexer(pairs["golden_a"]), g.ids.get_indexer(pairs["golden_b"])
    ok = (a >= 0) & (b >= 0)
    n = len(g.ids)
    keys = set((np.minimum(a[ok], b[ok]).astype(np.int64) * n + np.maximum(a[ok], b[ok])).tolist())
    return np.isin(i.astype(np.int64) * n + j, np.fromiter(keys, dtype=np.int64, count=len(keys))).astype(np.int8)


def design(x: np.ndarray) -> np.ndarray:
    """What the model reads: every feature on a log scale (log(1 + x), an unknown distance as far), and the
    pair of roles one-hot."""
    rp = x[:, FEATURES.index("role_pair")].astype(np.int64)
    z = np.log1p(np.abs(np.nan_to_num(x, nan=5000.0)))
    return np.hstack([z, (rp[:, None] == np.arange(len(ROLES) ** 2)[None, :]).astype(np.float32)])


# the inverse strength of the model's L2 penalty (scikit-learn's C, on the standardised design, summed over the
# ~10 % of the windows' pairs train_model keeps): strong, because the weights must carry over from the training
# windows to a later cut, whose graph is bigger and richer in content (README: the backtest's settings tried)
LR_C = 1e-4


def fit(xs: list[np.ndarray], ys: list[np.ndarray], seed: int = 0, negatives: int | None = None, c: float = LR_C) -> dict:
    """A logistic regression (scikit-learn) on the design of the features: every positive pair and every negative
    given (`negatives`: up to that many times as many negatives as positives, drawn at random), of each window.
    Returned as plain numbers (the standardisation and the coefficients), which is all scoring needs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for x, y in zip(xs, ys):
        pos, neg = np.flatnonzero(y), np.flatnonzero(y == 0)
        if negatives is not None:
            neg = rng.choice(neg, min(len(neg), max(1, negatives * len(pos))), replace=False)
        keep = np.concatenate([pos, neg])
        parts.append(design(x[keep]))
        labels.append(y[keep])
    z, y = np.vstack(parts), np.concatenate(labels)
    scaler = StandardScaler().fit(z)
    lr = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(z), y)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return {"mean": scaler.mean_.tolist(), "scale": scale.tolist(), "coef": lr.coef_[0].tolist(),
            "intercept": float(lr.intercept_[0]), "negatives_fitted": int((y == 0).sum())}  # fmt: skip


def contributions(model: dict, x: np.ndarray) -> np.ndarray:
    """Each design column's part in the pairs' scores (standardised value x coefficient)."""
    z = (design(x) - np.asarray(model["mean"], np.float32)) / np.asarray(model["scale"], np.float32)
    return z * np.asarray(model["coef"], np.float32)


def _weights(model: dict) -> tuple[np.ndarray, float]:
    """The model's weights of the design columns (unstandardised) and its constant."""
    w = np.asarray(model["coef"], np.float64) / np.asarray(model["scale"], np.float64)
    return w, float(model["intercept"] - np.dot(np.asarray(model["mean"], np.float64), w))


def _sigmoid(s: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-s.astype(np.float64)))).astype(np.float32)


def predict(model: dict, x: np.ndarray) -> np.ndarray:
    """The probability that the pairs come to work together: the logistic of the intercept plus the sum of the
    contributions, computed without the design matrix (a dot product and a look-up of the role pair)."""
    w, const = _weights(model)
    nf = len(FEATURES)
    z = np.log1p(np.abs(np.nan_to_num(x, nan=5000.0)))
    s = z @ w[:nf].astype(np.float32) + w[nf:][x[:, FEATURES.index("role_pair")].astype(np.int64)] + const
    return (1 / (1 + np.exp(-s))).astype(np.float32)


@dataclass
class Window:
    cut: date
    graph: Graph
    i: np.ndarray
    j: np.ndarray
    x: np.ndarray
    hand: np.ndarray


def window(cfg: Config, cut: date) -> Window:
    """The candidate pairs at `cut` with their features (computed from what was known before it only)."""
    con = at_cut(cfg.warehouse, cut)
    try:
        data = load(con, cfg, cut)
    finally:
        con.close()
    g = Graph(data)
    return Window(cut, g, *g.all_pairs())


TRAIN_MONTHS = (6, 12)  # the training windows: features at cut - m, labels from [cut - m, cut)


def train_model(cfg: Config, cut: date, months: tuple[int, ...] = TRAIN_MONTHS, log=print, negatives: float = 0.1,
                seed: int = 0) -> dict:  # fmt: skip
    """The model for rankings at `cut`, trained on windows before it only (see TRAIN_MONTHS).  Of each window
    every pair that came true is kept and a share `negatives` of the others (drawn at random), block by block."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    xs, ys, info = [], [], []
    for m in months:
        start = _months_before(cut, m)
        con = at_cut(cfg.warehouse, start)
        try:
            g = Graph(load(con, cfg, start))
        finally:
            con.close()
        came_true = truth(cfg.warehouse, start, cut)
        n_pairs, xw, yw = 0, [], []
        for i, j, x, _ in g.pairs():
            y = labels_for(g, i, j, came_true)
            keep = (y == 1) | (rng.random(len(y)) < negatives)
            n_pairs += len(y)
            xw.append(x[keep])
            yw.append(y[keep])
        if xw:
            xs.append(np.concatenate(xw))
            ys.append(np.concatenate(yw))
        info.append({"feature_cut": start.isoformat(), "label_end": cut.isoformat(), "pairs": n_pairs,
                     "positives": int(sum(int(y.sum()) for y in yw))})  # fmt: skip
    positives = sum(w["positives"] for w in info)
    if not positives:
        raise ValueError(f"no pair came to work together in the {max(months)} months before {cut}: nothing to learn from")
    model = fit(xs, ys, seed=seed)
    # the negatives were sampled: shift the intercept back so that the score reads as a chance again
    share = model.pop("negatives_fitted") / max(1, sum(w["pairs"] - w["positives"] for w in info))
    model["intercept"] += math.log(share) if share > 0 else 0.0
    model.update({"format": MODEL_FORMAT, "features": list(FEATURES), "cut": cut.isoformat(), "windows": info})
    log(f"trained on {sum(w['pairs'] for w in info):,} candidate pairs in {len(months)} windows before {cut} "
        f"({positives} came true) in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    return model


def default_cut(cfg: Config) -> date:
    """Where the data thins out: the first of the month by which 95 % of the dated projects had started (later
    months hold few projects yet, too few to learn from)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {db_quote(cfg.warehouse)} AS wh (READ_ONLY)")
        found = con.execute(f"SELECT quantile_disc({KNOWN_FROM}, 0.95) FROM wh.projects p WHERE {KNOWN_FROM} IS NOT NULL").fetchall()[0][0]
    finally:
        con.close()
    return date.today().replace(day=1) if found is None else min(found, date.today()).replace(day=1)


def _months_before(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    return date(y, m + 1, min(d.day, 28))


def backtest(cfg: Config, cut: date, ks=(50, 100, 500), months: tuple[int, ...] = TRAIN_MONTHS, reps: int = 100,
             log=print) -> dict:  # fmt: skip
    """Every predictor scored against what came true on or after `cut`; see the module docstring."""
    model = train_model(cfg, cut, months, log=log)
    t0 = time.perf_counter()
    w = window(cfg, cut)
    y = labels_for(w.graph, w.i, w.j, truth(cfg.warehouse, cut))
    scores = {"learned": predict(model, w.x), "hand": w.hand, **classic_scores(w.x)}
    orders = {name: ranking(s) for name, s in scores.items()}
    overall = {name: metrics(y, o, tuple(ks)) for name, o in orders.items()}
    per_pair = _per_metro_pair(w, y, scores, orders)
    classic = tuple(c for c in CLASSIC if c != "random")
    ci = bootstrap(y, orders, w.i, w.j, len(w.graph.ids), "learned", classic, reps=reps)
    log(f"scored {len(w.i):,} candidates at {cut} in {time.perf_counter() - t0:.0f} s")
    return {"cut": cut.isoformat(), "candidates": int(len(y)), "positives": int(y.sum()),
            "organisations": int(len(w.graph.ids)), "overall": overall, "per_pair": per_pair, "train": model["windows"],
            **ci}  # fmt: skip


def _per_metro_pair(w: Window, y: np.ndarray, scores: dict, orders: dict) -> list[dict]:
    """Per pair of metropolises with a pair that came true: p@10 and AP of every ranking within it."""
    names = w.graph.data.metros["metropolis_id"].to_numpy()
    ma, mb = w.graph.metro[w.i], w.graph.metro[w.j]
    key = np.minimum(ma, mb).astype(np.int32) * 1000 + np.maximum(ma, mb)
    keys, counts = np.unique(key, return_counts=True)
    positives = dict(zip(keys, np.bincount(np.searchsorted(keys, key), weights=y, minlength=len(keys)).astype(int)))
    rows = {k: {"pair": f"{names[k // 1000]}-{names[k % 1000]}", "candidates": int(c), "positives": positives[k]}
            for k, c in zip(keys, counts) if positives[k]}  # fmt: skip
    for name, order in orders.items():
        ko = key[order]
        grouped = order[np.argsort(ko, kind="stable")]  # each pair's candidates, in the ranking's order
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for n, k in enumerate(keys):
            if k in rows:
                m = metrics(y, grouped[bounds[n] : bounds[n + 1]], (10,))
                rows[k][name] = (m["p@10"], m["ap"])
    return sorted(rows.values(), key=lambda r: -r["positives"])


def table(result: dict, ks=(50, 100, 500)) -> str:
    """The backtest as a markdown table, the per-metropolis-pair table, and the last line."""
    names = ["learned", "hand", *CLASSIC]
    head = "| predictor | " + " | ".join(f"p@{k} | r@{k}" for k in ks) + " | AP |"
    lines = [f"cut {result['cut']}: {result['candidates']:,} candidate pairs of {result['organisations']:,} "
             f"organisations, {result['positives']:,} came true", "", head,
             "|" + "---|" * (2 * len(ks) + 2)]  # fmt: skip
    for n in names:
        m = result["overall"][n]
        lines.append(f"| {n} | " + " | ".join(f"{m[f'p@{k}']:.3f} | {m[f'r@{k}']:.4f}" for k in ks) + f" | {m['ap']:.4f} |")
    lines += ["", "Per pair of metropolises with a pair that came true, p@10 / AP:", "",
              "| pair | candidates | came true | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 3)]
    for r in result["per_pair"]:
        lines.append(f"| {r['pair']} | {r['candidates']:,} | {r['positives']} | "
                     + " | ".join(f"{r[n][0]:.1f} / {r[n][1]:.3f}" for n in names) + " |")  # fmt: skip
    o = result["overall"]
    classic = [c for c in CLASSIC if c != "random"]
    best_p = max(o[c]["p@100"] for c in classic)
    best_ap = max(o[c]["ap"] for c in classic)
    ratio = o["learned"]["p@100"] / best_p if best_p else float("nan")
    ap_ratio = o["learned"]["ap"] / best_ap if best_ap else float("nan")
    lo, hi = result["ratio_ci"]
    alo, ahi = result["ap_ratio_ci"]
    lines += ["", f"p_at_100={o['learned']['p@100']:.2f} best_classic_p_at_100={best_p:.2f} ratio={ratio:.2f} "
                  f"[{lo:.2f}, {hi:.2f}] ap_ratio={ap_ratio:.2f} [{alo:.2f}, {ahi:.2f}]"]  # fmt: skip
    return "\n".join(lines)


def model_path(cfg: Config) -> Path:
    return cfg.state / MODEL_FILE


def save(cfg: Config, model: dict) -> Path:
    """Write the model (plain numbers, JSON) into the state folder, atomically."""
    path = model_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(model, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def read_model(cfg: Config, log=print) -> dict | None:
    """The saved model, or None: none saved, or one unreadable or of another format or feature list (said)."""
    path = model_path(cfg)
    if not path.exists():
        return None
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
        width = len(FEATURES) + len(ROLES) ** 2
        ok = (model.get("format") == MODEL_FORMAT and model.get("features") == list(FEATURES)
              and all(len(model[k]) == width for k in ("mean", "scale", "coef")) and float(model["intercept"]) == model["intercept"])  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as e:
        log(f"opportunities: {path} unreadable ({e}); the hand-weighted ranking is used (baltetl train-opportunities)")
        return None
    if not ok:
        log(f"opportunities: {path} is of another format or feature list; the hand-weighted ranking is used "
            "(baltetl train-opportunities)")  # fmt: skip
        return None
    return model






# ------------------------------------------------------------------------------------------------ the nightly ranking

# which features make which reason (their contributions are summed)
GROUPS = {
    "partners": ("common_neighbours", "adamic_adar", "resource_allocation"),
    "activity": ("preferential_attachment", "degree_min", "degree_max", "projects_min", "projects_max", "recent_min",
                 "recent_max", "dated_min", "dated_max", "ongoing_min", "ongoing_max", "recent_degree_min",
                 "recent_degree_max"),
    "coordination": ("coordinated_min", "coordinated_max"),
    "text": ("text_similarity",), "fields": ("field_similarity",), "programmes": ("programme_similarity",), "calls": ("call_similarity",),
    "topics": ("shared_topics",), "networks": ("shared_networks",),
    "roles": ("complementary", "same_role", "role_pair"), "links": ("metro_links",),
    "place": ("distance_km", "same_country"),
}  # fmt: skip


def _group_columns() -> dict[str, list[int]]:
    """Design columns (see design) of each reason group; the one-hot role pairs belong to roles."""
    cols = {k: [FEATURES.index(f) for f in fs] for k, fs in GROUPS.items()}
    cols["roles"] += list(range(len(FEATURES), len(FEATURES) + len(ROLES) ** 2))
    return cols


def _top_shared_rows(m: sparse.csr_matrix, a: np.ndarray, b: np.ndarray, labels, n: int = 3, chunk: int = 512,
                     weight=None) -> list[list[str]]:  # fmt: skip
    """Per pair (a, b), the labels of the `n` columns both rows of `m` hold, strongest together first (ties in
    column order); a chunk of pairs per sparse product.  `weight`: rank the shared columns by weight[column]
    instead (still ties in column order).  The n best of a row are taken in n passes of its maximum (no sort of
    all the shared columns: two big organisations share thousands of words)."""
    out = []
    labels = np.array([str(x) for x in labels], dtype=object)
    canonical = m.has_canonical_format  # (sorted columns, no duplicates: as a Graph's matrices are)
    dense = np.zeros(m.shape[1], dtype=m.dtype) if canonical else None
    for k in range(0, len(a), chunk):
        if canonical:
            both = _row_products(m, np.asarray(a[k : k + chunk]), np.asarray(b[k : k + chunk]), dense)
        else:
            both = m[a[k : k + chunk]].multiply(m[b[k : k + chunk]]).tocsr()
            both.eliminate_zeros()
            both.sort_indices()
        n_rows = both.shape[0]
        rows = np.repeat(np.arange(n_rows), np.diff(both.indptr))
        strength = np.array(both.data if weight is None else weight[both.indices], dtype=np.float64)
        starts = both.indptr[:-1][np.diff(both.indptr) > 0]
        picked, passes = [], []
        for p in range(min(n, int(np.diff(both.indptr).max(initial=0)))):
            best = np.full(n_rows, -np.inf)
            best[rows[starts]] = np.maximum.reduceat(strength, starts)
            at = np.flatnonzero((strength == best[rows]) & (strength > -np.inf))
            first = at[np.r_[True, rows[at[1:]] != rows[at[:-1]]]] if len(at) else at  # each row's first maximum
            strength[first] = -np.inf
            picked.append(first)
            passes.append(np.full(len(first), p))
        top = np.concatenate(picked) if picked else np.zeros(0, np.int64)
        top = top[np.lexsort((np.concatenate(passes) if passes else top, rows[top]))]  # by row, strongest first
        names = labels[both.indices[top]].tolist()
        ends = np.searchsorted(rows[top], np.arange(1, n_rows + 1))
        out += [names[s:e] for s, e in zip(np.r_[0, ends[:-1]], ends)]
    return out


def _row_products(m: sparse.csr_matrix, a: np.ndarray, b: np.ndarray, dense: np.ndarray) -> sparse.csr_matrix:
    """m[a].multiply(m[b]) of a canonical `m` with its zeros dropped (the same matrix, each row's columns in order),
    made from the shorter row of each pair only: the longer one is spread once into `dense` (zeros, of m's
    width, left zero) and read at the shorter one's columns.  (m[a] and m[b] copied every row of both: two
    big organisations' rows hold thousands of words.)"""
    ptr, cols, vals = m.indptr, m.indices, m.data
    la, lb = ptr[a + 1] - ptr[a], ptr[b + 1] - ptr[b]
    short, long = np.where(la <= lb, a, b), np.where(la <= lb, b, a)
    counts = np.minimum(la, lb)
    pair = np.repeat(np.arange(len(a)), counts)
    pos = np.repeat(ptr[short], counts) + np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    at = cols[pos]
    other = np.zeros(len(pos), dtype=vals.dtype)
    by_long = np.argsort(long[pair], kind="stable")  # the entries grouped by their pair's longer row
    rows, first = np.unique(long[pair][by_long], return_index=True)
    for r, lo, hi in zip(rows.tolist(), first.tolist(), [*first[1:].tolist(), len(by_long)]):
        span = slice(ptr[r], ptr[r + 1])
        dense[cols[span]] = vals[span]
        e = by_long[lo:hi]
        other[e] = dense[at[e]]
        dense[cols[span]] = 0
    prod = vals[pos] * other  # (a product of two floats is the same either way round)
    keep = prod != 0
    indptr = np.zeros(len(a) + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair[keep], minlength=len(a)), out=indptr[1:])
    return sparse.csr_matrix((prod[keep], at[keep], indptr), shape=(len(a), m.shape[1]))


def _shared_lists(m: sparse.csr_matrix, labels, a: np.ndarray, b: np.ndarray) -> list[list[str]]:
    """Per pair (a, b), the labels of the columns both rows of `m` hold, in column order."""
    both = m[a].multiply(m[b]).tocsr()
    both.eliminate_zeros()
    both.sort_indices()
    names = np.asarray(labels, dtype=object)[both.indices]
    return [list(map(str, part)) for part in np.split(names, both.indptr[1:-1])]


def reasons(g: Graph, model: dict, i: np.ndarray, j: np.ndarray, x: np.ndarray, most: int = 3,
            topics_of: list | None = None, networks_of: list | None = None) -> list[str]:  # fmt: skip
    """Per pair, in words, the (at most `most`) feature groups that raised its score the most, each with the data
    behind it; every sentence ends with 'no shared project yet.'  `topics_of`, `networks_of`: the pairs'
    shared topics and networks when already known (see _shared_lists)."""
    topics_of = _shared_lists(g.topic_matrix, g.topic_index, i, j) if topics_of is None else topics_of
    networks_of = _shared_lists(g.network_matrix, g.network_index, i, j) if networks_of is None else networks_of
    contrib = contributions(model, x)
    groups = _group_columns()
    per_group = np.column_stack([contrib[:, cols].sum(axis=1) for cols in groups.values()])
    names = list(groups)
    f = {name: x[:, FEATURES.index(name)] for name in FEATURES}
    labels = dict(zip(g.data.topics["topic"].tolist(), g.data.topics["label"].tolist()))  # (lists: Arrow columns iterate slowly)
    metro_names = dict(zip(g.data.metros.index, g.data.metros["name"]))
    spec = np.where(g.inv_log > 0, g.inv_log, 0)  # the most specific partners (fewest partners of their own) first
    partner_names = {} if g.data.names is None else dict(zip(g.data.names.index.tolist(), g.data.names.to_numpy()))
    every = np.asarray(g.every, dtype=object)  # (a pandas Index's item look-up is slow row by row)
    # a partner whose name is withheld (a person's, baltetl.personal) is counted, never named: last, then left out
    nameless = np.array([partner_names.get(e) == PLACEHOLDER for e in every], dtype=bool)
    spec = np.where(nameless, -1.0, spec)
    ia, ja = np.asarray(i), np.asarray(j)

    def shared(group: str, feature: str, m: sparse.csr_matrix, labels, weight=None) -> dict:
        """row -> the top shared columns' labels, in one go for the pairs the group may be said of."""
        rows = np.flatnonzero((per_group[:, names.index(group)] > 0) & (f[feature] > 0))
        return dict(zip(rows, _top_shared_rows(m, ia[rows], ja[rows], labels, weight=weight)))

    # the shared words in a thread (scipy's sparse products release the GIL), the rest meanwhile: the other
    # lists, then the sentences, a text reason's words put in once they are known
    with ThreadPoolExecutor(1) as pool:
        words = pool.submit(shared, "text", "text_similarity", g.text, g.words)
        # the most specific common partners first
        partners = shared("partners", "common_neighbours", g.wm,
                          np.array([str(partner_names.get(e, e)) for e in every], dtype=object), weight=spec)  # fmt: skip
        programmes = shared("programmes", "programme_similarity", g.programmes, g.programme_labels)
        calls = shared("calls", "call_similarity", g.calls, g.call_labels)
        said_of = _sentences(g, names, per_group, f, ia, ja, partners, metro_names, programmes, calls, labels,
                             topics_of, networks_of, most)  # fmt: skip
        words = words.result()
    out = []
    for row, said in enumerate(said_of):
        said = ["their projects are about the same things: " + ", ".join(words[row]) if s is _WORDS else s for s in said]
        out.append("; ".join([s[0].upper() + s[1:] if n == 0 else s for n, s in enumerate(said)] or ["Ranked by the model"])
                   + "; no shared project yet.")  # fmt: skip
    return out


_WORDS = object()  # (a text reason in _sentences: its shared words come later)


def _sentences(g: Graph, names: list[str], per_group: np.ndarray, f: dict, i: np.ndarray, j: np.ndarray, partners: dict,
               metro_names: dict, programmes: dict, calls: dict, labels: dict, topics_of: list, networks_of: list,
               most: int) -> list[list]:  # fmt: skip
    """Per pair, the sentences of reasons (see reasons), a text reason as _WORDS.  Read as Python numbers (the
    same values: a float32 is a float exactly), in the groups' order of each row sorted at once."""
    order = np.argsort(-per_group, axis=1, kind="stable").tolist()  # (row by row, as each row's stable argsort)
    per_group = per_group.tolist()
    f = {k: v.tolist() for k, v in f.items()}
    projects, recent, ongoing, coordinated = (v.tolist() for v in (g.projects, g.recent, g.ongoing, g.coordinated))
    metro, role = g.metro.tolist(), g.role.tolist()
    out = []
    for row, (a, b) in enumerate(zip(i.tolist(), j.tolist())):
        said = []
        groups = per_group[row]
        for k in order[row]:
            if groups[k] <= 0 or len(said) >= most:
                break
            name, text = names[k], None
            if name == "partners" and f["common_neighbours"][row] > 0:
                who = ", ".join(p for p in partners[row] if p != PLACEHOLDER) or "none of them named here"
                n = int(f["common_neighbours"][row])
                text = f"{n} common partner{'s' if n > 1 else ''}: {who}{' …' if n > 3 else ''}"
            elif name == "activity" and f["projects_min"][row] > 0:
                # each side's numbers named by its metropolis (the two are in different ones): a page lists the
                # pair with its own organisation first, whichever of the two that is
                running = ongoing[a] + ongoing[b] > 0
                side = lambda o: (f"{int(projects[o])} project{'s' if projects[o] != 1 else ''} so far ({int(recent[o])} in the last year"  # noqa: E731
                                  + (f", {int(ongoing[o])} still running)" if running else ")"))  # fmt: skip
                text = f"both active: the {metro_names.get(metro[a])} one {side(a)}, the {metro_names.get(metro[b])} one {side(b)}"
            elif name == "coordination" and f["coordinated_max"][row] > 0:
                # the sides that coordinated a project (a side with none is no reason: 'the St Petersburg one 0')
                text = "coordinated projects: " + ", ".join(
                    f"the {metro_names.get(metro[o])} one {int(coordinated[o])}" for o in (a, b) if coordinated[o] > 0)
            elif name == "text" and f["text_similarity"][row] > 0:
                text = _WORDS
            elif name == "fields" and f["field_similarity"][row] > 0:
                text = "similar euroSciVoc fields of science"
            elif name == "programmes" and f["programme_similarity"][row] > 0:
                text = "funded by the same programmes: " + ", ".join(programmes[row])
            elif name == "calls" and f["call_similarity"][row] > 0:
                text = "applied to the same calls: " + ", ".join(calls[row])
            elif name == "topics" and f["shared_topics"][row] > 0:
                text = "both work on " + ", ".join(labels.get(t, t) for t in topics_of[row][:10])
            elif name == "networks" and f["shared_networks"][row] > 0:
                text = "both members of " + ", ".join(sorted(networks_of[row])[:10])
            elif name == "roles" and f["complementary"][row] > 0:
                text = f"complementary roles: {ROLES[role[a]]} + {ROLES[role[b]]}"
            elif name == "links" and f["metro_links"][row] > 0:
                text = (f"{metro_names.get(metro[a])} and {metro_names.get(metro[b])} organisations already work "
                        f"together in {int(f['metro_links'][row])} pairs")  # fmt: skip
            elif name == "place" and not math.isnan(f["distance_km"][row]):
                text = f"metropolises {int(round(f['distance_km'][row], -1))} km apart"
            if text:
                said.append(text)
        out.append(said)
    return out


def rank(con: duckdb.DuckDBPyConnection, cfg: Config, model: dict, log=print) -> int:
    """Replace `opportunities` and `metropolis_opportunities` of the warehouse being built (after
    marts/opportunities.sql) by the model's ranking of every candidate pair, bounded as the hand ranking is
    ([opportunities] per_organisation, per_metropolis_pair), with reasons.  Returns the opportunities kept.
    (A build does the same beside its last marts: read_base_meanwhile, rank_meanwhile, write_ranking.)"""
    t0 = time.perf_counter()
    ranked = _ranking(con, cfg, model, load_base(con, cfg, None))
    return write_ranking(con, ranked, model, time.perf_counter() - t0, log)


def _ranking(con: duckdb.DuckDBPyConnection, cfg: Config, model: dict, base: Data) -> dict:
    """ranking_frames of load_base's `base` with the organisations' topics as `con` has them (load_marts)."""
    from .topics import opportunity_settings

    data = dataclasses.replace(base, topics=load_marts(con, hand=False)[0])
    return ranking_frames(data, model, opportunity_settings(cfg))


def rank_meanwhile(con: duckdb.DuckDBPyConnection, cfg: Config, model: dict, base: Future) -> Future:
    """rank's ranking in a thread, on a cursor of its own, once the organisations' topics exist (after
    marts/organisation_topics.sql): a build ranks beside its last marts and writes the result (a pair
    (ranking_frames, seconds)) with write_ranking.  `base`: read_base_meanwhile's.  Wait for it before closing
    `con`."""
    from . import db

    def work(cur: duckdb.DuckDBPyConnection) -> tuple[dict, float]:
        t0 = time.perf_counter()
        return _ranking(cur, cfg, model, base.result()), time.perf_counter() - t0

    return db.meanwhile(con, work, "opportunities-rank")


def read_base_meanwhile(con: duckdb.DuckDBPyConnection, cfg: Config, counted: bool = False) -> Future:
    """load_base in a thread, on a cursor of its own: a build reads it (DuckDB, within the build's memory limit)
    beside its marts, then ranks (rank_meanwhile).  counted: count_words has run.  Wait for it before closing
    `con`."""
    from . import db

    return db.meanwhile(con, lambda cur: load_base(cur, cfg, None, counted), "opportunities-base")


def ranking_frames(data: Data, model: dict, settings: dict, g: Graph | None = None) -> dict:
    """The model's ranking of the candidate pairs of `data` (see rank) as frames: learned_frame (the pairs kept,
    with reasons), roles_of, candidate_counts; and n_pairs, the candidates scored.  Needs no database.
    `g`: the Graph of `data` if already made."""
    g = Graph(data) if g is None else g
    # an organisation's per_organisation best pairs (either side)
    o, other, score, x_best, counts = g.best(model, int(settings["per_organisation"]))
    k = len(data.metros)
    n_cand = np.triu(counts + counts.T).ravel()  # per pair of metropolises, lower index first
    kept = pd.DataFrame({"a": np.minimum(o, other), "b": np.maximum(o, other), "score": score, "row": np.arange(len(o))})
    kept = kept.drop_duplicates(["a", "b"])
    n_pairs = int(n_cand.sum())
    ka, kb = kept["a"].to_numpy(), kept["b"].to_numpy()
    kept["lo"], kept["hi"] = np.minimum(g.metro[ka], g.metro[kb]), np.maximum(g.metro[ka], g.metro[kb])
    kept = kept.sort_values(["lo", "hi", "score", "a", "b"], ascending=[True, True, False, True, True])
    kept["rank_in_pair"] = kept.groupby(["lo", "hi"]).cumcount() + 1
    kept = kept[kept["rank_in_pair"] <= settings["per_metropolis_pair"]]
    ka, kb = kept["a"].to_numpy(), kept["b"].to_numpy()
    metro_ids = data.metros["metropolis_id"].to_numpy()
    swap = metro_ids[g.metro[ka]] > metro_ids[g.metro[kb]]  # metro_a < metro_b, as the hand ranking has it
    ka, kb = np.where(swap, kb, ka), np.where(swap, ka, kb)  # the reasons name numbers in this order
    x = x_best[kept["row"].to_numpy()]
    topics_of = _shared_lists(g.topic_matrix, g.topic_index, ka, kb)
    networks_of = [sorted(n) for n in _shared_lists(g.network_matrix, g.network_index, ka, kb)]
    frame = pd.DataFrame({
        "golden_a": g.ids[ka], "golden_b": g.ids[kb], "metro_a": metro_ids[g.metro[ka]], "metro_b": metro_ids[g.metro[kb]],
        "score": np.round(100 * kept["score"].to_numpy(np.float64), 2),
        # lists as text joined by the unit separator, so that the frame's columns have plain types
        "shared_topics": ["\x1f".join(t) for t in topics_of],
        "shared_networks": ["\x1f".join(n) for n in networks_of],
        "complementary": [f"{ROLES[g.role[a]]} + {ROLES[g.role[b]]}" if c else ""
                          for a, b, c in zip(ka, kb, x[:, FEATURES.index("complementary")])],
        "reasons": reasons(g, model, ka, kb, x, topics_of=topics_of, networks_of=networks_of),
        "rank_in_pair": kept["rank_in_pair"].to_numpy(np.int32),
    })  # fmt: skip
    roles = pd.DataFrame({"golden_id": g.ids, "role": [ROLES[r] for r in g.role]})
    pair = np.flatnonzero(n_cand)
    counts = pd.DataFrame({"metro_a": metro_ids[pair // k], "metro_b": metro_ids[pair % k], "candidates": n_cand[pair]})
    counts[["metro_a", "metro_b"]] = np.sort(counts[["metro_a", "metro_b"]].to_numpy(), axis=1)
    return {"learned_frame": frame, "roles_of": roles, "candidate_counts": counts, "n_pairs": n_pairs}


def write_ranking(con: duckdb.DuckDBPyConnection, ranked: dict, model: dict, seconds: float, log=print) -> int:
    """Replace the opportunity marts by the frames of ranking_frames (marts/opportunities_learned.sql)."""
    frames = {k: v for k, v in ranked.items() if isinstance(v, pd.DataFrame)}
    for name, f in frames.items():
        con.register(name, f)
    try:
        models.run(con, "marts/opportunities_learned.sql")
    finally:
        for name in frames:
            con.unregister(name)
    n = len(ranked["learned_frame"])
    log(f"opportunities: {n} ranked by the model of {model.get('cut')} from {ranked['n_pairs']:,} candidate pairs "
        f"({seconds:.1f} s)")  # fmt: skip
    return n
