"""The test registry: one JSON array of hubs ({id, name, city, country, website}), fetched from `url` or
landed from the sample; one staged table, organisations."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd

from baltetl.types import Landed, Parsed, Reject, SourceContext, StructureChanged


def fetch(ctx: SourceContext) -> list[Landed]:
    return [ctx.fetcher.download(ctx.source.options.url, source=ctx.source.name, name="hubs")]


def parse(ctx: SourceContext, files: Iterable[Landed]) -> Parsed:
    rows, rejects = [], []
    for landed in files:
        try:
            hubs = json.loads(landed.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise StructureChanged(f"{landed.path.name}: not JSON ({exc})") from None
        for i, hub in enumerate(hubs):
            ref = f"{landed.path.name}[{i}]"
            if not hub.get("name"):
                rejects.append(Reject("organisations", str(hub.get("id")), ref, "name_missing", None, "name"))
                continue
            rows.append({"record_key": f"hub-{hub['id']}", "record_ref": ref, "org_id": f"hub-{hub['id']}",
                         "name": hub["name"], "city": hub.get("city"), "country": hub.get("country"),
                         "nuts3": None, "website": hub.get("website"), "org_type": "innovation hub"})
    return Parsed({"organisations": pd.DataFrame(rows)}, rejects)
