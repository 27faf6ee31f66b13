"""CORDIS CSV edition: record splitting, the unescaped-quote quirk, parse of a project.csv + organization.csv
folder/zip, and quarantine of deliberately broken rows (what each fixture is: tests/fixtures/README.md).

Tests marked `shared` re-run a check on ../shared/data and skip when it is absent; every other test runs on
the fixtures committed here.  No network, no Prefect.
"""

from __future__ import annotations

import gzip
import re

import pandas as pd
import pytest
from helpers.common import CSV_EXCERPT, SHARED, landed, need_shared
from helpers.cordis import (
    CSV_BROKEN,
    CSV_EDITION,
    EXCERPT_FIXTURE,
    TOPICS_FIXTURE,
    contracts,
    make_ctx,
    without_origin,
    write_dir,
    write_zip,
)

from baltetl import quality
from baltetl.sources.cordis import source as cordis

TOPICS_2025 = SHARED / "cordis" / "horizon" / "csv_2025-02-26" / "topics.csv.gz"

ORG_HEADER = (
    "projectID;projectAcronym;organisationID;vatNumber;name;shortName;SME;activityType;street;postCode;city;"
    "country;nutsCode;geolocation;organizationURL;contactForm;contentUpdateDate;rcn;order;role;ecContribution;"
    "netEcContribution;totalCost;endOfParticipation;active"
).split(";")
EXCERPT_PROJECTS = [
    "632927", "633002", "633053", "633413", "641607", "652671", "690850", "792210", "101060884", "101298715",
    "314056",
]  # fmt: skip
FIT_FOR_55 = (
    '"Combining state-of-the-art emission reduction and efficiency improvement technologies in ship design and '
    'retrofitting for contributing to the "Fit for 55" package objective by 2030 (ZEWT Partnership)"'
)
ELFA_OBJECTIVE = (
    'ELFA develops "low-input" legume farming for dry Mediterranean uplands; it asks three questions:\n'
    '"2030": which share of imported feed protein can be replaced by then?\n'
    "1; 2; 3 - pilots in Castilla-La Mancha; Alentejo; Thessaly\n"
    'Results feed the "Farm to Fork" targets.'
)


def _one(df: pd.DataFrame, col: str, value) -> pd.Series:
    rows = df[df[col] == value]
    assert len(rows) == 1, f"{col}={value}: {len(rows)} rows"
    return rows.iloc[0]


def _records(data: bytes) -> int:
    """Independent count of data records: lines that begin with a quoted number."""
    return len(re.findall(rb'^"\d+";', data, re.M))


# ------------------------------------------------------------------------ the real organization.csv rows


@pytest.fixture(params=["fixture", "shared"])
def excerpt(request) -> bytes:
    """The 11 verbatim organization.csv rows: the committed copy, and the shared original when present."""
    return (EXCERPT_FIXTURE if request.param == "fixture" else need_shared(CSV_EXCERPT)).read_bytes()


def test_fixture_copies_are_verbatim():
    data = EXCERPT_FIXTURE.read_bytes()
    assert (CSV_EDITION / "organization.csv").read_bytes() == data
    assert data.endswith(b"\n") and b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")


@pytest.mark.shared
def test_fixture_excerpt_equals_the_shared_file():
    assert EXCERPT_FIXTURE.read_bytes() == need_shared(CSV_EXCERPT).read_bytes()


def test_split_records_on_the_excerpt(excerpt):
    recs = cordis.split_records(excerpt)
    assert len(recs) == 12  # header + 11 rows
    assert [line for line, _ in recs] == list(range(1, 13))
    assert b"".join(chunk for _, chunk in recs) == excerpt  # lossless
    assert recs[0][1].startswith(b'"projectID";')
    assert all(re.match(rb'^"\d+";', chunk) and chunk.count(b"\n") == 1 for _, chunk in recs[1:])


