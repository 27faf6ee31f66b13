"""City-network memberships (ETMUN collection 2015-2019: BaltMet, UBC and 56 other networks).

Values as found in ../shared/data/city_networks (STRUCTURE.md): a member is one organisation per
(normalised name, ISO country); its country must be a real ISO 3166 code (the list carries `NA` for
missing, which the thesis' R session also turned into "Namibia", and the invalid `ZZ`, `VZ`; Kosovo's
`RKS` is mapped to `XK` by the parser); a member
listed twice in one network is a duplicate (the warehouse key is (network, org_key)): the first row
loads, the repeat is quarantined.  Coordinates are WGS84 degrees, joining years plausible.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import core

# EntitySimplified as the collection words it (Entity, the unsimplified form, stays free text)
ORG_TYPES = [
    "City", "Municipality", "Intermunicipality", "Region", "Other", "National Association",
    "Regional Association", "International Association", "State Administration", "Local Association",
]  # fmt: skip
MEMBERSHIP_CODE = r"^A\d+$"  # the collection's row id


class Organisations(core.Organisations):
    country: Series[str] = pa.Field(isin=core.COUNTRIES)  # required: the key is (name, country)
    org_type: Series[str] = pa.Field(nullable=True, isin=ORG_TYPES)
    lat: Series[float] = pa.Field(nullable=True, ge=-90, le=90)
    lon: Series[float] = pa.Field(nullable=True, ge=-180, le=180)
    population: Series[float] = pa.Field(nullable=True, ge=0)
    memberships: Series[pd.Int64Dtype] = pa.Field(ge=1)

    class Config:
        metadata = core.identity("org_id", "name", "country")


class NetworkMemberships(core.Staged):
    record_key: Series[str] = pa.Field(unique=True, str_matches=MEMBERSHIP_CODE)
    network: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 100})
    org_id: Series[str] = pa.Field(str_length={"min_value": 1})
    member_name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 500})
    country: Series[str] = pa.Field(nullable=True, isin=core.COUNTRIES)
    category: Series[str] = pa.Field(nullable=True)
    joined_year: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1900, le=2030)
    lat: Series[float] = pa.Field(nullable=True, ge=-90, le=90)
    lon: Series[float] = pa.Field(nullable=True, ge=-180, le=180)

    class Config:
        unique = ["network", "org_id"]  # a member listed twice in a network: the repeat is quarantined
        metadata = core.identity("network", "org_id")


class Networks(core.Staged):
    network: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 100})
    code: Series[str] = pa.Field(nullable=True)
    full_name: Series[str] = pa.Field(nullable=True)
    url: Series[str] = pa.Field(nullable=True)
    founded: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1800, le=2030)
    members_listed: Series[pd.Int64Dtype] = pa.Field(ge=0)

    class Config:
        metadata = core.identity("network")


CONTRACTS = {"organisations": Organisations, "network_memberships": NetworkMemberships, "networks": Networks}
PARENTS = {"network_memberships": [("org_id", "organisations", "org_id")]}
