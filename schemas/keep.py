"""keep.eu (Interreg projects and partners): contracts for the staged tables.

Values as found in the real exports (../shared/data/keep/STRUCTURE.md): roles from `Lead Partner` Yes/No
(or the API's lead/partner), legal status public/private (case folded; `n/a` = missing), country ISO after
UK/EL were mapped to GB/GR (the code as written stays in country_source), NUTS3 a 5-character code of any
NUTS revision, money non-negative.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import core

ROLES = ["coordinator", "participant", "associatedPartner"]
LEGAL_STATUSES = ["public", "private", "other"]


class Projects(core.Projects):
    project_id: Series[str] = pa.Field(str_matches=r"^(\d+|[a-z0-9-]+)$", str_length={"min_value": 1, "max_value": 100})
    framework_programme: Series[str] = pa.Field(isin=["INTERREG"])
    programme: Series[str] = pa.Field(nullable=True, str_length={"min_value": 3})
    period: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{4}-\d{4}$")
    eu_funding: Series[float] = pa.Field(nullable=True, ge=0)
    partners: Series[pd.Int64Dtype] = pa.Field(ge=0)


class Participations(core.Participations):
    role: Series[str] = pa.Field(isin=ROLES)
    ord: Series[pd.Int64Dtype] = pa.Field(ge=1)
    total_cost: Series[float] = pa.Field(nullable=True, ge=0)


class Organisations(core.Organisations):
    legal_status: Series[str] = pa.Field(nullable=True, isin=LEGAL_STATUSES)
    participations: Series[pd.Int64Dtype] = pa.Field(ge=1)


CONTRACTS = {"projects": Projects, "participations": Participations, "organisations": Organisations}
PARENTS = {
    "participations": [("project_id", "projects", "project_id"), ("org_id", "organisations", "org_id")],
}
