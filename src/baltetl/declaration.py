"""What a source is: its folder and the `source.toml` in it.

A source is a folder `src/baltetl/sources/<name>/` (or one in a folder named by `[paths] source_folders`)
holding
    source.toml   its declaration: title, publisher, licence, cadence, tables, checks, resolution, settings
    source.py     fetch(ctx) and parse(ctx, files) (sources/__init__.py)
    options.py    optional: `class Options(pydantic.BaseModel)`, the source's own settings, typed, with defaults
Its pandera contract is schemas/<contract>.py, or a .py file in the folder when `contract` names one.

The `[sources.<name>]` table of a configuration overrides the declaration's settings key by key (the checks,
the fetch settings, cadence_days and the options): see config.py.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

PACKAGE_FOLDER = Path(__file__).resolve().parent / "sources"
FILE = "source.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(_Strict):
    name: str | None = None  # an Open Definition name such as CC-BY-4.0
    title: str
    path: str


class Resolution(_Strict):
    """How resolution treats the source's organisation records."""

    rank: int | None = None  # the golden record takes its name and fields from the lowest rank first
    org_id_is_pic: bool = False  # the source's org_id is the EU participant id (PIC): a cordis_id match
    legal_address: bool = False  # its records give the legal seat: the golden record's metropolis is theirs
    # its Wikidata id names the city, not the body (a metropolitan authority carries its core city's): a key
    # only for the records that are the city itself (org_type 'city')
    wikidata_is_place: bool = False
    website: bool = True  # its websites may be the golden record's (false: only when no other source has one)
    source_id: str | None = None  # a .sql file in the folder: SELECT org_key, sid (the record's own id)
    registry: bool = False  # a reference registry (tables `registry`, `registry_names`) records are linked to


class Checks(_Strict):
    """Tolerances: a refresh whose staged tables break one fails and the last good data stays."""

    min_rows: dict[str, int] = {}  # fewer rows loaded than this in a table
    max_rows: dict[str, int] = {}  # more rows loaded than this in a table
    max_quarantine_share: float = 0.02  # share of a table's rows quarantined (or loaded with a value emptied)
    max_drop_share: float = 0.2  # share fewer rows than the last good data (refresh --accept-shrink loads it)


class Fetch(_Strict):
    hosts: list[str] = []  # the only hosts fetch may reach
    sample: str | None = None  # the bundled sample (package:<path> or a path)
    http: dict[str, Any] | None = None  # limits on its downloads (see [http])
    archive: dict[str, Any] | None = None  # limits on what its landed files unpack to (see [archive])


class Declaration(_Strict):
    name: str
    folder: Path
    title: str
    publisher: str
    homepage: str
    attribution: str
    licence: Licence
    cadence_days: float = 30.0  # how often it publishes: older data is stale in the data-quality report
    tables: list[str]  # the staged tables it delivers, parents first
    contract: str  # schemas/<contract>.py, or <contract> (a .py file) in the folder
    module: str | None = None  # its fetch/parse module (default: source.py in the folder)
    illustrative: bool = False  # its bundled sample is made up: none of it is published when it was loaded
    reference: bool = False  # credited on the site even when none of its rows is published
    data_date_column: str | None = None  # table.column: its newest value is the date of the data
    project_url: str | None = None  # link of a project page, "{project_id}" filled in ...
    project_id_pattern: str = ".*"  # ... when the whole project id matches this (regular expression)
    resolution: Resolution = Resolution()
    checks: Checks = Checks()
    fetch: Fetch = Fetch()
    options: dict[str, Any] = {}  # values of the Options model (options.py) that the packaged setup sets

    def project_link(self, project_id: str) -> str | None:
        """The project's page at the source (project_url), when its id has the declared form."""
        if self.project_url and re.fullmatch(self.project_id_pattern, project_id):
            return self.project_url.format(project_id=project_id)
        return None

    @property
    def path(self) -> Path:
        return self.folder / FILE

    def contract_file(self) -> Path | None:
        return self.folder / self.contract if self.contract.endswith(".py") else None

    def module_name(self) -> str:
        """An importable module name, or the path of a .py file."""
        if self.module:
            return self.module
        if self.folder.parent == PACKAGE_FOLDER:
            return f"baltetl.sources.{self.name}.source"
        return str(self.folder / "source.py")

    def options_model(self) -> type[BaseModel]:
        return _options_model(self.folder)

    def settings(self) -> dict[str, Any]:
        """The flat [sources.<name>] table this declaration stands for (what a configuration overrides)."""
        out: dict[str, Any] = {"cadence_days": self.cadence_days}
        out.update({k: v for k, v in self.checks.model_dump().items()})
        out.update({k: v for k, v in self.fetch.model_dump().items() if v is not None})
        out.update(self.options)
        return out

    def publish_meta(self) -> dict[str, Any]:
        """Its [publish.sources.<name>] entry: the credit on the site and in datapackage.json."""
        out: dict[str, Any] = {"title": self.title, "path": self.homepage, "attribution": self.attribution,
                               "licence": self.licence.model_dump(exclude_none=True)}  # fmt: skip
        if self.data_date_column:
            out["data_date_column"] = self.data_date_column
        if self.illustrative:
            out["sample_illustrative"] = True
        if self.reference:
            out["reference"] = True
        return out