def test_split_records_keeps_multi_line_fields_together():
    data = (CSV_EDITION / "project.csv").read_bytes()
    recs = cordis.split_records(data)
    assert len(recs) == 12 == _records(data) + 1
    assert b"".join(chunk for _, chunk in recs) == data
    lines = data.split(b"\n")
    for line, chunk in recs:  # each record starts on the line it names
        assert lines[line - 1] == chunk.split(b"\n", 1)[0]
    elfa = [chunk for _, chunk in recs if chunk.startswith(b'"101298715";')]
    assert len(elfa) == 1 and elfa[0].count(b"\n") == 4
    # a continuation line that begins with an (escaped) quoted number is not a record start
    assert b'\n""2030"": which share' in elfa[0]
    divine = [line for line, chunk in recs if chunk.startswith(b'"101060884";')]
    assert divine == [12]  # 632927 and 633053 have 2-line objectives


def test_parse_record():
    ok = '"1";"a;b";"say ""hi""";""\n'
    assert cordis.parse_record(ok, 4) == (["1", "a;b", 'say "hi"', ""], False)
    assert cordis.parse_record(ok, 5) == (None, False)  # field count differs: not repaired
    quirk = '"101192901";"HORIZON-CL5-2024-D5-01-12";""Combining the ""Fit for 55"" package""\n'
    assert cordis.parse_record(quirk, 3) == (
        ["101192901", "HORIZON-CL5-2024-D5-01-12", '"Combining the "Fit for 55" package"'],
        True,
    )
    # an unescaped quote followed by ';' adds a field: no repair is possible
    broken = '"1";"ACME "ONE";"TWO" LTD";"x"\n'
    assert cordis.parse_record(broken, 3) == (None, False)


def test_read_table_on_the_excerpt(excerpt):
    rejects = []
    header, rows, repaired = cordis.read_table(excerpt, "organization.csv", "participations", rejects)
    assert header == ORG_HEADER and len(header) == 25
    assert len(rows) == 11 and repaired == 0 and rejects == []
    assert all(set(r) == set(ORG_HEADER) | {"_ref"} for r in rows)
    assert [r["_ref"] for r in rows] == [f"organization.csv:{i}" for i in range(2, 13)]
    assert [r["projectID"] for r in rows] == EXCERPT_PROJECTS
    by = {(r["projectID"], r["organisationID"]): r for r in rows}
    uoa = by["633053", "999643007"]
    # mixed decimal separators in one row, read as text
    assert (uoa["ecContribution"], uoa["netEcContribution"], uoa["totalCost"]) == ("0", "528340.97", "960619,95")
    assert uoa["postCode"] == "105 61" and uoa["country"] == "EL"
    assert by["792210", "928228018"]["postCode"] == "08012"
    assert by["632927", "999905974"]["postCode"] == "NW1 2BE"
    assert by["652671", "998296065"]["postCode"] == "PMB CT173"
    assert by["101298715", "868955877"]["SME"] == ""
    assert by["792210", "928228018"]["SME"] == "true"
    assert by["690850", "997352934"]["ecContribution"] == ""


def test_read_table_rejects_bytes_that_are_not_utf8():
    data = EXCERPT_FIXTURE.read_bytes().replace(b"Zurich", b"Z\xfcrich")
    rejects = []
    _, rows, _ = cordis.read_table(data, "organization.csv", "participations", rejects)
    assert len(rows) == 10
    assert [(r.record_key, r.record_ref, r.check) for r in rejects] == [("633002", "organization.csv:3", "utf8")]


# ------------------------------------------------------------------------ the unescaped-quote quirk


