"""CORDIS XML edition: the bundled real sample (575 unmodified Horizon Europe project files) and robustness.

The sample is parsed once per module through the configured process pool (the production path); the small
archives built in tmp_path are parsed in-process.  No network, no Prefect.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from helpers.common import SAMPLE, landed
from helpers.cordis import (
    contracts,
    make_ctx,
    read_members,
    without_origin,
    write_dir,
    write_tar_xz,
    write_zip,
)
from lxml import etree

from baltetl import archive, quality
from baltetl import normalise
from baltetl.sources.cordis import source as cordis
from baltetl.sources.cordis import values as cordis_values
from baltetl.sources.cordis import xml as cordis_xml
from baltetl.declaration import declared

TABLES = tuple(declared()["cordis"].tables)  # the staged tables, parents first

N_SAMPLE = 575
HE_ROLES = {"coordinator", "participant", "associatedPartner", "thirdParty"}

# real project files of the sample, chosen for their content
NUTS_PAIR = "data/238/238623.xml"  # 101057499: NO084;NO (double NUTS), UK participants
DEMOKRITOS = "data/256/256668.xml"  # 101123538: "NATIONAL CENTER FOR SCIENTIFIC RESEARCH ""DEMOKRITOS""", EL
MSCA_PF = "data/272/272063.xml"  # 101210678: HORIZON-TMA-MSCA-PF-EF, <totalCost>0</totalCost>
SUBSET = [NUTS_PAIR, DEMOKRITOS, MSCA_PF]


@pytest.fixture(scope="module")
def raw_sample() -> dict[str, bytes]:
    """The sample's members as stored (for counts independent of the parser)."""
    return dict(archive.iter_members(SAMPLE, lambda n: n.endswith(".xml")))


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    ctx = make_ctx(tmp_path_factory.mktemp("cordis-xml"), workers=None)  # configured default: a process pool
    return cordis.parse(ctx, [landed(SAMPLE)])


@pytest.fixture(scope="module")
def validated(parsed):
    return quality.validate(parsed, contracts(), TABLES, 0.02, {})


def _one(df: pd.DataFrame, col: str, value) -> pd.Series:
    rows = df[df[col] == value]
    assert len(rows) == 1, f"{col}={value}: {len(rows)} rows"
    return rows.iloc[0]


# ------------------------------------------------------------------------------------------ the sample


def test_sample_gives_575_projects(parsed, raw_sample):
    pj = parsed.tables["projects"]
    assert len(raw_sample) == N_SAMPLE
    assert len(pj) == N_SAMPLE
    assert pj["project_id"].is_unique and pj["record_key"].is_unique
    assert (pj["record_key"] == pj["project_id"]).all()
    # every project id is the <id> (grant number) of its file, not the file name (rcn)
    ids = {re.search(rb"^  <id>(\d+)</id>", d, re.M).group(1).decode() for d in raw_sample.values()}
    assert set(pj["project_id"]) == ids
    assert pj["record_ref"].str.startswith(f"{SAMPLE.name}!data/").all()
    assert parsed.rejects == []


def test_every_participation_belongs_to_a_loaded_project(parsed, raw_sample):
    pj, pa = parsed.tables["projects"], parsed.tables["participations"]
    assert pa["project_id"].notna().all()
    assert set(pa["project_id"]) <= set(pj["project_id"])
    # nothing lost: one row per <organization> participation element, counted independently
    n = sum(
        len(etree.fromstring(d).findall("relations/associations/organization")) for d in raw_sample.values()
    )
    assert n == len(pa) == 13983


def test_participation_key_is_unique(parsed):
    pa = parsed.tables["participations"]
    key = ["project_id", "org_id", "role", "ord"]
    assert pa[key].notna().all().all()
    assert not pa.duplicated(key).any()
    joined = pa["project_id"] + "/" + pa["org_id"] + "/" + pa["role"] + "/" + pa["ord"]
    assert (pa["record_key"] == joined).all()
    # (project, organisation) alone is not a key in the real data: role and order are needed
    assert pa.duplicated(["project_id", "org_id"]).any()


def test_roles_are_in_the_closed_set(parsed):
    pa = parsed.tables["participations"]
    assert set(pa["role"]) <= set(contracts().ROLES)
    assert set(pa["role"]) == HE_ROLES
    coordinators = pa[pa["role"] == "coordinator"].groupby("project_id").size()
    assert len(coordinators) == N_SAMPLE and (coordinators == 1).all()


