"""Configuration: the TOML shipped with the package, merged with an optional override file and env vars."""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import declaration
from .declaration import Checks, Fetch

DEFAULT_CONFIG = "baltetl.toml"
ENV_PATHS = {
    "BALTETL_WAREHOUSE": "warehouse",
    "BALTETL_STATE": "state",
    "BALTETL_LANDING": "landing",
}


class ConfigError(ValueError):
    """The configuration is missing something or contradicts itself."""


@dataclass(frozen=True)
class Metropolis:
    id: str
    name: str
    country: str
    fua: str | None = None
    nuts3: tuple[str, ...] = ()
    nuts3_exclude: tuple[str, ...] = ()
    laus: tuple[str, ...] = ()  # LAU codes of the metropolis beyond its FUA
    municipalities: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceConfig:
    """A source's declaration (sources/<name>/source.toml) with the configuration's [sources.<name>] on top."""

    name: str
    module: str  # an importable module, or the path of a .py file
    contract: str
    max_quarantine_share: float = 0.02
    min_rows: dict[str, int] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()
    sample: str | None = None
    cadence_days: float = 30.0  # how often the source publishes: data older than this is stale
    options: Any = None  # the source's own settings: an instance of its Options model (options.py)
    max_rows: dict[str, int] = field(default_factory=dict)
    max_drop_share: float = 0.2
    http: dict[str, Any] | None = None
    archive: dict[str, Any] | None = None
    contract_file: Path | None = None  # a contract in the source's folder instead of schemas/
    declaration: Any = None  # its declaration.Declaration

    def with_options(self, **changes: Any) -> SourceConfig:
        """A copy whose options have these changes, validated by the source's Options model."""
        return replace(self, options=type(self.options).model_validate({**self.options.model_dump(), **changes}))

    @property
    def tables(self) -> tuple[str, ...]:
        """The staged tables it delivers, parents first."""
        return tuple(self.declaration.tables)


@dataclass(frozen=True)
class Config:
    project_dir: Path
    warehouse: Path
    state: Path
    landing: Path
    lau: Path
    nuts_changes: Path
    nuts3_min_population_share: float
    http: dict[str, Any]
    metropolises: tuple[Metropolis, ...]
    sources: dict[str, SourceConfig]
    raw: dict[str, Any]

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources))
            raise ConfigError(f"unknown source {name!r}; configured sources: {known}") from None


