"""Cluster registries (ECCP profiles, national CSV/XLSX lists): contract for the staged organisations.

org_id is 'eccp:<Drupal node id>' or '<registry>:<normalised name>'; org_type is always 'cluster'.  Member
counts are non-negative integers or missing (ECCP profiles often show the label without a value); the
cluster label is gold|silver|bronze (ESCA / EUCLES) or missing; the establishment date lies between 1900
and today's horizon.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import core

LABELS = ["gold", "silver", "bronze"]
LABEL_BODIES = ["ESCA", "EUCLES"]


class Organisations(core.Organisations):
    org_id: Series[str] = pa.Field(unique=True, str_matches=r"^(eccp:\d+|[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9-]*)$")
    org_type: Series[str] = pa.Field(isin=["cluster"])
    website: Series[str] = pa.Field(nullable=True, str_length={"max_value": 500})
    sectors: Series[str] = pa.Field(nullable=True)
    members_total: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=1_000_000)
    members_sme: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=1_000_000)
    members_large: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=1_000_000)
    members_research: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=1_000_000)
    members_startups: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=1_000_000)
    label: Series[str] = pa.Field(nullable=True, isin=LABELS)
    label_source: Series[str] = pa.Field(nullable=True, isin=LABEL_BODIES)
    established: Series[pd.Timestamp] = pa.Field(nullable=True, ge=pd.Timestamp("1900-01-01"),
                                                 le=pd.Timestamp("2100-12-31"))  # fmt: skip
    source_registry: Series[str] = pa.Field(str_length={"min_value": 1})
    # typed even when a whole input leaves them empty (an all-missing column would stage untyped)
    short_name: Series[str] = pa.Field(nullable=True)
    street: Series[str] = pa.Field(nullable=True)
    post_code: Series[str] = pa.Field(nullable=True)
    region: Series[str] = pa.Field(nullable=True)
    country_source: Series[str] = pa.Field(nullable=True)
    technology_fields: Series[str] = pa.Field(nullable=True)
    label_text: Series[str] = pa.Field(nullable=True)
    coordinator: Series[str] = pa.Field(nullable=True)
    source_url: Series[str] = pa.Field(nullable=True)

    @pa.dataframe_check(name="text_decoded_with_the_right_encoding", element_wise=False)
    def text_decoded(cls, df: pd.DataFrame) -> Series[bool]:
        return core.decoded(df)


CONTRACTS = {"organisations": Organisations}