def test_activity_types_lose_the_leading_slash(parsed, raw_sample):
    assert any(b"<code>/HES</code>" in d for d in raw_sample.values())  # what the source writes
    act = parsed.tables["organisations"]["activity_type"].dropna()
    assert len(act) > 0
    assert not act.str.startswith("/").any()
    assert set(act) <= set(contracts().ACTIVITY_TYPES)


def test_eu_country_codes_become_iso(parsed):
    pa, orgs = parsed.tables["participations"], parsed.tables["organisations"]
    for eu, iso in {"EL": "GR", "UK": "GB"}.items():  # the EU codes the sample has (normalise.country_code)
        rows = pa[pa["country_source"] == eu]
        assert len(rows) > 0, f"the sample has no {eu} row"
        assert (rows["country"] == iso).all()
        assert (orgs.loc[orgs["country_source"] == eu, "country"] == iso).all()
    assert not pa["country"].isin(["EL", "UK"]).any()
    # other codes pass through unchanged
    other = pa[pa["country_source"].notna() & ~pa["country_source"].isin(["EL", "UK"])]
    assert (other["country"] == other["country_source"]).all()
    # real rows
    uk = _one(pa, "record_key", "101104269/999494888/associatedPartner/20")
    assert (uk["country_source"], uk["country"]) == ("UK", "GB")
    el = _one(pa, "record_key", "101123538/999978239/participant/22")
    assert (el["country_source"], el["country"]) == ("EL", "GR")


def test_project_total_cost_zero_is_missing(parsed, validated, raw_sample):
    raw = raw_sample[MSCA_PF]
    assert b"<totalCost>0</totalCost>" in raw and b"<id>101210678</id>" in raw
    p = _one(parsed.tables["projects"], "project_id", "101210678")
    assert p["funding_scheme"] == "HORIZON-TMA-MSCA-PF-EF"
    assert pd.isna(p["total_cost"])
    assert p["ec_max_contribution"] == "163166.16"
    v = _one(validated.tables["projects"], "project_id", "101210678")
    assert pd.isna(v["total_cost"])
    assert v["ec_max_contribution"] == pytest.approx(163166.16)
    # every project whose file says 0 is missing, no other one; no project has a total cost of 0 left
    zeros = sum(b"\n  <totalCost>0</totalCost>" in d for d in raw_sample.values())
    assert zeros == 168
    assert validated.tables["projects"]["total_cost"].isna().sum() == zeros
    assert not (validated.tables["projects"]["total_cost"] == 0).any()
    # participation-level totalCost 0 is a real value and stays
    part = _one(validated.tables["participations"], "record_key", "101123538/999978239/participant/22")
    assert part["total_cost"] == 0.0


def test_double_nuts_code_takes_the_first_nuts3(parsed):
    pa = parsed.tables["participations"]
    r = _one(pa, "record_key", "101057499/999654162/coordinator/1")
    assert (r["nuts_raw"], r["nuts3"]) == ("NO084;NO", "NO084")
    r = _one(pa, "record_key", "101104269/999494888/associatedPartner/20")
    assert (r["nuts_raw"], r["nuts3"]) == ("UKI41;UK", "UKI41")
    pairs = pa[pa["nuts_raw"].fillna("").str.contains(";")]
    assert len(pairs) == 11
    nuts3 = pa["nuts3"].dropna()
    assert nuts3.str.fullmatch(r"[A-Z]{2}[0-9A-Z]{3}").all()
    # a bare country code gives no NUTS3
    assert pa.loc[pa["nuts_raw"] == "FR", "nuts3"].isna().all() and (pa["nuts_raw"] == "FR").any()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("NO084;NO", "NO084"),
        ("DE217;HU312", "DE217"),
        ("NO;NO084", "NO084"),
        ("EL303", "EL303"),
        ("LV00A", "LV00A"),
        (" fi1b1 ", "FI1B1"),
        ("XK", None),
        ("NO08", None),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_first_nuts3(raw, expected):
    assert normalise.nuts3(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('"NATIONAL CENTER FOR SCIENTIFIC RESEARCH ""DEMOKRITOS"""', 'NATIONAL CENTER FOR SCIENTIFIC RESEARCH "DEMOKRITOS"'),
        ('"LLC ""CIVITTA UKRAINE"""', 'LLC "CIVITTA UKRAINE"'),
        ('"Multiprofile Hospital for Active Treatment ""Dr Tota Venkova"" - Gabrovo"',
         'Multiprofile Hospital for Active Treatment "Dr Tota Venkova" - Gabrovo'),
        ('"""Magneettikuvantamisymparisto"""', '"Magneettikuvantamisymparisto"'),
        ('RESEARCH ""DEMOKRITOS""', 'RESEARCH "DEMOKRITOS"'),
        ('"Fit for 55" package', '"Fit for 55" package'),  # single quotes are real: untouched
        ("UNIVERSITY OF TARTU", "UNIVERSITY OF TARTU"),
        (None, None),
    ],
)  # fmt: skip
def test_unquote(raw, expected):
    assert cordis_values._unquote(raw) == expected
    assert cordis_values._unquote(cordis_values._unquote(raw)) == expected  # idempotent: no doubled quote is left


