"""Interreg Sweden's settings ([sources.interreg_se])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = ""  # the extract's URL: none is public, so nothing is fetched until it is set
