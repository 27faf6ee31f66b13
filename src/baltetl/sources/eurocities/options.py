"""Eurocities' settings ([sources.eurocities])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directory_url: str  # the member directory's first page
    max_directory_pages: int = 30  # pages of the directory followed at most
    member_pages: bool = True  # fetch each member's page for its category
    max_member_pages: int | None = None  # at most this many member pages (None: all)
