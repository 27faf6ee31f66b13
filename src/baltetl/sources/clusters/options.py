"""The cluster registries' settings ([sources.clusters])."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ECCP_BASE = "https://www.clustercollaboration.eu"
PROFILE_TYPES = ("cluster_organisation", "cluster-organisation", "cluster_organization", "cluster-organization",
                 "cluster", "organisation", "organization")  # fmt: skip


class Registry(BaseModel):
    """A tabular registry: `columns` maps a field (name, city, country, website, ...) to its header."""

    model_config = ConfigDict(extra="forbid")
    name: str
    url: str | None = None  # its host must be in hosts; none: only for --input/--sample files of this layout
    format: str | None = None  # csv or xlsx
    country: str | None = None  # the default ISO code of its rows
    sheet: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = {}
    enabled: bool = True


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    registries: list[Registry] = []
    sitemap_url: str = ""  # the ECCP sitemap ("": no ECCP profiles are fetched)
    eccp: bool = True  # fetch the ECCP profiles
    # the sitemap's <loc> values carry Drupal's placeholder host http://default/: rewritten to this base
    eccp_base_url: str = ECCP_BASE
    max_profiles: int = 0  # at most this many /content/<slug> pages per refresh (0: all)
    min_parsed_share: float = 0.5  # fewer profile pages parsing than this share = the page structure changed
    max_failed_share: float = 0.2  # profile pages that may fail to download (404, robots.txt) before the source fails
    profile_node_types: list[str] = list(PROFILE_TYPES)  # Drupal node types that are cluster profiles
