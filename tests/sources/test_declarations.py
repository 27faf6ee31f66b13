"""Source declarations (sources/<name>/source.toml): what they hold, how a configuration overrides them, and
that resolution and publishing name no source."""

from __future__ import annotations

import re

import pytest

from baltetl import resolve
from baltetl.config import ConfigError, load_config, package_path
from baltetl.declaration import declared

PACKAGED = ["cordis", "clusters", "interreg_se", "keep", "eurocities", "networks", "ror"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("BALTETL_CONFIG", "BALTETL_STATE", "BALTETL_LANDING", "BALTETL_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)


def user(tmp_path, body: str):
    p = tmp_path / "mine.toml"
    p.write_text(body, encoding="utf-8")
    return p


def test_every_source_is_a_declared_folder():
    cfg = load_config()
    assert list(cfg.sources) == PACKAGED  # resolution rank first, the registry (unranked) last
    for name, s in cfg.sources.items():
        d = s.declaration
        assert d.folder == package_path("sources") / name and (d.folder / "source.py").is_file()
        assert d.title and d.licence.path and d.tables and s.module == f"baltetl.sources.{name}.source"
        assert s.contract == name and not s.contract_file  # schemas/<name>.py
    # the old SOURCE_PRIORITY, now declared: CORDIS first, networks last; ROR stages no organisations
    assert sorted(resolve.source_rank(), key=resolve.source_rank().get) == PACKAGED[:-1]
    assert cfg.source("clusters").declaration.illustrative and cfg.source("ror").declaration.reference
    assert cfg.raw["publish"]["sources"]["clusters"]["sample_illustrative"] is True
    assert list(cfg.raw["publish"]["sources"]) == [*PACKAGED, "revisions"]


def test_options_are_typed_with_their_defaults():
    cfg = load_config()
    keep = cfg.source("keep")
    assert (keep.options.max_pages, keep.options.modes, keep.max_drop_share) == (20, ["api"], 0.5)
    assert cfg.source("cordis").max_drop_share == 0.1 and cfg.source("networks").max_drop_share == 0.2
    assert [d.name for d in cfg.source("cordis").options.downloads if d.enabled] == ["horizon", "h2020"]


def test_a_configuration_overrides_key_by_key(tmp_path):
    cfg = load_config(user(tmp_path, "[sources.keep]\nmax_pages = 5\nmax_drop_share = 0.7\nmin_rows = { projects = 3 }\n"
                                     "[sources.ror]\nsample = 'my/ror.zip'\n[publish.sources.keep]\ntitle = 'keep'\n"))
    keep = cfg.source("keep")
    assert (keep.options.max_pages, keep.options.api_base, keep.max_drop_share) == (5, "https://keep.eu", 0.7)
    assert keep.min_rows == {"projects": 3, "participations": 1}  # tables merge key by key
    assert cfg.source("ror").sample == "my/ror.zip"  # relative to the project, as any configured path
    assert cfg.raw["publish"]["sources"]["keep"]["title"] == "keep"
    assert cfg.raw["publish"]["sources"]["keep"]["path"] == "https://keep.eu/"


@pytest.mark.parametrize("body, message", [
    ("[sources.keep]\nmax_pages = 'many'\n", r"\[sources.keep\] max_pages: Input should be a valid integer"),
    ("[sources.keep]\nmax_page = 5\n", r"\[sources.keep\] max_page: Extra inputs are not permitted"),
    ("[sources.cordis]\nmax_drop_share = 'x'\n", r"\[sources.cordis\] max_drop_share: Input should be a valid number"),
    ("[sources.nope]\nurl = 'x'\n", r"\[sources.nope\] is no declared source"),
])  # fmt: skip
def test_a_bad_setting_is_one_line_naming_the_file(tmp_path, body, message):
    path = user(tmp_path, body)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: ") and "\n" not in str(exc.value)
    assert re.search(message, str(exc.value))


def test_an_organisation_source_must_declare_its_rank(tmp_path):
    folder = tmp_path / "extra" / "unranked"
    folder.mkdir(parents=True)
    (folder / "source.toml").write_text('title = "t"\npublisher = "p"\nhomepage = "h"\nattribution = "a"\n'
                                        'licence = { title = "l", path = "h" }\ntables = ["organisations"]\n'
                                        'contract = "contract.py"\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError, match=r"unranked/source.toml: delivers organisations but declares no \[resolution\] rank"):
        load_config(user(tmp_path, f'[paths]\nsource_folders = ["{tmp_path / "extra"}"]\n'))
    load_config()  # the package's sources again for the tests that follow


def test_resolution_and_publishing_name_no_source():
    """No branch on a source's name (== / != 'cordis', SQL source = 'eurocities', a tuple or dict of source
    names, a staged table stg_<source>__...): what differs per source is in its declaration or folder."""
    n = "|".join(s for s in declared() if s not in resolve.RULE_RANK)  # the rule 'ror' (a shared ROR id) is no source
    q = "[\"']"
    branches = [rf"[!=]=\s*{q}(?:{n}){q}", rf"\bsource\s*=\s*'(?:{n})'", rf"{q}(?:{n}){q}\s*,\s*{q}(?:{n}){q}",
                rf"{q}(?:{n}){q}\s*:\s*\(", rf"\bstg_(?:{'|'.join(declared())})__"]  # fmt: skip
    for module in ("resolve.py", "matching.py", "publish.py", "cli/resolution.py"):
        text = package_path(module).read_text(encoding="utf-8")
        assert not [m for b in branches for m in re.findall(b, text)], module
    old = (package_path("sources") / "keep" / "source_id.sql").read_text(encoding="utf-8")
    assert re.findall(branches[-1], old)  # the patterns do find such code
