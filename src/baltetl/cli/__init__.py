"""baltetl command line: one module per command group, each adding its commands with `register(app)`;
the options they share (--warehouse, --config) are declared once in cli/common.py."""

from __future__ import annotations

import typer

from . import analyst, history, opportunities, placement, portal, publish, refresh, resolution, revisions, status

# rich_markup_mode=None: help texts name config tables like [paths] and [schedule]; rich markup would eat them
app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None, help="BaltMet community database ETL.")

# the order of `baltetl --help`
for group in (refresh, status, resolution, history, revisions, opportunities, publish, analyst, placement, portal):
    group.register(app)


def main() -> None:  # pragma: no cover
    app()
