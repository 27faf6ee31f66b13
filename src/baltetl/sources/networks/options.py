"""The city networks' settings ([sources.networks])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MemberList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    name: str | None = None  # the download's name (default list<N>)
    enabled: bool = True


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lists: list[MemberList] = []  # membership lists fetch lands: none by default
    # networks to load, by short name (Network_Name): ["*"] = all 58 (17k rows, 14.7k members; a few s), or
    # e.g. ["BaltMet", "UBC", "METREX", "C40"].  Members outside the metropolises stay unplaced.
    networks: list[str] = ["*"]
