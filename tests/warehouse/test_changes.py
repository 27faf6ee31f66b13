"""History: `changes`, the versioned tables and `baltetl changes`, on real CORDIS project files.

The expected changes are worked out independently of the pipeline: from the XML files themselves (lxml) for
the modified snapshot, and by comparing the warehouse tables before and after in pandas for the later export.
No network, no Prefect.
"""

from __future__ import annotations

import re
import tarfile

import duckdb
import pandas as pd
import pytest
from helpers.common import HE_XML, SAMPLE, copy_built, need_shared, run_refresh, truncated_sample, warehouse_rows
from helpers.cordis import write_zip
from lxml import etree

from baltetl import archive, history, warehouse
from baltetl.state import State

PARTNERS = "relations/associations/organization"  # the project's partners (not e.g. the body it is registered by)
FIELDS = "table_name, change, record_key, field, before, after"


def sample_members() -> dict[str, bytes]:
    return dict(archive.iter_members(SAMPLE, lambda n: n.endswith(".xml")))


def project_id(data: bytes) -> str:
    return re.search(rb"^  <id>(\d+)</id>", data, re.M).group(1).decode()


def parts_of(data: bytes) -> set[str]:
    """Participation keys (project|organisation|role|order) of a project file, read with lxml."""
    root = etree.fromstring(data)
    pid = root.findtext("id")
    return {f"cordis:{pid}|cordis:{o.findtext('id')}|{o.get('type')}|{int(o.get('order') or 0)}" for o in root.iterfind(PARTNERS)}


def orgs_of(data: bytes) -> set[str]:
    return {f"cordis:{o.findtext('id')}" for o in etree.fromstring(data).iterfind(PARTNERS)}


def union(sets) -> set:
    return set().union(*sets)


def changes(cfg, run_id: str) -> list[tuple]:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute(f"SELECT {FIELDS} FROM changes WHERE run_id = ?", [run_id]).fetchall()
    finally:
        con.close()


def last_run(cfg) -> str:
    return State(cfg.state).runs()[-1]["run_id"]


def new_projects_from_full(taken_orgs: set[str], sample_ids: set[str], n: int = 2) -> dict[str, bytes]:
    """The first n projects of the complete export that are not in the sample and share no organisation with it."""
    found = {}
    with tarfile.open(HE_XML, "r:*") as t:
        for m in t:
            if not m.name.endswith(".xml"):
                continue
            data = t.extractfile(m).read()
            if project_id(data) not in sample_ids and not orgs_of(data) & taken_orgs:
                found[m.name] = data
                if len(found) == n:
                    return found
    raise AssertionError("no such projects")


def block_replace(data: bytes, org_id: str, tag: str, value: str) -> bytes:
    """Replace <tag>…</tag> inside the <organization> whose <id> is org_id."""
    at = data.index(f"<id>{org_id}</id>".encode())
    start, end = data.rindex(b"<organization", 0, at), data.index(b"</organization>", at)
    block, n = re.subn(f"<{tag}>[^<]*</{tag}>".encode(), f"<{tag}>{value}</{tag}>".encode(), data[start:end])
    assert n == 1
    return data[:start] + block + data[end:]


