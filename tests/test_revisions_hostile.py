"""Hostile and clumsy revision files (issue 19, items 2, 4 and 12): a YAML bomb, a consent withdrawal written in
another Unicode form, a withdrawal that matches nobody, a protected field.

Warehouses are real builds of the bundled Eurocities sample (run_refresh); the site is really published.  The YAML
bomb runs in a child process bounded in memory and time, so that without the guard the test fails instead of
taking the machine down.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import textwrap
import unicodedata

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from baltetl import revisions
from baltetl.cli.revisions import register
from baltetl.publish import publish
from helpers.common import ROOT, run_refresh

RIGA = "eurocities:LV:riga"
GOOD_CSV = f"op,target,field,value,author,date\ncorrect,{RIGA},website,https://www.riga.lv/,Riga partner,2026-11-20\n"
NAME = "Märta Kalniņa"  # granted in NFC, withdrawn in NFD (as a Mac types it)
EMAIL = "marta.kalnina@example.lv"
PERSON_HEADER = "op,target,name,role,email,consent_to_publish,author,date,reason\n"
CONTROL = f"add_person,{RIGA},Ivars Consent,officer,ivars.consent@example.lv,yes,Riga partner,2026-11-20,\n"


def billion_laughs() -> str:
    """Nine levels of nine aliases each (~420 bytes): 9**9 'lol's once expanded, in columns the loader reads."""
    keys = ["field", "value", "other", "name", "role", "phone", "city", "reason"]
    lines = ["- op: hide", "  target: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    for key, prev, name in zip(keys, "abcdefgh", "bcdefghi"):
        lines.append(f"  {key}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join([*lines, "  author: me", "  date: 2026-11-20"]) + "\n"


def bounded(args: list[str]) -> subprocess.CompletedProcess:
    """Run a child with 1 GiB of address space and 60 s: a bomb ends in MemoryError / timeout, not a dead machine."""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    try:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, preexec_fn=limit,
                              env=env, cwd=ROOT)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("reading the revision files did not end within 60 s")


def _folder(tmp_path, files: dict[str, str]):
    d = tmp_path / "revisions"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def _build(cfg, folder):
    cfg.raw["paths"]["revisions"] = str(folder)
    result, _ = run_refresh(cfg, "eurocities", sample=True)
    assert result.status in ("success", "unchanged"), result.message
    return duckdb.connect(str(cfg.warehouse), read_only=True)


def _check(folder, warehouse):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["revisions", "check", "--dir", str(folder), "--warehouse", str(warehouse)])


# -- item 2: YAML bombs ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_yaml_bomb_reported_by_revisions_check(tmp_path):
    folder = _folder(tmp_path, {"bomb.yaml": billion_laughs(), "good.csv": GOOD_CSV})
    assert (folder / "bomb.yaml").stat().st_size < 500
    r = bounded(["-m", "baltetl", "revisions", "check", "--dir", str(folder), "--warehouse", str(tmp_path / "none.duckdb")])
    assert r.returncode == 1, (r.stdout, r.stderr[-2000:])
    bomb_lines = [line for line in r.stdout.splitlines() if "bomb.yaml" in line]
    assert len(bomb_lines) == 1, r.stdout
    assert bomb_lines[0].startswith(f"{folder / 'bomb.yaml'}:") and "aliases (*name) are not allowed" in bomb_lines[0]
    assert "1 revisions in 1 files" in r.stdout and "1 invalid" in r.stdout  # good.csv is read
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_yaml_bomb_build_goes_on_with_the_other_files(cfg, tmp_path):
    folder = _folder(tmp_path, {"bomb.yaml": billion_laughs(), "good.csv": GOOD_CSV})
    # the build reads the folder with revisions.load: first in a bounded child, then the real build
    code = ("import sys; from baltetl import revisions; from baltetl.config import load_config; "
            "r = revisions.load(load_config(), sys.argv[1]); print(len(r.operations), [str(i) for i in r.issues])")  # fmt: skip
    r = bounded(["-c", code, str(folder)])
    assert r.returncode == 0, r.stderr[-2000:]
    con = _build(cfg, folder)
    issues = con.execute("SELECT kind, file, message FROM revision_issues").fetchall()
    assert len(issues) == 1 and issues[0][:2] == ("invalid", "bomb.yaml") and "not allowed" in issues[0][2], issues
    golden = con.execute("SELECT golden_id FROM organisation_sources WHERE org_key = ?", [RIGA]).fetchone()[0]
    assert con.execute("SELECT website FROM golden_organisations WHERE golden_id = ?", [golden]).fetchone()[0] == "https://www.riga.lv/"


def test_oversized_and_deeply_nested_files_are_invalid_not_read(cfg, tmp_path):
    folder = _folder(tmp_path, {
        "big.csv": GOOD_CSV + "".join(f"hide,{RIGA},,,Riga partner,2026-11-20\n" for _ in range(100)),
        "deep.yaml": "- op: hide\n  target: " + "[" * 5000 + "]" * 5000 + "\n",
        "good.yaml": f"- op: hide\n  target: {RIGA}\n  author: me\n  date: 2026-11-20\n",
    })  # fmt: skip
    revs = revisions.load(cfg, folder)
    assert [str(i) for i in revs.issues] == ["deep.yaml: invalid: not readable as YAML: nested too deeply"]
    assert {o.file for o in revs.operations} == {"big.csv", "good.yaml"}
    cfg.raw["revisions"] = {"max_file_bytes": 1000}  # the limit is configurable
    revs = revisions.load(cfg, folder)
    got = {i.file: str(i) for i in revs.issues}
    assert got["big.csv"] == ("big.csv: invalid: larger than 1000 bytes (revisions.max_file_bytes): not read; split "
                              "the file or raise the limit")  # fmt: skip
    assert [(o.file, o.op) for o in revs.operations] == [("good.yaml", "hide")]


# -- item 4: consent withdrawal always wins -------------------------------------------------------------------
def _published_texts(site) -> dict[str, str]:
    """Every text file of the published site, and the Parquet exports read back as text."""
    out = {}
    for p in site.rglob("*"):
        if p.is_file() and p.suffix in (".html", ".csv", ".json", ".js", ".txt", ".xml"):
            out[str(p.relative_to(site))] = p.read_text(encoding="utf-8")
        elif p.suffix == ".parquet":
            rows = duckdb.execute(f"SELECT * FROM read_parquet('{p}')").fetchall()
            out[str(p.relative_to(site))] = json.dumps(rows, default=str, ensure_ascii=False)
    return out


def test_nfd_withdrawal_removes_the_person_everywhere(cfg, tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", NAME), unicodedata.normalize("NFD", NAME)
    assert nfc != nfd
    folder = _folder(tmp_path, {"persons.csv": PERSON_HEADER + CONTROL
                                + f"add_person,{RIGA},{nfc},officer,{EMAIL},yes,Riga partner,2026-01-10,\n"
                                + f"add_person,{RIGA},{nfd},officer,{EMAIL},no,Riga partner,2026-11-20,withdrawn\n"})  # fmt: skip
    con = _build(cfg, folder)
    assert con.execute("SELECT name FROM public_persons").fetchall() == [("Ivars Consent",)]
    assert con.execute("SELECT count(*), bool_or(consent_to_publish) FROM persons WHERE email = ?", [EMAIL]).fetchone() == (1, False)
    con.close()
    site = tmp_path / "site"
    publish(cfg, site, log=lambda m: None)
    texts = _published_texts(site)
    persons_csv = list(csv.DictReader(open(site / "data" / "persons.csv", encoding="utf-8")))
    assert [p["name"] for p in persons_csv] == ["Ivars Consent"]
    assert any("persons.parquet" in k for k in texts) and "baltmet.json" in " ".join(texts)
    org_pages = [k for k, t in texts.items() if k.startswith("organisation") and "ivars.consent@example.lv" in t]
    assert len(org_pages) == 1  # Riga's page shows its consented person ...
    for name, text in texts.items():  # ... and nothing of the withdrawn one anywhere
        for secret in (EMAIL, nfc, nfd, "Kalni"):
            assert secret not in text, (name, secret)


def test_unmatched_withdrawal_is_reported_and_wins(cfg, tmp_path):
    granted = revisions.person_id(RIGA, NAME)
    folder = _folder(tmp_path, {"persons.csv": PERSON_HEADER + CONTROL
                                + f"add_person,{RIGA},{NAME},officer,{EMAIL},yes,Riga partner,2026-01-10,\n"
                                # a withdrawal with the accents left out: matches nobody exactly
                                + f"add_person,{RIGA},Marta Kalnina,,,no,Riga partner,2026-11-20,withdrawn\n",
                                # by id: one that exists (the control person), one that does not
                                "by-id.yaml": textwrap.dedent(f"""
                                    - op: add_person
                                      target: {RIGA}
                                      person_id: {revisions.person_id(RIGA, "Ivars Consent")}
                                      consent_to_publish: no
                                      author: Riga partner
                                      date: 2026-11-21
                                    - op: add_person
                                      target: {RIGA}
                                      person_id: person-0000000000
                                      consent_to_publish: no
                                      author: Riga partner
                                      date: 2026-11-21
                                """)})  # fmt: skip
    con = _build(cfg, folder)
    assert con.execute("SELECT count(*) FROM public_persons").fetchone()[0] == 0  # both withdrawals win
    rows = con.execute("SELECT person_id, name, consent_to_publish FROM persons ORDER BY name").fetchall()
    assert rows == [(revisions.person_id(RIGA, "Ivars Consent"), "Ivars Consent", False),
                    (revisions.person_id(RIGA, "Marta Kalnina"), "Marta Kalnina", False), (granted, NAME, False)]  # fmt: skip
    unmatched = con.execute("SELECT file, line, message FROM revision_issues WHERE kind = 'unmatched' ORDER BY file, line").fetchall()
    assert [(f, line) for f, line, _ in unmatched] == [("by-id.yaml", 8), ("persons.csv", 4)], unmatched
    assert "person-0000000000" in unmatched[0][2]
    assert f"{NAME!r} (persons.csv:3) is not published" in unmatched[1][2] and granted in unmatched[1][2]
    con.close()
    r = _check(folder, cfg.warehouse)
    assert r.exit_code == 1, r.output
    assert f"{folder / 'persons.csv'}:4: unmatched: consent withdrawn for 'Marta Kalnina'" in r.output
    assert f"{folder / 'by-id.yaml'}:8: unmatched: add_person: no person 'person-0000000000'" in r.output
    assert "2 unmatched" in r.output


def test_keys_match_in_any_case_and_unicode_form(cfg, tmp_path):
    """A target written in another case or Unicode form names the same record."""
    folder = _folder(tmp_path, {"a.csv": GOOD_CSV.replace(RIGA, "Eurocities:lv:RIGA")})
    con = _build(cfg, folder)
    assert con.execute("SELECT count(*) FROM revision_issues").fetchone()[0] == 0
    assert con.execute("SELECT target FROM revisions_applied").fetchall() == [
        con.execute("SELECT golden_id FROM organisation_sources WHERE org_key = ?", [RIGA]).fetchone()]


# -- item 12: one plain issue per row --------------------------------------------------------------------------
def test_protected_field_one_issue_per_row(cfg, tmp_path):
    folder = _folder(tmp_path, {"a.csv": "op,target,field,value,author,date,name\n"
                                f"correct,{RIGA},hidden,true,Riga partner,2026-11-20,\n"
                                f"correct,{RIGA},Record_Ref,x,Riga partner,2026-11-20,\n"
                                f"add_person,{RIGA},,,Riga partner,2026-11-20,\n"
                                f"correct,{RIGA},,,Riga partner,2026-02-30,\n"})  # fmt: skip
    revs = revisions.load(cfg, folder)
    got = [(i.line, i.message) for i in revs.issues]
    assert got == [
        (2, "field 'hidden' is protected: use a hide revision (op hide) to keep a record off the site"),
        (3, "field 'record_ref' is protected (an identifier or bookkeeping): it cannot be corrected"),
        (4, "add_person needs name (or person_id) and consent_to_publish (yes or no): name and consent_to_publish are missing"),
        (5, "correct needs field and value: field and value are missing; date '2026-02-30' is not a real day"),
    ], got  # fmt: skip
    r = _check(folder, tmp_path / "none.duckdb")
    assert r.exit_code == 1
    assert [line.split(": ", 1)[0] for line in r.output.splitlines()[:-1]] == [f"{folder / 'a.csv'}:{n}" for n in (2, 3, 4, 5)]
    assert "4 invalid" in r.output