def test_escaped_quotes_in_the_sample_are_undone(parsed, raw_sample):
    assert b'<legalName>"NATIONAL CENTER FOR SCIENTIFIC RESEARCH ""DEMOKRITOS"""</legalName>' in raw_sample[DEMOKRITOS]
    org = _one(parsed.tables["organisations"], "org_id", "999978239")
    assert org["name"] == 'NATIONAL CENTER FOR SCIENTIFIC RESEARCH "DEMOKRITOS"'
    assert org["short_name"] == 'NCSR "D"'
    # a project title written the same way; its periodic report in the same file has the plain title
    p = _one(parsed.tables["projects"], "project_id", "101059986")
    assert p["title"] == (
        'Network of National Contact Points for Cluster 2 "Culture, Creativity and Inclusive society" '
        'and "SSH Integration"'
    )
    for table, cols in (("organisations", ["name", "short_name"]), ("projects", ["title"])):
        for col in cols:
            assert not parsed.tables[table][col].dropna().str.contains('""').any(), (table, col)


def test_organisations_one_version_per_org(parsed):
    pa, orgs = parsed.tables["participations"], parsed.tables["organisations"]
    assert orgs["org_id"].is_unique
    assert set(orgs["org_id"]) == set(pa["org_id"])
    assert orgs["participations"].sum() == len(pa)
    assert (orgs["record_key"] == orgs["org_id"]).all()


def test_sample_passes_its_contracts(validated, parsed):
    assert validated.quarantine.empty
    for table in TABLES:
        rep = validated.reports[table]
        assert rep.read == rep.loaded == len(parsed.tables[table]) == len(validated.tables[table])
    assert validated.tables["projects"]["total_cost"].dtype == "float64"
    assert validated.tables["participations"]["ord"].dtype == "Int64"
    assert validated.tables["participations"]["sme"].dtype == "boolean"


# ------------------------------------------------------------------------------------------ robustness


@pytest.fixture(scope="module")
def subset() -> dict[str, bytes]:
    good = read_members(SAMPLE, SUBSET)
    return {
        **good,
        # a real file cut off in the middle of an element: not well-formed
        "data/999/999999.xml": good[MSCA_PF][:3000],
        # well-formed, but not a <project>
        "data/999/999998.xml": b'<?xml version="1.0" encoding="UTF-8"?>\n<result><id>1</id></result>\n',
    }


@pytest.fixture
def xml_ctx(ctx):
    """conftest's ctx, parsing in this process (the inputs here are small)."""
    ctx.source.options.parse_workers = 1
    return ctx


def _parse(ctx, path):
    return cordis.parse(ctx, [landed(path)])


def test_malformed_member_is_rejected_and_the_others_parse(xml_ctx, tmp_path, subset, parsed):
    p = _parse(xml_ctx, write_tar_xz(tmp_path / "cordis-subset.tar.xz", subset))
    assert sorted(p.tables["projects"]["project_id"]) == ["101057499", "101123538", "101210678"]
    checks = {r.record_key: r for r in p.rejects}
    assert set(checks) == {"999999", "999998"}
    bad = checks["999999"]
    assert (bad.table, bad.check) == ("projects", "xml_syntax")
    assert bad.record_ref == "cordis-subset.tar.xz!data/999/999999.xml"
    assert bad.value  # the parser's message
    assert (checks["999998"].check, checks["999998"].value) == ("xml_root", "result")
    # the good members give exactly what they give inside the full sample
    for table in ("projects", "participations"):
        got = without_origin(p.tables[table])
        ids = set(got["project_id"])
        want = without_origin(parsed.tables[table][parsed.tables[table]["project_id"].isin(ids)])
        pd.testing.assert_frame_equal(got, want, check_dtype=False)  # sme: bool here, object with NAs there


