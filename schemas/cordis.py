"""CORDIS (Horizon Europe, H2020, FP7): contracts for the staged tables.

Values as found in the real exports (../shared/data/cordis/FORMAT.md §5.4, §8): ids are digits, money is
a non-negative decimal (decimal commas are turned into points by the parser; project totalCost 0 is
"not reported" and staged as missing), status, role and activity type come from closed sets, country is
ISO after EL/UK were mapped to GR/GB (the source code stays in country_source).
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import core

STATUSES = ["SIGNED", "CLOSED", "TERMINATED", "ONG"]  # ONG: old FP7 exports
ROLES = ["coordinator", "participant", "thirdParty", "associatedPartner", "partner", "internationalPartner"]
ACTIVITY_TYPES = ["HES", "PRC", "REC", "PUB", "OTH"]
DIGITS = r"^\d+$"


class Projects(core.Projects):
    project_id: Series[str] = pa.Field(str_matches=DIGITS)
    status: Series[str] = pa.Field(isin=STATUSES)
    start_date: Series[pd.Timestamp] = pa.Field(nullable=True, ge=pd.Timestamp("1980-01-01"))
    end_date: Series[pd.Timestamp] = pa.Field(nullable=True, le=pd.Timestamp("2100-12-31"))
    ec_signature_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    total_cost: Series[float] = pa.Field(nullable=True, ge=0)
    ec_max_contribution: Series[float] = pa.Field(nullable=True, ge=0)
    framework_programme: Series[str] = pa.Field(nullable=True)
    funding_scheme: Series[str] = pa.Field(nullable=True)
    content_update_date: Series[pd.Timestamp] = pa.Field(nullable=True)


class Participations(core.Participations):
    project_id: Series[str] = pa.Field(str_matches=DIGITS)
    org_id: Series[str] = pa.Field(str_matches=DIGITS)
    role: Series[str] = pa.Field(isin=ROLES)
    ord: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    ec_contribution: Series[float] = pa.Field(nullable=True, ge=0)
    net_ec_contribution: Series[float] = pa.Field(nullable=True, ge=0)
    total_cost: Series[float] = pa.Field(nullable=True, ge=0)
    sme: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    terminated: Series[pd.BooleanDtype] = pa.Field(nullable=True)


class Organisations(core.Organisations):
    org_id: Series[str] = pa.Field(unique=True, str_matches=DIGITS)
    activity_type: Series[str] = pa.Field(nullable=True, isin=ACTIVITY_TYPES)
    sme: Series[pd.BooleanDtype] = pa.Field(nullable=True)


CONTRACTS = {"projects": Projects, "participations": Participations, "organisations": Organisations}
PARENTS = {
    "participations": [("project_id", "projects", "project_id"), ("org_id", "organisations", "org_id")],
}
