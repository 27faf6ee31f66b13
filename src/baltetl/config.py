"""Configuration: the TOML shipped with the package, merged with an optional override file and env vars."""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

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
    name: str
    module: str
    contract: str
    max_quarantine_share: float = 0.02
    min_rows: dict[str, int] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()
    sample: str | None = None
    cadence_days: float = 30.0  # how often the source publishes: data older than this is stale
    options: dict[str, Any] = field(default_factory=dict)  # everything else in the table


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
            raw = _merge(raw, tomllib.loads(p.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from None
    paths = dict(raw.get("paths", {}))
    for env, key in ENV_PATHS.items():
        if os.environ.get(env):
            paths[key] = os.environ[env]
    if warehouse:
        paths["warehouse"] = str(warehouse)
    raw["paths"] = paths
    return _build(raw)


def _build(raw: dict[str, Any]) -> Config:
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
    known = {"module", "contract", "max_quarantine_share", "min_rows", "hosts", "sample", "cadence_days"}
    sources = {}
    for name, s in raw.get("sources", {}).items():
        if "module" not in s:
            raise ConfigError(f"source {name!r} needs a module")
        sources[name] = SourceConfig(
            name=name,
            module=s["module"],
            contract=s.get("contract", name),
            max_quarantine_share=float(s.get("max_quarantine_share", 0.02)),
            min_rows=dict(s.get("min_rows", {})),
            hosts=tuple(s.get("hosts", ())),
            sample=s.get("sample"),
            cadence_days=float(s.get("cadence_days", 30)),
            options={k: v for k, v in s.items() if k not in known},
        )
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