def test_modified_snapshot_records_exactly_its_changes(cordis_sample, cfg, tmp_path):
    """Must-show: projects added and removed, statuses and an address changed: exactly those in `changes`."""
    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    result = cordis_sample[1]
    assert result.status == "success"
    run_a = last_run(cfg)
    members = sample_members()
    orgs_a = {r[0]: r[1:] for r in warehouse_rows(cfg, "SELECT org_key, street, city, assigned_by, split_part(record_ref, '!', 2) FROM organisations")}
    parts_a = {r[0] for r in warehouse_rows(cfg, "SELECT concat_ws('|', project_key, org_key, role, ord) FROM participations")}
    # the oracle reads the files as the pipeline should
    assert parts_a == union(parts_of(d) for d in members.values())
    assert set(orgs_a) == union(orgs_of(d) for d in members.values())
    assert warehouse_rows(cfg, "SELECT count(*), count(DISTINCT change) FROM changes WHERE run_id = ?", [run_a]) == [(575 + len(orgs_a) + len(parts_a), 1)]

    names = sorted(members)
    files_of_org: dict[str, set[str]] = {}
    for name in names:
        for o in orgs_of(members[name]):
            files_of_org.setdefault(o, set()).add(name)
    # an organisation in one project only, placed by its NUTS3 code (so a new city keeps its metropolis)
    parts_of_org = pd.Series([p.split("|")[1] for p in parts_a]).value_counts()
    org = next(o for o in sorted(orgs_a) if len(files_of_org[o]) == 1 and parts_of_org[o] == 1 and orgs_a[o][2] == "nuts3"
               and orgs_a[o][0] and re.fullmatch(r"[\w .-]+", orgs_a[o][1] or ""))  # fmt: skip
    (addr_file,) = files_of_org[org]
    status_files = [n for n in names if b"<status>SIGNED</status>" in members[n] and n != addr_file][:2]
    used = {addr_file, *status_files}
    # removed: projects whose organisations either take part in this project only, or have their record
    # from another project (so what stays of them does not change)
    removed = [n for n in names if n not in used and all(
        len(files_of_org[o]) == 1 or orgs_a[o][3] != n for o in orgs_of(members[n]))][:3]  # fmt: skip
    used |= set(removed)
    copied = [n for n in names if n not in used][:2]
    untouched = next(n for n in reversed(names) if n not in used)

    modified = {n: d for n, d in members.items() if n not in removed}
    for n, status in zip(status_files, ("CLOSED", "TERMINATED")):
        modified[n] = members[n].replace(b"<status>SIGNED</status>", f"<status>{status}</status>".encode())
    oid = org.split(":")[1]
    new_street, new_city = "TESTGATAN 1", f"{orgs_a[org][1]} CENTRUM"
    modified[addr_file] = block_replace(block_replace(members[addr_file], oid, "street", new_street), oid, "city", new_city)
    added = {}
    for i, n in enumerate(copied):  # a copy with a new grant number
        new_id = f"99000000{i + 1}"
        added[f"data/990/{new_id}.xml"] = re.sub(rb"^  <id>\d+</id>", f"  <id>{new_id}</id>".encode(), members[n], count=1, flags=re.M)
    if HE_XML.exists():  # and projects of the complete export that the sample does not have
        added |= new_projects_from_full(set(orgs_a), {project_id(d) for d in members.values()})
    modified |= added
    path = write_zip(tmp_path / "cordis-modified.zip", modified)

    result, _ = run_refresh(cfg, input_path=path)
    assert result.status == "success", result.message
    run_b = last_run(cfg)
    got = changes(cfg, run_b)
    assert len(got) == len(set(got))

    parts_b = union(parts_of(d) for d in modified.values())
    orgs_b = union(orgs_of(d) for d in modified.values())
    pk = lambda data: f"cordis:{project_id(data)}"  # noqa: E731
    part_key = next(p for p in parts_a if p.split("|")[1] == org)
    expected = {
        *(("projects", "added", pk(d), None, None, None) for d in added.values()),
        *(("projects", "removed", pk(members[n]), None, None, None) for n in removed),
        ("projects", "changed", pk(members[status_files[0]]), "status", "SIGNED", "CLOSED"),
        ("projects", "changed", pk(members[status_files[1]]), "status", "SIGNED", "TERMINATED"),
        *(("organisations", "added", o, None, None, None) for o in orgs_b - set(orgs_a)),
        *(("organisations", "removed", o, None, None, None) for o in set(orgs_a) - orgs_b),
        ("organisations", "changed", org, "street", orgs_a[org][0], new_street),
        ("organisations", "changed", org, "city", orgs_a[org][1], new_city),
        *(("participations", "added", p, None, None, None) for p in parts_b - parts_a),
        *(("participations", "removed", p, None, None, None) for p in parts_a - parts_b),
        ("participations", "changed", part_key, "city", orgs_a[org][1], new_city),
    }
    assert set(got) == expected
    # the scenario is what it claims: projects added and removed, organisations with them
    assert len([e for e in expected if e[:2] == ("projects", "added")]) == (4 if HE_XML.exists() else 2)
    assert len([e for e in expected if e[:2] == ("organisations", "removed")]) >= 1
    assert len([e for e in expected if e[:2] == ("participations", "removed")]) >= 3

    # time travel: between the two builds the warehouse held the old versions
    t_a, t_b = (warehouse_rows(cfg, "SELECT min(changed_at) FROM changes WHERE run_id = ?", [r])[0][0] for r in (run_a, run_b))
    status_key = pk(members[status_files[0]])
    as_of = """SELECT project_key, status FROM projects_history
               WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"""
    then = dict(warehouse_rows(cfg, as_of, [t_a, t_a]))
    now = dict(warehouse_rows(cfg, as_of, [t_b, t_b]))
    assert then[status_key] == "SIGNED" and now[status_key] == "CLOSED"
    assert len(then) == 575 and set(then) == {pk(d) for d in members.values()}
    assert set(now) == {r[0] for r in warehouse_rows(cfg, "SELECT project_key FROM projects")}
    assert pk(members[removed[0]]) in then and pk(members[removed[0]]) not in now
    assert warehouse_rows(cfg, "SELECT street, city, valid_to IS NULL FROM organisations_history WHERE org_key = ? ORDER BY valid_from", [org]) == [
        (orgs_a[org][0], orgs_a[org][1], False), (new_street, new_city, True)]  # fmt: skip
    # the current tables say since when their version holds
    assert dict(warehouse_rows(cfg, "SELECT project_key, valid_from FROM projects WHERE project_key IN (?, ?)",
                      [status_key, pk(members[untouched])])) == {status_key: t_b, pk(members[untouched]): t_a}  # fmt: skip

    # the summary counts the same
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        rows = {r["table"]: r for r in history.summary(con, since=t_b, table=None)}
    finally:
        con.close()
    assert rows["projects"]["added"] == len(added) and rows["projects"]["removed"] == 3
    assert rows["projects"]["changed"] == 2 and rows["projects"]["fields"] == [("status", 2)]
    assert rows["organisations"]["fields"] == [("city", 1), ("street", 1)]
    # and so does `baltetl changes`
    from typer.testing import CliRunner

    from baltetl.cli import app

    out = CliRunner().invoke(app, ["changes", "-w", str(cfg.warehouse), "--since", f"{t_b:%Y-%m-%dT%H:%M:%S}", "-t", "projects"])
    assert out.exit_code == 0, out.output
    assert run_b in out.output and run_a not in out.output and "organisations" not in out.output
    assert re.search(rf"projects +added +{len(added)} +removed +3 +changed +2 +fields: status 2", out.output)
    assert f"~ {status_key}  status: SIGNED -> CLOSED" in out.output