def _check_topics(data: bytes, expected_rows: int):
    rejects = []
    header, rows, repaired = cordis.read_table(data, "topics.csv", "topics", rejects)
    assert header == ["projectID", "topic", "title"]
    assert rejects == []
    assert repaired == 2
    assert len(rows) == expected_rows == _records(data)
    by = {r["projectID"]: r for r in rows}
    for pid in ("101192901", "101192661"):
        title = by[pid]["title"]
        assert title == FIT_FOR_55
        assert title.startswith('"Combining') and title.endswith('(ZEWT Partnership)"')
        assert '"Fit for 55"' in title and '""' not in title
        assert by[pid]["topic"] == "HORIZON-CL5-2024-D5-01-12"
    # the neighbours are read strictly and unchanged
    assert by["101056769"]["title"] == "Innovative on-board energy saving solutions (ZEWT Partnership)"
    assert by["101112867"]["title"].startswith("Best practices on and piloting insurance")
    return by


def test_unescaped_quotes_repaired_on_the_fixture():
    by = _check_topics(TOPICS_FIXTURE.read_bytes(), 16)
    assert "; pathways" in by["101056782"]["title"]  # a ';' inside a quoted value


@pytest.mark.shared
def test_unescaped_quotes_repaired_on_the_real_topics_csv():
    data = gzip.decompress(need_shared(TOPICS_2025).read_bytes())
    by = _check_topics(data, 15341)
    lines = data.split(b"\n")
    assert lines[1021].startswith(b'"101192901";') and lines[9525].startswith(b'"101192661";')
    assert len(by) == 15341


# ------------------------------------------------------------------------ parse: project.csv + organization.csv


@pytest.fixture(scope="module")
def csv_ctx(tmp_path_factory):
    return make_ctx(tmp_path_factory.mktemp("cordis-csv"))


@pytest.fixture(scope="module")
def parsed(csv_ctx):
    return cordis.parse(csv_ctx, [landed(CSV_EDITION)])


@pytest.fixture(scope="module")
def validated(parsed):
    return quality.validate(parsed, contracts(), cordis.TABLES, 0.02, {})


def test_csv_edition_folder_parses(parsed):
    pj, pa, orgs = (parsed.tables[t] for t in ("projects", "participations", "organisations"))
    assert sorted(pj["project_id"]) == sorted(EXCERPT_PROJECTS)
    assert len(pa) == 11 and set(pa["project_id"]) == set(EXCERPT_PROJECTS)
    assert len(orgs) == 10  # 999654356 takes part in two projects
    assert parsed.rejects == [] and parsed.repaired == {"projects": 0, "participations": 0}
    assert pj["record_ref"].str.fullmatch(r"csv_edition!project\.csv:\d+").all()
    assert _one(pj, "project_id", "101060884")["record_ref"] == "csv_edition!project.csv:12"


def test_csv_multi_line_objective(parsed):
    pj = parsed.tables["projects"]
    elfa = _one(pj, "project_id", "101298715")
    assert elfa["objective"] == ELFA_OBJECTIVE
    assert elfa["title"] == 'Efficient Legumes for Farming in Arid uplands; a "low-input" pathway'
    divine = _one(pj, "project_id", "101060884")
    assert divine["objective"].count("\n") == 3 and divine["objective"].startswith("Agriculture is being managed")
    assert divine["status"] == "SIGNED" and divine["grant_doi"] == "10.3030/101060884"


def test_csv_countries(parsed):
    pa = parsed.tables["participations"]
    uoa = _one(pa, "record_key", "633053/999643007/thirdParty/14")
    assert (uoa["country_source"], uoa["country"], uoa["nuts3"]) == ("EL", "GR", "EL303")
    wellcome = _one(pa, "record_key", "632927/999905974/coordinator/1")
    assert (wellcome["country_source"], wellcome["country"], wellcome["nuts3"]) == ("UK", "GB", "UKI31")
    kosovo = _one(pa, "record_key", "641607/941324376/participant/11")
    assert (kosovo["country"], kosovo["nuts_raw"]) == ("XK", "XK") and pd.isna(kosovo["nuts3"])
    assert not pa["country"].isin(["EL", "UK"]).any()