def test_rejected_members_are_quarantined(xml_ctx, tmp_path, subset):
    p = _parse(xml_ctx, write_tar_xz(tmp_path / "cordis-subset.tar.xz", subset))
    v = quality.validate(p, contracts(), TABLES, 1.0, {})
    q = v.quarantine[v.quarantine["table_name"] == "projects"]
    assert set(q["check_name"]) == {"xml_syntax", "xml_root"}
    assert (v.reports["projects"].read, v.reports["projects"].loaded) == (5, 3)
    with pytest.raises(quality.SourceRejected, match="projects: 2 of 5"):
        quality.validate(p, contracts(), TABLES, 0.02, {})


# ------------------------------------------------- <result> and unread <category> elements cut before parsing


def _rows(root, ref="r"):
    return cordis_xml.xml_project(root, ref)


def test_cutting_changes_no_row_of_the_sample(raw_sample):
    """Every real file gives the same rows whether parsed whole or with its <result> elements and its
    categories of unread classifications cut out; the categories that are read stay."""
    results = categories = 0
    for name, data in raw_sample.items():
        lean = cordis_xml.without_unread(data)
        results += b"<result " in data
        categories += b'classification="topicKeyword"' in data
        assert b"<result " not in lean and b'classification="topicKeyword"' not in lean
        assert b'classification="collection"' not in lean and b'classification="source"' not in lean
        no_results = cordis_xml._cut(data, b"result", cordis_xml._RESULT_START)
        for kept in (b'classification="organizationActivityType"', b'classification="euroSciVoc"'):
            assert lean.count(kept) == no_results.count(kept)
        assert len(lean) < len(data)
        assert _rows(cordis_xml.parse_document(data), name) == _rows(etree.fromstring(data, cordis_xml.PARSER), name)
    assert results > len(raw_sample) / 2 and categories > len(raw_sample) / 2


ORG = b'<organization type="coordinator" order="1"><id>9</id><legalName>ACME</legalName></organization>'


def _doc(inner: bytes, title: bytes = b"T") -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n<project><id>1</id><title>' + title
            + b"</title><relations><associations>" + inner + b"</associations></relations></project>")  # fmt: skip


@pytest.mark.parametrize(
    "doc, cut",
    [
        (_doc(b'<result type="relatedResult" source="corda"><id>p</id></result>' + ORG), True),
        (_doc(b'<result type="a"/>' + ORG + b'<result type="b"><id>p</id></result>'), True),  # self-closing stays
        (_doc(b"<resultList><id>p</id></resultList>" + ORG), False),  # another tag
        (_doc(ORG, b'<![CDATA[a <result type="x">b</result> c]]>'), False),  # "<result" as text
        (_doc(b'<!-- <result type="x"> --><result type="x">p</result>' + ORG), False),
        (_doc(b'<result type="a"><result type="b">p</result></result>' + ORG), False),  # nested
        (_doc(b'<result type="a">p</result >' + ORG + b'<result type="b">q</result>'), False),  # "</result >"
    ],
)
def test_results_are_cut_only_exactly(doc, cut):
    lean = cordis_xml.without_unread(doc)
    assert (lean is not doc) == cut
    proj, rows = _rows(cordis_xml.parse_document(doc))
    assert (proj, rows) == _rows(etree.fromstring(doc, cordis_xml.PARSER))
    assert [r[3] for r in rows] == ["9"]  # the organisation is never cut


def _category(classification: bytes, code: bytes = b"/X") -> bytes:
    return b'<category classification="' + classification + b'" type="t"><code>' + code + b"</code></category>"


def _categories(*cats: bytes) -> bytes:
    """A project's own categories beside ORG, whose activity type is in its own categories."""
    activity = b"<relations><categories>" + b"".join(cats) + b"</categories></relations>"
    org = ORG.replace(b"</organization>", activity + b"</organization>")
    return _doc(org).replace(b"</associations>", b"</associations><categories>" + b"".join(cats) + b"</categories>")