def _copy_of_sample(path):
    """The sample's files in a new archive: other bytes (parsed again, other record_ref), same data."""
    return write_zip(path, sample_members())


def test_same_data_again_records_no_changes(cordis_sample, cfg, tmp_path):
    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    first = history.committed(State(cfg.state))
    result, _ = run_refresh(cfg, input_path=_copy_of_sample(tmp_path / "repacked.zip"))
    assert result.status == "success"  # parsed again: the bytes differ
    assert changes(cfg, last_run(cfg)) == []
    result, _ = run_refresh(cfg, input_path=tmp_path / "repacked.zip")
    assert result.status == "unchanged"
    assert changes(cfg, last_run(cfg)) == []
    assert history.committed(State(cfg.state)) == first  # nothing new was written
    assert warehouse_rows(cfg, "SELECT count(*) FROM projects_history") == [(575,)]
    assert warehouse_rows(cfg, "SELECT count(DISTINCT valid_from) FROM projects") == [(1,)]


def test_failed_source_records_no_removals(cordis_sample, cfg, tmp_path):
    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    result, counts = run_refresh(cfg, input_path=truncated_sample(tmp_path))
    assert result.status == "failed"
    assert counts["projects"] == 575
    assert changes(cfg, last_run(cfg)) == []
    assert warehouse_rows(cfg, "SELECT count(*) FROM changes WHERE change = 'removed'") == [(0,)]


