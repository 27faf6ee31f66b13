"""Contracts every source's staged tables meet: the shape of the warehouse's core tables.

Every staged row carries `record_key` (the source's own key of the record, unique per table) and
`record_ref` (where it was read: archive member, file and line), which become warehouse lineage.

Each table's Config names its `identity` (metadata): the keys and the fields without which the record is not
the record.  A bad value there, or in a field that may not be empty, holds the record back (and the rows
that refer to it); a bad value in any other field (nullable, not identity) is emptied and quarantined, and
the record loads without it (quality.py).
"""

import pandas as pd
import pandera.pandas as pa
import pycountry
from pandera.typing import Series

from baltetl.urls import unsafe_url

# ISO 3166-1 alpha-2, plus the user-assigned X? codes the EU uses (XK Kosovo; XH seen in CORDIS)
COUNTRIES = sorted({c.alpha_2 for c in pycountry.countries} | {f"X{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def decoded(df: pd.DataFrame) -> pd.Series:
    """False for a row holding U+FFFD in a text: a value decoded with the wrong encoding (for the sources
    whose pages are decoded leniently, HTML and the Eurocities text copy)."""
    ok = pd.Series(True, index=df.index)
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            ok &= ~df[col].map(lambda v: isinstance(v, str) and "\ufffd" in v).astype(bool)
    return ok


def identity(*columns: str) -> dict:
    """Config metadata: the record's key and lineage, and these columns, hold the record back when bad."""
    return {"identity": ["record_key", "record_ref", *columns]}


class Staged(pa.DataFrameModel):
    record_key: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 200})
    record_ref: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        coerce = True
        strict = False  # a source may stage more columns than the core needs
        metadata = identity()


class Projects(Staged):
    project_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 100})
    acronym: Series[str] = pa.Field(nullable=True, str_length={"max_value": 200})
    title: Series[str] = pa.Field(nullable=True, str_length={"max_value": 2000})
    status: Series[str] = pa.Field(nullable=True)
    start_date: Series[pd.Timestamp] = pa.Field(nullable=True, ge=pd.Timestamp("1950-01-01"))
    end_date: Series[pd.Timestamp] = pa.Field(nullable=True, le=pd.Timestamp("2100-12-31"))
    total_cost: Series[float] = pa.Field(nullable=True, ge=0)
    objective: Series[str] = pa.Field(nullable=True)

    class Config:
        metadata = identity("project_id")

    @pa.dataframe_check(name="end_date >= start_date", element_wise=False)
    def ends_after_start(cls, df: pd.DataFrame) -> Series[bool]:
        return df["end_date"].isna() | df["start_date"].isna() | (df["end_date"] >= df["start_date"])


class Participations(Staged):
    project_id: Series[str] = pa.Field(str_length={"min_value": 1})
    org_id: Series[str] = pa.Field(str_length={"min_value": 1})
    role: Series[str] = pa.Field(nullable=True)
    city: Series[str] = pa.Field(nullable=True)
    country: Series[str] = pa.Field(nullable=True, isin=COUNTRIES)
    nuts3: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}[0-9A-Z]{3}$")

    class Config:
        metadata = identity("project_id", "org_id")


class Organisations(Staged):
    org_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1})
    name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 500})
    city: Series[str] = pa.Field(nullable=True)
    country: Series[str] = pa.Field(nullable=True, isin=COUNTRIES)
    nuts3: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}[0-9A-Z]{3}$")
    website: Series[str] = pa.Field(nullable=True, required=False)

    class Config:
        metadata = identity("org_id", "name")

    @pa.check("website", element_wise=True)
    def website_is_no_other_scheme_than_http(cls, value) -> bool:
        return not unsafe_url(value)  # javascript:, data: ... (urls.py); text that is no address stays