@pytest.mark.parametrize(
    "doc, cut",
    [
        (_categories(_category(b"topicKeyword"), _category(b"euroSciVoc", b"/29/95"),
                     _category(b"organizationActivityType", b"/PUB"),
                     _category(b"projectFundingSchemeCategory", b"/HORIZON-RIA")), True),  # fmt: skip
        (_categories(_category(b"euroSciVoc", b"/29/95")), False),  # read: stays
        (_categories(_category(b"euro&#83;ciVoc", b"/29/95")), False),  # a reference could spell a read one
        (_categories(b'<category classification="topicKeyword"/>', _category(b"euroSciVoc", b"/1")), False),  # self-closing
        (_categories(_category(b"topicKeyword", _category(b"euroSciVoc", b"/1")), _category(b"euroSciVoc", b"/2")),
         False),  # nested  # fmt: skip
        (_categories(b'<category type="t" classification="topicKeyword"><code>/X</code></category>'), False),
        (_categories(b'<categoryX classification="topicKeyword"><code>/X</code></categoryX>'), False),  # another tag
    ],
)
def test_unread_categories_are_cut_only_exactly(doc, cut):
    """Categories are read by their classification (xml_project): one of another classification goes, when
    its start tag says so plainly and its element ends before the next category starts."""
    lean = cordis_xml.without_unread(doc)
    assert (lean is not doc) == cut
    assert (b"topicKeyword" in lean) != cut or b"topicKeyword" not in doc
    whole = _rows(etree.fromstring(doc, cordis_xml.PARSER))
    assert _rows(cordis_xml.parse_document(doc)) == whole
    if b"/PUB" in doc:  # what the categories give survives the cut
        proj, rows = whole
        assert (proj[12], proj[18], rows[0][14]) == ("HORIZON-RIA", "/29/95", "/PUB")


def test_a_cut_that_breaks_the_document_falls_back_to_the_whole():
    """A single-quoted result (left in place) around a cut one whose end tag has a space: the cut takes the
    outer result's end tag, the shortened document does not parse, and the whole one is parsed instead."""
    doc = _doc(b"<result type='a'><result type=\"b\">p</result ></result>" + ORG)
    lean = cordis_xml.without_unread(doc)
    assert lean is not doc
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(lean, cordis_xml.PARSER)
    assert _rows(cordis_xml.parse_document(doc)) == _rows(etree.fromstring(doc, cordis_xml.PARSER))
    assert [r[3] for r in _rows(cordis_xml.parse_document(doc))[1]] == ["9"]


@pytest.mark.parametrize("packaging", ["zip", "dir"])
def test_archive_format_does_not_matter(xml_ctx, tmp_path, subset, packaging):
    tar = _parse(xml_ctx, write_tar_xz(tmp_path / "cordis.tar.xz", subset))
    if packaging == "zip":
        other_path = write_zip(tmp_path / "cordis.zip", subset)
    else:
        other_path = write_dir(tmp_path / "cordis-dir", subset)
    other = _parse(xml_ctx, other_path)
    for table in TABLES:
        assert len(other.tables[table]) > 0
        pd.testing.assert_frame_equal(without_origin(other.tables[table]), without_origin(tar.tables[table]))
    strip = lambda rs: sorted((r.record_key, r.record_ref.split("!", 1)[1], r.check) for r in rs)  # noqa: E731
    assert strip(other.rejects) == strip(tar.rejects) and len(tar.rejects) == 2


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_archive_raises_archive_error(xml_ctx, tmp_path, keep):
    data = SAMPLE.read_bytes()
    cut = tmp_path / "cordis-HORIZON-truncated.tar.xz"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(archive.ArchiveError, match=r"cordis-HORIZON-truncated\.tar\.xz: .*truncated or corrupt"):
        _parse(xml_ctx, cut)


