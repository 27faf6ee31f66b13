"""Interreg 2021-2027 partners in Sweden (Tillväxtverket extract): contracts for the staged tables.

Values as found in the extract (../shared/data/interreg_se/STRUCTURE.md): roles from LP/PP/AP, ownership
Public/Private/Other (lower-cased), country SE, NUTS3 a Swedish county code (the county name mapped through
the NUTS 2021 names), dates ISO, budgets non-negative EUR.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import core

ROLES = ["coordinator", "participant", "associatedPartner"]


class Projects(core.Projects):
    project_id: Series[str] = pa.Field(str_matches=r"^[a-z0-9-]+$", str_length={"min_value": 1, "max_value": 100})
    status: Series[str] = pa.Field(isin=["ONGOING", "CLOSED"])
    start_date: Series[pd.Timestamp] = pa.Field(nullable=True, ge=pd.Timestamp("2014-01-01"))
    end_date: Series[pd.Timestamp] = pa.Field(nullable=True, le=pd.Timestamp("2035-12-31"))
    framework_programme: Series[str] = pa.Field(isin=["INTERREG"])
    programme: Series[str] = pa.Field(str_length={"min_value": 1})
    date_variants: Series[pd.Int64Dtype] = pa.Field(ge=1)
    partners_se: Series[pd.Int64Dtype] = pa.Field(ge=1)


class Participations(core.Participations):
    role: Series[str] = pa.Field(isin=ROLES)
    ord: Series[pd.Int64Dtype] = pa.Field(ge=1)
    total_cost: Series[float] = pa.Field(nullable=True, ge=0)
    country: Series[str] = pa.Field(isin=["SE"])
    nuts3: Series[str] = pa.Field(nullable=True, str_matches=r"^SE[0-9]{3}$")


class Organisations(core.Organisations):
    country: Series[str] = pa.Field(isin=["SE"])
    legal_status: Series[str] = pa.Field(nullable=True, isin=["public", "private", "other"])
    nuts3: Series[str] = pa.Field(nullable=True, str_matches=r"^SE[0-9]{3}$")
    participations: Series[pd.Int64Dtype] = pa.Field(ge=1)


CONTRACTS = {"projects": Projects, "participations": Participations, "organisations": Organisations}
PARENTS = {
    "participations": [("project_id", "projects", "project_id"), ("org_id", "organisations", "org_id")],
}