def test_csv_values_after_the_contract(validated):
    assert validated.quarantine.empty
    for t in cordis.TABLES:
        assert validated.reports[t].loaded == validated.reports[t].read > 0
    pa, pj, orgs = (validated.tables[t] for t in ("participations", "projects", "organisations"))
    uoa = _one(pa, "record_key", "633053/999643007/thirdParty/14")
    assert uoa["total_cost"] == pytest.approx(960619.95)  # "960619,95"
    assert uoa["net_ec_contribution"] == pytest.approx(528340.97)  # "528340.97"
    assert uoa["ec_contribution"] == 0.0
    assert uoa["post_code"] == "105 61" and uoa["ord"] == 14
    assert _one(pa, "record_key", "792210/928228018/participant/20")["post_code"] == "08012"
    assert _one(pa, "record_key", "792210/928228018/participant/20")["total_cost"] == 406875.0
    partner = _one(pa, "record_key", "690850/997352934/partner/9")
    assert pd.isna(partner["ec_contribution"]) and partner["net_ec_contribution"] == 0.0
    # booleans: "true" / "false" / "" (natural person, FP7)
    assert pa["sme"].dtype == "boolean" and pa["terminated"].dtype == "boolean"
    assert _one(pa, "record_key", "792210/928228018/participant/20")["sme"] == True  # noqa: E712
    assert _one(pa, "record_key", "632927/999905974/coordinator/1")["sme"] == False  # noqa: E712
    assert pd.isna(_one(pa, "record_key", "101298715/868955877/participant/8")["sme"])
    assert pd.isna(_one(pa, "record_key", "314056/999654356/participant/9")["sme"])
    assert not pa["terminated"].any()
    # project money: both separators; totalCost "0" is "not reported"
    assert _one(pj, "project_id", "101060884")["total_cost"] == pytest.approx(3954797.5)  # "3954797,5"
    assert _one(pj, "project_id", "101060884")["ec_max_contribution"] == pytest.approx(3954797.5)  # "3954797.5"
    assert pd.isna(_one(pj, "project_id", "101298715")["total_cost"])
    assert _one(pj, "project_id", "101298715")["ec_max_contribution"] == pytest.approx(7499866.25)
    assert _one(pj, "project_id", "101060884")["start_date"] == pd.Timestamp("2022-10-01")
    # one organisation version: the row of the most recently updated project (2026-06-03 over 2019-08-02)
    iccs = _one(orgs, "org_id", "999654356")
    assert iccs["participations"] == 2 and iccs["name_variants"] == 1
    assert iccs["geolocation"] == "37.988257282,23.730574512"
    assert iccs["record_ref"] == "csv_edition!organization.csv:10"
    assert (iccs["country"], iccs["country_source"], iccs["activity_type"]) == ("GR", "EL", "REC")


def test_csv_edition_zip_equals_folder(tmp_path, csv_ctx, parsed):
    members = {
        "cordis-h2020projects-csv/project.csv": (CSV_EDITION / "project.csv").read_bytes(),
        "cordis-h2020projects-csv/organization.csv": (CSV_EDITION / "organization.csv").read_bytes(),
        "cordis-h2020projects-csv/legalBasis.csv": b'"projectID";"legalBasis";"title";"uniqueProgrammePart"\n',
    }
    z = cordis.parse(csv_ctx, [landed(write_zip(tmp_path / "cordis-csv.zip", members))])
    assert z.rejects == []
    for t in cordis.TABLES:
        got, want = without_origin(z.tables[t]), without_origin(parsed.tables[t])
        want["record_ref"] = "cordis-h2020projects-csv/" + want["record_ref"]
        pd.testing.assert_frame_equal(got, want)


def test_organization_csv_alone(tmp_path, csv_ctx):
    d = write_dir(tmp_path / "orgs-only", {"organization.csv": EXCERPT_FIXTURE.read_bytes()})
    p = cordis.parse(csv_ctx, [landed(d)])
    assert p.tables["projects"].empty
    assert len(p.tables["participations"]) == 11 and len(p.tables["organisations"]) == 10


