"""A tiny hand-made warehouse (two Riga organisations, one Tallinn one) and a signed-in TestClient for the
portal tests: the portal only reads a handful of tables, so no refresh is needed."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

RIGA_ORG = "org_riga000001"
RIGA_ORG_2 = "org_riga000002"
TALLINN_ORG = "org_tallinn001"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def tiny_warehouse(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE TABLE metropolises (metropolis_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, country VARCHAR NOT NULL);
        INSERT INTO metropolises VALUES ('riga', 'Riga', 'LV'), ('tallinn', 'Tallinn', 'EE');
        CREATE TABLE golden_organisations (golden_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, short_name VARCHAR,
            org_type VARCHAR, activity_type VARCHAR, country VARCHAR, city VARCHAR, nuts3 VARCHAR, website VARCHAR,
            metropolis_id VARCHAR, assigned_by VARCHAR, sources VARCHAR[], records INTEGER, hidden BOOLEAN DEFAULT false);
        INSERT INTO golden_organisations VALUES
            ('org_riga000001', 'Rīgas Tehniskā universitāte', 'RTU', 'university', 'HES', 'LV', 'Rīga', 'LV006',
             'https://www.rtu.lv', 'riga', 'nuts3', ['cordis', 'keep'], 2, false),
            ('org_riga000002', 'Riga Planning Region', NULL, 'public body', 'PUB', 'LV', 'Riga', 'LV006', NULL,
             'riga', 'nuts3', ['keep'], 1, false),
            ('org_tallinn001', 'Tallinna Tehnikaülikool', 'TalTech', 'university', 'HES', 'EE', 'Tallinn', 'EE001',
             'https://taltech.ee', 'tallinn', 'nuts3', ['cordis'], 1, false);
        CREATE TABLE organisations (org_key VARCHAR PRIMARY KEY, source VARCHAR, org_id VARCHAR, name VARCHAR,
            short_name VARCHAR, org_type VARCHAR, activity_type VARCHAR, country VARCHAR, city VARCHAR, nuts3 VARCHAR,
            website VARCHAR, metropolis_id VARCHAR, record_ref VARCHAR);
        INSERT INTO organisations VALUES
            ('cordis:999880001', 'cordis', '999880001', 'RIGAS TEHNISKA UNIVERSITATE', 'RTU', NULL, 'HES', 'LV', 'RIGA',
             'LV006', 'http://www.rtu.lv', 'riga', 'x'),
            ('keep:LV-rtu', 'keep', 'LV-rtu', 'Riga Technical University', NULL, 'university', NULL, 'LV', 'Rīga',
             'LV006', NULL, 'riga', 'x'),
            ('keep:LV-rpr', 'keep', 'LV-rpr', 'Riga Planning Region', NULL, 'public body', NULL, 'LV', 'Riga', 'LV006',
             NULL, 'riga', 'x'),
            ('cordis:999880002', 'cordis', '999880002', 'TALLINNA TEHNIKAULIKOOL', 'TalTech', NULL, 'HES', 'EE',
             'TALLINN', 'EE001', 'https://taltech.ee', 'tallinn', 'x');
        CREATE TABLE organisation_sources (org_key VARCHAR PRIMARY KEY, golden_id VARCHAR NOT NULL, source VARCHAR,
            match_rule VARCHAR, score DOUBLE);
        INSERT INTO organisation_sources VALUES ('cordis:999880001', 'org_riga000001', 'cordis', 'pic', 1),
            ('keep:LV-rtu', 'org_riga000001', 'keep', 'name', 0.95), ('keep:LV-rpr', 'org_riga000002', 'keep', 'single', 1),
            ('cordis:999880002', 'org_tallinn001', 'cordis', 'single', 1);
        CREATE TABLE persons (person_id VARCHAR, golden_id VARCHAR, org_key VARCHAR, name VARCHAR, role VARCHAR,
            email VARCHAR, phone VARCHAR, source VARCHAR, consent_to_publish BOOLEAN, revision_id VARCHAR);
        CREATE TABLE revisions_applied (revision_id VARCHAR, run_id VARCHAR, op VARCHAR, target VARCHAR, field VARCHAR,
            before VARCHAR, after VARCHAR, author VARCHAR, date VARCHAR, reason VARCHAR, applied_at TIMESTAMP);
    """)
    con.close()
    return path


def csrf(html: str) -> str:
    m = CSRF.search(html)
    assert m, html[:500]
    return m.group(1)


def add_user(cfg, name: str, role: str = "partner", metros=("riga",)) -> str:
    from baltetl.portal import auth, store

    with store.engine(cfg).begin() as conn:
        return auth.add_user(conn, name, role, list(metros), {m.id for m in cfg.metropolises})


def sign_in(client, name: str, password: str, *, new_password: str | None = None):
    """Sign in (and change a one-time password to `new_password`); -> the last response."""
    page = client.get("/login")
    r = client.post("/login", data={"name": name, "password": password, "csrf": csrf(page.text)}, follow_redirects=False)
    if new_password and r.status_code == 303 and r.headers["location"] == "/password":
        page = client.get("/password")
        r = client.post("/password", data={"csrf": csrf(page.text), "current": password, "new": new_password,
                                           "repeat": new_password}, follow_redirects=False)  # fmt: skip
        assert r.status_code == 303, r.text
    return r


def user(cfg, client_factory, name: str, role: str = "partner", metros=("riga",)):
    """A new user, signed in with their password changed: -> the client."""
    pw = add_user(cfg, name, role, metros)
    c = client_factory()
    r = sign_in(c, name, pw, new_password=f"{name}-Secret-Pass-1")
    assert r.status_code == 303
    return c


def form_csrf(client, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return csrf(r.text)