def _drop_projects(tmp_path, n: int):
    members = sample_members()
    gone = sorted(members)[:n]
    path = write_zip(tmp_path / f"minus{n}.zip", {k: v for k, v in members.items() if k not in gone})
    return path, {f"cordis:{project_id(members[k])}" for k in gone}


def test_a_build_that_is_not_swapped_in_commits_no_history(cordis_sample, cfg, tmp_path, monkeypatch):
    """The swap fails (or the process dies before it): the next build records the same changes, once."""
    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    path, gone = _drop_projects(tmp_path, 2)

    def refused(tmp, target, **kw):
        raise warehouse.WarehouseBusy("someone writes")

    monkeypatch.setattr(warehouse, "swap", refused)
    with pytest.raises(warehouse.WarehouseBusy):
        run_refresh(cfg, input_path=path)
    monkeypatch.undo()
    assert len(history.committed(State(cfg.state))) == 1
    assert not list(history.root(State(cfg.state)).glob(history.PENDING + "*"))
    from baltetl import pipeline

    run_id = pipeline.new_run_id()
    pipeline.build(cfg, run_id, log=lambda m: None)  # the snapshot without the two projects is current
    got = warehouse_rows(cfg, "SELECT record_key, run_id FROM changes WHERE table_name = 'projects' AND change = 'removed'")
    assert {k for k, _ in got} == gone and {r for _, r in got} == {run_id}


def test_a_crash_after_the_swap_is_rolled_forward(cordis_sample, cfg, tmp_path, monkeypatch):
    """Killed between the swap and the commit: the live warehouse shows the changes, the next build commits
    them under their own run and does not record them again."""
    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    path, gone = _drop_projects(tmp_path, 2)

    def killed(pending):
        raise KeyboardInterrupt("killed after the swap")

    monkeypatch.setattr(history, "commit", killed)
    with pytest.raises(KeyboardInterrupt):
        run_refresh(cfg, input_path=path)
    monkeypatch.undo()
    crashed = last_run(cfg)
    assert {r[0] for r in warehouse_rows(cfg, "SELECT record_key FROM changes WHERE run_id = ? AND table_name = 'projects'", [crashed])} == gone
    assert len(list(history.root(State(cfg.state)).glob(history.PENDING + "*"))) == 1

    result, _ = run_refresh(cfg, input_path=path)  # same input: unchanged, and nothing new to record
    assert result.status == "unchanged"
    assert changes(cfg, last_run(cfg)) == []
    got = warehouse_rows(cfg, "SELECT record_key, run_id FROM changes WHERE table_name = 'projects' AND change = 'removed'")
    assert sorted(got) == sorted((k, crashed) for k in gone)
    assert len(history.committed(State(cfg.state))) == 2


# ------------------------------------------------------------------------------------------ a later export

TABLES = {"projects": ["project_key"], "organisations": ["org_key"], "participations": ["project_key", "org_key", "role", "ord"]}


def _as_text(cfg) -> dict[str, pd.DataFrame]:
    """Every tracked table with its values as text, indexed by record key."""
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    out = {}
    try:
        for t, keys in TABLES.items():
            cols = [c for c in con.execute(f"SELECT * FROM {t} LIMIT 0").df().columns if c not in ("record_ref", "valid_from")]
            df = con.execute(f"SELECT concat_ws('|', {', '.join(keys)}) AS k, "
                             + ", ".join(f'"{c}"::VARCHAR AS "{c}"' for c in cols) + f" FROM {t}").df()  # fmt: skip
            out[t] = df.set_index("k")
    finally:
        con.close()
    return out


