"""ROR (Research Organization Registry): contracts for the staged registry tables.

A ROR id is https://ror.org/ + 9 characters (0 + 6 of Crockford base32 + 2 check digits); every record has
a country (ISO 3166 alpha-2) and a status; every name belongs to a record of the registry table.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import core

ROR_ID = r"^https://ror\.org/0[a-hjkmnp-z0-9]{6}[0-9]{2}$"
STATUSES = ["active", "inactive", "withdrawn"]
NAME_TYPES = ["label", "alias", "acronym"]


class Registry(core.Staged):
    ror_id: Series[str] = pa.Field(unique=True, str_matches=ROR_ID)
    name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 500})
    name_en: Series[str] = pa.Field(nullable=True)
    name_local: Series[str] = pa.Field(nullable=True)
    acronym: Series[str] = pa.Field(nullable=True)
    types: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(isin=STATUSES)
    country: Series[str] = pa.Field(isin=core.COUNTRIES)
    city: Series[str] = pa.Field(nullable=True)
    website: Series[str] = pa.Field(nullable=True)
    domain: Series[str] = pa.Field(nullable=True)
    wikidata_id: Series[str] = pa.Field(nullable=True, str_matches=r"^Q[1-9]\d*$")
    successor: Series[str] = pa.Field(nullable=True, str_matches=ROR_ID)

    class Config:
        metadata = core.identity("ror_id", "name", "country", "status")

    @pa.dataframe_check(name="text_decoded_with_the_right_encoding", element_wise=False)
    def text_decoded(cls, df: pd.DataFrame) -> Series[bool]:
        return core.decoded(df)


class RegistryNames(core.Staged):
    ror_id: Series[str] = pa.Field(str_matches=ROR_ID)
    country: Series[str] = pa.Field(isin=core.COUNTRIES)
    name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 500})
    name_type: Series[str] = pa.Field(isin=NAME_TYPES)
    lang: Series[str] = pa.Field(nullable=True)

    class Config:
        metadata = core.identity("ror_id", "name", "name_type")


CONTRACTS = {"registry": Registry, "registry_names": RegistryNames}
PARENTS = {"registry_names": [("ror_id", "registry", "ror_id")]}
