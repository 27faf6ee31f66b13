"""A small hand-made warehouse for the topic and opportunity tests (test_topics.py, test_opportunities.py).

The real DDL (warehouse/core/tables.sql, resolve.SCHEMA, the `hidden` columns the revisions add) with only the
rows a test writes; `build` runs the same code a warehouse build runs after marts/views.sql.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb


FUTURE = date.today() + timedelta(days=400)
PAST = date(2020, 6, 30)
METROS = {"helsinki": "Helsinki", "riga": "Riga", "tallinn": "Tallinn"}


class Mini:
    def __init__(self, path):
        from baltetl import models
        from baltetl.resolve import SCHEMA

        self.con = duckdb.connect(str(path))
        models.run(self.con, "core/tables.sql")
        models.run(self.con, SCHEMA)
        self.con.execute("ALTER TABLE projects ADD COLUMN hidden BOOLEAN DEFAULT false")
        self.con.execute("CREATE TABLE metropolises (metropolis_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL)")
        self.con.executemany("INSERT INTO metropolises VALUES (?, ?)", list(METROS.items()))

    def project(self, key, *, title="A project", keywords=None, objective=None, euroscivoc=None, topics=None,
                programme=None, end=FUTURE, hidden=False, start=None):  # fmt: skip
        source, pid = key.split(":", 1)
        self.con.execute(
            """INSERT INTO projects (project_key, source, project_id, title, keywords, objective, euroscivoc, topics,
                                     programme, end_date, record_ref, hidden, start_date)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'test', ?, ?)""",
            [key, source, pid, title, keywords, objective, euroscivoc, topics, programme, end, hidden, start],
        )  # fmt: skip

    def org(self, golden, metro, *, name=None, activity_type=None, org_type=None, hidden=False, networks=(),
            projects=(), keys=None):  # fmt: skip
        """A golden organisation with one source record per key (default one: cordis:<golden>), taking part in
        `projects` (in its metropolis) and a member of `networks`."""
        keys = keys or [f"cordis:{golden}"]
        self.con.execute(
            """INSERT INTO golden_organisations (golden_id, name, activity_type, org_type, metropolis_id, sources, records, hidden)
               VALUES (?, ?, ?, ?, ?, ['cordis'], ?, ?)""",
            [golden, name or golden.upper(), activity_type, org_type, metro, len(keys), hidden],
        )  # fmt: skip
        for k in keys:
            self.con.execute("INSERT INTO organisation_sources (org_key, golden_id, source, match_rule, score) VALUES (?, ?, ?, 'test', 1.0)", [k, golden, k.split(":")[0]])
        for i, p in enumerate(projects):
            self.participate(keys[0], p, metro)
        for n in networks:
            self.con.execute(
                "INSERT INTO network_memberships (network, org_key, source, member_name, record_ref) VALUES (?, ?, 'networks', ?, 'test')",
                [n, keys[0], golden],
            )

    def participate(self, org_key, project, metro, role="participant"):
        n = self.con.execute("SELECT count(*) FROM participations WHERE project_key = ?", [project]).fetchall()[0][0]
        self.con.execute(
            """INSERT INTO participations (project_key, org_key, source, role, ord, metropolis_id, record_ref)
               VALUES (?, ?, 'cordis', ?, ?, ?, 'test')""",
            [project, org_key, role, n + 1, metro],
        )

    def build(self, cfg):
        from baltetl import topics
        from baltetl.warehouse import sql_dir

        return topics.build(self.con, cfg, sql_dir(cfg), log=lambda m: None)

    def rows(self, sql, params=None) -> list[dict]:
        cur = self.con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def config_with(tmp_path, toml: str, warehouse):
    """The default configuration with `toml` merged over it (as --config does)."""
    from baltetl.config import load_config

    p = tmp_path / "override.toml"
    p.write_text(toml, encoding="utf-8")
    return load_config(p, warehouse=warehouse)
