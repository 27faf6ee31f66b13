"""ROR's settings ([sources.ror])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str  # Zenodo's list of the ROR data community's records, newest first
    countries: list[str] = []  # ISO codes of the records kept ([]: all)