def test_not_a_cordis_edition(tmp_path, csv_ctx):
    d = write_dir(tmp_path / "other", {"topics.csv": TOPICS_FIXTURE.read_bytes()})
    with pytest.raises(ValueError, match="neither the CORDIS XML edition"):
        cordis.parse(csv_ctx, [landed(d)])


# ------------------------------------------------------------------------ quarantine of broken rows

# (table, record_key, column, check name or its beginning, failure value or its beginning, action): a bad
# value of a field that may be empty is emptied (the record and its children load); a bad key, required field
# or unparsable record holds the record back
NULLED, HELD = "field_nulled", "row_held"
BROKEN = [
    ("projects", "101060884", "start_date", "coerce_dtype('datetime64", "2023-02-30", NULLED),
    ("projects", "641607", "total_cost", "coerce_dtype('float64')", "12a.5", NULLED),  # "12a,5", commas made points
    ("participations", "633053/999643007/thirdParty/14", "ec_contribution", "coerce_dtype('float64')", "12a.5", NULLED),
    ("participations", "652671", None, "malformed_csv_row", '"652671";"PROIntensAfrica";"998296065"', HELD),
    ("participations", "633413/937808902/beneficiary/11", "role", "isin(", "beneficiary", HELD),
    ("participations", "792210/928228018/participant/20", "record_key", "field_uniqueness", "792210/928228018/participant/20", HELD),
    ("organisations", "868955877", "activity_type", "isin(", "XYZ", NULLED),
]  # fmt: skip


@pytest.fixture(scope="module")
def broken(csv_ctx):
    return cordis.parse(csv_ctx, [landed(CSV_BROKEN)])


@pytest.fixture(scope="module")
def broken_validated(broken):
    return quality.validate(broken, contracts(), cordis.TABLES, 1.0, {})


@pytest.mark.parametrize("table, key, column, check, value, action", BROKEN, ids=[f"{b[0]}:{b[1]}:{b[3]}" for b in BROKEN])
def test_broken_row_is_quarantined(broken_validated, table, key, column, check, value, action):
    q = broken_validated.quarantine
    hit = q[(q["table_name"] == table) & (q["record_key"] == key) & q["check_name"].str.startswith(check)]
    assert len(hit) == 1, q[["table_name", "record_key", "check_name"]].to_string()
    r = hit.iloc[0]
    assert r["column_name"] == column
    assert r["failure_value"].startswith(value)
    assert r["record_ref"].startswith("csv_broken!")
    assert r["action"] == action
    loaded = broken_validated.tables[table]
    if action == NULLED:  # loaded, without the value
        row = loaded[loaded["record_key"] == key]
        assert len(row) == 1 and pd.isna(row[column].iloc[0])
    elif table != "organisations":  # an organisation's ref is the participation row it was taken from
        assert r["record_ref"] not in set(loaded["record_ref"])


def test_quarantine_holds_exactly_the_broken_rows(broken_validated):
    q = broken_validated.quarantine
    got = sorted(zip(q["table_name"], q["record_key"], q["check_name"]))
    want = sorted((t, k, c) for t, k, _, c, _, _ in BROKEN)
    assert len(got) == len(want)
    assert all(g[:2] == w[:2] and g[2].startswith(w[2]) for g, w in zip(got, want)), got
    assert q[["table_name", "record_ref", "check_name", "failure_value"]].notna().all().all()


def test_malformed_row_reject(broken):
    assert len(broken.rejects) == 1
    r = broken.rejects[0]
    assert (r.table, r.record_key, r.check) == ("participations", "652671", "malformed_csv_row")
    assert r.record_ref == "csv_broken!organization.csv:7"


