"""keep.eu's settings ([sources.keep])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ...declaration import Download


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # What fetch lands: "api" (index pages /api/search/projects/?page=N up to max_pages or an empty page, then
    # /api/project/<keepId>/ of each project listed) and/or "exports" (partner export files, CSV/XLSX).
    modes: list[str] = ["api"]
    exports: list[Download] = []  # e.g. [{ name = "bsr-2021-2027", url = "https://keep.eu/..." }]
    api_base: str  # the site whose JSON API is read
    max_pages: int = 20  # 6 projects a page, newest first: 20 pages = the 120 most recently added projects
