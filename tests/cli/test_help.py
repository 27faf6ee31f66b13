"""`--help` texts keep every word: they name configuration tables in square brackets ([paths] site,
[schedule]), which rich markup used to swallow ("default from )")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from baltetl.cli import app


@pytest.mark.parametrize("args, words", [
    (["serve", "--help"], ["(default from [schedule])"]),
    (["publish", "--help"], ["(default [paths] site, else site/ beside the warehouse)"]),
    (["refresh", "--help"], ["Exit codes: 0 success", "--input", "--sample"]),
    (["revisions", "--help"], ["Partner revisions"]),
])  # fmt: skip
def test_help_shows_words_in_square_brackets(args, words):
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    for w in words:
        assert w in text, (w, res.output)
    assert "default from )" not in text and "(default  site" not in text


def _commands(cmd, path=()):
    """(path, click command) of every command and group under `cmd`."""
    yield path, cmd
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


def test_commands_are_listed_in_their_order_and_share_one_config_option():
    import typer

    root = typer.main.get_command(app)
    assert list(root.commands) == [
        "refresh", "serve", "status", "eval-matching", "organisations", "changes", "opportunities",
        "backtest-opportunities", "train-opportunities", "publish", "analyst", "eval-placement", "revisions", "portal",
    ]  # fmt: skip
    configs, warehouses = set(), set()
    for _, cmd in _commands(root):
        for p in cmd.params:
            if p.name == "config":
                configs.add((tuple(p.opts), p.envvar, p.help))
            if p.name == "warehouse":
                warehouses.add((tuple(p.opts), p.envvar))
    assert configs == {(("--config", "-c"), "BALTETL_CONFIG", "TOML overriding the defaults.")}
    # eval-matching scores a given file only, never the configured warehouse: no envvar there
    assert warehouses == {(("--warehouse", "-w"), "BALTETL_WAREHOUSE"), (("--warehouse", "-w"), None)}