def test_duplicate_key_first_loads(broken_validated):
    pa = broken_validated.tables["participations"]
    dup = pa[pa["record_key"] == "792210/928228018/participant/20"]
    assert list(dup["record_ref"]) == ["csv_broken!organization.csv:9"]
    q = broken_validated.quarantine
    assert list(q.loc[q["check_name"] == "field_uniqueness", "record_ref"]) == ["csv_broken!organization.csv:10"]


def test_good_rows_load(broken_validated):
    t = broken_validated.tables
    assert set(t["projects"]["project_id"]) == set(EXCERPT_PROJECTS)  # two of them without a bad value
    assert set(t["participations"]["record_key"]) == {
        "632927/999905974/coordinator/1",
        "633002/998221957/coordinator/1",
        "690850/997352934/partner/9",
        "792210/928228018/participant/20",
        "314056/999654356/participant/9",
        # of the projects and the organisation loaded without a bad value; with an emptied contribution
        "641607/941324376/participant/11",
        "101060884/999654356/coordinator/1",
        "101298715/868955877/participant/8",
        "633053/999643007/thirdParty/14",
    }
    assert "868955877" in set(t["organisations"]["org_id"]) and len(t["organisations"]) == 9
    # the loaded participations only point at loaded parents
    assert set(t["participations"]["project_id"]) <= set(t["projects"]["project_id"])
    assert set(t["participations"]["org_id"]) <= set(t["organisations"]["org_id"])


def test_loaded_plus_quarantined_equals_read(broken, broken_validated):
    project_csv = (CSV_BROKEN / "project.csv").read_bytes()
    organization_csv = (CSV_BROKEN / "organization.csv").read_bytes()
    expected_read = {
        "projects": _records(project_csv),  # 11
        "participations": _records(organization_csv),  # 12: 11 real rows + 1 duplicated
        "organisations": len(set(broken.tables["participations"]["org_id"])),  # 9 (the malformed row has none)
    }
    assert expected_read == {"projects": 11, "participations": 12, "organisations": 9}
    q = broken_validated.quarantine
    for t, read in expected_read.items():
        rep = broken_validated.reports[t]
        held_records = q.loc[(q["table_name"] == t) & (q["action"] == HELD), "record_ref"].nunique()
        assert rep.read == read
        assert rep.loaded == len(broken_validated.tables[t])
        assert rep.loaded + held_records == rep.read
        assert rep.quarantined == held_records
        assert rep.fields_nulled == ((q["table_name"] == t) & (q["action"] == NULLED)).sum()
    assert {t: (r.quarantined, r.fields_nulled) for t, r in broken_validated.reports.items()} == {
        "projects": (0, 2),
        "participations": (3, 1),
        "organisations": (0, 1),
    }


@pytest.mark.parametrize(
    "max_share, failing",
    [
        # rows held and rows loaded with a value emptied count alike
        (0.3, {"participations"}),  # (3 + 1)/12 = 33 %
        (0.15, {"participations", "projects"}),  # 2/11 = 18 %
        (0.1, {"participations", "projects", "organisations"}),  # 1/9 = 11 %
    ],
)
def test_tolerance_exceeded_rejects_the_source(broken, max_share, failing):
    with pytest.raises(quality.SourceRejected) as exc:
        quality.validate(broken, contracts(), cordis.TABLES, max_share, {})
    msg = str(exc.value)
    for t in cordis.TABLES:
        assert (f"{t}: " in msg) == (t in failing), msg
    assert len(exc.value.validated.quarantine) == len(BROKEN)  # the quarantine is still recorded


def test_tolerance_not_exceeded_loads(broken, csv_ctx):
    v = quality.validate(broken, contracts(), cordis.TABLES, 0.6, {})
    assert v.reports["participations"].loaded == 9
    # the configured tolerance (2 %) is far below the broken share
    with pytest.raises(quality.SourceRejected):
        quality.validate(broken, contracts(), cordis.TABLES, csv_ctx.source.max_quarantine_share, {})
