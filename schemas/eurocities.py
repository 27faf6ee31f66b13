"""Eurocities member directory: contracts for the staged tables.

One organisation and one membership per member card of https://eurocities.eu/cities/ (or per name/country
pair of its text copy).  The country must resolve to ISO 3166 alpha-2 (the parser maps the site's lower-case
English names; an unknown name stays missing and the row is quarantined, with its membership).  The
category comes from the member's page and is one of the four the site uses, or missing.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import core

ORG_TYPES = ["city", "metropolitan authority", "city network"]
CATEGORIES = ["full member", "associate member", "partner", "associated business partner"]
KEY = r"^[A-Z]{2}:[a-z0-9]+(?:-[a-z0-9]+)*$"  # ISO country + folded name: 'PL:gdansk'


class Organisations(core.Organisations):
    org_id: Series[str] = pa.Field(unique=True, str_matches=KEY)
    name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 200})
    org_type: Series[str] = pa.Field(isin=ORG_TYPES)
    legal_status: Series[str] = pa.Field(nullable=True, isin=["public"])
    country: Series[str] = pa.Field(isin=core.COUNTRIES)  # required: every directory card shows one
    country_source: Series[str] = pa.Field(nullable=True)
    wikidata_id: Series[str] = pa.Field(nullable=True, str_matches=r"^Q[1-9]\d*$")

    @pa.dataframe_check(name="text_decoded_with_the_right_encoding", element_wise=False)
    def text_decoded(cls, df: pd.DataFrame) -> Series[bool]:
        return core.decoded(df)


class NetworkMemberships(core.Staged):
    network: Series[str] = pa.Field(isin=["Eurocities"])
    org_id: Series[str] = pa.Field(unique=True, str_matches=KEY)
    member_name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 200})
    country: Series[str] = pa.Field(isin=core.COUNTRIES)
    category: Series[str] = pa.Field(nullable=True, isin=CATEGORIES)
    joined_year: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1986, le=2100)  # Eurocities: founded 1986

    class Config:
        metadata = core.identity("network", "org_id")

    @pa.dataframe_check(name="text_decoded_with_the_right_encoding", element_wise=False)
    def text_decoded(cls, df: pd.DataFrame) -> Series[bool]:
        return core.decoded(df)


CONTRACTS = {"organisations": Organisations, "network_memberships": NetworkMemberships}
PARENTS = {"network_memberships": [("org_id", "organisations", "org_id")]}