class Download(BaseModel):
    """A file a source fetches, by its name in the landing folder (an option's item: CORDIS's downloads,
    keep.eu's exports)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    url: str
    enabled: bool = True


class DeclarationError(ValueError):
    """A source.toml that does not declare what it must."""


def _one_line(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())


def read(folder: Path) -> Declaration:
    path = folder / FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        d = Declaration(name=folder.name, folder=folder, **raw)
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise DeclarationError(f"{path}: {_one_line(exc)}") from None
    if "organisations" in d.tables and d.resolution.rank is None:
        raise DeclarationError(f"{path}: delivers organisations but declares no [resolution] rank")
    if d.resolution.source_id and not (folder / d.resolution.source_id).is_file():
        raise DeclarationError(f"{path}: [resolution] source_id {d.resolution.source_id!r} is no file in {folder}")
    return d


def _folders(extra: tuple[Path, ...]) -> list[Path]:
    """Source folders: those of the package, then those in (or being) each extra folder."""
    out = sorted(p.parent for p in PACKAGE_FOLDER.glob(f"*/{FILE}"))
    for base in extra:
        out += [base] if (base / FILE).is_file() else sorted(p.parent for p in base.glob(f"*/{FILE}"))
    return out


def order(d: Declaration) -> tuple:
    """Sources in their resolution rank (the registries, unranked, last), then by name."""
    return (d.resolution.rank is None, d.resolution.rank or 0, d.name)


@cache
def discover(extra: tuple[Path, ...] = ()) -> dict[str, Declaration]:
    found: dict[str, Declaration] = {}
    for folder in _folders(extra):
        d = read(folder)
        if d.name in found:
            raise DeclarationError(f"{d.path}: a source named {d.name!r} is already declared in {found[d.name].folder}")
        found[d.name] = d
    return {d.name: d for d in sorted(found.values(), key=order)}


_active: tuple[Path, ...] = ()


def use(extra: tuple[Path, ...]) -> dict[str, Declaration]:
    """Discover the sources with these extra folders; what `declared()` returns from then on (the last
    configuration loaded in this process)."""
    global _active
    found = discover(tuple(extra))
    _active = tuple(extra)
    return found


def declared() -> dict[str, Declaration]:
    """The declared sources of the configuration loaded last (the package's when none was)."""
    return discover(_active)


def registry_table(kind: str) -> str | None:
    """stg_<source>__<kind> of the reference registry (the source declaring [resolution] registry: ROR)."""
    names = sorted(n for n, d in declared().items() if d.resolution.registry)
    return f"stg_{names[0]}__{kind}" if names else None


class _NoOptions(_Strict):
    pass


@cache
def _options_model(folder: Path) -> type[BaseModel]:
    path = folder / "options.py"
    if not path.is_file():
        return _NoOptions
    if folder.parent == PACKAGE_FOLDER:
        mod = importlib.import_module(f"baltetl.sources.{folder.name}.options")
    else:
        name = f"baltetl_source_{folder.name}_options"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod.Options
