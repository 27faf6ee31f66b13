"""A website of another scheme than http(s) is emptied at the door: the record loads, the value is in quarantine
(action field_nulled) and counted; text that is no address at all stays as the source wrote it (the site and the
exports link neither: urls.web_url)."""

from __future__ import annotations


import pandas as pd
from helpers.common import FIXTURES, landed

from baltetl import quality
from baltetl.types import SourceContext
from baltetl.sources.clusters import source as clusters

KKK = {"name": "kkk-pl", "format": "csv", "country": "PL",
       "columns": {"name": "Nazwa klastra", "city": "Miasto", "website": "WWW", "coordinator": "Koordynator",
                   "members_total": "Liczba członków"}}  # fmt: skip


def test_a_javascript_website_is_emptied_and_quarantined(cfg, tmp_path):
    text = (FIXTURES / "clusters" / "registry_kkk.csv").read_text(encoding="utf-8")
    text = text.replace("https://www.example.org/interizon", " JavaScript:alert(document.cookie)")
    text = text.replace("Warszawa;;", "Warszawa;www.mazowiecki.example.pl, www.other.example.pl;")
    path = tmp_path / "registry-kkk-pl-0123.csv"
    path.write_text(text, encoding="utf-8")
    src = cfg.source("clusters")
    ctx = SourceContext(cfg, src.with_options(registries=[KKK]))
    parsed = clusters.parse(ctx, [landed(path, "registry-kkk-pl")])
    v = quality.validate(parsed, quality.load_contracts(cfg.project_dir / "schemas", "clusters"), src.tables, 1.0, {})
    orgs = v.tables["organisations"].set_index("name")
    assert pd.isna(orgs.loc["Pomorski Klaster ICT Interizon", "website"])  # loaded, without it
    assert orgs.loc["Mazowiecki Klaster Testowy", "website"] == "www.mazowiecki.example.pl, www.other.example.pl"
    q = v.quarantine[v.quarantine["column_name"] == "website"]
    assert q[["record_key", "check_name", "failure_value", "action"]].values.tolist() == [
        ["kkk-pl:pomorski-klaster-ict-interizon", "website_is_no_other_scheme_than_http",
         "JavaScript:alert(document.cookie)", "field_nulled"]]  # fmt: skip
    assert v.reports["organisations"].fields_nulled == 2  # with the member count 'około 50'


def test_a_rows_parent_key_is_looked_up_as_pandas_would():
    """quality._isin (the parent check that quarantines orphans) answers as Series.isin on Arrow string columns
    (with missing values, on both sides) and on columns of Python objects (numbers beside text)."""
    values = pd.Series(["a", None, "b", "ā", "c"], dtype="str")
    keys = pd.Series(["b", None, "ā", "x"], dtype="str")
    assert quality._isin(values, keys).tolist() == [False, False, True, True, False]
    assert quality._isin(values, keys).tolist() == values.isin(set(keys.dropna())).tolist()
    mixed = pd.Series([1, "1", None, 2.5], dtype=object)
    assert quality._isin(mixed, pd.Series(["1", 2.5], dtype=object)).tolist() == [False, True, False, True]