def test_entity_references_and_comments_keep_the_text_around_them(tmp_path):
    """An entity PARSER does not resolve (external: XXE stays blocked) is kept as written, with the text after
    it; a comment inside a field loses no text either.  Before, 'A&xxe;B' was read as 'A'."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE", encoding="utf-8")
    doc = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE project [<!ENTITY xxe SYSTEM "'
           + secret.as_uri().encode() + b'"><!ENTITY int "inner">]>\n<project><id>1</id><title>A&xxe;B</title>'
           b"<acronym>X<!-- note -->Y</acronym><objective>one &int; two</objective><relations><associations>"
           b'<organization type="coordinator" order="1"><id>9</id><legalName>ACME &xxe; Oy</legalName>'
           b"</organization></associations></relations></project>")  # fmt: skip
    proj, rows = _rows(cordis_xml.parse_document(doc))
    assert proj[4] == "A&xxe;B" and proj[3] == "XY" and proj[19] == "one &int; two"
    assert rows[0][11] == "ACME &xxe; Oy"
    projects, parts, rejects = cordis_xml.parse_batch([("data/1/1.xml", doc)])  # the workers' path
    assert not rejects and projects[4].to_arrow().to_pylist() == ["A&xxe;B"]  # a string column
    assert "TOP-SECRET-LINE" not in repr((proj, rows, projects, parts))  # the file was never read


def test_the_workers_hand_back_strings_as_one_buffer_and_the_main_process_keeps_them_as_arrow_arrays():
    import subprocess
    import sys

    import pyarrow as pa

    from baltetl.sources.cordis.values import CONVERTED_PARTICIPATION_COLUMNS as COLS

    doc = (b'<project><id>1</id><title>T</title><relations><associations><organization type="coordinator" '
           b'order="1"><id>9</id><legalName>ACME Oy</legalName></organization></associations></relations></project>')  # fmt: skip
    projects, parts, _ = cordis_xml.parse_batch([("data/1/1.xml", doc)])
    assert isinstance(parts[COLS.index("name")], cordis_xml.Strings)
    assert parts[COLS.index("name")].to_arrow().to_pylist() == ["ACME Oy"]
    assert parts[COLS.index("sme")] == [None]  # no value at all: a list, not an Arrow column of nulls
    values = ["Rīga", None, "", "東京", None, "a" * 300, "Tallinn"]
    [col] = cordis_xml.compact([values])
    arr = col.to_arrow()
    assert arr.type == pa.string() and arr.null_count == 2 and arr.to_pylist() == values
    # values holding the separator or the null mark (never in XML text) go end to end with their lengths
    for odd in (["a\x00b", None, ""], ["\x01", None, "x"], ["\x00"]):
        [col] = cordis_xml.compact([odd])
        assert col.lengths is not None and col.to_arrow().to_pylist() == odd
    assert cordis_xml.compact([["x", ""]])[0].to_arrow().to_pylist() == ["x", ""]
    assert cordis_xml.compact([["Oslo"]])[0].to_arrow().null_count == 0
    assert cordis_xml.compact([[True, None], [1.5], ["a", True]]) == [[True, None], [1.5], ["a", True]]
    # a worker imports neither pyarrow nor pandas (each costs it ~0.2 s of CPU)
    probe = ("import sys; from baltetl.sources.cordis import xml; xml.parse_batch([('1.xml', " + repr(doc) + ")]); "
             "print(sorted({'pyarrow', 'pandas', 'numpy'} & set(sys.modules)))")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    table = cordis._Columns(["name", "sme", "city"])
    table.add_columns([pa.array(["A", None]), [None, None], pa.array(["Rīga", "Tallinn"])])
    table.add_columns([[None], [True], ["Oslo"]])  # a batch whose names are all empty; sme has a value
    df = table.frame()
    assert str(df["name"].dtype) == "str" and df["name"].isna().tolist() == [False, True, True]
    assert df["sme"].dtype == object and df["sme"].tolist() == [None, None, True]
    assert df["city"].dtype == object and df["city"].tolist() == ["Rīga", "Tallinn", "Oslo"]  # a list of strings: objects


def test_a_columns_batches_become_one_arrow_array_with_every_value_in_place():
    """The main process joins a column's batches (Strings) before making them Arrow: the values, Nones and
    empty strings come out in order, also across a batch whose values need their lengths (a separator inside)
    and a batch with no value at all."""
    batches = [["Rīga", None], [""], ["a\x00b", None], [None, None], ["Oslo", "", None], ["東京"]]
    table = cordis._Columns(["name"])
    for b in batches:
        table.add_columns(cordis_xml.compact([b]))
    assert [type(c).__name__ for c in table.cols[0]] == ["Strings", "Strings", "Strings", "list", "Strings", "Strings"]
    assert len(cordis_xml.Strings.joined(table.cols[0])) == 4  # runs of plain Strings joined: 2, 1 (lengths), list, 1
    df = table.frame()
    assert str(df["name"].dtype) == "str"
    assert [None if df["name"].isna()[i] else v for i, v in enumerate(df["name"])] == [v for b in batches for v in b]
