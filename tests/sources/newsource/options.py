"""The test registry's settings ([sources.newsource])."""

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str  # where the registry's JSON is served
