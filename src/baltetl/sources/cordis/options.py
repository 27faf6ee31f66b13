"""CORDIS's settings ([sources.cordis])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ...declaration import Download


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    downloads: list[Download] = []  # the bulk archives fetch lands
    parse_workers: int = 0  # processes parsing the XML edition (0: one per CPU)
