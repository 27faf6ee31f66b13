"""Topic relevance and co-operation opportunities: the marts built after marts/views.sql.

    project_topics          every project: relevant or not, the profile topics and the reasons that matched
    project_topic_matches   one row per project, topic and reason (which reason made which topic)
    topic_profile           the profile as configured: topic, kind, term, label
    organisation_topics     an organisation's topic profile from its projects, type and networks
    metropolis_links        per pair of metropolises: ongoing projects with partners in both
    opportunities           organisations in different metropolises sharing topics and no project, scored
    metropolis_opportunities  per pair of metropolises: how many opportunities, the best score, the topics

The profile is `[topics]` of the configuration, the scoring `[opportunities]` (see baltetl.toml).
Project matching is here (one regular expression per topic and field group); the rest is
warehouse/marts/opportunities.sql.  Hidden projects and hidden organisations appear in none of these tables.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from . import models
from .config import Config, ConfigError

# configuration key -> kind in topic_profile and project_topic_matches
KINDS = {"keywords": "keyword", "title_keywords": "title_keyword", "euroscivoc": "euroscivoc", "calls": "call",
         "priorities": "priority", "programmes": "programme", "org_types": "org_type", "networks": "network"}
TOPIC_KEYS = {"label", "enabled", *KINDS}
OPPORTUNITY_NUMBERS = {
    "per_organisation": 10, "per_metropolis_pair": 200, "topic_weight": 1.0, "topic_half": 2.0,
    "network_weight": 0.25, "network_cap": 4, "complementary_weight": 0.5,
}  # fmt: skip
TEXT = "concat_ws(' | ', keywords, title, objective)"  # what `keywords` are searched in
TITLE = "coalesce(title, '')"  # what `title_keywords` are searched in


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> configured terms

    def get(self, kind: str) -> tuple[str, ...]:
        return self.terms.get(kind, ())


@dataclass(frozen=True)
class Profile:
    topics: tuple[Topic, ...]
    type_weight: float = 1.0
    network_weight: float = 1.0


def load_profile(cfg: Config) -> Profile:
    """The topic profile of `[topics]`; a misspelt key is an error, not a silently empty topic."""
    raw = dict(cfg.raw.get("topics") or {})
    topics = []
    for name, t in (raw.get("profile") or {}).items():
        if not isinstance(t, dict):
            raise ConfigError(f"[topics.profile.{name}] must be a table")
        unknown = set(t) - TOPIC_KEYS
        if unknown:
            raise ConfigError(f"[topics.profile.{name}]: unknown keys {sorted(unknown)}; known: {sorted(TOPIC_KEYS)}")
        if not t.get("enabled", True):
            continue
        terms = {}
        for kind in KINDS:
            values = t.get(kind, [])
            if isinstance(values, str) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"[topics.profile.{name}] {kind} must be a list of strings")
            terms[kind] = tuple(v.strip() for v in values if v.strip())
        topics.append(Topic(name, str(t.get("label") or name.replace("_", " ")), terms))
    return Profile(tuple(topics), float(raw.get("type_weight", 1.0)), float(raw.get("network_weight", 1.0)))


def opportunity_settings(cfg: Config) -> dict:
    raw = dict(cfg.raw.get("opportunities") or {})
    out = {}
    for key, default in OPPORTUNITY_NUMBERS.items():
        try:
            out[key] = type(default)(raw.get(key, default))
        except (TypeError, ValueError):
            raise ConfigError(f"[opportunities] {key} must be a number") from None
        if out[key] < 0:
            raise ConfigError(f"[opportunities] {key} must not be negative")
    for key in ("topic_half", "per_organisation", "per_metropolis_pair"):
        if out[key] <= 0:
            raise ConfigError(f"[opportunities] {key} must be above 0")
    out["roles"] = {str(k).lower(): str(v) for k, v in (raw.get("roles") or {}).items()}
    out["metropolis"] = raw.get("metropolis")
    return out


def norm_term(s: str) -> str:
    """A phrase as matching compares it: lower case, runs of spaces and hyphens as one space."""
    return " ".join(re.split(r"[\s\-]+", s.lower())).strip()


def keyword_pattern(words: tuple[str, ...]) -> str | None:
    """One RE2 pattern finding any of the phrases as whole words, any case; longest first."""
    alts = sorted({r"[\s\-]+".join(re.escape(w) for w in norm_term(p).split()) for p in words if norm_term(p)},
                  key=lambda a: (-len(a), a))  # fmt: skip
    return r"(?i)\b(" + "|".join(alts) + r")\b" if alts else None


def _profile_frame(profile: Profile) -> pd.DataFrame:
    rows = [(t.name, t.label, kind, term, norm_term(term)) for t in profile.topics for key, kind in KINDS.items()
            for term in t.get(key)]  # fmt: skip
    return pd.DataFrame(rows, columns=["topic", "label", "kind", "term", "term_norm"], dtype=object)


def match_projects(con: duckdb.DuckDBPyConnection, profile: Profile, sql_dir: Path | None = None) -> None:
    """Create topic_profile, project_topic_matches and project_topics from `projects` (hidden ones left out):
    marts/topics.sql, the keyword matches here (one pattern per topic), marts/project_topics.sql."""
    models.run(con, "marts/topics.sql", sql_dir)
    con.register("profile_frame", _profile_frame(profile))
    con.execute("INSERT INTO topic_profile SELECT topic, label, kind, term, term_norm FROM profile_frame")
    con.unregister("profile_frame")
    # keywords: the texts holding any phrase are found in one pass, then each topic's phrases in those only
    # (one pattern per topic, so phrases of different topics that overlap are all found); a match maps back
    # to the configured phrase
    for kind, text in (("keyword", TEXT), ("title_keyword", TITLE)):
        key = kind + "s"  # keywords, title_keywords
        every = keyword_pattern(tuple(w for t in profile.topics for w in t.get(key)))
        if every is None:
            continue
        con.execute(f"""CREATE OR REPLACE TEMP TABLE texts AS SELECT project_key, {text} AS text FROM visible_projects
                        WHERE regexp_matches({text}, ?)""", [every])  # fmt: skip
        for t in profile.topics:
            pat = keyword_pattern(t.get(key))
            if pat is None:
                continue
            con.execute("""
                INSERT INTO project_topic_matches
                SELECT DISTINCT m.project_key, ?, 'keyword', 'keyword:' || tp.term
                FROM (SELECT project_key, unnest(regexp_extract_all(text, ?, 1)) AS hit FROM texts) m
                JOIN topic_profile tp ON tp.topic = ? AND tp.kind = ?
                 AND tp.term_norm = lower(trim(regexp_replace(m.hit, '[\\s\\-]+', ' ', 'g')))""",
                [t.name, pat, t.name, kind])  # fmt: skip
        con.execute("DROP TABLE texts")
    models.run(con, "marts/project_topics.sql", sql_dir)


def build(con: duckdb.DuckDBPyConnection, cfg: Config, sql_dir: Path, log: Callable[[str], None] = print,
          learned: bool = True, hand: bool = True) -> dict:  # fmt: skip
    """Build every topic and opportunity mart in the warehouse being built; return counts and seconds.
    With a model saved by `baltetl train-opportunities` (and `learned`), the opportunities are ranked by it.
    Not `hand`: the hand ranking is not made (marts/opportunities.sql; a build with a model ranks beside its
    last marts, opportunities.rank_meanwhile): until then there is no `opportunities` table."""
    t0 = time.perf_counter()
    profile = load_profile(cfg)
    opp = opportunity_settings(cfg)
    match_projects(con, profile, sql_dir)
    t1 = time.perf_counter()
    for key in ("type_weight", "network_weight"):
        con.execute(f"SET VARIABLE {key} = {float(getattr(profile, key))!r}::DOUBLE")
    for key, value in opp.items():
        if key not in ("roles", "metropolis"):
            con.execute(f"SET VARIABLE opp_{key} = {float(value)!r}::DOUBLE")
    con.register("roles_frame", pd.DataFrame(list(opp["roles"].items()), columns=["type_lower", "role"], dtype=object))
    con.execute("CREATE OR REPLACE TEMP TABLE org_roles AS SELECT * FROM roles_frame")
    con.unregister("roles_frame")
    models.run(con, "marts/organisation_topics.sql", sql_dir)
    if hand:
        models.run(con, "marts/opportunities.sql", sql_dir)
    con.execute("DROP TABLE org_roles; DROP VIEW visible_projects")
    if hand and learned:
        from . import opportunities

        model = opportunities.read_model(cfg, log)
        if model is not None:
            opportunities.rank(con, cfg, model, log)
    counts = {
        "relevant_projects": con.execute("SELECT count(*) FROM project_topics WHERE relevant").fetchall()[0][0],
        "opportunities": None if not hand else con.execute("SELECT count(*) FROM opportunities").fetchall()[0][0],
        "match_s": round(t1 - t0, 2),
        "marts_s": round(time.perf_counter() - t0, 2),
    }
    log(f"topics: {counts['relevant_projects']} relevant projects, "
        + (f"{counts['opportunities']} opportunities" if hand else "the opportunities ranked by the model beside the last marts")
        + f" ({counts['marts_s']} s)")
    return counts
