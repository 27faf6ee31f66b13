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