def _expected(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> set[tuple]:
    exp = set()
    for t in TABLES:
        a, b = before[t], after[t]
        exp |= {(t, "added", k, None, None, None) for k in b.index.difference(a.index)}
        exp |= {(t, "removed", k, None, None, None) for k in a.index.difference(b.index)}
        common = a.index.intersection(b.index)
        a, b = a.loc[common], b.loc[common, a.columns]
        for col in a.columns:
            x, y = a[col], b[col]
            diff = ~((x == y) | (x.isna() & y.isna()))
            for k in common[diff.to_numpy()]:
                exp.add((t, "changed", k, col, None if pd.isna(x[k]) else x[k], None if pd.isna(y[k]) else y[k]))
    return exp


@pytest.mark.shared
def test_later_real_export_records_what_it_changed(cordis_sample, cfg):
    """The sample (575 projects), then the complete Horizon Europe export fed with --input."""
    need_shared(HE_XML)
    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    before = _as_text(cfg)
    result, counts = run_refresh(cfg, input_path=HE_XML)
    assert result.status == "success"
    after = _as_text(cfg)
    got = changes(cfg, last_run(cfg))
    assert len(got) == len(set(got))
    expected = _expected(before, after)
    assert set(got) == expected
    by = pd.Series([(t, c) for t, c, *_ in got]).value_counts().to_dict()
    assert by[("projects", "added")] == 19189 - 575
    assert ("projects", "removed") not in by
    assert by[("participations", "added")] == 119242 - 13983
    assert by[("organisations", "added")] == 30721 - len(before["organisations"])


def test_a_configuration_change_is_recorded_as_changes_of_derived_fields(cordis_sample, cfg, tmp_path):
    """A new metropolis in the configuration moves records into it: recorded as changed metropolis fields."""
    from baltetl import pipeline
    from baltetl.config import load_config

    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built
    toml = tmp_path / "turku.toml"
    toml.write_text('[metropolises.turku]\nname = "Turku"\ncountry = "FI"\nfua = "FI003L4"\naliases = ["TURKU", "ABO"]\n')
    cfg2 = load_config(toml, warehouse=cfg.warehouse)
    run_id = pipeline.new_run_id()
    pipeline.build(cfg2, run_id, log=lambda m: None)
    got = changes(cfg2, run_id)
    turku = {r[0] for r in warehouse_rows(cfg2, "SELECT org_key FROM organisations WHERE metropolis_id = 'turku'")}
    assert turku
    assert {(t, c, f) for t, c, _k, f, _b, _a in got} == {
        (t, "changed", f) for t in ("organisations", "participations") for f in ("metropolis_id", "assigned_by", "assigned_from")}  # fmt: skip
    assert {k for t, _c, k, f, _b, a in got if t == "organisations" and f == "metropolis_id" and a == "turku"} == turku
    assert {b for t, _c, _k, f, b, _a in got if f == "metropolis_id"} == {None}  # they were in no metropolis before


def test_a_revision_that_changes_a_project_is_recorded_whichever_way_the_history_runs(cordis_sample, cfg, tmp_path, monkeypatch):
    """A build diffs the history beside the resolution when the revisions change no tracked table (none here), and
    after the revisions when one may (a hide): builds of either kind read the same columns, so hiding a project is
    its one change, and showing it again its one change back; the first way is taken when it may be."""
    from baltetl import pipeline, revisions

    copy_built(cordis_sample[0], cfg)  # the sample refreshed and built (no revisions: the history beside the resolution)
    project = warehouse_rows(cfg, "SELECT project_key FROM projects ORDER BY project_key LIMIT 1")[0][0]
    folder = tmp_path / "revisions"
    folder.mkdir()
    cfg.raw.setdefault("paths", {})["revisions"] = str(folder)
    early = []
    real = revisions.Revisions.change_tracked
    monkeypatch.setattr(revisions.Revisions, "change_tracked", lambda self: early.append(not real(self)) or real(self))
    (folder / "a.csv").write_text("op,target,author,date\n" f"hide,{project},Riga partner,2026-11-20\n", encoding="utf-8")
    run_id = pipeline.new_run_id()
    pipeline.build(cfg, run_id, log=lambda m: None)
    assert changes(cfg, run_id) == [("projects", "changed", project, "hidden", "false", "true")]
    (folder / "a.csv").unlink()
    (folder / "b.csv").write_text("op,target,other,author,date\n"
                                  f"keep_apart,{project},{project}x,Riga partner,2026-11-20\n", encoding="utf-8")  # fmt: skip
    run_id = pipeline.new_run_id()
    pipeline.build(cfg, run_id, log=lambda m: None)
    assert changes(cfg, run_id) == [("projects", "changed", project, "hidden", "true", "false")]
    assert early == [False, True]
