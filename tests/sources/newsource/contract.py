"""The test registry's staged organisations: hub ids are 'hub-<number>'."""

import pandera.pandas as pa
from pandera.typing import Series

from . import core


class Organisations(core.Organisations):
    org_id: Series[str] = pa.Field(unique=True, str_matches=r"^hub-\d+$")
    org_type: Series[str] = pa.Field(nullable=True)


CONTRACTS = {"organisations": Organisations}