def project_dir() -> Path:
    """The checkout holding pyproject.toml (flows/, schemas/, warehouse/ live there)."""
    env = os.environ.get("BALTETL_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "schemas").is_dir():
            return parent
    return Path.cwd()


def package_path(name: str) -> Path:
    return Path(str(resources.files("baltetl").joinpath(name)))


def resolve_path(value: str, base: Path) -> Path:
    if value.startswith("package:"):
        return package_path(value.removeprefix("package:"))
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def revisions_dir(cfg: Config) -> Path:
    """The partners' revisions folder: `paths.revisions` of the configuration, else <project>/revisions."""
    value = (cfg.raw.get("paths") or {}).get("revisions")
    return resolve_path(str(value), cfg.project_dir) if value else cfg.project_dir / "revisions"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path | None = None, *, warehouse: str | Path | None = None) -> Config:
    """Load the packaged defaults, then `path` (or $BALTETL_CONFIG), then env vars, then `warehouse`."""
    raw = tomllib.loads(package_path(DEFAULT_CONFIG).read_text(encoding="utf-8"))
    path = path or os.environ.get("BALTETL_CONFIG")
    if path:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file not found: {p}")
        try:
            raw = _merge(raw, user := tomllib.loads(p.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from None
    else:
        p, user = None, {}
    paths = dict(raw.get("paths", {}))
    for env, key in ENV_PATHS.items():
        if os.environ.get(env):
            paths[key] = os.environ[env]
    if warehouse:
        paths["warehouse"] = str(warehouse)
    raw["paths"] = paths
    return _build(raw, p, user)


def _build(raw: dict[str, Any], origin: Path | None = None, user: dict[str, Any] | None = None) -> Config:
    base = project_dir()
    paths = raw.get("paths", {})
    for key in ("warehouse", "lau", "nuts_changes"):
        if key not in paths:
            raise ConfigError(f"[paths] needs {key!r}")
    warehouse = resolve_path(paths["warehouse"], base)
    state = resolve_path(paths["state"], base) if paths.get("state") else warehouse.with_name(warehouse.name + ".state")
    landing = resolve_path(paths["landing"], base) if paths.get("landing") else warehouse.parent / "landing"
    metros = []
    for mid, m in raw.get("metropolises", {}).items():
        if "name" not in m or "country" not in m:
            raise ConfigError(f"metropolis {mid!r} needs name and country")
        if not (m.get("fua") or m.get("nuts3") or m.get("municipalities") or m.get("aliases")):
            raise ConfigError(f"metropolis {mid!r} needs a fua, nuts3 codes, municipalities or aliases")
        metros.append(
            Metropolis(
                id=mid,
                name=m["name"],
                country=m["country"].upper(),
                fua=m.get("fua"),
                nuts3=tuple(m.get("nuts3", ())),
                nuts3_exclude=tuple(m.get("nuts3_exclude", ())),
                laus=tuple(str(c) for c in m.get("laus", ())),
                municipalities=tuple(m.get("municipalities", ())),
                aliases=tuple(m.get("aliases", ())),
            )
        )
    sources = _sources(raw, base, origin, user or {})
    return Config(
        project_dir=base,
        warehouse=warehouse,
        state=state,
        landing=landing,
        lau=resolve_path(paths["lau"], base),
        nuts_changes=resolve_path(paths["nuts_changes"], base),
        nuts3_min_population_share=float(raw.get("geo", {}).get("nuts3_min_population_share", 0.5)),
        http=dict(raw.get("http", {})),
        metropolises=tuple(metros),
        sources=sources,
        raw=raw,
    )


# keys of [sources.<name>] that are no option of the source's own
GENERIC = ("module", "contract", "cadence_days", *Checks.model_fields, *Fetch.model_fields)


def _sources(raw: dict[str, Any], base: Path, origin: Path | None, user: dict[str, Any]) -> dict[str, SourceConfig]:
    """The declared sources (package folders and [paths] source_folders) with [sources.<name>] on top: each
    key overrides the declaration's (tables such as min_rows merge key by key); options are validated by the
    source's Options model.  An error names the file the bad value came from, in one line."""
    extra = tuple(resolve_path(str(f), base) for f in (raw.get("paths", {}).get("source_folders") or ()))
    try:
        declared = declaration.use(extra)
    except declaration.DeclarationError as exc:
        raise ConfigError(str(exc)) from None
    overrides = raw.get("sources") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ConfigError(f"{origin or DEFAULT_CONFIG}: [sources.{unknown[0]}] is no declared source "
                          f"(declared: {', '.join(declared)}); a source is a folder with a {declaration.FILE}")  # fmt: skip
    sources = {}
    for name, d in declared.items():
        over = overrides.get(name) or {}
        where = origin if name in (user.get("sources") or {}) else d.path
        s = _merge(d.settings(), over)
        generic = {k: s.pop(k) for k in GENERIC if k in s}
        try:
            checks = Checks(**{k: generic[k] for k in Checks.model_fields if k in generic})
            fetch = Fetch(**{k: generic[k] for k in Fetch.model_fields if k in generic})
            options = d.options_model()(**s)
        except ValidationError as exc:
            raise ConfigError(f"{where}: [sources.{name}] {declaration._one_line(exc)}") from None
        contract = str(generic.get("contract", d.contract))
        sources[name] = SourceConfig(
            name=name,
            module=str(generic.get("module") or d.module_name()),
            contract=contract.removesuffix(".py"),
            max_quarantine_share=checks.max_quarantine_share,
            min_rows=dict(checks.min_rows),
            max_rows=dict(checks.max_rows),
            max_drop_share=checks.max_drop_share,
            hosts=tuple(fetch.hosts),
            sample=_sample(fetch.sample, d) if "sample" not in over else fetch.sample,
            http=fetch.http,
            archive=fetch.archive,
            cadence_days=float(generic.get("cadence_days", d.cadence_days)),
            options=options,
            contract_file=d.folder / contract if contract.endswith(".py") else None,
            declaration=d,
        )
    # each source's credit (title, licence, ...) from its declaration, [publish.sources.<name>] on top
    pub = raw.setdefault("publish", {})
    given = pub.get("sources") or {}
    pub["sources"] = {**{n: _merge(d.publish_meta(), given.get(n) or {}) for n, d in declared.items()},
                      **{n: m for n, m in given.items() if n not in declared}}  # fmt: skip
    return sources


def _sample(value: str | None, d) -> str | None:
    """A declaration's sample: package:<path>, or a path relative to its folder."""
    if not value or value.startswith("package:") or Path(value).is_absolute():
        return value
    return str(d.folder / value)
